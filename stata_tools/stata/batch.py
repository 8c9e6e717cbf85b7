"""The `batch` executor: each do-file a `stata-<edition> -b do file.do` process, several at
once; the same engine interface as `Engine` (start, execute, request_break, info, active).

Stateless: nothing survives between runs. The batch log (`<name>.log` in the working
directory) is the run's log; its tail gives the return code, since batch Stata exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stata_tools.run.logs.batch import BatchLogReader
from stata_tools.run.logs.follow import LineDecoder
from stata_tools.stata.console import ConsoleBinary, batch_command, console_info, started
from stata_tools.stata.engine import BREAK_RC, Execution, Job, StataInfo, stata_quote

__all__ = [
    "UNFINISHED_RC",
    "BatchEngine",
    "BatchExecution",
    "BatchJob",
    "batch_job",
    "read_batch_log",
]

UNFINISHED_RC = 9999  # the log stops before the do-file ended and no break was asked for
_TAIL_BYTES = 64 << 10
_HEAD_BYTES = 8 << 10


class LogInUse(RuntimeError):
    """Another run of the same do-file writes the same batch log now."""


@dataclass(frozen=True, slots=True)
class BatchJob(Job):
    """A batch run: the do-file, its arguments and where Stata starts (its log goes there)."""

    do_file: Path = Path()
    args: tuple[str, ...] = ()
    run_dir: Path = Path()


@dataclass(frozen=True, slots=True)
class BatchExecution(Execution):
    """How a batch run ended: the log's return code plus what ended the process or job."""

    state: str = "completed"  # completed, failed, timed out, out of memory, preempted, cancelled
    job_id: str | None = None  # the Slurm job, or the local process id
    node: str | None = None
    detail: str | None = None  # Slurm's own state word and exit code, for the note
    tasks: tuple[TaskOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One array task at its end."""

    index: int
    state: str
    rc: int | None
    log_path: str
    message: str | None = None
    node: str | None = None


def batch_job(
    run_id: str,
    do_file: Path,
    run_dir: Path,
    working_dir: Path | None,
    args: Sequence[str] = (),
) -> BatchJob:
    """The job as Session follows it: Stata starts in the working directory (the do-file's
    folder by default) and writes `<name>.log` there; `command` is the echo that opens it."""
    cwd = working_dir or do_file.parent
    words = [f"do {stata_quote(str(do_file)) if ' ' in str(do_file) else do_file}", *args]
    return BatchJob(
        run_id=run_id,
        command=" ".join(words),
        log_path=cwd / f"{do_file.stem}.log",
        log_name="",
        stdout_path=run_dir / "stdout.txt",
        working_dir=cwd,
        do_file=do_file,
        args=tuple(args),
        run_dir=run_dir,
    )


def batch_argv(console: ConsoleBinary, job: BatchJob) -> list[str]:
    """The do-file quoted for Stata when its path has a space (Stata joins argv with spaces)."""
    target = str(job.do_file)
    return batch_command(console, stata_quote(target) if " " in target else target, job.args)


def read_batch_log(path: Path) -> tuple[int | None, str | None, BatchLogReader]:
    """The return code at the log's tail (None: unfinished), the lines that end the log, and
    the reader (its banner). A large log is read at its head and its tail only."""
    reader = BatchLogReader()
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            if size <= 2 * _TAIL_BYTES:
                lines = _lines(handle.read())
            else:
                lines = _lines(handle.read(_HEAD_BYTES))[:-1]  # the banner and first echo
                handle.seek(size - _TAIL_BYTES)
                lines += _lines(handle.read())[1:]  # the first line is cut
    except OSError:
        return None, None, reader
    body = reader.feed(lines)
    rc = reader.return_code()
    text = "\n".join(line for line in body[-40:] if line.strip()) if rc else None
    return rc, text, reader


def _lines(data: bytes) -> list[str]:
    decoder = LineDecoder()
    return decoder.feed(data) + decoder.flush()


class BatchEngine:
    """Local batch processes, up to `parallel` at once; the rest wait for a slot."""

    def __init__(
        self,
        locate: Callable[[], ConsoleBinary],
        *,
        parallel: int = 2,
        break_grace_s: float = 10.0,
    ) -> None:
        self._locate = locate
        self._parallel = max(1, parallel)
        self._pool = ThreadPoolExecutor(self._parallel, thread_name_prefix="stata-batch")
        self._grace = break_grace_s
        self._lock = threading.Lock()
        self._console: ConsoleBinary | None = None
        self._info: StataInfo | None = None
        self._jobs: dict[str, BatchJob] = {}  # run id → job, from execute to the end
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._breaks: set[str] = set()
        self._logs: dict[Path, str] = {}

    @property
    def info(self) -> StataInfo | None:
        return self._info

    @property
    def active(self) -> Job | None:
        with self._lock:
            return next(iter(self._jobs.values()), None)

    def start(self) -> Future[StataInfo]:
        return started(self._start)

    def _start(self) -> StataInfo:
        if self._info is None:
            self._console = self._locate()
            self._info = console_info(self._console)
        return self._info

    def execute(self, job: Job) -> Future[Execution]:
        """Start (or queue) the process; the stale log of an earlier run is removed first, so
        the follower never reads it."""
        if not isinstance(job, BatchJob):
            raise TypeError("the batch executor runs BatchJob do-files")
        self._start()
        with self._lock:
            owner = self._logs.get(job.log_path)
            if owner is not None:
                raise LogInUse(
                    f"{job.log_path.name} in {job.log_path.parent} is being written by run "
                    f"{owner} of the same do-file; wait for it, or pass another working_dir"
                )
            self._logs[job.log_path] = job.run_id
            self._jobs[job.run_id] = job
        with contextlib.suppress(FileNotFoundError):
            job.log_path.unlink()
        return self._pool.submit(self._run, job)

    def describe(self, job: Job) -> str:
        """The job's state for the progress message."""
        with self._lock:
            process = self._processes.get(job.run_id)
            running = len(self._processes)
            known = job.run_id in self._jobs
        if not known:
            return "batch Stata exited"
        if process is not None:
            return f"batch pid {process.pid}"
        if running >= self._parallel:
            return f"waiting for a batch slot ({running} running)"
        return "starting batch Stata"

    def request_break(self, job: Job | None = None) -> bool:
        """SIGINT (Stata's break) now, SIGTERM after the grace period, then SIGKILL."""
        with self._lock:
            run_id = job.run_id if job is not None else next(iter(self._jobs), None)
            if run_id is None or run_id in self._breaks or run_id not in self._jobs:
                return False
            self._breaks.add(run_id)
            process = self._processes.get(run_id)
        if process is not None:
            threading.Thread(target=self._stop, args=(process,), daemon=True).start()
        return True

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            _signal(process, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(self._grace)
                return
        _signal(process, signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM)

    def _run(self, job: BatchJob) -> Execution:
        started = time.monotonic()
        try:
            with self._lock:
                broke = job.run_id in self._breaks
            if broke:
                return BatchExecution(
                    BREAK_RC, "--Break--", True, started, time.monotonic(), state="cancelled"
                )
            assert self._console is not None
            with open(job.stdout_path, "wb") as sink:
                process = subprocess.Popen(
                    batch_argv(self._console, job),
                    cwd=job.working_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    **_detached(),
                )
                with self._lock:
                    self._processes[job.run_id] = process
                    broke = job.run_id in self._breaks
                if broke:
                    self._stop(process)
                code = process.wait()
            return self._ended(job, started, code, process.pid)
        finally:
            with self._lock:
                self._jobs.pop(job.run_id, None)
                self._processes.pop(job.run_id, None)
                self._logs.pop(job.log_path, None)
                self._breaks.discard(job.run_id)

    def _ended(self, job: BatchJob, started: float, code: int, pid: int) -> BatchExecution:
        with self._lock:
            broke = job.run_id in self._breaks
        rc, text, _ = read_batch_log(job.log_path)
        detail = None if code == 0 else f"the process exited with {_exit_text(code)}"
        if rc is None:
            rc = BREAK_RC if broke else UNFINISHED_RC
            if not job.log_path.exists():
                text = _stdout_tail(job.stdout_path) or "Stata wrote no batch log"
                detail = detail or "Stata wrote no batch log"
        state = "cancelled" if broke and rc == BREAK_RC else ("completed" if rc == 0 else "failed")
        return BatchExecution(
            rc,
            text,
            broke,
            started,
            time.monotonic(),
            state=state,
            job_id=str(pid),
            detail=detail,
        )

    def close(self) -> None:
        """Stop every batch process (at exit)."""
        with self._lock:
            processes = list(self._processes.values())
        for process in processes:
            _signal(process, signal.SIGTERM)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def _stdout_tail(path: Path) -> str | None:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return "\n".join(text.splitlines()[-5:]) or None
    return None


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """The process group on POSIX (Stata and anything it started), the process elsewhere."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if sys.platform != "win32":
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)


def _detached() -> dict[str, object]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}
