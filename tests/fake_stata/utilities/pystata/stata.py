"""pystata.stata of the fake Stata: run() and the stored results r(), e(), s().

As in the real module, importing it before `config.init()` raises SystemError, and run()
prints Stata's output (streamed from a thread named 'Stata') rather than returning it.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

from pystata import config

config.check_initialized()

import sfi  # noqa: E402 - importable only once Stata is initialised

from pystata._fake.knobs import Knobs  # noqa: E402


class _StataOutput:
    """While Stata runs, Python's sys.stdout/sys.stderr write into Stata's output buffer."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        config.stlib.StataSO_AppendOutputBuffer(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _StreamPrinter(threading.Thread):
    """Polls Stata's output every 15 ms and prints it, as pystata's RepeatTimer does."""

    def __init__(self, stdout: Any, knobs: Knobs) -> None:
        super().__init__(name="Stata", daemon=True)
        self._done: queue.LifoQueue[int] = queue.LifoQueue()
        self._wake = threading.Event()
        self._stdout = stdout
        self._knobs = knobs

    def finish(self, rc: int) -> None:
        """Hand over Stata's return code and wait for the last print."""
        self._done.put(rc)
        self._wake.set()
        self.join()

    def _print(self, chunk: str) -> None:
        if not chunk:
            return
        redirected = sys.stdout
        sys.stdout = self._stdout  # swap back around the print, as pystata does
        try:
            print(chunk, end="", flush=True, file=config.stoutputf)
        finally:
            sys.stdout = redirected

    def run(self) -> None:
        held = ""  # FAKE_STATA_LOSE_TAIL: the newest chunk, printed only once another arrives
        while True:
            try:
                rc = self._done.get_nowait()
            except queue.Empty:
                chunk = config.get_output()
                if self._knobs.lose_tail:
                    if chunk:
                        self._print(held)
                        held = chunk
                else:
                    self._print(chunk)
                self._wake.wait(0.015)
                continue
            if not self._knobs.lose_tail:
                if rc == 0:
                    self._print(config.get_output())
                return
            rest = config.get_output()
            if rc == 0 and rest:
                self._print(held)
                tail = rest
            else:
                tail = held + rest
            # The race: the final chunk is never fetched; it stays in Stata's buffer.
            config.stlib.StataSO_AppendOutputBuffer(tail.encode("utf-8"))
            return


def _error_text(knobs: Knobs) -> str:
    lib = config.stlib
    if knobs.empty_break_message and lib._break.honoured_in_run:
        return ""
    return config.get_output() or "failed to execute the specified command"


def _stata_exec(cmd: str, echo: bool, knobs: Knobs) -> None:
    lib = config.stlib
    stdout, stderr = sys.stdout, sys.stderr
    redirect = _StataOutput()
    rc = 0
    if config.stconfig["streamout"] == "on":
        printer = _StreamPrinter(stdout, knobs)
        sys.stdout = sys.stderr = redirect
        printer.start()
        try:
            rc = lib.StataSO_Execute(config.get_encode_str(cmd), echo)
        finally:
            printer.finish(rc if isinstance(rc, int) else 1)
            sys.stdout, sys.stderr = stdout, stderr
        if rc != 0:
            raise SystemError(_error_text(knobs))
        return
    sys.stdout = sys.stderr = redirect
    try:
        rc = lib.StataSO_Execute(config.get_encode_str(cmd), echo)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    if rc != 0:
        raise SystemError(_error_text(knobs))
    output = config.get_output()
    if output:
        print(output, end="", flush=True, file=config.stoutputf)


def _lone_comment(line: str) -> bool:
    text = line.strip()
    return text.startswith("//") or (text.startswith("/*") and text.endswith("*/"))


def run(cmd: str, quietly: bool = False, echo: bool | None = None, inline: bool | None = None):
    """Run one line or several (as an included do-file); print the output; raise on error."""
    config.check_initialized()
    if echo is None:
        echo = config.stconfig["cmdshow"] is True
    elif not isinstance(echo, bool):
        raise TypeError("echo must be a boolean value")
    if inline is None:
        inline = config.stconfig["grshow"]
    elif not isinstance(inline, bool):
        raise TypeError("inline must be a boolean value")
    lib = config.stlib
    with lib._run(cmd) as knobs:
        lib.StataSO_ClearOutputBuffer()
        cmds = cmd.splitlines()
        if not cmds:
            return None
        if inline:
            _stata_exec("qui _gr_list on", False, knobs)
        if len(cmds) == 1:
            if _lone_comment(cmds[0]):
                print("", file=config.stoutputf)
                return None
            _stata_exec(("qui " if quietly else "") + cmds[0], echo, knobs)
        else:
            tmpf = sfi.SFIToolkit.getTempFile()
            with open(tmpf, "w", encoding="utf-8") as fh:
                fh.write(cmd)
            include = 'qui include "%s"' if quietly else 'include "%s"'
            _stata_exec(include % tmpf, False, knobs)
        if inline:
            _stata_exec("qui _gr_list off", False, knobs)
    return None


def _matrix(value: list[list[float]]) -> Any:
    try:
        import numpy
    except ImportError:
        return value
    return numpy.array(value)


def _results(kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sfi.SFIToolkit.listReturn(f"{kind}()", "scalar"):
        out[name] = sfi.Scalar.getValue(name)
    for name in sfi.SFIToolkit.listReturn(f"{kind}()", "macro"):
        out[name] = sfi.Macro.getGlobal(name)
    if kind != "s":
        for name in sfi.SFIToolkit.listReturn(f"{kind}()", "matrix"):
            out[name] = _matrix(sfi.Matrix.get(name))
    return out


def get_return() -> dict[str, Any]:
    """r() results keyed by full name ("r(N)"): scalars as float, macros as str."""
    config.check_initialized()
    return _results("r")


def get_ereturn() -> dict[str, Any]:
    """e() results keyed by full name ("e(cmd)")."""
    config.check_initialized()
    return _results("e")


def get_sreturn() -> dict[str, Any]:
    """s() results keyed by full name ("s(vars)")."""
    config.check_initialized()
    return _results("s")
