"""Run logs: paged, tailed and searched, as a tool and as stata://runs resources."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Annotated

import anyio
from fastmcp import Context
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.tools import ToolResult
from mcp_types import TextContent
from pydantic import Field

from stata_tools.mcp.context import adopt_all, get_background, session_of, visible_runs
from stata_tools.stata.background import Phase
from stata_tools.stata.runs import UnknownRun


async def read_log(
    run_id: Annotated[str, Field(description="The run id a result or stata://runs names.")],
    ctx: Context,
    offset: Annotated[int, Field(ge=0, description="Byte offset to start reading at.")] = 0,
    max_bytes: Annotated[int, Field(ge=1, le=1_048_576)] = 65_536,
    tail_lines: Annotated[int | None, Field(ge=1, description="Only the last N lines.")] = None,
    grep: Annotated[str | None, Field(description="Only lines matching this regex.")] = None,
) -> ToolResult:
    """Page through, tail or search the full log of a run (results carry only an excerpt)."""
    read = functools.partial(
        visible_runs(ctx).read_log, run_id, offset, max_bytes, tail_lines, grep
    )
    try:
        page = await anyio.to_thread.run_sync(read)  # a large log never holds up other calls
    except (UnknownRun, ValueError) as error:
        raise ToolError(str(error)) from None
    if grep is not None:
        head = f"{page.lines_matched:,} lines match {grep!r} in run {run_id} ({page.size:,} bytes)"
    else:
        more = page.next_offset < page.size
        head = f"run {run_id} log bytes {page.offset:,}–{page.next_offset:,} of {page.size:,}" + (
            f"; more from offset={page.next_offset}" if more else "; end of log"
        )
    meta = {"offset": page.offset, "next_offset": page.next_offset, "size": page.size}
    return ToolResult(content=[TextContent(type="text", text=f"{head}\n{page.text}")], meta=meta)


async def runs_resource(ctx: Context) -> str:
    """Recent runs, newest first, with their status (this client's only, unless shared); a
    Slurm job an earlier server left running is followed again and shown as it is now."""
    store = visible_runs(ctx, ResourceError)  # an anonymous HTTP client is refused first
    adopt_all(ctx)
    runs = store.summaries()
    listed = []
    for run in runs:
        entry = {**dataclasses.asdict(run), "session": session_of(run.run_id)}
        live = get_background().get(run.run_id)
        if live is not None and live.phase is not Phase.DONE:
            entry.update(status=live.phase.value, message=live.snapshot.message)
        listed.append(entry)
    return json.dumps({"runs": listed}, indent=1)


async def run_log_resource(run_id: str, ctx: Context) -> str:
    """The whole log of one run (use read_log to page through a large one)."""
    read = functools.partial(visible_runs(ctx, ResourceError).read_log, run_id, 0, 1 << 20)
    try:
        page = await anyio.to_thread.run_sync(read)
    except (UnknownRun, ValueError) as error:
        raise ResourceError(str(error)) from None
    return page.text


TOOLS = (read_log,)
