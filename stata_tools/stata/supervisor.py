"""WorkerEngine: the Engine's interface, served by a Stata worker process that it supervises.

The server never imports pystata: Stata runs in a child (`stata_tools.stata.worker`) started on
first use with spawn semantics (a fresh interpreter, the same on every OS) and stdout/stderr on a
log file, never on the server's fd 1. A worker that dies is noticed at once (its connection
ends): whatever waited on it fails with WorkerLost, and the next call starts a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import secrets
import signal
import site
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import stata_tools
from stata_tools.safety.sandbox import SandboxSpec
from stata_tools.stata import protocol
from stata_tools.stata.discovery import Installation
from stata_tools.stata.engine import Execution, Job, StataInfo

T = TypeVar("T")
logger = logging.getLogger(__name__)
KEEP_WORKER_LOGS = 20
_PACKAGE_ROOT = str(Path(stata_tools.__file__).resolve().parent.parent)
_SIGNAL_HINTS = {
    "SIGKILL": "often the out-of-memory killer, or kill -9",
    "SIGSEGV": "a crash in Stata's native code",
    "SIGBUS": "a crash in Stata's native code",
    "SIGABRT": "Stata aborted",
    "SIGTERM": "asked to terminate",
}
_WINDOWS_CODES = {0xC0000005: "access violation", 0xC00000FD: "stack overflow"}


class WorkerLost(RuntimeError):
    """The worker ended before answering: its Stata session (data in memory) is gone.

    `ended` is True when stata-tools ended it (an ignored break), False when it died."""

    def __init__(self, cause: str, log_path: Path | None = None, *, ended: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.log_path = log_path
        self.ended = ended


class WorkerStartError(RuntimeError):
    """The worker process could not be started or did not connect; the message says why."""


@dataclass(frozen=True, slots=True)
class Restart:
    """A session lost: when, why, and the run it took with it (None when idle)."""

    at: datetime
    cause: str
    run_id: str | None
    ended: bool


def describe_exit(code: int) -> str:
    """A process exit status as a person reads it: the signal by name, or the code."""
    if code < 0:
        number = -code
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"killed by signal {number}"
        hint = _SIGNAL_HINTS.get(name)
        return f"killed by signal {number} ({name}{': ' + hint if hint else ''})"
    if code in _WINDOWS_CODES:
        return f"exited with code {code:#x} ({_WINDOWS_CODES[code]})"
    if code == 0:
        return "exited with code 0 (the code may have ended Stata, e.g. `exit, STATA clear`)"
    return f"exited with code {code}"


class _Worker:
    """One worker process, its connection, and the requests waiting for answers."""

    def __init__(
        self,
        locate: Callable[[], Installation],
        log_path: Path,
        on_lost: Callable[..., None],
        sandbox: Callable[[], SandboxSpec | None] = lambda: None,
    ) -> None:
        self.log_path = log_path
        self._sandbox = sandbox
        self.pid: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.ending: str | None = None  # why we ended it, once we did
        self._locate = locate
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._backlog: list[bytes] = []
        self._pending: dict[int, Future[Any]] = {}
        self._listeners: dict[str, Callable[[str], None]] = {}  # run id → its stream's reader
        self._ids = itertools.count(1)
        self._gone = False
        self.started: Future[StataInfo] = self.request(None)  # ident 1: the Start sent at boot
        threading.Thread(target=self._boot, name="stata-worker-boot", daemon=True).start()

    def request(self, body: protocol.Body | None) -> Future[Any]:
        """Send a request (queued until the worker connects); its answer resolves the future."""
        future: Future[Any] = Future()
        with self._lock:
            if self._gone:
                future.set_exception(WorkerLost("the worker has already ended", ended=False))
                return future
            ident = next(self._ids)
            self._pending[ident] = future
            if body is not None:
                self._send_locked(protocol.encode(protocol.Request(ident, body)))
        return future

    def listen(self, run_id: str, listener: Callable[[str], None] | None) -> None:
        """Hand the run's streamed output to `listener` (None: stop)."""
        with self._lock:
            if listener is None:
                self._listeners.pop(run_id, None)
            else:
                self._listeners[run_id] = listener

    def notify(self, body: protocol.Body) -> None:
        """A request nobody waits for (Break)."""
        with self._lock:
            if not self._gone:
                self._send_locked(protocol.encode(protocol.Request(0, body)))

    def _send_locked(self, data: bytes) -> None:
        if self._connection is None:
            self._backlog.append(data)
            return
        with contextlib.suppress(OSError):  # the reader sees the end and fails what waits
            self._connection.send_bytes(data)

    def kill(self, reason: str) -> None:
        self.ending = self.ending or reason
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()

    def _boot(self) -> None:
        try:
            installation = self._locate()
            spec = self._sandbox()  # built now, from the roots as they are at this start
            connection = self._spawn()
            try:
                hello = protocol.decode_answer(connection.recv_bytes())
            except (EOFError, OSError):
                raise WorkerStartError(
                    f"Stata's worker process ended before it was ready ({self._cause()}); "
                    f"its log: {self.log_path}"
                ) from None
            if not isinstance(hello, protocol.Hello):
                raise WorkerStartError("the worker did not introduce itself")
            self.pid = hello.pid
            if self.ending is not None:  # closed while it started
                raise WorkerStartError(self.ending)
        except BaseException as error:
            self.kill("it did not start")
            self._lose(error)
            return
        with self._lock:
            start = protocol.Request(1, protocol.Start(installation, spec))
            self._connection = connection
            backlog, self._backlog = [protocol.encode(start), *self._backlog], []
            for data in backlog:
                self._send_locked(data)
        self._read(connection)

    def _spawn(self) -> Connection:
        key = secrets.token_bytes(32)
        listener = Listener(authkey=key)
        try:
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "stata_tools.stata.worker", str(listener.address)],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    env=_child_env(),
                    close_fds=True,
                    **_detached(),
                )
            assert self.process.stdin is not None
            self.process.stdin.write(key.hex().encode() + b"\n")
            self.process.stdin.close()
            return _accept(listener, self.process, key, self.log_path)
        finally:
            listener.close()

    def _read(self, connection: Connection) -> None:
        while True:
            try:
                message = protocol.decode_answer(connection.recv_bytes())
            except (EOFError, OSError):
                break
            except Exception as error:  # a message outside the protocol: stop trusting it
                self.kill(f"the worker broke the protocol ({error})")
                break
            self._resolve(message)
        with contextlib.suppress(OSError):
            connection.close()
        self._lose(None)

    def _resolve(self, message: protocol.Answer) -> None:
        if isinstance(message, protocol.Hello):
            return
        if isinstance(message, protocol.Output):
            with self._lock:
                listener = self._listeners.get(message.run_id)
            if listener is not None:
                if message.dropped:
                    logger.warning("the worker dropped %d characters of output", message.dropped)
                with contextlib.suppress(Exception):  # a listener's failure is not the worker's
                    listener(message.text)
            return
        with self._lock:
            future = self._pending.pop(message.ident, None)
        if future is None:
            return
        if isinstance(message, protocol.Failure):
            future.set_exception(protocol.as_exception(message))
            return
        try:
            future.set_result(protocol.checked_loads(message.payload))
        except Exception as error:
            future.set_exception(
                TypeError(f"a value from Stata's worker was refused: {error}; return plain data")
            )

    def _lose(self, error: BaseException | None) -> None:
        """Fail every waiting request; tell the engine why the worker is gone."""
        cause, ended = self._cause(), self.ending is not None
        with self._lock:
            if self._gone:
                return
            self._gone = True
            pending, self._pending = self._pending, {}
        # the engine first (what was running, who is next), then whoever waits
        self._on_lost(self, cause, ended, connected=self.pid is not None and error is None)
        failure = error if error is not None else WorkerLost(cause, self.log_path, ended=ended)
        for future in pending.values():
            if not future.done():
                future.set_exception(failure)

    def _cause(self) -> str:
        if self.ending is not None:
            return self.ending
        if self.process is None:
            return "the worker was never started"
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return "the worker closed its connection and was ended"
        return describe_exit(code)


def _accept(
    listener: Listener, process: subprocess.Popen[bytes], key: bytes, log_path: Path
) -> Connection:
    """The worker's connection, or WorkerStartError if it exits or hangs first."""
    box: list[Connection | BaseException] = []
    done = threading.Event()

    def accept() -> None:
        try:
            box.append(listener.accept())
        except BaseException as error:
            box.append(error)
        finally:
            done.set()

    threading.Thread(target=accept, name="stata-worker-accept", daemon=True).start()
    deadline = time.monotonic() + 60
    while not done.wait(0.02):  # start-up only: nothing on a run's path waits here
        code = process.poll()
        if code is not None or time.monotonic() > deadline:
            why = describe_exit(code) if code is not None else "did not connect within 60 s"
            with contextlib.suppress(Exception):  # wake the accept up, then drop it
                from multiprocessing.connection import Client

                Client(listener.address, authkey=key).close()
            process.kill()
            raise WorkerStartError(f"Stata's worker process {why}; its log: {log_path}")
    result = box[0]
    if isinstance(result, BaseException):
        process.kill()
        raise WorkerStartError(f"the worker's connection failed: {result}; its log: {log_path}")
    return result


def _child_env() -> dict[str, str]:
    """Ours; from a source checkout that is not installed, with the package made importable
    (an installed package is found anyway, and a site folder must not go ahead of the stdlib)."""
    env = dict(os.environ)
    sites = {*site.getsitepackages(), site.getusersitepackages()}
    if _PACKAGE_ROOT not in {str(Path(p).resolve()) for p in sites}:
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
    return env


def _detached(platform: str = sys.platform) -> dict[str, Any]:
    """Out of the terminal's process group, so Ctrl-C reaches the server, which decides; the
    same spawn everywhere otherwise (no fork-only preexec_fn)."""
    if platform == "win32":
        return {"creationflags": 0x00000200}  # subprocess.CREATE_NEW_PROCESS_GROUP
    return {"start_new_session": True}


class WorkerEngine:
    """What Session needs from an engine (start, execute, query, request_break, info, active),
    served by a supervised worker process; plus `end` for a Stata that ignores its break."""

    def __init__(
        self,
        locate: Callable[[], Installation],
        *,
        log_dir: Path,
        sandbox: Callable[[], SandboxSpec | None] = lambda: None,
    ) -> None:
        """`sandbox` gives the OS lock each new worker applies before Stata starts."""
        self._locate = locate
        self._sandbox = sandbox
        self._log_dir = log_dir
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._info: StataInfo | None = None
        self._active: Job | None = None
        self._broke = False
        self._restarts: list[Restart] = []
        self._notice: str | None = None
        _ALIVE.add(self)

    @property
    def info(self) -> StataInfo | None:
        return self._info

    @property
    def active(self) -> Job | None:
        return self._active

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it runs."""
        worker = self._worker
        return worker.pid if worker is not None else None

    @property
    def restarts(self) -> tuple[Restart, ...]:
        return tuple(self._restarts)

    def take_notice(self) -> str | None:
        """Once, after a session was lost: what the next result should say about it."""
        with self._lock:
            notice, self._notice = self._notice, None
        return notice

    def start(self) -> Future[StataInfo]:
        return self._ensure().started

    def execute(
        self, job: Job, on_output: Callable[[str], None] | None = None
    ) -> Future[Execution]:
        """As Engine.execute; `on_output` is called on the connection's reader thread, with all
        of the run's stream delivered before the future resolves."""
        with self._lock:
            worker = self._ensure_locked()
            self._active, self._broke = job, False
        worker.listen(job.run_id, on_output)
        future: Future[Execution] = worker.request(protocol.Execute(job))
        future.add_done_callback(lambda _: self._finished(job, worker))
        return future

    def query(self, fn: Callable[[ModuleType, ModuleType], T]) -> Future[T]:
        query = protocol.query_of(fn)  # a lambda fails here, in the caller, with a clear message
        return self._ensure().request(query)

    def request_break(self) -> bool:
        """Break the active run inside the worker, at most once per run."""
        with self._lock:
            worker, job = self._worker, self._active
            if job is None or self._broke or worker is None:
                return False
            self._broke = True
        worker.notify(protocol.Break(job.run_id))
        return True

    def end(self, reason: str) -> bool:
        """End the worker (its session is lost); what waits on it fails with WorkerLost."""
        with self._lock:
            worker = self._worker
        if worker is None:
            return False
        worker.kill(reason)
        return True

    def close(self) -> None:
        """Stop the worker, if one runs (at exit, or when a session is dropped)."""
        _ALIVE.discard(self)
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill("the session was closed")
            if worker.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(5)

    def _finished(self, job: Job, worker: _Worker) -> None:
        worker.listen(job.run_id, None)
        with self._lock:
            if self._active is job:
                self._active = None

    def _ensure(self) -> _Worker:
        with self._lock:
            return self._ensure_locked()

    def _ensure_locked(self) -> _Worker:
        if self._worker is None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            _prune_logs(self._log_dir)
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            log = self._log_dir / f"worker-{stamp}.log"
            worker = _Worker(self._locate, log, self._lost, self._sandbox)
            worker.started.add_done_callback(self._started)
            self._worker = worker
        return self._worker

    def _started(self, future: Future[StataInfo]) -> None:
        if future.exception() is None:
            self._info = future.result()

    def _lost(self, worker: _Worker, cause: str, ended: bool, *, connected: bool) -> None:
        with self._lock:
            if self._worker is worker:
                self._worker = None
            was_running = self._active
            self._active, self._info = None, None
            if not connected or worker.ending == "the session was closed":
                return
            self._restarts.append(
                Restart(datetime.now(), cause, was_running.run_id if was_running else None, ended)
            )
            self._notice = (
                f"this is a fresh Stata session: the previous one was lost ({cause}); data in "
                "memory, globals, programs and stored results from before are gone"
            )


def _prune_logs(folder: Path) -> None:
    logs = sorted(folder.glob("worker-*.log"))
    for old in logs[: max(0, len(logs) - KEEP_WORKER_LOGS + 1)]:
        with contextlib.suppress(OSError):
            old.unlink()


_ALIVE: weakref.WeakSet[WorkerEngine] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for engine in list(_ALIVE):
        engine.close()
