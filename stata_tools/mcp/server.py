"""The FastMCP app: its instructions, lifespan and middleware, and the tools it serves."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import warnings
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastmcp import FastMCP
from fastmcp.server.lifespan import lifespan
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from stata_tools.about import HOMEPAGE, __version__
from stata_tools.mcp import prompts
from stata_tools.mcp.context import (
    expiry_tick,
    get_background,
    get_prestart,
    get_registry,
    get_session,
    pending,
    watch_client,
)
from stata_tools.mcp.tools import (
    codebook,
    data,
    datafiles,
    estimates,
    graphs,
    logs,
    packages,
    results,
    runs,
    sessions,
)
from stata_tools.mcp.tools import help as help_files

with contextlib.suppress(ImportError):
    from mcp.shared.exceptions import MCPDeprecationWarning

    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

INSTRUCTIONS = """\
Runs Stata through one persistent session: data in memory, globals and the locals set by run_code
persist between calls, as in an interactive Stata. Prefer run_do_file for the user's do-files and
run_code for short commands. Long runs report live progress (command k of N, newest output).
Each result starts with a status line (ok / error / cancelled / timed out / crashed), the return
code, the duration and where the full log is; errors are explained and point at the failing line.
A `data: …` line says what a run did to the data in memory (rows, variables, sort order).
compare_estimates puts the models stored with `estimates store` side by side.
A crashed Stata (or one ended after ignoring a break) loses its data: the result says so, and the
next call starts a fresh session. `session="name"` runs in another Stata with its own data, at the
same time as the others; background=true returns a run id at once (run_status, wait_run,
cancel_run(run_id) follow it) for runs longer than the client waits or to keep working meanwhile.
`ssc install` in code is refused by the command policy: install a community package with
install_package(name) (SSC, or source="net" with from_url for a site the server allows)."""


class PrestartMiddleware(Middleware):
    """With STATA_TOOLS_PRESTART, the first request (the handshake, or a stateless client's first
    call) starts Stata in the background: after the transport owns stdout, never before."""

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if get_session().settings.prestart:
            get_prestart().begin()
        return await call_next(context)


class ClientsMiddleware(Middleware):
    """Notes each HTTP client and watches a handshake-era one's MCP session end, so that
    sessions nobody will use again are closed (stata/sessions.py, close_unused)."""

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        ctx = context.fastmcp_context
        if ctx is not None and ctx.request_context is not None:
            watch_client(ctx)
        return await call_next(context)


async def close_unused_forever(tick_s: float) -> None:
    """Close the sessions nobody will use (stata/sessions.py, close_unused) as they fall due,
    saying so on stderr; a task of the lifespan, cancelled at its end."""
    registry = get_registry()
    while True:
        await anyio.sleep(tick_s)
        try:
            closed = await registry.close_unused(pending)
        except Exception as error:  # never the end of the loop: the next look tries again
            print(f"stata-tools: closing unused sessions failed: {error!r}", file=sys.stderr)
            continue
        for client, name, why in closed:
            print(
                f"stata-tools: closed session {name} of client {client[:28]}: {why}",
                file=sys.stderr,
                flush=True,
            )


@lifespan
async def session_lifespan(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
    session = get_session()
    expiry = asyncio.create_task(
        close_unused_forever(expiry_tick(session.settings)),
        context=contextvars.Context(),  # none of a request's context: it outlives them all
    )
    try:
        yield {"session": session}
    finally:
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry
        await session.stop_running()
        await get_background().stop_all()
        await get_registry().stop_all()
        print("stata-tools: session closed", file=sys.stderr, flush=True)


mcp = FastMCP(
    "stata-tools",
    instructions=INSTRUCTIONS,
    version=__version__,
    website_url=HOMEPAGE,
    lifespan=session_lifespan,
    middleware=[PrestartMiddleware(), ClientsMiddleware()],
)


for _tool in (
    *runs.TOOLS,
    *sessions.TOOLS,
    *logs.TOOLS,
    *data.TOOLS,
    *codebook.TOOLS,
    *datafiles.TOOLS,
    *results.TOOLS,
    *estimates.TOOLS,
    *graphs.TOOLS,
    *help_files.TOOLS,
    *packages.TOOLS,
):
    mcp.tool(output_schema=None)(_tool)
for _prompt in prompts.PROMPTS:
    mcp.prompt(_prompt)
mcp.resource("stata://runs", mime_type="application/json")(logs.runs_resource)
mcp.resource("stata://runs/{run_id}/log", mime_type="text/plain")(logs.run_log_resource)


def run_stdio() -> None:
    """Serve over stdio; SIGTERM closes Stata as cleanly as Ctrl+C (Claude Code sends both)."""
    import os
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        mcp.run(transport="stdio", show_banner=False)
    except KeyboardInterrupt:
        pass
    finally:
        sys.stderr.flush()
        os._exit(0)  # a thread blocked on stdin would keep the process alive


__all__ = ["get_session", "mcp", "run_stdio"]
