"""Stored models side by side."""

from __future__ import annotations

import functools
from typing import Annotated

from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import TextContent
from pydantic import Field

from stata_tools.inspection.estimates import (
    MAX_MODELS,
    EstimatesError,
    build_table,
    choose_models,
    render_table,
    table_meta,
)
from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import query
from stata_tools.stata.queries.estimates import estimates_index, read_estimates
from stata_tools.stata.sessions import MAIN


async def compare_estimates(
    ctx: Context,
    names: Annotated[
        list[str] | None,
        Field(
            description="Stored estimates to compare (`estimates store name`), in this order; "
            "'.' is the active (last) results. Default: every stored model, or the active "
            f"results when none is stored. At most {MAX_MODELS}."
        ),
    ] = None,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Models side by side: coefficients with standard errors beneath, significance stars,
    N, R² or the command's own fit statistics, factor levels labelled. Leaves the active
    estimation results, r() and the data as they were."""
    index = await query(estimates_index, ctx, session)
    try:
        chosen, note = choose_models(names, index)
    except EstimatesError as error:
        raise ToolError(str(error)) from None
    read = await query(functools.partial(read_estimates, names=chosen), ctx, session)
    table = build_table(read, note)
    text = render_table(table)
    return ToolResult(content=[TextContent(type="text", text=text)], meta=table_meta(table))


TOOLS = (compare_estimates,)
