"""Sessions: what each Stata is doing, which ones a client has, and closing one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastmcp import Context
from fastmcp.tools import ToolResult
from mcp_types import TextContent

from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import (
    client_of,
    get_background,
    get_prestart,
    get_registry,
    get_session,
    named_session,
    pending,
)
from stata_tools.stata.discovery import StataNotFound
from stata_tools.stata.sessions import ANONYMOUS, MAIN, Closing


async def session_status(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """Whether Stata was found and started, its edition and version, and what it is running."""
    name = session
    session_ = named_session(ctx, name, create=name == MAIN)
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
    hidden = client_of(ctx) == ANONYMOUS  # another anonymous client's run is not shown
    if status.busy and hidden:
        lines.append(f"Busy: running a run; {status.queued} queued.")
    elif status.busy:
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
        "current_run": None if hidden else status.current_run,
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


async def list_sessions(ctx: Context) -> ToolResult:
    """This client's Stata sessions: whether each started, what it runs, its worker."""
    registry = get_registry()
    client = client_of(ctx)
    rows: list[dict[str, Any]] = []
    closings: list[str] = []
    for name, session in registry.sessions(client):
        status = session.status()
        closing = registry.closing(client, name, pending)
        closes_at = (
            datetime.now(UTC) + timedelta(seconds=max(0.0, closing.at - registry.clock()))
            if closing is not None and closing.at is not None
            else None
        )
        rows.append(
            {
                "session": name,
                "started": status.started,
                "busy": status.busy,
                "current_run": None if client == ANONYMOUS else status.current_run,
                "queued": status.queued,
                "worker_pid": status.worker_pid,
                "restarts": len(status.restarts),
                "closes_at": closes_at.isoformat(timespec="seconds") if closes_at else None,
                "closes": closing.reason if closing is not None else None,
            }
        )
        closings.append(_closing_text(closing, closes_at))
    cap = registry.settings.max_sessions
    lines = [f"{len(rows)} of at most {cap} sessions (STATA_TOOLS_MAX_SESSIONS):"]
    for row, closes in zip(rows, closings, strict=True):
        state = (
            f"running {row['current_run'] or 'a run'}"
            + (f", {row['queued']} queued" if row["queued"] else "")
            if row["busy"]
            else ("idle" if row["started"] else "Stata not started yet")
        )
        pid = f", worker pid {row['worker_pid']}" if row["worker_pid"] else ""
        lost = f", lost and restarted {row['restarts']}×" if row["restarts"] else ""
        lines.append(f"  {row['session']}: {state}{pid}{lost}{closes}")
    if not rows:
        lines.append("  none yet: a run opens `main` (or the session it names)")
    meta = {"sessions": rows, "max_sessions": cap}
    return ToolResult(content=[TextContent(type="text", text="\n".join(lines))], meta=meta)


def _closing_text(closing: Closing | None, at: datetime | None) -> str:
    """`; closes at 09:12:05 UTC unless used before (after 4h00m unused, …)` for list_sessions."""
    if closing is None:
        return ""
    if at is None:
        return f"; kept while its runs go on, then closed {closing.reason}"
    return f"; closes at {at:%H:%M:%S} UTC unless used before ({closing.reason})"


async def close_session(session: SessionArg, ctx: Context) -> ToolResult:
    """End a session: its run gets a break, its Stata stops and its data are gone."""
    closed = named_session(ctx, session, create=False)
    running = closed.status().current_run
    await get_background().stop_session(client_of(ctx), session)
    await get_registry().close(client_of(ctx), session)
    text = f"Closed session {session}: its Stata stopped and its data are gone" + (
        f" (run {running} was sent a break first)." if running else "."
    )
    meta = {"session": session, "run_id": running}
    return ToolResult(content=[TextContent(type="text", text=text)], meta=meta)


TOOLS = (session_status, list_sessions, close_session)
