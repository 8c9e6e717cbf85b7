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
        if self._pending:
            ln = Line((*self._pending, *ln.segs))
            self._pending = []
        self._emit(ln, skip)

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
