"""Session: one Stata, runs queued in order, each run a stream of events ending in a RunResult."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import anyio

from stata_tools.dofile import Command, DoFileError, decode_source, split_commands
from stata_tools.events import (
    Finished,
    Heartbeat,
    Output,
    Queued,
    RunEvent,
    Snapshot,
    Started,
)
from stata_tools.files import NotAFile, read_regular_file
from stata_tools.graphs import GraphFile
from stata_tools.guard import MAX_CALLED_BYTES, CommandRefused, check_run
from stata_tools.logs.follow import LineDecoder
from stata_tools.logs.parse import LogParser
from stata_tools.logs.source import RunFollower, StreamBuffer
from stata_tools.policy import Policy
from stata_tools.progress import Tracker, format_elapsed
from stata_tools.results import Excerpt, ExcerptBuilder, RunResult, RunStatus, StataError
from stata_tools.roots import OutsideRoots, Roots
from stata_tools.runs import RunStore
from stata_tools.settings import Settings
from stata_tools.stata.discovery import Installation, find_installation
from stata_tools.stata.engine import Engine, Execution, Job, StataInfo, stata_quote
from stata_tools.stata.supervisor import Restart, WorkerEngine, WorkerLost
from stata_tools.timings import (
    FileRecord,
    Timeline,
    command_keys,
    dump_history,
    expected_durations,
    parse_history,
    record_run,
)

_UNSAFE_PATH_CHARS = ("`", "$", "\n", "\r")
MAX_DO_FILE_BYTES = MAX_CALLED_BYTES  # what the policy can read of it
T = TypeVar("T")


class RunRequestError(ValueError):
    """The request cannot run as given; the message says what was wrong and what to do."""


class PathOutsideRoots(RunRequestError):
    """A do-file or working directory lies outside the allowed roots."""


class RunRefused(RunRequestError):
    """The command policy refused the code; nothing ran."""


class SessionBusy(RuntimeError):
    """A read that must not overlap a run was asked for while one is active."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run: `code`, or a `do_file`; optionally where and for how long."""

    code: str | None = None
    do_file: Path | None = None
    working_dir: Path | None = None
    timeout_s: float | None = None
    client_roots: tuple[str, ...] = ()  # file:// URIs the MCP client announced


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A request checked and lexed, ready for Stata."""

    label: str
    source: str
    commands: tuple[Command, ...]
    working_dir: Path | None
    timeout_s: float | None
    do_file: Path | None = None
    code: str | None = None
    notes: tuple[str, ...] = ()
    text: str = ""  # what was lexed: the code, or the do-file decoded


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """What `session_status` reports."""

    started: bool
    info: StataInfo | None
    busy: bool
    queued: int
    current_run: str | None
    current_source: str | None
    run_dir: str
    restarts: tuple[Restart, ...] = ()  # sessions lost (crash, ignored break), oldest first
    worker_pid: int | None = None  # None: not started, or Stata runs in this process


def prepare(
    request: RunRequest,
    cwd: Path | None = None,
    default_timeout_s: float | None = None,
    roots: Roots | None = None,
    policy: Policy | None = None,
) -> PreparedRun:
    """Check a request before Stata sees it: inside the roots, allowed by the policy, readable,
    not empty."""
    base = cwd or Path.cwd()
    try:
        prepared = _prepare(request, base, default_timeout_s, roots)
        if policy is not None:
            folders = [prepared.working_dir or base]
            if prepared.do_file is not None:
                folders.append(prepared.do_file.parent)
            name = prepared.do_file.name if prepared.do_file else None
            check_run(prepared.text, name, policy, roots, folders)
    except OutsideRoots as error:
        raise PathOutsideRoots(str(error)) from None
    except CommandRefused as error:
        raise RunRefused(str(error)) from None
    return prepared


def _prepare(
    request: RunRequest, base: Path, default_timeout_s: float | None, roots: Roots | None
) -> PreparedRun:
    working_dir = _check_working_dir(request.working_dir, base, roots)
    timeout = request.timeout_s if request.timeout_s is not None else default_timeout_s
    if timeout is not None and timeout <= 0:
        raise RunRequestError(f"timeout_s must be positive, got {timeout:g}; omit it for no limit")
    if (request.code is None) == (request.do_file is None):
        raise RunRequestError("give exactly one of `code` or `do_file`")
    if request.code is not None:
        if not request.code.strip():
            raise RunRequestError("`code` is empty: pass the Stata commands to run")
        commands, notes = _split(request.code)
        return PreparedRun(
            "code",
            "code",
            commands,
            working_dir,
            timeout,
            code=request.code,
            notes=notes,
            text=request.code,
        )
    path = _resolve(request.do_file, working_dir or base, roots, "do-file")  # type: ignore[arg-type]
    text, encoding_notes = _read_do_file(path)
    commands, notes = _split(text)
    if not commands and not notes:
        raise RunRequestError(f"{path} holds only comments or blank lines: there is nothing to run")
    return PreparedRun(
        path.name,
        str(path),
        commands,
        working_dir,
        timeout,
        do_file=path,
        notes=encoding_notes + notes,
        text=text,
    )


def _check_working_dir(value: Path | None, base: Path, roots: Roots | None) -> Path | None:
    if value is None:
        return None
    path = _resolve(value, base, roots, "working directory")
    if not path.exists():
        raise RunRequestError(f"working directory {path} does not exist: create it or pass another")
    if not path.is_dir():
        raise RunRequestError(f"working directory {path} is a file, not a directory")
    return path


def _resolve(value: Path, base: Path, roots: Roots | None, what: str) -> Path:
    path = Path(os.path.expanduser(str(value)))
    path = path if path.is_absolute() else base / path
    if roots is not None:
        roots.check(path, what)
    text = str(path)
    if any(char in text for char in _UNSAFE_PATH_CHARS):
        raise RunRequestError(
            f"{text!r} contains a character Stata would expand as a macro (` or $) or a line "
            "break; rename the file or folder"
        )
    return path.resolve()


def _read_do_file(path: Path) -> tuple[str, tuple[str, ...]]:
    if not path.exists():
        raise RunRequestError(
            f"do-file {path} does not exist: check the path (relative paths start "
            f"at the working directory)"
        )
    if path.is_dir():
        raise RunRequestError(f"{path} is a directory: pass the path of a .do file inside it")
    try:
        data = read_regular_file(path, MAX_DO_FILE_BYTES + 1)  # a FIFO would block the server
    except NotAFile as error:
        raise RunRequestError(f"{error}: pass the path of a .do file") from None
    except OSError as error:
        raise RunRequestError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_DO_FILE_BYTES:
        raise RunRequestError(
            f"do-file {path} is over {MAX_DO_FILE_BYTES >> 20} MB: check that it is a do-file"
        )
    if not data.strip():
        raise RunRequestError(f"do-file {path} is empty: there is nothing to run")
    text, encoding = decode_source(data)
    notes: tuple[str, ...] = ()
    if encoding not in ("utf-8", "utf-8-sig", "ascii"):
        notes = (
            f"{path.name} is not UTF-8; it was read as {encoding} for progress. Stata runs it as "
            "is; non-ASCII text may display oddly (Stata's `unicode translate` converts it).",
        )
    return text, notes


def _split(text: str) -> tuple[tuple[Command, ...], tuple[str, ...]]:
    """The commands, or none and a note: Stata has the last word on what it can run."""
    try:
        return tuple(split_commands(text)), ()
    except DoFileError as error:
        return (), (f"progress is counted by heartbeat only: {error}",)


_run_counter = itertools.count()


def new_run_id() -> str:
    """Sorts in start order: date, time, then milliseconds and a counter in hex."""
    now = datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03x}{next(_run_counter) % 4096:03x}"


@dataclass(frozen=True, slots=True)
class _History:
    """One do-file run's view of the history: its keys, the file's records, its clock."""

    path: str
    keys: list[str]
    files: dict[str, FileRecord]
    previous: FileRecord | None
    timeline: Timeline


@dataclass
class _Ticket:
    run_id: str
    source: str


@dataclass
class Session:
    """One Stata session: runs queue in order and stream what Stata does.

    Stata runs in a supervised worker process (WorkerEngine) unless an in-process Engine is
    given (benchmarks compare both)."""

    settings: Settings = field(default_factory=Settings.from_env)
    engine: Engine | WorkerEngine | None = None
    clock: Callable[[], float] = time.monotonic
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _lock_loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _waiting: list[_Ticket] = field(default_factory=list, init=False)
    _current: _Ticket | None = field(default=None, init=False)
    _inflight: asyncio.Future[Execution] | None = field(default=None, init=False)
    _break_at: float | None = field(default=None, init=False)  # when cancel() sent a break
    _wake: Callable[[], None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.runs = RunStore(self.settings.run_dir, self.settings.max_runs_kept)
        if self.engine is None:
            self.engine = WorkerEngine(self.locate, log_dir=self.settings.run_dir / "workers")

    def close(self) -> None:
        """Stop Stata's worker process, if one runs (the in-process engine lives on)."""
        if isinstance(self.engine, WorkerEngine):
            self.engine.close()

    def locate(self) -> Installation:
        return locate_stata(self.settings)

    async def start(self) -> StataInfo:
        """Initialise Stata now rather than at the first run."""
        future = self.engine.start()  # type: ignore[union-attr]
        with anyio.CancelScope(shield=True):
            return await asyncio.wrap_future(future)

    def status(self) -> SessionStatus:
        engine = self.engine
        assert engine is not None
        current = self._current
        return SessionStatus(
            started=engine.info is not None,
            info=engine.info,
            busy=self._lock.locked() or engine.active is not None,
            queued=len(self._waiting),
            current_run=current.run_id if current else None,
            current_source=current.source if current else None,
            run_dir=str(self.settings.run_dir),
            restarts=engine.restarts if isinstance(engine, WorkerEngine) else (),
            worker_pid=engine.pid if isinstance(engine, WorkerEngine) else None,
        )

    async def query(self, fn: Callable[[ModuleType, ModuleType], T]) -> T:
        """Call `fn(pystata, sfi)` on Stata's thread between runs; refused while one is active."""
        lock = self._loop_lock()
        if lock.locked():
            current = self._current
            running = f"run {current.run_id} ({current.source})" if current else "a run"
            raise SessionBusy(
                f"Stata is busy with {running}; stored results are read between runs. Try again "
                "when it finishes (session_status shows what is running)."
            )
        async with lock:
            future = self.engine.query(fn)  # type: ignore[union-attr]
            with anyio.CancelScope(shield=True):
                return await asyncio.wrap_future(future)

    def cancel(self) -> str | None:
        """Break the running run, as a client's cancel would; the id of the run, if any."""
        current = self._current
        if current is None or not self.engine.request_break():  # type: ignore[union-attr]
            return None
        self._break_at = self.clock()
        if self._wake is not None:
            self._wake()  # the run starts counting the break's grace period now
        return current.run_id

    async def stop_running(self, grace_s: float = 5.0) -> None:
        """Break whatever runs and wait (bounded) for Stata to close its log: a clean shutdown."""
        inflight = self._inflight
        if inflight is None or inflight.done():
            return
        self.engine.request_break()  # type: ignore[union-attr]
        with anyio.CancelScope(shield=True), anyio.move_on_after(grace_s):
            await asyncio.wait({inflight})

    async def execute(
        self, request: RunRequest, on_event: Callable[[RunEvent], object] | None = None
    ) -> RunResult:
        """Run to the end and return the result; `on_event` sees every event on the way."""
        async with contextlib.aclosing(self.run(request)) as events:
            async for event in events:
                if on_event is not None:
                    on_event(event)
                if isinstance(event, Finished):
                    return event.result
        raise RuntimeError("the run ended without a result")  # pragma: no cover

    async def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        """Queue, run and follow one request; the last event is `Finished`.

        Close the generator (``contextlib.aclosing``) or cancel its consumer to stop the run:
        Stata gets a break and the session keeps its data.
        """
        prepared = prepare(
            request,
            default_timeout_s=self.settings.default_timeout_s,
            roots=self.settings.roots and self.settings.roots.with_uris(request.client_roots),
            policy=self.settings.policy,
        )
        run_id = new_run_id()
        ticket = _Ticket(run_id, prepared.source)
        began = self.clock()
        self._waiting.append(ticket)
        lock = self._loop_lock()
        acquire = asyncio.ensure_future(lock.acquire())
        try:
            await asyncio.wait({acquire}, timeout=0.01)  # an idle session takes us at once
            while not acquire.done():
                ahead = self._waiting.index(ticket) + 1
                message = f"waiting for Stata: {ahead} run(s) ahead of {prepared.label}"
                total = len(prepared.commands) or 1
                yield Queued(ahead, Snapshot(0.0, total, message, self.clock() - began))
                await asyncio.wait({acquire}, timeout=self.settings.heartbeat_s)
        except BaseException:
            if not acquire.cancel() and not acquire.cancelled() and acquire.exception() is None:
                lock.release()  # acquired in the same instant we were stopped
            raise
        finally:
            self._waiting.remove(ticket)
        acquire.result()  # re-raises if acquiring failed
        self._current = ticket
        try:
            async for event in self._run_locked(prepared, run_id):
                yield event
        finally:
            self._current = None
            inflight = self._inflight
            if inflight is not None and not inflight.done():
                inflight.add_done_callback(lambda _: lock.release())  # Stata still busy
            else:
                lock.release()

    def _loop_lock(self) -> asyncio.Lock:
        """The queue's lock, made anew when a caller brings another event loop (tests, scripts)."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop and not self._lock.locked():
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _run_locked(self, prepared: PreparedRun, run_id: str) -> AsyncIterator[RunEvent]:
        engine = self.engine
        assert engine is not None
        await self.start()
        notice = engine.take_notice() if isinstance(engine, WorkerEngine) else None
        run_dir = self.runs.new_folder(run_id)
        job = Job(
            run_id=run_id,
            command=_command_for(prepared, run_dir),
            log_path=run_dir / "run.log",
            log_name="_st" + run_id.replace("-", "")[-20:],
            stdout_path=run_dir / "stdout.txt",
            working_dir=prepared.working_dir,
            max_graphs=self.settings.max_graphs,
        )
        began = self.clock()
        history = self._history_start(prepared)
        tracker = Tracker(
            prepared.commands,
            prepared.label,
            began,
            wrapper=job.command,
            timeline=history.timeline if history else None,
        )
        parser = LogParser()
        excerpt = ExcerptBuilder(self.settings.output_budget_chars)
        stop = anyio.Event()
        batches: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=64)
        stream = StreamBuffer()  # what Stata prints, for when its log cannot be read (Windows)
        follower = RunFollower(job.log_path, stream)

        async def pump() -> None:
            try:
                async for batch in follower.follow(stop):
                    await batches.put(batch)
            finally:
                await batches.put(None)

        future = asyncio.wrap_future(engine.execute(job, stream.put))
        self._inflight = future
        future.add_done_callback(lambda _: stop.set())
        pump_task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        self._break_at = None
        self._wake = lambda: loop.call_soon_threadsafe(_nudge, batches)
        deadline = began + prepared.timeout_s if prepared.timeout_s else None
        grace = self.settings.break_grace_s
        break_deadline: float | None = None  # Stata must answer the break by then
        timed_out = abandoned = saved = ending = False
        notes = list(prepared.notes)
        if notice:
            notes.insert(0, notice)
        try:
            yield Started(run_id, str(job.log_path), tracker.snapshot(began))
            while True:
                now = self.clock()
                if break_deadline is None and self._break_at is not None:
                    break_deadline = self._break_at + grace
                wait = self.settings.heartbeat_s
                for limit in (None if timed_out else deadline, None if ending else break_deadline):
                    if limit is not None:
                        wait = max(0.0, min(wait, limit - now))
                try:
                    batch = await asyncio.wait_for(batches.get(), timeout=wait)
                except TimeoutError:
                    now = self.clock()
                    if deadline is not None and not timed_out and now >= deadline:
                        timed_out = True
                        engine.request_break()
                        break_deadline = now + grace
                    elif break_deadline is not None and not ending and now >= break_deadline:
                        after = (
                            f"the {format_elapsed(prepared.timeout_s or 0)} timeout"
                            if timed_out
                            else "the run was cancelled"
                        )
                        if isinstance(engine, WorkerEngine):
                            ending = engine.end(_ended_reason(grace, after))
                        if not ending:  # in-process: nothing to end, the session stays busy
                            notes.append(_unresponsive_note(prepared.timeout_s, self.settings))
                            abandoned = True
                            break
                    yield Heartbeat(tracker.heartbeat(now))
                    continue
                if batch is None:
                    break
                if batch is _NUDGE:  # recompute the deadlines
                    continue
                now = self.clock()
                for raw in batch:
                    line = parser.feed(raw)
                    excerpt.add(line)
                    for event in tracker.feed(line, now):
                        yield event
                if batches.empty():  # the follower's partial line is the one after these lines
                    tracker.partial(follower.partial, parser.smcl, now)
                yield Output(tuple(batch), tracker.heartbeat(now))
            if follower.note:
                notes.append(follower.note)
            lost = _lost_by(future)
            execution = future.result() if future.done() and lost is None else None
            result = self._result(
                prepared, run_id, job, tracker, excerpt, execution, timed_out, notes, lost
            )
            if history is not None:
                result = self._history_finish(history, result)
            self.runs.save_result(run_id, result.to_meta())
            saved = True
            yield Finished(result, tracker.finish(self.clock()))
        finally:
            if not saved:  # the caller went away (cancel, disconnect): the run list still says so
                self.runs.save_result(
                    run_id,
                    {"run_id": run_id, "status": "cancelled", "rc": 1, "source": prepared.source},
                )
            self._wake = None
            if not future.done() and not abandoned:  # stopped by our consumer: break, wait
                engine.request_break()
                with anyio.CancelScope(shield=True), anyio.move_on_after(grace):
                    await asyncio.wait({future})
                if not future.done() and isinstance(engine, WorkerEngine):
                    engine.end(_ended_reason(grace, "the call was cancelled"))
                    with anyio.CancelScope(shield=True), anyio.move_on_after(grace):
                        await asyncio.wait({future})
                if future.done() and not future.cancelled():
                    future.exception()  # seen: the loss is in the run's record, not a GC warning
            stop.set()
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                with anyio.CancelScope(shield=True):
                    await pump_task

    def _history_start(self, prepared: PreparedRun) -> _History | None:
        """Last run's times for this do-file (timings.py); None for code or with history off."""
        if not self.settings.run_history or prepared.do_file is None or not prepared.commands:
            return None
        keys = command_keys([command.text for command in prepared.commands])
        files = parse_history(self.runs.read_history())
        previous = files.get(str(prepared.do_file))
        timeline = Timeline(expected_durations(previous, keys))
        return _History(str(prepared.do_file), keys, files, previous, timeline)

    def _history_finish(self, history: _History, result: RunResult) -> RunResult:
        """Save this run's times; the result says how long the last run took."""
        durations = history.timeline.durations(self.clock(), completed=result.ok)
        files = record_run(
            history.files,
            history.path,
            history.keys,
            durations,
            result.duration_s,
            result.status.value,
            time.time(),
        )
        self.runs.write_history(dump_history(files))
        previous = history.previous
        if previous is None or previous.duration_s is None:
            return result
        return dataclasses.replace(
            result, last_duration_s=previous.duration_s, last_status=previous.status
        )

    def _result(
        self,
        prepared: PreparedRun,
        run_id: str,
        job: Job,
        tracker: Tracker,
        excerpt: ExcerptBuilder,
        execution: Execution | None,
        timed_out: bool,
        notes: list[str],
        lost: WorkerLost | None = None,
    ) -> RunResult:
        if lost is not None:
            duration = self.clock() - tracker.started_at
            if lost.ended:
                rc, status = 1, RunStatus.TIMED_OUT if timed_out else RunStatus.CANCELLED
            else:
                rc, status = -1, RunStatus.CRASHED
            notes.append(_lost_note(lost, prepared, tracker))
        elif execution is None:
            rc, status, duration = 1, RunStatus.TIMED_OUT, self.clock() - tracker.started_at
        else:
            rc = execution.rc
            duration = execution.ended - execution.started
            if timed_out:
                status = RunStatus.TIMED_OUT
            elif execution.break_requested and rc == 1:
                status = RunStatus.CANCELLED
            else:
                status = RunStatus.OK if rc == 0 else RunStatus.ERROR
        if timed_out:
            kept = "the session keeps its data" if lost is None else "Stata did not stop"
            notes.insert(
                0,
                f"timed out after {format_elapsed(prepared.timeout_s or 0)}; "
                f"Stata was sent a break and {kept}",
            )
        output = excerpt.build()
        log_lost = _lost_log(job, execution)
        if log_lost:
            notes.append(
                f"{log_lost}, which stopped the live stream; the output below is what Stata "
                "printed, captured separately"
            )
            output = _excerpt_of_file(job.stdout_path, self.settings.output_budget_chars)
        graphs = _graphs_of(execution, tracker, notes)
        error = _error_of(prepared, tracker, execution) if rc > 0 else None
        done = tracker.index if rc != 0 else len(prepared.commands)
        return RunResult(
            run_id=run_id,
            status=status,
            rc=rc,
            source=prepared.source,
            log_path=str(job.log_path),
            duration_s=duration,
            commands_total=len(prepared.commands),
            commands_done=done,
            output=output,
            error=error,
            notes=tuple(notes),
            graphs=graphs,
            session_lost=lost.cause if lost is not None else None,
        )


def _graphs_of(
    execution: Execution | None, tracker: Tracker, notes: list[str]
) -> tuple[GraphFile, ...]:
    """The graphs the run drew (exported for it) and the files its own `graph export` wrote."""
    drawn = execution.graphs if execution else ()
    if execution and execution.graphs_drawn > len(drawn):
        notes.append(
            f"the run drew {execution.graphs_drawn} graphs; the last {len(drawn)} are attached "
            "(STATA_TOOLS_MAX_GRAPHS); `export_graph` exports any other still in memory"
        )
    exported = []
    for path, fmt in dict.fromkeys(tracker.exports):
        absolute = Path(path) if Path(path).is_absolute() else Path.cwd() / path
        exported.append(GraphFile(None, str(absolute), fmt))
    return (*drawn, *exported)


def _lost_log(job: Job, execution: Execution | None) -> str | None:
    """Why the run's own log does not hold the whole run, if it does not."""
    if not job.log_path.exists():
        return "the run's log file was deleted while Stata ran"
    if execution is not None and not execution.log_kept:
        return "the code closed every log (`log close _all`)"
    return None


def _excerpt_of_file(path: Path, budget_chars: int) -> Excerpt:
    """The budgeted excerpt of a text file read line by line (the captured output)."""
    builder = ExcerptBuilder(budget_chars)
    parser = LogParser()
    decoder = LineDecoder()
    with contextlib.suppress(OSError), path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            for line in decoder.feed(chunk):
                builder.add(parser.feed(line))
    for line in decoder.flush():
        builder.add(parser.feed(line))
    return builder.build()


def _command_for(prepared: PreparedRun, run_dir: Path) -> str:
    if prepared.do_file is not None:
        return f"do {stata_quote(str(prepared.do_file))}"
    code_path = run_dir / "code.do"
    code_path.write_text(prepared.code or "", encoding="utf-8")
    return f"include {stata_quote(str(code_path))}"


def _error_of(prepared: PreparedRun, tracker: Tracker, execution: Execution | None) -> StataError:
    rc = execution.rc if execution else 1
    record = next((e for e in tracker.errors if e.rc == rc), None)
    message = record.message if record else _message_from(execution)
    index = record.command_index if record else (tracker.index or None)
    command = prepared.commands[index - 1] if index else None
    return StataError(
        rc=rc,
        message=message,
        command=command.head if command else None,
        line=command.first_line if command else None,
        source=prepared.label,
    )


def _message_from(execution: Execution | None) -> str:
    if execution is None or not execution.error_text:
        return ""
    lines = [line for line in execution.error_text.splitlines() if line.strip()]
    body = [line for line in lines if not line.startswith("r(")]
    return body[-1] if body else ""


_NUDGE: list[str] = []  # not a batch: wakes the run loop to recompute its deadlines


def _nudge(batches: asyncio.Queue[list[str] | None]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        batches.put_nowait(_NUDGE)


def _lost_by(future: asyncio.Future[Execution]) -> WorkerLost | None:
    if not future.done() or future.cancelled():
        return None
    error = future.exception()
    return error if isinstance(error, WorkerLost) else None


def _ended_reason(grace_s: float, after: str) -> str:
    return (
        f"Stata did not respond to the break within {grace_s:g} s after {after}, so "
        "stata-tools ended its process"
    )


def _lost_note(lost: WorkerLost, prepared: PreparedRun, tracker: Tracker) -> str:
    """What the reader must know when the session went down with this run."""
    index = tracker.index
    command = prepared.commands[index - 1] if 0 < index <= len(prepared.commands) else None
    where = (
        f" while it ran command {index} of {len(prepared.commands)} (line {command.first_line} "
        f"of {prepared.label}: {command.head})"
        if command
        else ""
    )
    what = "Stata's process died" if not lost.ended else "The Stata session was ended"
    log = f"; the worker's own log is {lost.log_path}" if lost.log_path else ""
    return (
        f"{what}{where}: {lost.cause}. The session was lost: data in memory, globals, "
        f"programs and stored results are gone, and the next call starts a fresh Stata. The "
        f"output below is the run's log up to that moment{log}."
    )


def _unresponsive_note(timeout_s: float | None, settings: Settings) -> str:
    return (
        f"Stata did not respond to the break within {settings.break_grace_s:g} s after the "
        f"{format_elapsed(timeout_s or 0)} timeout; the session stays busy until Stata returns "
        "(session_status shows it), and later runs wait for it"
    )


def locate_stata(settings: Settings) -> Installation:
    """Where Stata is: the settings' STATA_PATH/STATA_EDITION first, then the usual places."""
    return find_installation({**os.environ, **_stata_env(settings)})


def _stata_env(settings: Settings) -> dict[str, str]:
    env: dict[str, str] = {}
    if settings.stata_path:
        env["STATA_PATH"] = settings.stata_path
    if settings.stata_edition:
        env["STATA_EDITION"] = settings.stata_edition
    return env
