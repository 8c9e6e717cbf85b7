"""Session: one Stata, runs queued in order, each run a stream of events ending in a RunResult."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import anyio

from stata_tools.run.data_change import DataChange
from stata_tools.run.dofile import Command, DoFileError, decode_source, split_commands
from stata_tools.run.durations import format_elapsed
from stata_tools.run.events import (
    Finished,
    Heartbeat,
    Output,
    Queued,
    RunEvent,
    Snapshot,
    Started,
)
from stata_tools.run.graphs import GraphFile
from stata_tools.run.logs.batch import BatchLogReader
from stata_tools.run.logs.follow import LineDecoder
from stata_tools.run.logs.netfs import on_network_fs
from stata_tools.run.logs.parse import LogParser
from stata_tools.run.logs.source import RunFollower, StreamBuffer
from stata_tools.run.progress import Resolver, Script, Tracker
from stata_tools.run.results import Excerpt, ExcerptBuilder, RunResult, RunStatus, StataError
from stata_tools.run.timings import (
    FileRecord,
    Timeline,
    command_keys,
    dump_history,
    expected_durations,
    parse_history,
    record_run,
)
from stata_tools.safety import sandbox
from stata_tools.safety.files import NotAFile, read_regular_file
from stata_tools.safety.guard import MAX_CALLED_BYTES, CommandRefused, check_run, read_called
from stata_tools.safety.policy import Policy, check
from stata_tools.safety.roots import OutsideRoots, Roots
from stata_tools.safety.sandbox import Protections, SandboxSpec
from stata_tools.stata.arrays import follow_array
from stata_tools.stata.batch import BatchEngine, BatchExecution, BatchJob, batch_job
from stata_tools.stata.console import ConsoleBinary, find_console
from stata_tools.stata.discovery import Installation, find_installation
from stata_tools.stata.engine import UNKNOWN_RC, Engine, Execution, Job, StataInfo, stata_quote
from stata_tools.stata.runs import RUNNING_OR_INTERRUPTED, RunStore
from stata_tools.stata.settings import Settings
from stata_tools.stata.slurm.engine import SlurmEngine, SlurmJob, task_log
from stata_tools.stata.slurm.record import JobRecord, load_record, save_record
from stata_tools.stata.slurm.script import ArraySpec, SlurmOptionError, SlurmOptions, parse_array
from stata_tools.stata.supervisor import Restart, WorkerEngine, WorkerLost

_UNSAFE_PATH_CHARS = ("`", "$", "\n", "\r")
EXECUTORS = ("session", "batch", "slurm")
logger = logging.getLogger(__name__)
MAX_DO_FILE_BYTES = MAX_CALLED_BYTES  # what the policy can read of it
T = TypeVar("T")


class RunRequestError(ValueError):
    """The request cannot run as given; the message says what was wrong and what to do."""


class RunFolderError(RunRequestError):
    """The run folder cannot be written (a full disk, no permission): nothing was run."""

    def __init__(self, folder: Path, error: OSError) -> None:
        super().__init__(
            f"nothing was run: the run folder {folder} cannot be written "
            f"({error.strerror or error}). Free space on its disk, or point STATA_TOOLS_RUN_DIR "
            "at a folder on another disk where the server is configured."
        )


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
    executor: str = "session"  # "batch": a local `stata -b` process; "slurm": that, via sbatch
    array: str | None = None  # slurm only: task indices (1-100); each task's is its `1'
    slurm: Mapping[str, object] | None = None  # per-call partition, time_limit, cpus, …


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
    roots: Roots | None = None  # where the do-files it calls may be read (to follow them)
    executor: str = "session"
    array: ArraySpec | None = None
    slurm: Mapping[str, object] | None = None  # per-call Slurm options, validated


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
    sandbox: Protections | None = None  # the OS lock on the worker; None: Stata in this process


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
        prepared = _with_executor(
            dataclasses.replace(_prepare(request, base, default_timeout_s, roots), roots=roots),
            request,
        )
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


def _with_executor(prepared: PreparedRun, request: RunRequest) -> PreparedRun:
    """The executor and its options, checked: batch executors run do-files; arrays and Slurm
    options belong to `slurm`."""
    executor = (request.executor or "session").strip().lower()
    if executor not in EXECUTORS:
        raise RunRequestError(
            f"executor {request.executor!r} is not one of {', '.join(EXECUTORS)}: session is "
            "the persistent Stata, batch a local `stata -b` process, slurm a cluster job"
        )
    if executor != "session" and prepared.do_file is None:
        raise RunRequestError(
            f"executor={executor!r} runs do-files: save the code in a .do file and pass its "
            "path, or use executor='session' for code"
        )
    if executor != "slurm" and (request.array is not None or request.slurm):
        what = "array" if request.array is not None else "Slurm options"
        raise RunRequestError(f"{what} need executor='slurm' (this run asks for {executor})")
    try:
        array = parse_array(request.array) if request.array is not None else None
        if request.slurm:
            SlurmOptions().merged(**request.slurm)
    except SlurmOptionError as error:
        raise RunRequestError(str(error)) from None
    return dataclasses.replace(prepared, executor=executor, array=array, slurm=request.slurm)


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
    _batch_runs: dict[str, tuple[BatchEngine | SlurmEngine, Job]] = field(
        default_factory=dict, init=False
    )  # run id → where it runs, while a batch or Slurm run is followed
    _resuming: dict[str, bool] = field(
        default_factory=dict, init=False
    )  # run id → a cancel asked for, while a resumed Slurm run gets going
    batch_engine: BatchEngine | None = None  # executor="batch", made at its first run
    slurm_engine: SlurmEngine | None = None  # executor="slurm", made at its first run
    _working: int = field(default=0, init=False)  # runs and reads begun and not yet over
    _last_active: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._last_active = self.clock()
        self.runs = RunStore(self.settings.run_dir, self.settings.max_runs_kept)
        if self.engine is None:
            self.engine = WorkerEngine(
                self.locate, log_dir=self.settings.run_dir / "workers", sandbox=self.sandbox_spec
            )

    def close(self) -> None:
        """Stop Stata's worker process, if one runs (the in-process engine lives on)."""
        if isinstance(self.engine, WorkerEngine):
            self.engine.close()

    def locate(self) -> Installation:
        return locate_stata(self.settings)

    def locate_console(self) -> ConsoleBinary:
        """Stata's console binary for batch runs, from the same STATA_PATH/STATA_EDITION."""
        return find_console({**os.environ, **_stata_env(self.settings)})

    def _executor(self, name: str) -> Engine | BatchEngine | SlurmEngine:
        """The engine that runs this executor's jobs (all share the engine interface)."""
        if name == "batch":
            if self.batch_engine is None:
                self.batch_engine = BatchEngine(
                    self.locate_console,
                    parallel=self.settings.batch_parallel,
                    break_grace_s=self.settings.break_grace_s,
                )
            return self.batch_engine
        if name == "slurm":
            if self.slurm_engine is None:
                self.slurm_engine = SlurmEngine(
                    self.locate_console,
                    options=self.settings.slurm,
                    poll_s=self.settings.slurm_poll_s,
                )
            return self.slurm_engine
        assert self.engine is not None
        return self.engine

    def sandbox_spec(self) -> SandboxSpec | None:
        """The OS lock for Stata's worker, from the settings as they are when it starts."""
        return self.settings.sandbox_spec()

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
            sandbox=sandbox.protections(self.sandbox_spec())
            if isinstance(engine, WorkerEngine)
            else None,
        )

    def idle_since(self) -> float | None:
        """When the session last finished a run or a read (its clock); None while one is
        queued or going on, so a session is never closed for idleness under a run."""
        engine_busy = self.engine is not None and self.engine.active is not None
        if self._working or self._lock.locked() or engine_busy:
            return None
        return self._last_active

    @contextlib.contextmanager
    def _at_work(self) -> Iterator[None]:
        self._working += 1
        try:
            yield
        finally:
            self._working -= 1
            self._last_active = self.clock()

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
        with self._at_work():
            async with lock:
                future = self.engine.query(fn)  # type: ignore[union-attr]
                with anyio.CancelScope(shield=True):
                    return await asyncio.wrap_future(future)

    def cancel(self, run_id: str | None = None) -> str | None:
        """Break a run, as a client's cancel would (scancel for a Slurm job): `run_id`, or the
        session's running run, else the newest batch or Slurm run; the id of the run, if any."""
        current = self._current
        if current is not None and run_id in (None, current.run_id):
            if not self.engine.request_break():  # type: ignore[union-attr]
                return None
            self._break_at = self.clock()
            if self._wake is not None:
                self._wake()  # the run starts counting the break's grace period now
            return current.run_id
        jobs = self._batch_runs
        chosen = run_id if run_id is not None else next(reversed(jobs), None)
        if chosen is not None and chosen not in jobs and chosen in self._resuming:
            self._resuming[chosen] = True  # scancel'd as soon as the job is followed again
            return chosen
        if chosen is None or chosen not in jobs:
            return None
        engine, job = jobs[chosen]
        return chosen if engine.request_break(job) else None

    async def stop_running(self, grace_s: float = 5.0) -> None:
        """Break whatever runs and wait (bounded) for Stata to close its log: a clean shutdown.
        Local batch processes are stopped too; Slurm jobs are left to run."""
        if self.batch_engine is not None:
            self.batch_engine.close()
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

    def prepare(self, request: RunRequest) -> PreparedRun:
        """The request checked with this session's settings (what `run` does first)."""
        return prepare(
            request,
            default_timeout_s=self.settings.default_timeout_s,
            roots=self.settings.roots and self.settings.roots.with_uris(request.client_roots),
            policy=self.settings.policy,
        )

    async def run(
        self, request: RunRequest, *, run_id: str | None = None
    ) -> AsyncIterator[RunEvent]:
        """Queue, run and follow one request; the last event is `Finished`.

        Close the generator (``contextlib.aclosing``) or cancel its consumer to stop the run:
        Stata gets a break and the session keeps its data. `run_id` (from `new_run_id`) names
        the run before it starts, for callers that hand it out while the run waits its turn.
        """
        with self._at_work():
            async with contextlib.aclosing(self._run(request, run_id)) as events:
                async for event in events:
                    yield event

    async def _run(self, request: RunRequest, run_id: str | None) -> AsyncIterator[RunEvent]:
        prepared = self.prepare(request)
        run_id = run_id or new_run_id()
        if prepared.executor != "session":  # stateless processes: no queue for the one Stata
            async with contextlib.aclosing(self._run_locked(prepared, run_id)) as events:
                async for event in events:
                    yield event
            return
        ticket = _Ticket(run_id, prepared.source)
        lock = self._loop_lock()
        if not lock.locked() and not self._waiting:
            await lock.acquire()  # an idle session: taken at once, no task, no wait
        else:
            async with contextlib.aclosing(self._queue(ticket, lock, prepared)) as waits:
                async for event in waits:
                    yield event
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

    async def _queue(
        self, ticket: _Ticket, lock: asyncio.Lock, prepared: PreparedRun
    ) -> AsyncIterator[RunEvent]:
        """Wait for the lock behind the runs ahead, saying where this one stands; it holds the
        lock when this ends."""
        began = self.clock()
        self._waiting.append(ticket)
        acquire = asyncio.ensure_future(lock.acquire())
        try:
            await asyncio.wait({acquire}, timeout=0.01)  # a session just freed takes us at once
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

    def follows(self, run_id: str) -> bool:
        """Whether this session follows that batch or Slurm run now."""
        return run_id in self._batch_runs or run_id in self._resuming

    def resumable(self, run_id: str) -> JobRecord | None:
        """The Slurm job of a run whose server went away before it ended (its folder has the
        job record and no final result), unless this session follows it already."""
        if self.follows(run_id):
            return None
        try:
            folder = self.runs.folder(run_id)
        except LookupError:
            return None
        status = self.runs.summary(run_id).status
        if status not in (RUNNING_OR_INTERRUPTED, "detached"):
            return None
        return load_record(folder)

    def resume(self, run_id: str) -> AsyncIterator[RunEvent]:
        """Follow a run's Slurm job again (after a restart) from its folder's job record: its
        state from squeue/scontrol/sacct, its log from the start (so k/N is right), then the
        result; the last event is `Finished`. RunRequestError when it has nothing to follow.
        From this call on, cancel(run_id) reaches the job."""
        record = self.resumable(run_id)
        if record is None:
            raise RunRequestError(
                f"run {run_id} has no Slurm job to follow: it ended, or it was not a Slurm run "
                "(run_status shows what is known of it)"
            )
        self._resuming[run_id] = False
        return self._resume(record)

    async def _resume(self, record: JobRecord) -> AsyncIterator[RunEvent]:
        run_id = record.run_id
        prepared = _resumed(record)
        elapsed = max(0.0, time.time() - record.submitted_at)
        try:
            async with contextlib.aclosing(
                self._run_locked(prepared, run_id, resume=record, elapsed_s=elapsed)
            ) as events:
                async for event in events:
                    yield event
        finally:
            self._resuming.pop(run_id, None)

    def _loop_lock(self) -> asyncio.Lock:
        """The queue's lock, made anew when a caller brings another event loop (tests, scripts)."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop and not self._lock.locked():
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _run_locked(
        self,
        prepared: PreparedRun,
        run_id: str,
        *,
        resume: JobRecord | None = None,
        elapsed_s: float = 0.0,
    ) -> AsyncIterator[RunEvent]:
        engine = self._executor(prepared.executor)
        with anyio.CancelScope(shield=True):
            await asyncio.wrap_future(engine.start())
        notice = engine.take_notice() if isinstance(engine, WorkerEngine) else None
        try:
            run_dir = self.runs.new_folder(run_id)
            command = _command_for(prepared, run_dir) if prepared.executor == "session" else ""
        except OSError as error:
            raise RunFolderError(self.settings.run_dir, error) from None
        if prepared.executor == "session":
            job = Job(
                run_id=run_id,
                command=command,
                log_path=run_dir / "run.log",
                log_name="_st" + run_id.replace("-", "")[-20:],
                stdout_path=run_dir / "stdout.txt",
                working_dir=prepared.working_dir,
                max_graphs=self.settings.max_graphs,
                track_data=self.settings.data_changes,
            )
        else:
            job = self._batch_job(prepared, run_id, run_dir, resume)
        if isinstance(job, SlurmJob):
            start = self._slurm_start(engine, job, prepared, resume, elapsed_s)
        if isinstance(job, SlurmJob) and job.array is not None:
            array = self._run_array(prepared, job, engine, start, elapsed_s)
            async with contextlib.aclosing(array) as events:
                async for event in events:
                    yield event
            return
        reader = BatchLogReader() if isinstance(job, BatchJob) else None
        describe = getattr(engine, "describe", None)
        began = self.clock() - elapsed_s
        history = self._history_start(prepared) if resume is None else None
        tracker = Tracker(
            prepared.commands,
            prepared.label,
            began,
            wrapper=job.command,
            timeline=history.timeline if history else None,
            resolve=called_scripts(
                prepared.roots,
                prepared.working_dir or Path.cwd(),
                prepared.do_file.parent if prepared.do_file else None,
            ),
            source=str(prepared.do_file) if prepared.do_file else None,
        )
        parser = LogParser()
        excerpt = ExcerptBuilder(self.settings.output_budget_chars)
        stop = anyio.Event()
        batches: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=64)
        stream = StreamBuffer()  # what Stata prints, for when its log cannot be read (Windows)
        follower = self._follower(job, stream)

        async def pump() -> None:
            try:
                async for batch in follower.follow(stop):
                    await batches.put(batch)
            finally:
                await batches.put(None)

        try:
            if isinstance(job, SlurmJob):
                future = asyncio.wrap_future(start())
            elif isinstance(job, BatchJob):  # its own process writes the log: nothing is streamed
                future = asyncio.wrap_future(engine.execute(job))
            else:
                future = asyncio.wrap_future(engine.execute(job, stream.put))  # type: ignore[call-arg]
        except RuntimeError as error:  # the batch log is another run's (LogInUse)
            raise RunRequestError(str(error)) from None
        if prepared.executor == "session":
            self._inflight = future
        else:
            self._batch_runs[run_id] = (engine, job)  # type: ignore[assignment]
            if self._resuming.get(run_id):  # cancel_run came while it got going
                _break(engine, job)
        future.add_done_callback(lambda _: stop.set())
        pump_task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        session_run = prepared.executor == "session"  # one at a time: cancel() reaches it here
        if session_run:
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
            yield Started(run_id, str(job.log_path), tracker.snapshot(self.clock()))
            while True:
                if describe is not None:  # the job's state leads the progress message
                    tracker.status = describe(job)
                now = self.clock()
                if session_run and break_deadline is None and self._break_at is not None:
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
                        _break(engine, job)
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
                if reader is not None:  # a batch log: the banner is not the run's output
                    batch = reader.feed(batch)
                    if not reader.in_body:
                        continue
                if describe is not None:
                    tracker.status = describe(job)
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
            full = _disk_full_note(run_dir, self.runs.save_result(run_id, result.to_meta()))
            if full is not None:
                result = dataclasses.replace(result, notes=(*result.notes, full))
            saved = True
            yield Finished(result, tracker.finish(self.clock()))
        finally:
            detached = (
                not saved
                and isinstance(engine, SlurmEngine)
                and not self.settings.slurm_cancel_on_disconnect
                and not future.done()
            )
            if detached:  # submitted to outlive the session: left to run, and said so
                job_id = engine.detach(job)  # type: ignore[union-attr]
                self.runs.save_result(
                    run_id,
                    {
                        "run_id": run_id,
                        "status": "detached",
                        "rc": None,
                        "source": prepared.source,
                        "log_path": str(job.log_path),
                        "job": {"executor": "slurm", "job_id": job_id},
                    },
                )
            elif not saved:  # the caller went away (cancel, disconnect): the run list says so
                failed = future.done() and not future.cancelled() and future.exception()
                self.runs.save_result(
                    run_id,
                    {
                        "run_id": run_id,
                        "status": "error" if failed else "cancelled",
                        "rc": 1,
                        "source": prepared.source,
                        **({"error": str(failed)} if failed else {}),
                    },
                )
            if session_run:
                self._wake = None
            if not future.done() and not abandoned and not detached:  # stopped by our consumer
                _break(engine, job)
                with anyio.CancelScope(shield=True), anyio.move_on_after(grace):
                    await asyncio.wait({future})
                if not future.done() and isinstance(engine, WorkerEngine):
                    engine.end(_ended_reason(grace, "the call was cancelled"))
                    with anyio.CancelScope(shield=True), anyio.move_on_after(grace):
                        await asyncio.wait({future})
                if future.done() and not future.cancelled():
                    future.exception()  # seen: a lost worker is the result of a call nobody awaits
            self._batch_runs.pop(run_id, None)
            stop.set()
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                with anyio.CancelScope(shield=True):
                    await pump_task

    def _slurm_start(
        self,
        engine: object,
        job: SlurmJob,
        prepared: PreparedRun,
        resume: JobRecord | None,
        elapsed_s: float,
    ) -> Callable[[], Future[Execution]]:
        """How the job gets going: submitted (its record saved once sbatch answers, for a
        restarted server), or, resumed, the recorded job followed again."""
        assert isinstance(engine, SlurmEngine)
        if resume is not None:
            return lambda: engine.attach(job, resume.job_id, elapsed_s)
        wall = time.time()

        def submitted(job_id: str) -> None:
            record = JobRecord(
                run_id=job.run_id,
                job_id=job_id,
                do_file=str(job.do_file),
                working_dir=str(prepared.working_dir) if prepared.working_dir else None,
                source=prepared.source,
                submitted_at=wall,
                array=job.array.text if job.array else None,
                options=dataclasses.asdict(job.options),
                timeout_at=wall + prepared.timeout_s if prepared.timeout_s else None,
            )
            try:
                save_record(job.run_dir, record)
            except OSError as error:  # a full disk: the run goes on, only a restart loses it
                logger.warning("could not save the job record of run %s: %s", job.run_id, error)

        return lambda: engine.execute(job, on_submitted=submitted)

    async def _run_array(
        self,
        prepared: PreparedRun,
        job: SlurmJob,
        engine: object,
        start: Callable[[], Future[Execution]],
        elapsed_s: float = 0.0,
    ) -> AsyncIterator[RunEvent]:
        """A Slurm job array: every task's log followed (stata/arrays.py); a client that leaves
        leaves the array running unless the settings say to cancel it."""
        assert isinstance(engine, SlurmEngine) and job.array is not None
        total = len(job.array.indices)
        began = self.clock() - elapsed_s
        message = f"{prepared.label}: submitting an array of {total} tasks"
        self._batch_runs[job.run_id] = (engine, job)
        first_log = task_log(job, job.array.indices[0])
        yield Started(job.run_id, str(first_log), Snapshot(0.0, total, message, 0.0))
        saved = False
        try:
            async for event in follow_array(
                engine,
                job,
                prepared.commands,
                prepared.label,
                start=start,
                began=began,
                clock=self.clock,
                heartbeat_s=self.settings.heartbeat_s,
                poll_s=min(self.settings.log_poll_s, self.settings.heartbeat_s),
                timeout_s=prepared.timeout_s,
                budget_chars=self.settings.output_budget_chars,
            ):
                if isinstance(event, Finished):
                    _link_log(job.run_dir, Path(event.result.log_path))
                    result = dataclasses.replace(
                        event.result, notes=prepared.notes + event.result.notes
                    )
                    self.runs.save_result(job.run_id, result.to_meta())
                    saved = True
                    event = Finished(result, event.snapshot)
                yield event
        finally:
            self._batch_runs.pop(job.run_id, None)
            if not saved:
                if self.settings.slurm_cancel_on_disconnect:
                    engine.request_break(job)
                    status: dict[str, object] = {"status": "cancelled", "rc": 1}
                else:
                    status = {"status": "detached", "rc": None}
                job_id = (
                    engine.detach(job) if not self.settings.slurm_cancel_on_disconnect else None
                )
                self.runs.save_result(
                    job.run_id,
                    {
                        "run_id": job.run_id,
                        **status,
                        "source": prepared.source,
                        "job": {"executor": "slurm", "job_id": job_id or engine.job_id(job)},
                        "elapsed_s": round(self.clock() - began, 3),
                    },
                )

    def _batch_job(
        self, prepared: PreparedRun, run_id: str, run_dir: Path, resume: JobRecord | None = None
    ) -> BatchJob:
        """The batch (or Slurm) job: Stata starts in the working directory, default the
        do-file's folder, and writes `<name>.log` there."""
        assert prepared.do_file is not None
        job = batch_job(run_id, prepared.do_file, run_dir, prepared.working_dir)
        _link_log(run_dir, job.log_path)  # read_log(run_id) reads the batch log
        if prepared.executor != "slurm":
            return job
        if resume is not None:
            options = resume.slurm_options()  # as submitted, whatever the settings are now
        else:
            options = self.settings.slurm.merged(**(prepared.slurm or {}))
        fields = {name: getattr(job, name) for name in job.__dataclass_fields__}
        return SlurmJob(**fields, options=options, array=prepared.array)

    def _follower(self, job: Job, stream: StreamBuffer) -> RunFollower:
        """The run's log, or Stata's stream when the log cannot be read; a batch log on NFS or
        Lustre gets no change events from the node writing it, so it is polled."""
        if isinstance(job, BatchJob):
            mode = self.settings.log_polling
            if mode == "on" or (mode == "auto" and on_network_fs(job.log_path.parent)):
                return RunFollower(
                    job.log_path,
                    stream,
                    force_polling=True,
                    poll_interval_s=self.settings.log_poll_s,
                )
        return RunFollower(job.log_path, stream)

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
            parse_history(self.runs.read_history()),  # as now: another session may have saved
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
            if rc == UNKNOWN_RC and tracker.errors:  # its text had streamed out: the log knows
                rc = tracker.errors[-1].rc
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
                + (
                    f"Stata was sent a break and {kept}"
                    if prepared.executor == "session"
                    else "the batch Stata was stopped (its log holds what it did)"
                ),
            )
        job_meta = None
        if isinstance(execution, BatchExecution):
            status, job_meta = _batch_outcome(prepared, execution, status, notes)
        output = excerpt.build()
        log_lost = _lost_log(job, execution)
        if log_lost:
            notes.append(
                f"{log_lost}, which stopped the live stream; the output below is what Stata "
                "printed, captured separately"
            )
            output = _excerpt_of_file(job.stdout_path, self.settings.output_budget_chars)
        base = job.working_dir if isinstance(job, BatchJob) else None
        graphs = _graphs_of(execution, tracker, notes, base)
        error = _error_of(prepared, tracker, execution, rc) if rc > 0 else None
        if prepared.text and sandbox.may_start_programs(prepared.text):
            shells = check(prepared.text, Policy(), name=prepared.label)
            lines = [v.line for v in shells if v.category == "shell" and v.file == prepared.label]
            if (note := sandbox.exec_note(self.sandbox_spec(), lines)) is not None:
                notes.append(note)
        if error is not None and rc in sandbox.WRITE_REFUSED_RCS:
            said = "\n".join(filter(None, (execution and execution.error_text, error.message)))
            note = sandbox.refusal_note(self.sandbox_spec(), said, job.working_dir)
            if note is not None:
                notes.append(note)
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
            job=job_meta,
            data=_data_change(execution),
        )


_END_NOTES = {
    "timed out": "Slurm ended the job at its time limit (raise time_limit)",
    "out of memory": "the job ran out of memory and was killed (ask for more with memory=)",
    "preempted": "the job was preempted by the scheduler; submit it again",
    "cancelled": "the job was cancelled",
    "failed": "the job failed",
}


def _data_change(execution: Execution | None) -> DataChange | None:
    """What the run did to the data, when it changed anything (a batch run has no session data)."""
    if execution is None or isinstance(execution, BatchExecution):
        return None
    before, after = execution.data_before, execution.data_after
    if before is None or after is None or before == after:
        return None
    return DataChange(before, after)


def _batch_outcome(
    prepared: PreparedRun, execution: BatchExecution, status: RunStatus, notes: list[str]
) -> tuple[RunStatus, dict[str, object]]:
    """A batch or Slurm end state as the run's status, a note, and the result's `job`."""
    state = execution.state
    if state == "timed out":
        status = RunStatus.TIMED_OUT
    elif state == "cancelled" and status is not RunStatus.TIMED_OUT:
        status = RunStatus.CANCELLED
    elif state in ("out of memory", "preempted", "failed") and status is RunStatus.OK:
        status = RunStatus.ERROR
    where = f" on {execution.node}" if execution.node else ""
    stata_error_only = state == "failed" and "COMPLETED" in (execution.detail or "")
    if prepared.executor == "slurm" and state != "completed" and not stata_error_only:
        why = _END_NOTES.get(state, state)
        detail = f" ({execution.detail})" if execution.detail else ""
        notes.append(f"Slurm job {execution.job_id}{where}: {why}{detail}")
    elif execution.detail and state != "completed":
        notes.append(f"batch Stata (pid {execution.job_id}): {execution.detail}")
    failed = [task for task in execution.tasks if task.state != "completed"]
    if execution.tasks:
        done = len(execution.tasks) - len(failed)
        notes.insert(0, f"{done} of {len(execution.tasks)} array tasks completed")
        for task in failed[:20]:
            message = f": {task.message}" if task.message else ""
            rc = f" r({task.rc})" if task.rc else ""
            notes.append(f"task {task.index} {task.state}{rc}{message} (log {task.log_path})")
        if len(failed) > 20:
            notes.append(f"… and {len(failed) - 20} more failed tasks (the result's job lists all)")
    meta: dict[str, object] = {
        "executor": prepared.executor,
        "job_id": execution.job_id,
        "state": state,
        "node": execution.node,
        "detail": execution.detail,
    }
    if execution.tasks:
        meta["tasks"] = [
            {
                "index": task.index,
                "state": task.state,
                "rc": task.rc,
                "message": task.message,
                "log_path": task.log_path,
                "node": task.node,
            }
            for task in execution.tasks
        ]
    return status, meta


def _resumed(record: JobRecord) -> PreparedRun:
    """The recorded job's do-file lexed again for its k/N (a do-file since removed leaves the
    job followed by its state and log alone)."""
    do_file = Path(record.do_file)
    working_dir = Path(record.working_dir) if record.working_dir else None
    timeout = record.timeout_at - record.submitted_at if record.timeout_at else None
    array = parse_array(record.array) if record.array else None
    try:
        text, notes = _read_do_file(do_file)
        commands, split_notes = _split(text)
        notes += split_notes
    except (RunRequestError, OSError) as error:
        text, commands, notes = "", (), (f"the do-file could not be read again: {error}",)
    return PreparedRun(
        do_file.name,
        record.source,
        commands,
        working_dir,
        timeout,
        do_file=do_file,
        notes=notes,
        text=text,
        executor="slurm",
        array=array,
    )


def _link_log(run_dir: Path, log: Path) -> None:
    """The run folder's run.log names the batch log, wherever Stata writes it."""
    link = run_dir / "run.log"
    with contextlib.suppress(OSError):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(log)


def _break(engine: object, job: Job) -> None:
    """Break this run: executors with many jobs at once are told which one."""
    if isinstance(engine, (BatchEngine, SlurmEngine)):
        engine.request_break(job)
    else:
        engine.request_break()  # type: ignore[attr-defined]


def _graphs_of(
    execution: Execution | None, tracker: Tracker, notes: list[str], base: Path | None = None
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
        absolute = Path(path) if Path(path).is_absolute() else (base or Path.cwd()) / path
        exported.append(GraphFile(None, str(absolute), fmt))
    return (*drawn, *exported)


def _lost_log(job: Job, execution: Execution | None) -> str | None:
    """Why the run's own log does not hold the whole run, if it does not."""
    if not job.log_path.exists():
        return "the run's log file was deleted while Stata ran"
    if execution is not None and not execution.log_kept:
        return "the code closed every log (`log close _all`)"
    return None


LOW_SPACE_BYTES = 1 << 20  # below this, a run's log has likely stopped short


def _disk_full_note(run_dir: Path, save_error: OSError | None) -> str | None:
    """What a result says when the run folder's disk filled: the log (and so the output and
    progress) ends where it filled, and the result may not be kept."""
    try:
        free: int | None = shutil.disk_usage(run_dir).free
    except OSError:
        free = None
    if save_error is None and (free is None or free >= LOW_SPACE_BYTES):
        return None
    why = save_error.strerror if save_error is not None else "almost no space left"
    kept = " and this result was not saved beside it" if save_error is not None else ""
    left = f" ({free:,} bytes free)" if free is not None else ""
    return (
        f"the disk holding the run folder {run_dir.parent} is full{left}: {why}. Stata's log may "
        f"stop short{kept}; the output above is what was captured before. Free space, or point "
        "STATA_TOOLS_RUN_DIR at another disk; the session goes on."
    )


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


def called_scripts(roots: Roots | None, working_dir: Path, master: Path | None) -> Resolver:
    """How the tracker reads the do-files a run calls: where the policy's check looks (the
    working directory, then the calling file's folder; then the run's do-file's folder, which a
    master usually `cd`s to), inside the roots, lexed."""

    def resolve(written: str, caller: str | None) -> Script | None:
        folders = [working_dir] + ([Path(caller).parent] if caller else [])
        if master is not None and master not in folders:
            folders.append(master)
        called = read_called(written, folders, roots)
        path, text = called.path, called.text
        if path is None or text is None:
            return None
        try:
            commands = split_commands(text)
        except DoFileError:
            return None
        return Script(path.name, tuple(commands), str(path))

    return resolve


def _error_of(
    prepared: PreparedRun, tracker: Tracker, execution: Execution | None, rc: int
) -> StataError:
    record = next((e for e in tracker.errors if e.rc == rc), None)
    message = record.message if record else _message_from(execution)
    if not message and isinstance(execution, BatchExecution) and execution.state != "failed":
        message = _END_NOTES.get(execution.state, "")  # Slurm ended it before Stata could say
    source = prepared.label
    if record is not None and record.command is not None:
        command: Command | None = record.command  # where it happened: maybe a called do-file
        source = record.script or source
    else:
        index = record.command_index if record else (tracker.index or None)
        command = prepared.commands[index - 1] if index else None
    return StataError(
        rc=rc,
        message=message,
        command=command.head if command else None,
        line=command.first_line if command else None,
        source=source,
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
