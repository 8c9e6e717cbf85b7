"""Running: do-files and code, in the foreground or the background, followed, stopped, awaited."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image
from mcp_types import InputRequiredResult, TextContent
from pydantic import Field

from stata_tools.inspection.check import CheckError, CheckReport, render_check
from stata_tools.inspection.check import check_do_file as check_file
from stata_tools.mcp.args import (
    BackgroundArg,
    ExecutorArg,
    PathArg,
    SessionArg,
    SlurmArgs,
    TimeoutArg,
    WorkingDirArg,
)
from stata_tools.mcp.context import (
    adopt,
    client_of,
    get_background,
    get_registry,
    get_session,
    has_session,
    identified,
    named_session,
    visible_runs,
)
from stata_tools.mcp.reporting import Reporter
from stata_tools.mcp.roots import with_client_roots
from stata_tools.run.events import Finished, Heartbeat, Started
from stata_tools.run.results import RunResult, RunStatus, render_text
from stata_tools.stata.background import BackgroundRun, describe_background, describe_kept
from stata_tools.stata.discovery import PystataShadowed, StataInitError, StataNotFound
from stata_tools.stata.runs import UnknownRun
from stata_tools.stata.session import PathOutsideRoots, RunRequest, RunRequestError
from stata_tools.stata.sessions import MAIN
from stata_tools.stata.slurm.engine import SlurmError
from stata_tools.stata.supervisor import WorkerLost, WorkerStartError

QUIET_START_S = 0.025
"""A run's first notification waits this long (one progress interval): a `display 1` that is
over by then sends none, and its result comes a millisecond sooner."""


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


async def cancel_run(
    ctx: Context,
    run_id: Annotated[
        str | None,
        Field(description="The run to stop (a background run's id); default: the session's run."),
    ] = None,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Stop the running Stata command (a Stata break); the session keeps its data."""
    identified(ctx, "cancel_run (the run it stops may be another client's; cancel your own call)")
    if run_id is not None:
        try:
            text, meta = _cancel_by_id(ctx, run_id)
        except UnknownRun as error:
            raise ToolError(str(error)) from None
        return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)
    run_id = (
        named_session(ctx, session, create=False).cancel() if has_session(ctx, session) else None
    )
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
        visible_runs(ctx).folder(run_id)  # UnknownRun, also for another client's run
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
        status = visible_runs(ctx).summary(run_id).status
    return f"Run {run_id} is not running ({status}): nothing to cancel.", {
        **meta,
        "cancelled": False,
    }


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
        return result_of(run.result, run.session)
    text, meta = _run_state(ctx, run_id, 15)
    if not done:
        text = f"The wait ended after {timeout_s:g} s before the run did; it goes on.\n{text}"
    failed = done  # done without a result: it never ran (the text says why)
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta, is_error=failed)


def _background_of(ctx: Context, run_id: str) -> BackgroundRun | None:
    """The background run, or a Slurm job an earlier server left running, followed again."""
    return adopt(ctx, run_id)


def _run_state(ctx: Context, run_id: str, tail_lines: int) -> tuple[str, dict[str, Any]]:
    """A background run's snapshot, or a kept run's summary; the log's tail either way."""
    store = visible_runs(ctx)
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
    session = named_session(ctx, name)
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


async def _run(
    request: RunRequest, ctx: Context, name: str, *, background: bool = False
) -> ToolResult | InputRequiredResult:
    named_session(ctx, name)  # a bad name or the cap: before the roots are asked for
    if background:
        identified(ctx, "background=true (its run id would reach every such client)")
        return await _start_background(request, ctx, name)
    result = await with_client_roots(
        lambda roots: follow(dataclasses.replace(request, client_roots=roots), ctx, name), ctx
    )
    if isinstance(result, InputRequiredResult):
        return result
    return result_of(result, name)


def result_of(result: RunResult, name: str) -> ToolResult:
    content: list[Any] = [TextContent(type="text", text=render_text(result))]
    content.extend(_images(result, get_session().settings.max_graphs))
    meta = {**result.to_meta(), "session": name}
    return ToolResult(content=content, meta=meta, is_error=result.status is not RunStatus.OK)


def _images(result: RunResult, limit: int) -> list[Any]:
    """PNG graphs as image blocks, the run's own first, at most `limit`."""
    pngs = [g for g in result.graphs if g.format == "png" and Path(g.path).is_file()]
    return [Image(path=g.path, format="png").to_image_content() for g in pngs[:limit]]


async def follow(request: RunRequest, ctx: Context, name: str) -> RunResult:
    """Run with progress notifications; the result, or a ToolError for bad input."""
    session = named_session(ctx, name)
    client = client_of(ctx)
    reporter = Reporter(
        lambda progress, total, message: ctx.report_progress(progress, total, message),
        lambda text: ctx.info(text, logger_name="stata.log"),
        quiet_start_s=QUIET_START_S,
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


TOOLS = (run_do_file, run_code, check_do_file, cancel_run, run_status, wait_run)
