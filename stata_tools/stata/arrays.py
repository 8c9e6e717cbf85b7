"""Following a Slurm job array: one batch log per task, read by polling (one loop for every
task, never a watcher per task), each through its own tracker. Progress is tasks finished of N
plus the running tasks' own share (k/N of their commands); it strictly increases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from stata_tools.run.dofile import Command
from stata_tools.run.durations import format_elapsed
from stata_tools.run.events import Finished, Heartbeat, Output, RunEvent, Snapshot
from stata_tools.run.logs.batch import BatchLogReader
from stata_tools.run.logs.follow import LineDecoder
from stata_tools.run.logs.parse import LogParser
from stata_tools.run.progress import Tracker, shorten
from stata_tools.run.results import Excerpt, ExcerptBuilder, RunResult, RunStatus, StataError
from stata_tools.stata.batch import BatchExecution
from stata_tools.stata.engine import Execution
from stata_tools.stata.slurm.engine import SlurmEngine, SlurmJob, task_command, task_log
from stata_tools.stata.slurm.states import JobState

__all__ = ["ArrayProgress", "TaskFollower", "follow_array"]

MESSAGE_LIMIT = 200
_READ_LIMIT = 1 << 20  # bytes per task per tick: a flood cannot starve the others


@dataclass
class TaskFollower:
    """One task's log: read by offset, banner set aside, lines through its own tracker."""

    index: int
    path: Path
    tracker: Tracker
    reader: BatchLogReader = field(default_factory=BatchLogReader)
    parser: LogParser = field(default_factory=LogParser)
    decoder: LineDecoder = field(default_factory=LineDecoder)
    offset: int = 0

    def read(self, now: float) -> tuple[list[str], list[RunEvent]]:
        """New body lines and the events they cause (a missing log is not an error yet)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read(_READ_LIMIT)
        except OSError:
            return [], []
        self.offset += len(data)
        lines = self.reader.feed(self.decoder.feed(data))
        events: list[RunEvent] = []
        for raw in lines:
            events.extend(self.tracker.feed(self.parser.feed(raw), now))
        return lines, events

    def drain(self, now: float) -> list[str]:
        lines, _ = self.read(now)
        tail = self.reader.feed(self.decoder.flush())
        for raw in tail:
            self.tracker.feed(self.parser.feed(raw), now)
        return lines + tail

    @property
    def fraction(self) -> float:
        """How far into its do-file the task is, 0 to just under 1."""
        done = max(0, self.tracker.index - 1) + (0.5 if self.tracker.index else 0.0)
        return min(done / self.tracker.total, 0.99)


@dataclass
class ArrayProgress:
    """Tasks finished of N plus the running tasks' share; every value above the one before."""

    total: int
    started_at: float
    _last: float = 0.0

    def value(self, finished: int, running: Sequence[float]) -> float:
        cap = self.total - 0.01
        computed = min(finished + sum(running), cap)
        if computed <= self._last:  # nothing moved: creep a little toward the cap
            computed = self._last + (cap - self._last) * 0.02
        self._last = computed
        return computed

    def finish(self) -> float:
        self._last = float(self.total)
        return self._last


def _message(head: str, running: list[TaskFollower], elapsed: float) -> str:
    parts = [head, format_elapsed(elapsed)]
    shown = []
    for task in running[:4]:
        tracker = task.tracker
        command = tracker.current.head if tracker.current else "starting"
        shown.append(f"task {task.index} {tracker.index}/{tracker.total} {shorten(command, 24)}")
    if len(running) > 4:
        shown.append(f"+{len(running) - 4} more")
    return shorten(" · ".join(parts + shown), MESSAGE_LIMIT)


async def follow_array(
    engine: SlurmEngine,
    job: SlurmJob,
    commands: Sequence[Command],
    label: str,
    *,
    start: Callable[[], Future[Execution]] | None = None,
    began: float | None = None,
    clock: Callable[[], float],
    heartbeat_s: float,
    poll_s: float,
    timeout_s: float | None,
    budget_chars: int,
) -> AsyncIterator[RunEvent]:
    """Submit the array (or `start` it: attach to it again) and follow its tasks to the end;
    the last event is `Finished`.
    Closing the generator leaves the array to the caller (to cancel, or to leave running)."""
    assert job.array is not None
    indices = job.array.indices
    began = clock() if began is None else began  # earlier for an array followed again
    progress = ArrayProgress(len(indices), began)
    tasks = {
        i: TaskFollower(i, task_log(job, i), Tracker(commands, label, began, task_command(job, i)))
        for i in indices
    }
    future = asyncio.wrap_future(start() if start is not None else engine.execute(job))
    deadline = began + timeout_s if timeout_s else None
    timed_out = False
    last_beat = began

    def snapshot(now: float) -> Snapshot:
        states = engine.states(job)
        running = [t for i, t in tasks.items() if _phase(states, i) == "running"]
        finished = sum(1 for i in indices if _phase(states, i) in _ENDED)
        value = progress.value(finished, [t.fraction for t in running])
        head = f"{engine.describe(job)} · {label} {finished}/{len(indices)} tasks"
        return Snapshot(value, len(indices), _message(head, running, now - began), now - began)

    while not future.done():
        with anyio.move_on_after(min(poll_s, heartbeat_s)):
            await asyncio.wait({future})
        now = clock()
        if deadline is not None and not timed_out and now >= deadline:
            timed_out = True
            engine.request_break(job)
        fresh: list[str] = []
        for task in tasks.values():
            lines, _ = task.read(now)
            fresh.extend(f"[task {task.index}] {line}" for line in lines)
        if fresh:
            last_beat = now
            yield Output(tuple(fresh), snapshot(now))
        elif now - last_beat >= heartbeat_s:
            last_beat = now
            yield Heartbeat(snapshot(now))
    execution = future.result()
    now = clock()
    for task in tasks.values():
        task.drain(now)
    assert isinstance(execution, BatchExecution)
    result = _result(job, commands, label, execution, tasks, now - began, timed_out, budget_chars)
    done = Snapshot(progress.finish(), len(indices), f"{label}: {execution.state}", now - began)
    yield Finished(result, done)


_ENDED = {"completed", "failed", "timed out", "out of memory", "preempted", "cancelled", "unknown"}


def _phase(states: Mapping[int | None, JobState], index: int) -> str | None:
    state = states.get(index)
    return state.phase.value if state is not None else None


def _result(
    job: SlurmJob,
    commands: Sequence[Command],
    label: str,
    execution: BatchExecution,
    tasks: dict[int, TaskFollower],
    duration: float,
    timed_out: bool,
    budget_chars: int,
) -> RunResult:
    """The array's result: its status from every task, the first failure as the error, the
    output of that task's log (or the last task's), each failed task in the notes."""
    failed = [t for t in execution.tasks if t.state != "completed"]
    if timed_out:
        status = RunStatus.TIMED_OUT
    elif execution.state == "cancelled":
        status = RunStatus.CANCELLED
    else:
        status = RunStatus.OK if not failed else RunStatus.ERROR
    first = failed[0] if failed else None
    shown = tasks[first.index] if first else tasks[max(tasks)]
    error = None
    if first is not None:
        tracker = shown.tracker
        command = tracker.current
        error = StataError(
            rc=first.rc or 1,
            message=first.message or first.state,
            command=command.head if command else None,
            line=command.first_line if command else None,
            source=f"{label} (task {first.index})",
        )
    notes = [
        f"{len(execution.tasks) - len(failed)} of {len(execution.tasks)} array tasks completed"
    ]
    if timed_out:
        notes.insert(0, f"timed out after {format_elapsed(duration)}; the array was cancelled")
    for task in failed[:20]:
        message = f": {task.message}" if task.message else ""
        rc = f" r({task.rc})" if task.rc else ""
        notes.append(f"task {task.index} {task.state}{rc}{message} (log {task.log_path})")
    if len(failed) > 20:
        notes.append(f"… and {len(failed) - 20} more failed tasks (the result's job lists all)")
    return RunResult(
        run_id=job.run_id,
        status=status,
        rc=execution.rc,
        source=str(job.do_file),
        log_path=str(shown.path),
        duration_s=duration,
        commands_total=len(commands),
        commands_done=shown.tracker.index if first else len(commands),
        output=_excerpt(shown.path, budget_chars),
        error=error,
        notes=tuple(notes),
        job={
            "executor": "slurm",
            "job_id": execution.job_id,
            "state": execution.state,
            "array": job.array.text if job.array else None,
            "tasks": [
                {
                    "index": t.index,
                    "state": t.state,
                    "rc": t.rc,
                    "message": t.message,
                    "log_path": t.log_path,
                    "node": t.node,
                }
                for t in execution.tasks
            ],
        },
    )


def _excerpt(path: Path, budget_chars: int) -> Excerpt:
    """The budgeted excerpt of a batch log's body."""
    builder = ExcerptBuilder(budget_chars)
    parser = LogParser()
    reader = BatchLogReader()
    decoder = LineDecoder()
    with contextlib.suppress(OSError), path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            for line in reader.feed(decoder.feed(chunk)):
                builder.add(parser.feed(line))
    for line in reader.feed(decoder.flush()):
        builder.add(parser.feed(line))
    return builder.build()
