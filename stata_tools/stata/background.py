"""BackgroundRuns: runs that go on after the call that started them; progress, wait, result."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from stata_tools.run.durations import format_elapsed
from stata_tools.run.events import Finished, Queued, RunEvent, Snapshot, Started
from stata_tools.run.results import RunResult
from stata_tools.stata.runs import RUNNING_OR_INTERRUPTED, RunSummary
from stata_tools.stata.session import RunRequest, RunRequestError, Session, new_run_id

Listener = Callable[[RunEvent], None]


class Phase(enum.StrEnum):
    QUEUED = "queued"  # waiting for its session's earlier runs
    RUNNING = "running"
    DONE = "done"  # `result` holds the outcome, or `failure` why there is none


@dataclass
class BackgroundRun:
    """One run started in the background and what is known of it now."""

    run_id: str
    session: str
    client: str
    source: str
    started_at: float
    snapshot: Snapshot
    phase: Phase = Phase.QUEUED
    result: RunResult | None = None
    failure: str | None = None  # it never got going (Stata missing, cancelled while queued)
    task: asyncio.Task[None] | None = None
    stopped_because: str = "stopped when the server shut down"  # what a cancelled task means
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _listeners: list[Listener] = field(default_factory=list)

    def update(self, event: RunEvent) -> None:
        self.snapshot = event.snapshot
        if isinstance(event, Started):
            self.phase = Phase.RUNNING
        elif isinstance(event, Queued):
            self.phase = Phase.QUEUED
        elif isinstance(event, Finished):
            self.result = event.result
        for listener in list(self._listeners):
            listener(event)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event from now on; the returned function stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None


class BackgroundRuns:
    """The background runs of this process, the `keep` newest finished ones kept in memory."""

    def __init__(self, keep: int = 200, clock: Callable[[], float] = time.monotonic) -> None:
        self._runs: dict[str, BackgroundRun] = {}
        self._keep = keep
        self.clock = clock

    def start(
        self, session: Session, request: RunRequest, *, name: str, client: str
    ) -> BackgroundRun:
        """Check the request now (its errors raise here) and run it in a task of its own."""
        prepared = session.prepare(request)
        run = BackgroundRun(
            run_id=new_run_id(),
            session=name,
            client=client,
            source=prepared.source,
            started_at=self.clock(),
            snapshot=Snapshot(0.0, len(prepared.commands) or 1, "waiting to start", 0.0),
        )
        # a context of its own: nothing of the request that started it (its cancel scope, its
        # MCP context) follows the run, which outlives that request
        run.task = asyncio.create_task(
            self._drive(session, request, run), context=contextvars.Context()
        )
        self._runs[run.run_id] = run
        self._prune()
        return run

    def resume(self, session: Session, run_id: str, *, name: str, client: str) -> BackgroundRun:
        """Follow again, in the background, a Slurm job an earlier server submitted (its run
        folder's job record); RunRequestError when the run has no job to follow."""
        record = session.resumable(run_id)
        if record is None:
            raise RunRequestError(f"run {run_id} has no Slurm job to follow")
        run = BackgroundRun(
            run_id=run_id,
            session=name,
            client=client,
            source=record.source,
            started_at=self.clock() - max(0.0, time.time() - record.submitted_at),
            snapshot=Snapshot(0.0, 1, f"following Slurm job {record.job_id} again", 0.0),
            phase=Phase.RUNNING,  # no queue: cancel_run goes to the job (scancel) at once
        )
        events = session.resume(run_id)
        run.task = asyncio.create_task(self._follow(events, run), context=contextvars.Context())
        self._runs[run_id] = run
        self._prune()
        return run

    def get(self, run_id: str) -> BackgroundRun | None:
        return self._runs.get(run_id)

    def pending(self, client: str, session: str) -> bool:
        """Whether the client's session has a run here that has not ended (queued counts)."""
        return any(
            run.phase is not Phase.DONE and (run.client, run.session) == (client, session)
            for run in self._runs.values()
        )

    def cancel_queued(self, run: BackgroundRun) -> bool:
        """Drop a run still waiting for its session (a running one gets Stata's break instead)."""
        if run.phase is not Phase.QUEUED or run.task is None or run.task.done():
            return False
        run.stopped_because = "cancelled before it started"
        run.task.cancel()
        return True

    async def wait(self, run: BackgroundRun, timeout_s: float) -> bool:
        """Until the run is done or `timeout_s` passed; whether it is done."""
        with anyio.move_on_after(timeout_s):
            await run.done.wait()
        return run.done.is_set()

    async def stop_all(self, grace_s: float = 10.0) -> None:
        """At shutdown: every unfinished run is stopped (Stata's break) and awaited, bounded."""
        await self._stop(list(self._runs.values()), grace_s)

    async def stop_session(self, client: str, name: str, grace_s: float = 10.0) -> None:
        """Before a session closes: its queued runs are dropped and its running one stopped."""
        runs = [r for r in self._runs.values() if (r.client, r.session) == (client, name)]
        for run in runs:
            run.stopped_because = "its session was closed"
        await self._stop(runs, grace_s)

    async def _stop(self, runs: list[BackgroundRun], grace_s: float) -> None:
        tasks = [r.task for r in runs if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with anyio.CancelScope(shield=True), anyio.move_on_after(grace_s):
                await asyncio.wait(tasks)

    async def _drive(self, session: Session, request: RunRequest, run: BackgroundRun) -> None:
        await self._follow(session.run(request, run_id=run.run_id), run)

    async def _follow(self, stream: AsyncIterator[RunEvent], run: BackgroundRun) -> None:
        try:
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    run.update(event)
        except asyncio.CancelledError:
            if run.result is None:
                run.failure = run.stopped_because
        except Exception as error:  # Stata not found, its worker would not start, …
            run.failure = str(error) or type(error).__name__
        finally:
            run.phase = Phase.DONE
            run.done.set()

    def _prune(self) -> None:
        finished = [r for r in self._runs.values() if r.phase is Phase.DONE]
        for old in finished[: max(0, len(finished) - self._keep)]:
            del self._runs[old.run_id]


def describe_background(run: BackgroundRun, now: float) -> tuple[str, dict[str, Any]]:
    """What run_status says of a background run: its state, progress, elapsed time, what next."""
    snap = run.snapshot
    result = run.result
    elapsed = result.duration_s if result is not None else now - run.started_at
    if result is not None:
        state = f"{result.status.value} · rc {result.rc}"
    elif run.failure is not None:
        state = f"did not run: {run.failure}"
    else:
        state = run.phase.value
    lines = [
        f"Run {run.run_id} in session {run.session}: {state} · {format_elapsed(elapsed)} · "
        f"{run.source}",
        f"Progress: {snap.message}",
    ]
    if run.phase is not Phase.DONE:
        lines.append(
            f"Still going: wait_run(run_id={run.run_id!r}) for the result, cancel_run to stop."
        )
    elif result is not None:
        lines.append(f"Done: wait_run(run_id={run.run_id!r}) returns its full result.")
    meta = {
        "run_id": run.run_id,
        "session": run.session,
        "status": result.status.value if result is not None else run.phase.value,
        "done": run.phase is Phase.DONE,
        "progress": snap.progress,
        "total": snap.total,
        "message": snap.message,
        "elapsed_s": round(elapsed, 3),
        "failure": run.failure,
    }
    return "\n".join(lines), meta


def describe_kept(summary: RunSummary) -> tuple[str, dict[str, Any]]:
    """What run_status says of a run known only from its folder (a foreground or earlier run)."""
    parts = [f"Run {summary.run_id}: {summary.status}"]
    if summary.rc is not None:
        parts.append(f"rc {summary.rc}")
    if summary.duration_s is not None:
        parts.append(format_elapsed(summary.duration_s))
    parts.append(summary.source or "source unknown")
    done = summary.status != RUNNING_OR_INTERRUPTED
    meta = {"run_id": summary.run_id, "status": summary.status, "done": done}
    return " · ".join(parts), meta
