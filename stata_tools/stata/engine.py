"""The execution thread: the only code that ever calls pystata, for the life of the process."""

from __future__ import annotations

import io
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO, TypeVar

from stata_tools.run.data_change import DataState
from stata_tools.run.graphs import GraphFile, export_path
from stata_tools.stata.discovery import Installation, load_pystata

T = TypeVar("T")
_RC = re.compile(r"r\((\d+)\);")
BREAK_RC = 1
UNKNOWN_RC = 9999  # pystata failed but neither its error text nor c(rc) gave the code
_SORTED = "_st_sortedby"  # the global that carries `: sortedby` out for a moment
NO_OUTPUT = "failed to execute the specified command"  # pystata's message when there is none


@dataclass(frozen=True, slots=True)
class StataInfo:
    """What the session reports about the Stata it drives."""

    path: str
    edition: str
    version: str
    pystata_version: str


@dataclass(frozen=True, slots=True)
class Job:
    """One run as the engine sees it: Stata commands around the user's work."""

    run_id: str
    command: str
    log_path: Path
    log_name: str
    stdout_path: Path
    working_dir: Path | None = None
    max_graphs: int = 0  # export up to this many of the graphs the run draws, as PNG
    track_data: bool = True  # read the data's shape before and after (run/data_change.py)


@dataclass(frozen=True, slots=True)
class Execution:
    """How pystata returned: rc 0, or the code and text of the SystemError it raised."""

    rc: int
    error_text: str | None
    break_requested: bool
    started: float
    ended: float
    log_kept: bool = True  # False when the user's code closed our log (`log close _all`)
    graphs: tuple[GraphFile, ...] = ()
    graphs_drawn: int = 0
    data_before: DataState | None = None  # None: not read (track_data off, or Stata refused)
    data_after: DataState | None = None


def stata_quote(text: str, *, windows: bool = os.name == "nt") -> str:
    """Quote a path for a Stata command, so that Stata reads exactly this path.

    Stata expands `$name` and `` `name' `` even inside quotes, and takes a `\\` before either
    for its escape: so both are escaped, and on Windows, where `\\` is the separator (one
    before a `$` would be eaten as that escape), separators become `/`, which Stata for Windows
    reads as a separator too. Compound quotes when the text holds a `"`."""
    if windows:
        text = text.replace("\\", "/")
    text = text.replace("$", "\\$").replace("`", "\\`")
    return f'`"{text}"\'' if '"' in text else f'"{text}"'


def return_code(text: str) -> int | None:
    """The last `r(NNN);` in Stata's error text."""
    codes = _RC.findall(text)
    return int(codes[-1]) if codes else None


class StdoutRouter(io.TextIOBase):
    """Stands in for sys.stdout: what Stata prints during a run goes to that run's file.

    Outside a run, text goes to the fallback (stderr in the server, where stdout is the wire).
    """

    def __init__(self, fallback: TextIO) -> None:
        self._fallback = fallback
        self._sink: TextIO | None = None
        self._tee: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            try:
                if self._sink is not None:
                    self._sink.write(text)  # read after the run: buffered, no syscall per line
                else:
                    self._fallback.write(text)
                    self._fallback.flush()
            except (OSError, ValueError):
                pass
            tee = self._tee
        if tee is not None and text:
            try:  # noqa: SIM105 - once per print: suppress() would cost more than the tee itself
                tee(text)
            except Exception:  # a listener's failure must not reach Stata's thread
                pass
        return len(text)

    @contextmanager
    def tee(self, listener: Callable[[str], None] | None) -> Iterator[None]:
        """Also hand what is printed to `listener` (the run's stream), while inside."""
        with self._lock:
            self._tee = listener
        try:
            yield
        finally:
            with self._lock:
                self._tee = None

    def flush(self) -> None:
        pass

    @contextmanager
    def capture(self, path: Path) -> Iterator[None]:
        """Be sys.stdout for one run (someone may have replaced us since) and keep its output."""
        sink = open(path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        with self._lock:
            self._sink = sink
        previous, sys.stdout = sys.stdout, self
        try:
            yield
        finally:
            sys.stdout = previous
            with self._lock:
                self._sink = None
            with suppress(OSError):  # a full disk loses the unwritten tail, not the run
                sink.close()


class Engine:
    """Owns pystata on one daemon thread; every Stata call goes through `submit`."""

    def __init__(
        self,
        locate: Callable[[], Installation],
        *,
        stdout_fallback: TextIO | None = None,
        native_stdout: bool = False,
    ) -> None:
        """`stdout_fallback` gets what Python prints outside runs once Stata owns sys.stdout:
        the caller's stdout by default, stderr for a stdio server (stdout is the wire).
        `native_stdout` also points fd 1 at the run's stdout file while it runs, for Stata's
        native writes; only in a process of Stata's own (fd 1 is process-wide)."""
        self._locate = locate
        self._native_stdout = native_stdout
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._pystata: ModuleType | None = None
        self._info: StataInfo | None = None
        self._router = StdoutRouter(stdout_fallback or sys.stdout)
        self._state_lock = threading.Lock()
        self._active: Job | None = None
        self._in_user_code = False
        self._break_requested = False
        self._breaks_sent = 0
        self._early_break: str | None = None  # a run asked to stop before it started

    @property
    def info(self) -> StataInfo | None:
        return self._info

    @property
    def active(self) -> Job | None:
        return self._active

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on the execution thread, after everything submitted before it."""
        future: Future[T] = Future()
        self._ensure_thread()
        self._work.put((fn, future))
        return future

    def start(self) -> Future[StataInfo]:
        """Initialise Stata (once) on the execution thread."""
        return self.submit(self._initialise)

    def execute(
        self, job: Job, on_output: Callable[[str], None] | None = None
    ) -> Future[Execution]:
        """Run a job: open its log, run its command, always close its log. `on_output` gets
        what the user's code prints, as pystata streams it (the same text its log receives),
        called on Stata's threads: it must return at once."""
        return self.submit(lambda: self._execute(job, on_output))

    def query(self, fn: Callable[[ModuleType, ModuleType], T]) -> Future[T]:
        """Call `fn(pystata, sfi)` on the execution thread (Stata started first)."""

        def call() -> T:
            self._initialise()
            import pystata.stata  # noqa: F401 - so `pystata.stata` is there before any run
            import sfi

            return fn(self._pystata, sfi)  # type: ignore[arg-type]

        return self.submit(call)

    def request_break(self, run_id: str | None = None) -> bool:
        """Ask Stata to stop the current run, like pressing Break; at most once per run.

        With `run_id`, a run not started yet (still on its way to this thread) stops as it
        starts, and a run that has already ended is left alone."""
        with self._state_lock:
            if run_id is not None and (self._active is None or self._active.run_id != run_id):
                self._early_break = run_id  # on its way (or over: then no run matches it)
                return True
            if self._active is None or self._break_requested:
                return False
            self._break_requested = True
            if self._in_user_code:
                self._send_break()
            return True

    def run_here(self, then: Callable[[], None]) -> None:
        """Make the calling thread the execution thread, call `then`, and serve forever. The
        worker gives Stata its main thread: Stata's JVM on macOS wants the main thread (graph
        export to PNG from another thread has crashed it, pystata.md §1.3)."""
        with self._thread_lock:
            if self._thread is not None:
                raise RuntimeError("the engine already has its thread")
            self._thread = threading.current_thread()
        then()
        self._loop()

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="stata-engine", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            fn, future = self._work.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the awaiting caller
                future.set_exception(error)

    def _initialise(self) -> StataInfo:
        if self._info is not None:
            return self._info
        installation = self._locate()
        sys.stdout = self._router  # before pystata exists, so nothing it prints reaches fd 1
        pystata = load_pystata(installation, splash=False)
        config = pystata.config
        if hasattr(config, "set_graph_show"):
            config.set_graph_show(False)
        import sfi  # importable only once Stata is initialised

        version = _stata_version(sfi)
        edition = str(getattr(config, "stedition", "") or installation.edition).lower()
        self._pystata = pystata
        self._info = StataInfo(
            path=str(installation.path),
            edition=edition,
            version=version,
            pystata_version=str(getattr(pystata, "__version__", "unknown")),
        )
        return self._info

    def _execute(self, job: Job, on_output: Callable[[str], None] | None = None) -> Execution:
        self._initialise()
        from pystata import stata

        with self._state_lock:
            self._active = job
            self._break_requested = self._early_break == job.run_id
            if self._break_requested:
                self._early_break = None
            self._breaks_sent = 0
        started = time.monotonic()
        rc, error_text, log_kept, graphs, drawn = 0, None, True, (), 0
        before = after = None
        try:
            with self._router.capture(job.stdout_path), self._fd1_to(job.stdout_path):
                try:
                    if job.working_dir is not None:
                        stata.run(
                            f"cd {stata_quote(str(job.working_dir))}", echo=False, inline=False
                        )
                    if job.track_data:
                        before = self._data_state(stata)
                    self._open_log(stata, job)
                    self._quietly(stata, "_gr_list on")
                    with self._router.tee(on_output):
                        rc, error_text = self._run_user_code(stata, job)
                        self._drain_lost_tail()
                except SystemError as error:
                    error_text = str(error)
                    rc = return_code(error_text) or 198
                finally:
                    self._drain_lost_tail()
                    if self._breaks_sent:
                        self._absorb_pending_break(stata)
                    log_kept = self._close_log(stata, job)
                    if before is not None:
                        after = self._data_state(stata)
                    if job.max_graphs and not self._break_requested:
                        graphs, drawn = self._export_graphs(stata, job)
                    self._quietly(stata, "_gr_list off")
        finally:
            with self._state_lock:
                self._active = None
                self._in_user_code = False
            ended = time.monotonic()
        return Execution(
            rc,
            error_text,
            self._break_requested,
            started,
            ended,
            log_kept,
            graphs,
            drawn,
            before,
            after if before is not None else None,
        )

    def _data_state(self, stata: ModuleType) -> DataState | None:
        """N, the variables' names, the sort order, c(filename), c(changed), c(frame): values
        Stata keeps, read through sfi (one call per variable, no pass over the data); the sort
        order through a global of our own, dropped again. None when Stata refuses any of it."""
        import sfi

        try:
            names = tuple(sfi.Data.getVarName(i) for i in range(sfi.Data.getVarCount()))
            sorted_by = ""
            if self._quietly(stata, f"global {_SORTED} : sortedby"):
                sorted_by = str(sfi.Macro.getGlobal(_SORTED))
                self._quietly(stata, f"macro drop {_SORTED}")
            return DataState(
                obs=int(sfi.Data.getObsTotal()),
                variables=names,
                sorted_by=tuple(sorted_by.split()),
                filename=str(sfi.Macro.getGlobal("c(filename)")),
                changed=bool(sfi.Scalar.getValue("c(changed)")),
                frame=str(sfi.Macro.getGlobal("c(frame)")) or "default",
            )
        except Exception:  # the run's result must not depend on this line
            return None

    @contextmanager
    def _fd1_to(self, path: Path) -> Iterator[None]:
        if not self._native_stdout:
            yield
            return
        sys.stdout.flush()
        saved = os.dup(1)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)  # Windows
        target = os.open(path, flags, 0o644)
        os.dup2(target, 1)
        os.close(target)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)

    def _run_user_code(self, stata: ModuleType, job: Job) -> tuple[int, str | None]:
        with self._state_lock:
            if self._break_requested:
                return BREAK_RC, "--Break--\nr(1);"
            self._in_user_code = True
        try:
            stata.run(job.command, echo=False, inline=False)
            return 0, None
        except SystemError as error:
            text = str(error)
            # With streaming on, the message is the output not printed yet (the error and its
            # `r(NNN);`): the end of what the log received, so the captured output gets it too.
            if text and text != NO_OUTPUT:
                self._router.write(text if text.endswith("\n") else text + "\n")
            rc = return_code(text)
            if rc is None:
                rc = BREAK_RC if self._break_requested else self._last_rc()
            return rc, text
        finally:
            with self._state_lock:
                self._in_user_code = False

    def _send_break(self) -> None:
        stlib = getattr(self._pystata.config, "stlib", None) if self._pystata else None
        if stlib is not None:
            stlib.StataSO_SetBreak()
            self._breaks_sent += 1

    def _drain_lost_tail(self) -> None:
        """pystata's streaming thread can miss the last chunk; fetch it like a careful caller."""
        get_output = getattr(self._pystata.config, "get_output", None) if self._pystata else None
        if get_output is None:
            return
        try:
            rest = get_output()
        except Exception:
            return
        if rest:
            self._router.write(rest)

    def _quietly(self, stata: ModuleType, command: str) -> bool:
        rc = self._direct(f"quietly {command}")
        if rc is not None:
            return rc == 0
        try:
            stata.run(command, quietly=True, echo=False, inline=False)
            return True
        except SystemError:
            return False

    def _direct(self, command: str) -> int | None:
        """The rc of one of our own quiet commands through libstata's StataSO_Execute, as
        pystata's run() executes a single line, without its output thread (a few times cheaper);
        None when this pystata has no `stlib`. Output, if any, stays in Stata's buffer, which the
        next run() clears."""
        config = getattr(self._pystata, "config", None)
        stlib = getattr(config, "stlib", None)
        encode = getattr(config, "get_encode_str", None)
        if stlib is None or encode is None:
            return None
        return int(stlib.StataSO_Execute(encode(command), False))

    def _export_graphs(self, stata: ModuleType, job: Job) -> tuple[tuple[GraphFile, ...], int]:
        """The graphs this run drew (Stata's `_gr_list`), exported as PNG into the run's folder."""
        import sfi

        if not self._quietly(stata, "_gr_list list"):
            return (), 0
        names = list(dict.fromkeys(str(sfi.Macro.getGlobal("r(_grlist)")).split()))
        files = []
        for index, name in enumerate(names[-job.max_graphs :], start=1):
            path = export_path(job.log_path.parent, index, name)
            command = f"graph export {stata_quote(str(path))}, name({name}) replace"
            if self._quietly(stata, command) and path.is_file():
                files.append(GraphFile(name, str(path), "png"))
        return tuple(files), len(names)

    def _open_log(self, stata: ModuleType, job: Job) -> None:
        """A text log of our own; `nomsg` (no header) where this Stata knows it."""
        using = f"log using {stata_quote(str(job.log_path))}, text replace name({job.log_name})"
        if self._direct(using + " nomsg") == 0:
            return
        try:
            stata.run(using + " nomsg", echo=False, inline=False)
        except SystemError:
            stata.run(using, quietly=True, echo=False, inline=False)

    def _absorb_pending_break(self, stata: ModuleType) -> None:
        """A break that landed as the user's code ended would stop our `log close`; spend it."""
        with suppress(SystemError):
            stata.run("display", quietly=True, echo=False, inline=False)

    def _close_log(self, stata: ModuleType, job: Job) -> bool:
        """Close the run's log; False when it was no longer open (the user closed all logs)."""
        rc = self._direct(f"quietly log close {job.log_name}")
        if rc is not None:
            return rc == 0
        try:
            stata.run(f"quietly log close {job.log_name}", echo=False, inline=False)
            return True
        except SystemError:
            return False

    def _last_rc(self) -> int:
        try:
            import sfi

            value = sfi.Scalar.getValue("c(rc)")
            return int(value) if value else UNKNOWN_RC
        except Exception:
            return UNKNOWN_RC


def _stata_version(sfi: ModuleType) -> str:
    try:
        value = sfi.Scalar.getValue("c(stata_version)")
    except Exception:
        return "unknown"
    if value is None:
        return "unknown"
    return f"{float(value):g}"
