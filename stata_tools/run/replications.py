"""Replication progress read from the dots that bootstrap, jackknife, permute, simulate and `_dots`
loops print, so a one-command hour shows `bootstrap 137/1,000` instead of a heartbeat.

Two shapes reach the log. Older Stata: a header `Bootstrap replications (1,000)`, the ruler
`----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 `, then lines of up to 50 marks, each full line
ending in the running count (`…    50`). Newer Stata: one line `Bootstrap replications (1,000):
.........10.........20 … done` (a text log wraps it at the line size with `> `). A mark is `.` (or
`s`, skipped) for a replication that ran, `x`, `e`, `n` or `?` for one that failed. With `dots(#)`
a mark stands for # replications: the counts Stata prints say how many, and they win over marks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from stata_tools.run.logs.parse import smcl_to_text

__all__ = ["DotsReader", "Replications", "partial_text"]

_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_HEADER = re.compile(rf"(?P<title>\S.*?) \((?P<n>{_NUMBER})\)(?P<tail>:.*|\..*)?")
_RULER = re.compile(r"----\+--- 1 ---\+--- 2 ---\+--- 3 ---\+--- 4 ---\+--- 5\s*")
_OLD_LINE = re.compile(rf"(?P<marks>[.sxen?]+)(?: +(?P<count>{_NUMBER}))?\s*")
_OLD_PARTIAL = re.compile(r"[.sxen?]*")
_TOKEN = re.compile(rf"(?P<done> ?done)|(?P<num>{_NUMBER})|(?P<mark>[.sxen?])")
_FAILED = frozenset("xen?")
_MARKS = frozenset(".sxen?")
_KNOWN_TITLES = {
    "bootstrap replications": "bootstrap",
    "jackknife replications": "jackknife",
    "permutation replications": "permute",
    "brr replications": "brr",
    "sdr replications": "sdr",
    "simulations": "simulate",
}
_TITLE_LIMIT = 30


@dataclass(frozen=True, slots=True)
class Replications:
    """Where a replication loop stands: `done` of `total` (None when no header gave it)."""

    name: str
    total: int | None
    done: int
    failed: int
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """Share of the replications done, 0..1; None without a total."""
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)

    def describe(self) -> str:
        """`bootstrap 137/1,000 (2 failed)`: what the progress message shows."""
        count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
        failed = f" ({self.failed:,} failed)" if self.failed else ""
        return f"{self.name} {count}{failed}"


def name_of(title: str) -> str:
    """The short name a header's title stands for: `Bootstrap replications` → bootstrap."""
    key = " ".join(title.lower().split())
    for known, name in _KNOWN_TITLES.items():
        if key == known or key.endswith(" " + known):
            return name
    return title if len(title) <= _TITLE_LIMIT else title[: _TITLE_LIMIT - 1].rstrip() + "…"


def _known(title: str) -> bool:
    key = " ".join(title.lower().split())
    return any(key == k or key.endswith(" " + k) for k in _KNOWN_TITLES)


def partial_text(raw: str, smcl: bool) -> str:
    """The unfinished last line of a log as text: SMCL rendered, a half-written tag left out."""
    raw = raw.rstrip("\r")
    if not smcl:
        return raw
    cut = raw.rfind("{")
    if cut >= 0 and raw.find("}", cut) < 0:
        raw = raw[:cut]
    return smcl_to_text(raw)


class _Shape(Enum):
    RULED = "ruled"  # header, ruler, lines of 50 with the count
    INLINE = "inline"  # header: dots with a count every 10 … done


@dataclass(slots=True)
class _Count:
    """The arithmetic both shapes share: the last count Stata printed and the marks since."""

    shape: _Shape
    name: str
    total: int | None
    count: int = 0  # the last count Stata printed (replications)
    positions: int = 0  # marks and counts since the start, each one a slot of `unit` reps
    since: int = 0  # marks since the last count
    unit: float = 1.0  # replications per mark, learnt from the counts (dots(#))
    failed: int = 0
    carry: str = ""  # inline: a number or `done` cut by the end of a line
    finished: bool = False

    def copy(self) -> _Count:
        return replace(self)

    def marks(self, marks: str) -> None:
        self.positions += len(marks)
        self.since += len(marks)
        self.failed += sum(1 for m in marks if m in _FAILED)

    def counted(self, value: int, *, slot: bool) -> None:
        """Stata printed a count: inline it takes a slot of its own, at a line's end it does not."""
        if slot:
            self.positions += 1
        if value > 0 and self.positions > 0:
            self.unit = value / self.positions
        self.count = max(self.count, value)
        self.since = 0

    def done(self) -> int:
        if self.finished and self.total:
            return self.total
        done = self.count + round(self.since * self.unit)
        held = self.carry.replace(",", "")
        if held.isdigit():  # a count held back in case the next line continues it
            done = max(done, int(held))
        return min(done, self.total) if self.total else done

    def state(self) -> Replications:
        return Replications(self.name, self.total, self.done(), self.failed, self.finished)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _inline(count: _Count, text: str, *, final: bool) -> bool:
    """Read inline dots; False when `text` is not (or no longer) dots. A number, or a cut `done`,
    at the end is held back unless `final`: the next line may continue it."""
    text = count.carry + text
    count.carry = ""
    position = 0
    end = len(text)
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None:
            rest = text[position:]
            if not final and ("done".startswith(rest.lstrip()) or " done".startswith(rest)):
                count.carry = rest
                return True
            return not rest.strip() and not count.finished
        if match.end() == end and not final and match.lastgroup == "num":
            count.carry = match.group()  # `10` may yet be `100`
            return True
        kind = match.lastgroup
        if kind == "mark":
            count.marks(match.group())
        elif kind == "num":
            count.counted(_number(match.group()), slot=True)
        else:
            count.finished = True
        position = match.end()
    return True


class DotsReader:
    """Fed a run's output lines (and the growing last line); knows the replication loop's state.

    Pure and small: one method call per output line, which costs one substring test while no
    replication loop is running.
    """

    __slots__ = ("_candidate", "_count", "_last", "_partial", "_provisional", "_sections", "idle")

    def __init__(self) -> None:
        self._count: _Count | None = None  # a replication loop whose dots are being read
        self._candidate: tuple[str, int] | None = None  # a header waiting for its ruler
        self._last: Replications | None = None  # the newest state, partial line included
        self._partial = ""
        self._sections = 0
        self._provisional = False  # the partial line holds the header of a loop not yet begun
        self.idle = True  # no loop, no header waiting: only a line with ` (` can matter

    @property
    def section(self) -> int:
        """How many replication loops have begun: a new one starts its count from zero."""
        return self._sections + self._provisional

    @property
    def state(self) -> Replications | None:
        """The newest state, counting the partial line; kept after the loop ends."""
        return self._last

    @property
    def active(self) -> bool:
        """Whether dots are being read now (the loop has not ended)."""
        return self._count is not None

    def stop(self) -> None:
        """A line that is no output (an echo, a blank, a return code): any loop's dots are over."""
        if self._count is not None:
            self._end(self._count)
        self._candidate = None
        self._partial = ""
        self._provisional = False
        self.idle = True

    def feed(self, text: str) -> bool:
        """A complete output line (SMCL already rendered); True when the state changed."""
        count = self._count
        if self.idle and " (" not in text:
            return False  # the fast path: ordinary output (a header holds ` (`)
        self._partial = ""
        before = self._last
        if count is None:
            self._start(text)
        elif not self._continue(count, text, complete=True):
            self._end(count)
            self._start(text)  # the line that ended one loop may begin the next
        elif count.finished:
            self._end(count)
        else:
            self._last = count.state()
        self.idle = self._count is None and self._candidate is None
        return self._last != before

    def partial(self, text: str) -> bool:
        """The unfinished last line so far (SMCL already rendered); True when the state changed."""
        if text == self._partial:
            return False
        self._partial = text
        before = self._last
        count = self._count
        if count is not None:
            trial = count.copy()
            if self._continue(trial, text, complete=False):
                self._last = trial.state()
        elif "(" in text:
            trial = self._inline_header(text)
            if trial is not None:
                self._provisional = True
                self._last = trial.state()
        return self._last != before

    def _start(self, text: str) -> None:
        candidate, self._candidate = self._candidate, None
        line = text.rstrip()
        if candidate is not None and _RULER.fullmatch(line):
            self._begin(_Count(_Shape.RULED, name_of(candidate[0]), candidate[1]))
            return
        inline = self._inline_header(text)
        if inline is not None:
            self._begin(inline)
            if inline.finished:
                self._end(inline)
            return
        header = _HEADER.fullmatch(line)
        if header is not None and not (header.group("tail") or "").startswith(":"):
            self._candidate = (header.group("title"), _number(header.group("n")))

    def _begin(self, count: _Count) -> None:
        self._count = count
        self._sections += 1
        self._provisional = False
        self._last = count.state()

    def _inline_header(self, text: str) -> _Count | None:
        """`Bootstrap replications (1,000): ....10` — the newer one-line shape."""
        header = _HEADER.fullmatch(text.rstrip()) or _HEADER.fullmatch(text)
        if header is None:
            return None
        tail = header.group("tail") or ""
        if not tail.startswith(":"):
            return None
        title = header.group("title")
        dots = tail[1:].lstrip(" ")
        if not _known(title) and dots[:1] not in _MARKS:
            return None  # an unknown title needs a mark first to read as a replication loop
        count = _Count(_Shape.INLINE, name_of(title), _number(header.group("n")))
        if not _inline(count, dots, final=False):
            return None
        return count

    def _continue(self, count: _Count, text: str, *, complete: bool) -> bool:
        """Read one more line (or the partial one) of dots; False when it is not dots."""
        if count.shape is _Shape.INLINE:
            if complete and not text.strip():
                return False  # the inline dots never hold a blank line
            if text.startswith("> "):
                text = text[2:]
            elif text == ">":
                text = ""
            return _inline(count, text, final=False)
        if not complete:
            match = _OLD_PARTIAL.match(text)
            count.marks(match.group() if match else "")
            return True
        line = _OLD_LINE.fullmatch(text)
        if line is None:
            return False
        count.marks(line.group("marks"))
        if line.group("count"):
            count.counted(_number(line.group("count")), slot=False)
        return True

    def _end(self, count: _Count) -> None:
        """The dots stopped: the last line was short (the final `_dots` newline) or output came."""
        self._count = None
        if count.carry:
            _inline(count, "", final=True)
        if count.total and count.done() >= count.total:
            count.finished = True
        self._last = count.state()
