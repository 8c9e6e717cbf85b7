"""Where displayed lines go: Stata's output buffer and every open log, unless quietly'd.

`quietly` hides output (return codes still show); `capture` hides return codes as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .knobs import Knobs
from .lines import BLANK, Line, Seg, render_text
from .logs import LogFile
from .state import Session


@dataclass(frozen=True, slots=True)
class Mode:
    quiet: bool = False
    captured: bool = False


class Console:
    def __init__(self, session: Session, screen: Callable[[str], None]) -> None:
        self.session = session
        self.screen = screen
        self.knobs = Knobs()
        self._modes: list[Mode] = [Mode()]
        self._pending: list[Seg] = []
        self._streaming = False  # a line written in parts is open on the screen and in logs
        self._column = 0  # its width so far on the screen, which wraps it as `wrap` does

    @property
    def mode(self) -> Mode:
        return self._modes[-1]

    @contextmanager
    def push(self, *, quiet: bool | None = None, captured: bool | None = None) -> Iterator[None]:
        m = self.mode
        self._modes.append(
            Mode(
                m.quiet if quiet is None else quiet,
                m.captured if captured is None else captured,
            )
        )
        try:
            yield
        finally:
            self._modes.pop()

    def reset(self, knobs: Knobs) -> None:
        """A new top-level execution: no prefixes in force."""
        self.knobs = knobs
        self._modes = [Mode()]

    def show(self, ln: Line, *, force: bool = False, skip: LogFile | None = None) -> None:
        """Display a line; force bypasses quietly (return codes), not capture."""
        m = self.mode
        if m.captured and force:
            return
        if m.quiet and not force:
            return
        if self._streaming:  # what comes next is glued to the open line, as `--Break--` is
            self.stream(ln.segs, force=True)
            self.end_stream()
            return
        if self._pending:
            ln = Line((*self._pending, *ln.segs))
            self._pending = []
        self._emit(ln, skip)

    def stream(self, segs: tuple[Seg, ...], *, force: bool = False) -> None:
        """Write part of a line now, to the screen and every log (replication dots)."""
        if self.mode.quiet and not force:
            return
        if self._pending:
            segs = (*self._pending, *segs)
            self._pending = []
        self._streaming = True
        width = self.session.linesize - 1
        out: list[str] = []
        for ch in "".join(seg.text for seg in segs):
            if self._column >= width:
                out.append("\n> ")
                self._column = 2
            out.append(ch)
            self._column += 1
        self.screen("".join(out))
        for log in list(self.session.logs):
            if log.on and not log.fh.closed:
                log.write_partial(segs, self.session.linesize, self.knobs)

    def end_stream(self) -> None:
        """End the line `stream` wrote."""
        if not self._streaming:
            return
        self._streaming = False
        self._column = 0
        self.screen("\n")
        for log in list(self.session.logs):
            if log.on and not log.fh.closed:
                log.end_partial(self.knobs)

    def show_verbatim(self, text: str) -> None:
        """A line as a recording has it: already wrapped at the recorder's linesize."""
        if self.mode.quiet:
            return
        self.flush_partial()
        self.screen(text + "\n")
        for log in list(self.session.logs):
            if log.on and not log.fh.closed:
                log.write_verbatim(text, self.knobs)

    def show_partial(self, segs: tuple[Seg, ...]) -> None:
        """`display …, _continue`: keep the line open for the next display."""
        if self.mode.quiet:
            return
        self._pending.extend(segs)

    def flush_partial(self) -> None:
        self.end_stream()
        if self._pending:
            ln = Line(tuple(self._pending))
            self._pending = []
            self._emit(ln, None)

    def blank(self) -> None:
        self.show(BLANK)

    def _emit(self, ln: Line, skip: LogFile | None) -> None:
        size = self.session.linesize
        self.screen("".join(p + "\n" for p in render_text(ln, size)))
        for log in list(self.session.logs):
            if log.on and log is not skip and not log.fh.closed:
                log.write_line(ln, size, self.knobs)
