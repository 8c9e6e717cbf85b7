"""The data: in memory through Stata, or a .dta file read without it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import InputRequiredResult, TextContent
from pydantic import Field

from stata_tools.inspection.data_commands import (
    DataRequestError,
    describe_command,
    list_command,
    summarize_command,
)
from stata_tools.inspection.dta import DtaError, read_dta, render_dta
from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import get_session, named_session
from stata_tools.mcp.roots import with_client_roots
from stata_tools.mcp.tools.runs import follow
from stata_tools.run.results import output_only, render_text
from stata_tools.stata.session import RunRequest
from stata_tools.stata.sessions import MAIN


async def read_dta_file(
    path: Annotated[str, Field(description="Path of a Stata .dta file.")],
    ctx: Context,
    variables: Annotated[
        str | None, Field(description="Space-separated variable names; default all.")
    ] = None,
    start: Annotated[int, Field(ge=0, description="First row to show, counting from 0.")] = 0,
    count: Annotated[
        int, Field(ge=0, le=1000, description="Rows to show (0: describe only).")
    ] = 20,
) -> ToolResult | InputRequiredResult:
    """Describe a .dta file and show a page of its rows, value labels applied; needs no Stata."""
    file = await with_client_roots(lambda roots: _allowed(Path(path), roots), ctx)
    if isinstance(file, InputRequiredResult):
        return file
    read = functools.partial(read_dta, file, variables=variables, start=start, count=count)
    try:
        page = await anyio.to_thread.run_sync(read)
    except DtaError as error:
        raise ToolError(str(error)) from None
    meta = {
        "path": page.path,
        "n_obs": page.n_obs,
        "n_vars": page.n_vars,
        "start": page.start,
        "stop": page.stop,
    }
    return ToolResult(content=[TextContent(type="text", text=render_dta(page))], meta=meta)


async def describe_data(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """The dataset in memory: observations, variables with types, formats, labels, value labels."""
    return await _inspect(describe_command(), ctx, session)


async def summarize_data(
    ctx: Context,
    varlist: Annotated[
        str | None, Field(description="Variables (wildcards allowed); default all.")
    ] = None,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Count, mean, standard deviation, min and max of variables in memory."""
    return await _inspect(lambda: summarize_command(varlist), ctx, session)


async def list_data(
    ctx: Context,
    varlist: Annotated[str | None, Field(description="Variables to show; default all.")] = None,
    if_: Annotated[
        str | None, Field(description="A Stata condition, e.g. price > 5000 & foreign == 1.")
    ] = None,
    start: Annotated[int, Field(ge=0, description="First observation, counting from 0.")] = 0,
    count: Annotated[int, Field(ge=1, le=1000, description="Observations per page.")] = 50,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Rows of the data in memory, a page at a time (the condition filters within the page)."""
    return await _inspect(lambda: list_command(varlist, if_, start, count), ctx, session)


async def _allowed(path: Path, client_roots: tuple[str, ...]) -> Path:
    """A .dta file's path, resolved, when the allowed roots hold it; OutsideRoots otherwise."""
    roots = get_session().settings.roots
    if roots is None:
        return path.expanduser()
    return roots.with_uris(client_roots).check(path, ".dta file")


async def _inspect(command: str | Callable[[], str], ctx: Context, name: str) -> ToolResult:
    try:
        code = command() if callable(command) else command
    except DataRequestError as error:
        raise ToolError(str(error)) from None
    named_session(ctx, name, create=name == MAIN)  # a read opens no new Stata
    result = await follow(RunRequest(code=code), ctx, name)
    if not result.ok:
        raise ToolError(render_text(result))
    text = output_only(result.output.text) or "(nothing to show)"
    text = "\n".join([*(f"Note: {note}" for note in result.notes), text])  # e.g. a fresh session
    return ToolResult(content=[TextContent(type="text", text=text)], meta=result.to_meta())


TOOLS = (read_dta_file, describe_data, summarize_data, list_data)
