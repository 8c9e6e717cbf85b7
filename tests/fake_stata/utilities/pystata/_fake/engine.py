"""The fake of Stata's shared library: what `pystata.config.stlib` is.

It owns the one Stata session of the process, its output buffer and break flag, and detects
callers that use Stata from a second thread while a run is active (real Stata would corrupt
its state or crash; the fake records the overlap and raises RuntimeError instead).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .console import Console
from .dataset import sysdir_base
from .interp import Interpreter
from .knobs import Knobs, read_knobs
from .recorder import record
from .state import Session

_current: FakeStataLibrary | None = None


def current() -> FakeStataLibrary:
    """The initialised library; sfi reaches Stata through it."""
    if _current is None:
        raise SystemError("Stata environment has not been initialized yet")
    return _current


class OutputBuffer:
    """Stata's output buffer: the interpreter appends, pystata drains."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def append(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)

    def drain(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
            return text

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()


class BreakFlag:
    """StataSO_SetBreak's flag: set from any thread, honoured by the interpreter's checks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._effective_at: float | None = None
        self.honoured_in_run = False

    def set(self, delay_s: float) -> None:
        with self._lock:
            self._effective_at = time.monotonic() + delay_s
            self._event.set()

    def pending(self) -> bool:
        at = self._effective_at
        return at is not None and time.monotonic() >= at

    def honour(self) -> None:
        with self._lock:
            self._effective_at = None
            self._event.clear()
            self.honoured_in_run = True
        record("break_honoured")

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)


class RunGuard:
    """Who is using Stata now; a second thread arriving meanwhile is an overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.owner: int | None = None
        self.owner_name = ""
        self.what = ""
        self.depth = 0

    @contextmanager
    def hold(self, what: str) -> Iterator[bool]:
        """Enter for the duration; yields True when this is the outermost entry."""
        me = threading.get_ident()
        with self._lock:
            if self.owner is not None and self.owner != me:
                self._overlap(what)
            outermost = self.owner is None
            if outermost:
                self.owner = me
                self.owner_name = threading.current_thread().name
                self.what = what
            self.depth += 1
        try:
            yield outermost
        finally:
            with self._lock:
                self.depth -= 1
                if self.depth == 0:
                    self.owner = None

    def check(self, what: str) -> None:
        """An instantaneous call (sfi): fine unless another thread holds Stata."""
        with self._lock:
            if self.owner is not None and self.owner != threading.get_ident():
                self._overlap(what)

    @property
    def active(self) -> bool:
        return self.owner is not None

    def _overlap(self, what: str) -> None:
        me = threading.current_thread().name
        record("overlap", call=what, active=self.what, active_thread=self.owner_name)
        raise RuntimeError(
            f"fake Stata: overlapping call {what} on thread {me!r} while {self.what} "
            f"is active on thread {self.owner_name!r}"
        )


class FakeStataLibrary:
    """The entry points pystata calls in libstata (StataSO_*), plus private hooks."""

    def __init__(self, path: str, edition: str) -> None:
        self._path = path
        self._session = Session(edition=edition.upper(), sysdir_base=sysdir_base(path))
        self._buffer = OutputBuffer()
        self._break = BreakFlag()
        self._guard = RunGuard()
        self._knobs: Knobs = read_knobs()
        self._console = Console(self._session, self._screen)
        self._interp = Interpreter(self._session, self._console, self._break)
        self._breaks_this_run = 0
        self._run_started = 0.0
        self._last_rc = 0
        self._temp_files: list[str] = []
        self._temp_counter = 0
        self._shut = False

    # --- StataSO_* ---------------------------------------------------------------------------

    def StataSO_Execute(self, cmd: bytes | str, echo: bool) -> int:
        text = cmd.decode("utf-8", "replace") if isinstance(cmd, bytes) else str(cmd)
        with self._guard.hold("StataSO_Execute") as outermost:
            if outermost:
                self._knobs = read_knobs()
                self._break.honoured_in_run = False
                record("execute", cmd=text)
            rc = self._interp.execute_line(text, bool(echo), self._knobs)
        self._last_rc = rc
        return rc

    def StataSO_SetBreak(self) -> None:
        knobs = self._knobs if self._guard.active else read_knobs()
        if self._guard.active:
            self._breaks_this_run += 1
            record(
                "set_break",
                during="run",
                count=self._breaks_this_run,
                active=self._guard.what,
                active_thread=self._guard.owner_name,
            )
        else:
            record("set_break", during="idle", count=1)
        if knobs.ignore_break:  # deep in one native operation that never checks the flag
            record("break_ignored")
            return
        self._break.set(knobs.break_delay_ms / 1000.0)

    def StataSO_GetOutputBuffer(self) -> bytes:
        return self._buffer.drain().encode("utf-8")

    def StataSO_ClearOutputBuffer(self) -> None:
        self._buffer.clear()

    def StataSO_AppendOutputBuffer(self, data: bytes | str) -> None:
        self._buffer.append(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)

    def StataSO_Shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        for log in self._session.logs:
            log.abandon()
        self._session.logs.clear()
        for path in self._temp_files:
            with contextlib.suppress(OSError):
                os.remove(path)

    # --- private hooks used by pystata.stata and sfi -----------------------------------------

    def _screen(self, text: str) -> None:
        self._buffer.append(text)
        if self._knobs.raw_fd1:
            with contextlib.suppress(OSError):
                os.write(1, text.encode("utf-8"))

    @contextmanager
    def _run(self, cmd: str) -> Iterator[Knobs]:
        """pystata.stata.run's whole call: overlap guard, knobs, run start/end records."""
        with self._guard.hold("run()"):
            self._knobs = read_knobs()
            self._breaks_this_run = 0
            self._break.honoured_in_run = False
            self._last_rc = 0
            started = time.monotonic()
            record("run_start", cmd=cmd)
            crash = _crash_timer(self._knobs.crash_after_ms)
            try:
                yield self._knobs
            finally:
                if crash is not None:
                    crash.cancel()
                record(
                    "run_end",
                    rc=self._last_rc,
                    seconds=round(time.monotonic() - started, 6),
                    breaks=self._breaks_this_run,
                )

    def _temp_file(self) -> str:
        self._temp_counter += 1
        path = os.path.join(tempfile.gettempdir(), f"St{os.getpid()}.{self._temp_counter:06d}")
        self._temp_files.append(path)
        return path

    def _temp_name(self) -> str:
        self._temp_counter += 1
        return f"__{self._temp_counter:06d}"

    def _sfi(self, what: str) -> Session:
        """Every sfi call: refuse (and record) use from a second thread during a run."""
        self._guard.check(what)
        return self._session


def load(path: str, edition: str) -> FakeStataLibrary:
    """Load the placeholder library at path (what ctypes.CDLL is to the real pystata)."""
    global _current
    with open(path, encoding="utf-8", errors="replace") as fh:
        if fh.readline().strip() != "fake-stata-library":
            raise SystemError("failed to load Stata's shared library")
    lib = FakeStataLibrary(path, edition)
    _current = lib
    return lib


def _crash_timer(after_ms: float) -> threading.Timer | None:
    """FAKE_STATA_CRASH_AFTER_MS: the process dies as a crash in Stata's native code kills it
    (SIGSEGV; Windows has no such signal, so the process is terminated with that code)."""
    if not after_ms:
        return None

    def crash() -> None:
        record("crash", signal="SIGSEGV")
        os.kill(os.getpid(), getattr(signal, "SIGSEGV", 11))

    timer = threading.Timer(after_ms / 1000.0, crash)
    timer.daemon = True
    timer.start()
    return timer
