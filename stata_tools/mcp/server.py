"""The FastMCP app: argument checks, events → progress, results → text. No Stata logic."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.lifespan import lifespan
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image
from mcp_types import InputRequiredResult, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from stata_tools.about import HOMEPAGE, __version__
from stata_tools.inspection.check import CheckError, CheckReport, render_check
from stata_tools.inspection.check import check_do_file as check_file
from stata_tools.inspection.data_commands import (
    DataRequestError,
    describe_command,
    list_command,
    summarize_command,
)
from stata_tools.inspection.dta import DtaError, read_dta, render_dta
from stata_tools.inspection.graphs import GraphRequestError, graph_format, graph_name
from stata_tools.inspection.help import HelpNotFound, HelpTopicError, lookup_help
from stata_tools.inspection.stored import read_stored, render_stored
from stata_tools.mcp.reporting import Reporter
from stata_tools.mcp.roots import with_client_roots
from stata_tools.run.events import Finished, Heartbeat, Started
from stata_tools.run.results import RunResult, RunStatus, output_only, render_text
from stata_tools.stata.background import (
    BackgroundRun,
    BackgroundRuns,
    describe_background,
    describe_kept,
)
from stata_tools.stata.discovery import PystataShadowed, StataInitError, StataNotFound
from stata_tools.stata.engine import return_code
from stata_tools.stata.prestart import Prestart
from stata_tools.stata.queries import export_graph as export_graph_file
from stata_tools.stata.queries import graph_names
from stata_tools.stata.runs import RunStore, UnknownRun
from stata_tools.stata.session import (
    PathOutsideRoots,
    RunRequest,
    RunRequestError,
    Session,
    SessionBusy,
)
from stata_tools.stata.sessions import (
    LOCAL,
    MAIN,
    SessionNameError,
    SessionRegistry,
    TooManySessions,
    UnknownSession,
)
from stata_tools.stata.settings import Settings
from stata_tools.stata.slurm.engine import SlurmError
from stata_tools.stata.supervisor import WorkerLost, WorkerStartError

with contextlib.suppress(ImportError):
    from mcp.shared.exceptions import MCPDeprecationWarning

    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

INSTRUCTIONS = """\
Runs Stata through one persistent session: data in memory, globals and the locals set by run_code
persist between calls, as in an interactive Stata. Prefer run_do_file for the user's do-files and
run_code for short commands. Long runs report live progress (command k of N, newest output).
Each result starts with a status line (ok / error / cancelled / timed out / crashed), the return
code, the duration and where the full log is; errors are explained and point at the failing line.
A crashed Stata (or one ended after ignoring a break) loses its data: the result says so, and the
next call starts a fresh session. `session="name"` runs in another Stata with its own data, at the
same time as the others; background=true returns a run id at once (run_status, wait_run,
cancel_run(run_id) follow it) for runs longer than the client waits or to keep working meanwhile."""

T = TypeVar("T")
_session: Session | None = None
_prestart: Prestart | None = None
_registry: SessionRegistry | None = None
_background: BackgroundRuns | None = None


def get_session() -> Session:
    """The process-wide session, created on first use (Stata itself starts at the first run)."""
    global _session
    if _session is None:
        _session = Session(Settings.from_env())  # Stata runs in a worker process
    return _session


def get_registry() -> SessionRegistry:
    """Every client's named sessions; the process-wide session is the first client's `main`."""
    global _registry
    if _registry is None:
        _registry = SessionRegistry(get_session().settings, get_session)
    return _registry


def get_background() -> BackgroundRuns:
    """The runs started with background=true in this process."""
    global _background
    if _background is None:
        _background = BackgroundRuns(get_session().settings.max_runs_kept)
    return _background


def client_of(ctx: Context) -> str:
    """Who is asking, for keeping sessions and runs apart: stdio has one client; over HTTP a
    handshake-era client is its MCP session, a 2026-07-28 one (which has no session) its bearer
    token. Shared mode makes every client the one local client."""
    if get_registry().settings.shared_sessions or ctx.transport not in ("sse", "streamable-http"):
        return LOCAL
    request = ctx.request_context
    http = request.request if request is not None else None
    handshake = request is not None and request.protocol_version not in MODERN_PROTOCOL_VERSIONS
    if handshake and http is not None and http.headers.get("mcp-session-id"):
        return "mcp-session:" + ctx.session_id  # negotiated: the SDK refuses ids it did not issue
    token = get_access_token()
    if token is not None:
        return "token:" + token.client_id
    return "http-anonymous"


def _named(ctx: Context, name: str, *, create: bool = True) -> Session:
    """The caller's session by that name; a ToolError says what to do when there is none."""
    try:
        return get_registry().session(client_of(ctx), name, create=create)
    except (SessionNameError, TooManySessions, UnknownSession) as error:
        raise ToolError(str(error)) from None


def get_prestart() -> Prestart:
    """The background start of the process-wide session's Stata (begun only when enabled)."""
    global _prestart
    if _prestart is None:
        engine = get_session().engine
        assert engine is not None
        _prestart = Prestart(engine.start)
    return _prestart


class PrestartMiddleware(Middleware):
    """With STATA_TOOLS_PRESTART, the first request (the handshake, or a stateless client's first
    call) starts Stata in the background: after the transport owns stdout, never before."""

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if get_session().settings.prestart:
            get_prestart().begin()
        return await call_next(context)


@lifespan
async def session_lifespan(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
    session = get_session()
    try:
        yield {"session": session}
    finally:
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
    middleware=[PrestartMiddleware()],
)

PathArg = Annotated[
    str, Field(description="Path of the .do file (absolute, or relative to the working directory).")
]
WorkingDirArg = Annotated[
    str | None,
    Field(
        description="Directory Stata should `cd` into before running; it stays the working "
        "directory afterwards, as in Stata. Default: Stata's current directory."
    ),
]
TimeoutArg = Annotated[
    float | None,
    Field(description="Stop the run (Stata break, session kept) after this many seconds.", gt=0),
]
BackgroundArg = Annotated[
    bool,
    Field(
        description="Return at once with a run id and let the run go on (past this call, and "
        "past a disconnect); run_status shows its progress, wait_run waits for its result."
    ),
]
SessionArg = Annotated[
    str,
    Field(
        description="The named Stata session: each has its own Stata, data and queue, and runs "
        "in different sessions go on at the same time (list_sessions shows them)."
    ),
]


class SlurmArgs(TypedDict, total=False):
    """Per-call Slurm options (executor="slurm"); unset ones come from the settings."""

    partition: str
    time_limit: str
    cpus: int
    memory: str
    account: str
    extra: list[str]


ExecutorArg = Annotated[
    Literal["session", "batch", "slurm"],
    Field(
        description="session: the persistent Stata (default). batch: a fresh local "
        "`stata -b do` process (stateless; several run at once). slurm: that batch command "
        "submitted with sbatch; the job is followed, and outlives a client that leaves."
    ),
]


@mcp.tool(output_schema=None)
async def run_do_file(
    path: PathArg,
    ctx: Context,
    working_dir: WorkingDirArg = None,
    timeout_s: TimeoutArg = None,
    executor: ExecutorArg = "session",
    array: Annotated[
        str | None,
        Field(
            description="slurm only: a job array such as 1-100; each task gets its index "
            "as the do-file's first argument (`1')."
        ),
    ] = None,
    slurm: Annotated[
        SlurmArgs | None,
        Field(
            description="slurm only: partition, time_limit (2:00:00), cpus, memory (16G), "
            "account, extra (#SBATCH options such as --qos=long)."
        ),
    ] = None,
    session: SessionArg = MAIN,
    background: BackgroundArg = False,
) -> ToolResult | InputRequiredResult:
    """Run a Stata do-file (in the persistent session, or as a batch or Slurm job), streaming
    progress while it runs."""
    request = RunRequest(
        do_file=Path(path),
        working_dir=Path(working_dir) if working_dir else None,
        timeout_s=timeout_s,
        executor=executor,
        array=array,
        slurm=dict(slurm) if slurm else None,
    )
    return await _run(request, ctx, session, background=background)


@mcp.tool(output_schema=None)
async def run_code(
    code: Annotated[str, Field(description="Stata commands, one or more lines, as in a do-file.")],
    ctx: Context,
    working_dir: WorkingDirArg = None,
    timeout_s: TimeoutArg = None,
    session: SessionArg = MAIN,
    background: BackgroundArg = False,
) -> ToolResult | InputRequiredResult:
    """Run Stata commands in the persistent session (locals they set persist, like `include`)."""
    request = RunRequest(
        code=code,
        working_dir=Path(working_dir) if working_dir else None,
        timeout_s=timeout_s,
    )
    return await _run(request, ctx, session, background=background)


@mcp.tool(output_schema=None)
async def check_do_file(
    path: PathArg,
    ctx: Context,
    working_dir: WorkingDirArg = None,
    from_command: Annotated[
        int, Field(ge=1, description="List commands one by one from this one (40 at a time).")
    ] = 1,
) -> ToolResult | InputRequiredResult:
    """Check a do-file without running it or Stata: its commands and their lines, the do-files it
    calls, what the command policy would refuse, unbalanced braces, comments and strings."""

    async def attempt(client_roots: tuple[str, ...]) -> CheckReport:
        settings = get_session().settings
        roots = settings.roots and settings.roots.with_uris(client_roots)
        settings = dataclasses.replace(settings, roots=roots)
        check = functools.partial(check_file, path, working_dir, settings=settings)
        return await anyio.to_thread.run_sync(check)

    try:
        report = await with_client_roots(attempt, ctx)
    except CheckError as error:
        raise ToolError(str(error)) from None
    if isinstance(report, InputRequiredResult):
        return report
    text = render_check(report, from_command=from_command)
    return ToolResult(content=[TextContent(type="text", text=text)], meta=report.to_meta())


@mcp.tool(output_schema=None)
async def session_status(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """Whether Stata was found and started, its edition and version, and what it is running."""
    name = session
    session_ = _named(ctx, name, create=name == MAIN)
    status = session_.status()
    info = status.info
    lines = []
    primary = session_ is get_session()
    starting = get_prestart().describe() if status.info is None and primary else None
    if starting is not None:
        lines.append(starting)
    elif info is None:
        lines.append(
            "Stata: not running; the last session was lost and the next run starts a fresh one."
            if status.restarts
            else "Stata: not started yet (it starts at the first run)."
        )
        try:
            installation = session_.locate()
            lines.append(
                f"Found: Stata {installation.edition.upper()} at {installation.path} "
                f"({installation.source})."
            )
        except StataNotFound as error:
            lines.append(str(error))
    else:
        lines.append(
            f"Stata {info.version} {info.edition.upper()} at {info.path} "
            f"(pystata {info.pystata_version})."
        )
    if status.busy:
        lines.append(
            f"Busy: running {status.current_source or 'a run'} "
            f"(run {status.current_run}); {status.queued} queued."
        )
    else:
        lines.append("Idle.")
    if status.worker_pid is not None:
        lines.append(f"Stata's worker process: pid {status.worker_pid}.")
    if status.sandbox is not None:
        lines.extend(status.sandbox.lines)
    if status.restarts:
        lines.append(f"Sessions lost and restarted: {len(status.restarts)}")
        lines.extend(
            f"  {r.at:%Y-%m-%d %H:%M:%S} {r.cause}"
            + (f" (during run {r.run_id})" if r.run_id else "")
            for r in status.restarts
        )
    lines.append(f"Session: {name} (list_sessions shows this client's sessions).")
    lines.append(f"Run logs: {status.run_dir}")
    meta = {
        "session": name,
        "started": status.started,
        "busy": status.busy,
        "queued": status.queued,
        "current_run": status.current_run,
        "edition": info.edition if info else None,
        "version": info.version if info else None,
        "path": info.path if info else None,
        "worker_pid": status.worker_pid,
        "sandbox": {
            "exec_filter": status.sandbox.exec_filter,
            "write_limit": status.sandbox.write_limit,
        }
        if status.sandbox is not None
        else None,
        "restarts": [
            {"at": r.at.isoformat(timespec="seconds"), "cause": r.cause, "run_id": r.run_id}
            for r in status.restarts
        ],
    }
    return ToolResult(content=[TextContent(type="text", text="\n".join(lines))], meta=meta)


@mcp.tool(output_schema=None)
async def cancel_run(
    ctx: Context,
    run_id: Annotated[
        str | None,
        Field(description="The run to stop (a background run's id); default: the session's run."),
    ] = None,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Stop the running Stata command (a Stata break); the session keeps its data."""
    if run_id is not None:
        try:
            text, meta = _cancel_by_id(ctx, run_id)
        except UnknownRun as error:
            raise ToolError(str(error)) from None
        return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)
    run_id = _named(ctx, session, create=False).cancel() if _has(ctx, session) else None
    ends = "its result (wait_run)" if run_id and get_background().get(run_id) else "its call"
    text = (
        f"Sent a break to run {run_id}; {ends} returns with status cancelled."
        if run_id
        else "No run is active: nothing to cancel."
    )
    meta = {"run_id": run_id, "session": session}
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)


def _cancel_by_id(ctx: Context, run_id: str) -> tuple[str, dict[str, Any]]:
    """Drop a queued background run, or break the run if it is its session's current one."""
    client = client_of(ctx)
    registry = get_registry()
    run = _background_of(ctx, run_id)
    if run is None:
        _visible_runs(ctx).folder(run_id)  # UnknownRun, also for another client's run
    owner = registry.run_owner(run_id)
    name = owner[1] if owner else None
    meta: dict[str, Any] = {"run_id": run_id, "session": name}
    if run is not None and get_background().cancel_queued(run):
        return f"Run {run_id} was waiting in session {name}; it was dropped before it began.", {
            **meta,
            "cancelled": True,
        }
    if name is not None and name in registry.names(client):
        target = registry.session(client, name, create=False)
        if target.cancel(run_id) == run_id:  # its current run, or a batch or Slurm run
            where = "its result" if run is not None else "its call"
            return (
                f"Sent a break to run {run_id} in session {name}; {where} ends with status "
                "cancelled.",
                {**meta, "cancelled": True},
            )
    if run is not None:
        status = run.result.status.value if run.result else run.failure or run.phase.value
    else:
        status = _visible_runs(ctx).summary(run_id).status
    return f"Run {run_id} is not running ({status}): nothing to cancel.", {
        **meta,
        "cancelled": False,
    }


@mcp.tool(output_schema=None)
async def run_status(
    ctx: Context,
    run_id: Annotated[str, Field(description="The run id background=true returned.")],
    tail_lines: Annotated[int, Field(ge=0, le=200, description="Last log lines to show.")] = 15,
) -> ToolResult:
    """Where a run stands: progress k/N, the current command, elapsed time and its log's tail."""
    try:
        text, meta = _run_state(ctx, run_id, tail_lines)
    except UnknownRun as error:
        raise ToolError(str(error)) from None
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)


@mcp.tool(output_schema=None)
async def wait_run(
    ctx: Context,
    run_id: Annotated[str, Field(description="The run id background=true returned.")],
    timeout_s: Annotated[
        float, Field(ge=0, le=3600, description="Return a progress snapshot after this long.")
    ] = 60,
) -> ToolResult:
    """Wait for a background run, with progress while waiting: its full result when it ends,
    or where it stands when the wait is over first (wait again, or cancel_run)."""
    run = _background_of(ctx, run_id)
    if run is None:
        try:
            text, meta = _run_state(ctx, run_id, 15)  # a run of this process's foreground, or older
        except UnknownRun as error:
            raise ToolError(str(error)) from None
        return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)
    reporter = Reporter(
        lambda progress, total, message: ctx.report_progress(progress, total, message)
    )
    reporter.update(Heartbeat(run.snapshot))  # where it stands now, before any news
    stop = run.listen(reporter.update)
    pump = asyncio.create_task(reporter.pump())
    try:
        done = await get_background().wait(run, timeout_s)
    finally:
        stop()
        await reporter.close()
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await pump
    if done and run.result is not None:
        return _result_of(run.result, run.session)
    text, meta = _run_state(ctx, run_id, 15)
    if not done:
        text = f"The wait ended after {timeout_s:g} s before the run did; it goes on.\n{text}"
    failed = done  # done without a result: it never ran (the text says why)
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta, is_error=failed)


def _background_of(ctx: Context, run_id: str) -> BackgroundRun | None:
    run = get_background().get(run_id)
    return run if run is not None and get_registry().may_see(client_of(ctx), run_id) else None


def _run_state(ctx: Context, run_id: str, tail_lines: int) -> tuple[str, dict[str, Any]]:
    """A background run's snapshot, or a kept run's summary; the log's tail either way."""
    store = _visible_runs(ctx)
    run = _background_of(ctx, run_id)
    if run is None:
        text, meta = describe_kept(store.summary(run_id))  # UnknownRun for another's run
    else:
        text, meta = describe_background(run, get_background().clock())
    tail = ""
    if tail_lines:
        with contextlib.suppress(UnknownRun, OSError):
            tail = store.read_log(run_id, tail_lines=tail_lines).text.rstrip("\n")
    text += f"\n--- last {tail_lines} log lines ---\n{tail}" if tail else ""
    return text, meta


async def _start_background(
    request: RunRequest, ctx: Context, name: str
) -> ToolResult | InputRequiredResult:
    session = _named(ctx, name)
    client = client_of(ctx)
    if session.status().info is None:
        try:
            session.locate()  # no Stata: say so now, not in run_status later
        except (StataNotFound, PystataShadowed) as error:
            raise ToolError(str(error)) from None

    async def start(roots: tuple[str, ...]) -> BackgroundRun:
        try:
            run = get_background().start(
                session, dataclasses.replace(request, client_roots=roots), name=name, client=client
            )
        except PathOutsideRoots:
            raise
        except (RunRequestError, OSError) as error:
            raise ToolError(str(error)) from None
        get_registry().record_run(run.run_id, client, name)
        return run

    run = await with_client_roots(start, ctx)
    if isinstance(run, InputRequiredResult):
        return run
    text = (
        f"Started run {run.run_id} in session {name} in the background ({run.source}); it goes "
        f"on after this call. run_status(run_id={run.run_id!r}) shows its progress, "
        f"wait_run(run_id={run.run_id!r}, timeout_s=…) waits for its result, "
        f"cancel_run(run_id={run.run_id!r}) stops it."
    )
    meta = {"run_id": run.run_id, "session": name, "background": True, "status": run.phase.value}
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)


def _has(ctx: Context, name: str) -> bool:
    return name in get_registry().names(client_of(ctx))


@mcp.tool(output_schema=None)
async def list_sessions(ctx: Context) -> ToolResult:
    """This client's Stata sessions: whether each started, what it runs, its worker."""
    registry = get_registry()
    client = client_of(ctx)
    rows: list[dict[str, Any]] = []
    for name, session in registry.sessions(client):
        status = session.status()
        rows.append(
            {
                "session": name,
                "started": status.started,
                "busy": status.busy,
                "current_run": status.current_run,
                "queued": status.queued,
                "worker_pid": status.worker_pid,
                "restarts": len(status.restarts),
            }
        )
    cap = registry.settings.max_sessions
    lines = [f"{len(rows)} of at most {cap} sessions (STATA_TOOLS_MAX_SESSIONS):"]
    for row in rows:
        state = (
            f"running {row['current_run']}" + (f", {row['queued']} queued" if row["queued"] else "")
            if row["busy"]
            else ("idle" if row["started"] else "Stata not started yet")
        )
        pid = f", worker pid {row['worker_pid']}" if row["worker_pid"] else ""
        lost = f", lost and restarted {row['restarts']}×" if row["restarts"] else ""
        lines.append(f"  {row['session']}: {state}{pid}{lost}")
    if not rows:
        lines.append("  none yet: a run opens `main` (or the session it names)")
    meta = {"sessions": rows, "max_sessions": cap}
    return ToolResult(content=[TextContent(type="text", text="\n".join(lines))], meta=meta)


@mcp.tool(output_schema=None)
async def close_session(session: SessionArg, ctx: Context) -> ToolResult:
    """End a session: its run gets a break, its Stata stops and its data are gone."""
    closed = _named(ctx, session, create=False)
    running = closed.status().current_run
    await get_background().stop_session(client_of(ctx), session)
    await get_registry().close(client_of(ctx), session)
    text = f"Closed session {session}: its Stata stopped and its data are gone" + (
        f" (run {running} was sent a break first)." if running else "."
    )
    meta = {"session": session, "run_id": running}
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)


@mcp.tool(output_schema=None)
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
        _visible_runs(ctx).read_log, run_id, offset, max_bytes, tail_lines, grep
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


@mcp.tool(output_schema=None)
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


@mcp.tool(output_schema=None)
async def get_results(
    ctx: Context,
    kind: Annotated[
        Literal["r", "e", "s"],
        Field(description="r: r-class results (summarize, …); e: estimation results; s: s-class."),
    ] = "r",
    session: SessionArg = MAIN,
) -> ToolResult:
    """Stored results of the last command: scalars, macros and matrices (e(b), e(V), r(table))."""
    stored = await _query(functools.partial(read_stored, kind=kind), ctx, session)
    meta = {"kind": kind, "scalars": dict(stored.scalars), "macros": dict(stored.macros)}
    return ToolResult(content=[TextContent(type="text", text=render_stored(stored))], meta=meta)


@mcp.tool(output_schema=None)
async def describe_data(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """The dataset in memory: observations, variables with types, formats, labels, value labels."""
    return await _inspect(describe_command(), ctx, session)


@mcp.tool(output_schema=None)
async def summarize_data(
    ctx: Context,
    varlist: Annotated[
        str | None, Field(description="Variables (wildcards allowed); default all.")
    ] = None,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Count, mean, standard deviation, min and max of variables in memory."""
    return await _inspect(lambda: summarize_command(varlist), ctx, session)


@mcp.tool(output_schema=None)
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
    _named(ctx, name, create=name == MAIN)  # a read opens no new Stata
    result = await _follow(RunRequest(code=code), ctx, name)
    if not result.ok:
        raise ToolError(render_text(result))
    text = output_only(result.output.text) or "(nothing to show)"
    text = "\n".join([*(f"Note: {note}" for note in result.notes), text])  # e.g. a fresh session
    return ToolResult(content=[TextContent(type="text", text=text)], meta=result.to_meta())


@mcp.tool(output_schema=None)
async def list_graphs(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """The graphs in Stata's memory, by name (export_graph shows any of them)."""
    found = await _query(graph_names, ctx, session)
    text = "Graphs in memory: " + ", ".join(found) if found else "No graphs in memory."
    return ToolResult(content=[TextContent(type="text", text=text)], meta={"graphs": found})


@mcp.tool(output_schema=None)
async def export_graph(
    name: Annotated[str, Field(description="The graph's name (list_graphs shows them).")],
    ctx: Context,
    format: Annotated[str, Field(description="png (shown as an image), svg or pdf.")] = "png",
    session: SessionArg = MAIN,
) -> ToolResult:
    """Export a graph in memory to a file; PNG comes back as an image."""
    try:
        graph, fmt = graph_name(name), graph_format(format)
    except GraphRequestError as error:
        raise ToolError(str(error)) from None
    folder = get_session().settings.run_dir / "graphs"
    if session != MAIN:
        folder = folder / session  # two sessions' graphs of one name stay apart
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{graph}.{fmt}"
    export = functools.partial(export_graph_file, name=graph, path=path, fmt=fmt)
    await _query(export, ctx, session)
    text = f"Graph {graph} → {path} ({fmt.upper()}, {path.stat().st_size:,} bytes)"
    content: list[Any] = [TextContent(type="text", text=text)]
    if fmt == "png":
        content.append(Image(path=path, format="png").to_image_content())
    return ToolResult(content=content, meta={"name": graph, "path": str(path), "format": fmt})


@mcp.tool(output_schema=None)
async def stata_help(
    topic: Annotated[
        str, Field(description="A command or topic, e.g. regress, reghdfe, regress postestimation.")
    ],
) -> ToolResult:
    """Stata's help for a command (official or installed from SSC), as Markdown."""
    budget = get_session().settings.output_budget_chars
    try:
        page = await lookup_help(get_session(), topic, max_chars=budget)
    except (HelpTopicError, HelpNotFound) as error:
        raise ToolError(str(error)) from None
    except (StataNotFound, PystataShadowed) as error:
        raise ToolError(
            f"Stata was not found, and help files come from its installation.\n{error}"
        ) from None
    except OSError as error:
        raise ToolError(f"could not read a help file: {error}") from None
    text = f"Help for {page.topic} ({page.path})\n\n{page.markdown}"
    return ToolResult(
        content=[TextContent(type="text", text=text)],
        meta={"topic": page.topic, "path": str(page.path)},
    )


async def _query(fn: Callable[[ModuleType, ModuleType], T], ctx: Context, name: str) -> T:
    """A read between runs; Stata's own error (r(NNN)) or a busy session becomes a ToolError."""
    session = _named(ctx, name, create=name == MAIN)  # a read opens no new Stata
    try:
        return await session.query(fn)
    except SessionBusy as error:
        raise ToolError(str(error)) from None
    except (WorkerLost, WorkerStartError) as error:
        raise ToolError(f"Stata's session was lost while answering: {error}") from None
    except SystemError as error:
        rc = return_code(str(error))
        message = " ".join(
            line for line in str(error).splitlines() if line and not line.startswith("r(")
        )
        raise ToolError(f"{message} (r({rc}))" if rc else message or "Stata refused") from None


@mcp.resource("stata://runs", mime_type="application/json")
def runs_resource(ctx: Context) -> str:
    """Recent runs, newest first, with their status (this client's only, unless shared)."""
    runs = _visible_runs(ctx).summaries()
    listed = [{**dataclasses.asdict(run), "session": _session_of(run.run_id)} for run in runs]
    return json.dumps({"runs": listed}, indent=1)


@mcp.resource("stata://runs/{run_id}/log", mime_type="text/plain")
async def run_log_resource(run_id: str, ctx: Context) -> str:
    """The whole log of one run (use read_log to page through a large one)."""
    read = functools.partial(_visible_runs(ctx).read_log, run_id, 0, 1 << 20)
    try:
        page = await anyio.to_thread.run_sync(read)
    except (UnknownRun, ValueError) as error:
        raise ResourceError(str(error)) from None
    return page.text


def _visible_runs(ctx: Context) -> RunStore:
    """The run store as this client may see it: its own runs, or every kept one when local."""
    store = get_session().runs
    client = client_of(ctx)
    return store.only(lambda run_id: get_registry().may_see(client, run_id))


def _session_of(run_id: str) -> str | None:
    owner = get_registry().run_owner(run_id)
    return owner[1] if owner else None


async def _run(
    request: RunRequest, ctx: Context, name: str, *, background: bool = False
) -> ToolResult | InputRequiredResult:
    _named(ctx, name)  # a bad name or the cap: before the roots are asked for
    if background:
        return await _start_background(request, ctx, name)
    result = await with_client_roots(
        lambda roots: _follow(dataclasses.replace(request, client_roots=roots), ctx, name), ctx
    )
    if isinstance(result, InputRequiredResult):
        return result
    return _result_of(result, name)


def _result_of(result: RunResult, name: str) -> ToolResult:
    content: list[Any] = [TextContent(type="text", text=render_text(result))]
    content.extend(_images(result, get_session().settings.max_graphs))
    meta = {**result.to_meta(), "session": name}
    return ToolResult(content=content, meta=meta, is_error=result.status is not RunStatus.OK)


def _images(result: RunResult, limit: int) -> list[Any]:
    """PNG graphs as image blocks, the run's own first, at most `limit`."""
    pngs = [g for g in result.graphs if g.format == "png" and Path(g.path).is_file()]
    return [Image(path=g.path, format="png").to_image_content() for g in pngs[:limit]]


async def _follow(request: RunRequest, ctx: Context, name: str) -> RunResult:
    """Run with progress notifications; the result, or a ToolError for bad input."""
    session = _named(ctx, name)
    client = client_of(ctx)
    reporter = Reporter(
        lambda progress, total, message: ctx.report_progress(progress, total, message),
        lambda text: ctx.info(text, logger_name="stata.log"),
    )
    result: RunResult | None = None
    pump = asyncio.create_task(reporter.pump())  # a child task keeps the request's context
    try:
        async with contextlib.aclosing(session.run(request)) as events:
            async for event in events:
                reporter.update(event)
                if isinstance(event, Started):
                    get_registry().record_run(event.run_id, client, name)
                elif isinstance(event, Finished):
                    result = event.result
    except PathOutsideRoots:
        raise
    except (
        RunRequestError,
        StataNotFound,
        StataInitError,
        PystataShadowed,
        WorkerStartError,
        WorkerLost,
        SlurmError,
    ) as error:
        raise ToolError(str(error)) from None
    except OSError as error:
        raise ToolError(f"the run could not be set up: {error}") from None
    finally:
        await reporter.close()
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await pump
    assert result is not None
    return result


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
