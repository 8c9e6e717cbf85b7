"""Stata's stored results: r(), e() and s()."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from fastmcp import Context
from fastmcp.tools import ToolResult
from mcp_types import TextContent
from pydantic import Field

from stata_tools.inspection.stored import read_stored, render_stored
from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import query
from stata_tools.stata.sessions import MAIN


async def get_results(
    ctx: Context,
    kind: Annotated[
        Literal["r", "e", "s"],
        Field(description="r: r-class results (summarize, …); e: estimation results; s: s-class."),
    ] = "r",
    session: SessionArg = MAIN,
) -> ToolResult:
    """Stored results of the last command: scalars, macros and matrices (e(b), e(V), r(table))."""
    stored = await query(functools.partial(read_stored, kind=kind), ctx, session)
    meta = {"kind": kind, "scalars": dict(stored.scalars), "macros": dict(stored.macros)}
    return ToolResult(content=[TextContent(type="text", text=render_stored(stored))], meta=meta)


TOOLS = (get_results,)
