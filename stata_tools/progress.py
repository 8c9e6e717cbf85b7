"""Tracker: turns classified log lines into "command k of N" progress, errors and heartbeats.

Progress arithmetic: before the first echo progress is 0; when top-level command k (1-based) is
echoed it becomes ``k - 1 + 0.05``; heartbeats creep towards ``k - 1 + 0.9`` without reaching it;
the end of the run sets it to ``total``. Every value handed out is larger than the one before.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from stata_tools.dofile import Command
from stata_tools.events import CommandStarted, ErrorRaised, Snapshot
from stata_tools.graphs import exported_file
from stata_tools.logs.parse import Kind, LogLine
from stata_tools.replications import DotsReader, partial_text
from stata_tools.timings import Timeline, format_left

MESSAGE_LIMIT = 200
COMMAND_LIMIT = 60
OUTPUT_LIMIT = 70
LOOKAHEAD = 3  # echoes may skip commands Stata never echoes (quietly'd blocks)
_SLOT_START = 0.05
_SLOT_SPAN = 0.85
_HEARTBEAT_HALF_LIFE = 8
_SPACE = re.compile(r"\s+")
_SILENT_PREFIXES = {
    "qui",
    "quiet",
    "quietl",
    "quietly",
    "cap",
    "capt",
    "captu",
    "captur",
    "capture",
}
_LOUD_PREFIXES = {"noi", "noisily", "nois", "noisi", "noisil"}
_NESTED = {"do", "include"}
_NONE: tuple[()] = ()  # most lines cause no event


def normalize(text: str) -> str:
    """Compare commands the way the echo shows them: whitespace runs collapsed."""
    return _SPACE.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with an ellipsis where it was cut."""
    text = normalize(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_elapsed(seconds: float) -> str:
    """Short human time: 4.2s, 3m05s, 2h03m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def opens_nested_do(command_text: str) -> bool:
    """True when the command runs a do-file whose own echo and `end of do-file` reach the log."""
    words = normalize(command_text).split(" ")
    silent = False
    while words:
        word = words[0].rstrip(":").lower()
        if word in _SILENT_PREFIXES:
            silent = True
        elif word in _LOUD_PREFIXES:
            silent = False
        elif word == "version" and len(words) > 1:
            words = words[1:]
        else:
            break
        words = words[1:]
    return bool(words) and words[0].lower() in _NESTED and not silent


@dataclass(slots=True)
class ErrorRecord:
    """The first error the log shows: its code, Stata's message and the command it came from."""

    rc: int
    message: str
    command_index: int | None


@dataclass(slots=True)
class Tracker:
    """Follows one run's log lines; pure state, the caller supplies the clock."""

    commands: Sequence[Command]
    label: str
    started_at: float
    wrapper: str | None = None
    timeline: Timeline | None = None  # last run's times: weighted progress, time left (timings.py)
    index: int = 0
    errors: list[ErrorRecord] = field(default_factory=list)
    exports: list[tuple[str, str]] = field(default_factory=list)
    break_seen: bool = False
    _depth: int = 0
    _heartbeats: int = 0
    _progress: float = 0.0
    _newest: str = ""
    _recent: deque[str] = field(default_factory=lambda: deque(maxlen=2))
    _rc_pending: bool = True
    _first_echo: bool = True
    _export_text: str = ""
    _dots: DotsReader = field(default_factory=DotsReader)  # replication dots (replications.py)
    _dots_at: tuple[int, int, float] = (0, 0, 0.0)  # command, dots section, progress at its start

    @property
    def total(self) -> int:
        return max(1, len(self.commands))

    @property
    def current(self) -> Command | None:
        return self.commands[self.index - 1] if self.index else None

    def feed(self, line: LogLine, now: float) -> Sequence[CommandStarted | ErrorRaised]:
        """Account for one classified log line; return the events it causes."""
        kind = line.kind
        if kind is Kind.OUTPUT or kind is Kind.ERROR:  # most lines: checked first
            if line.text.strip():
                self._newest = line.text
                self._recent.append(line.text)
                self._note_export(line.text)
            if ("(" in line.text or not self._dots.idle) and self._dots.feed(line.text):
                self._on_dots()  # replication dots: one substring test while no loop is on
            return _NONE
        if not self._dots.idle:
            self._dots.stop()
        if kind is Kind.ECHO:
            self._recent.clear()
            return self._on_echo(line.text, now)
        if kind is Kind.LOOP_ECHO:
            self._recent.clear()
        elif kind is Kind.END_OF_DO:
            self._depth = max(0, self._depth - 1)
        elif kind is Kind.RETURN_CODE and line.rc is not None:
            return self._on_return_code(line.rc, now)
        elif kind is Kind.BREAK:
            self.break_seen = True
        return _NONE

    def _note_export(self, text: str) -> None:
        """Collect `graph export` messages, which Stata wraps onto `> ` lines when long."""
        if text.startswith(("file ", "(file ")):
            self._export_text = text
        elif self._export_text and text.startswith("> "):
            self._export_text += text[2:]
        else:
            self._export_text = ""
            return
        found = exported_file(self._export_text)
        if found:
            self.exports.append(found)
            self._export_text = ""

    def heartbeat(self, now: float) -> Snapshot:
        """A little more progress within the current command's slot, never reaching the next."""
        self._heartbeats += 1
        n = self._heartbeats
        creep = n / (n + _HEARTBEAT_HALF_LIFE)
        if self.index == 0:
            value = _SLOT_START * 0.8 * creep
        else:
            dots = self._dots_value(creep)
            value = self.index - 1 + _SLOT_START + _SLOT_SPAN * creep if dots is None else dots
        self._advance(value)
        return self.snapshot(now)

    def partial(self, raw: str, smcl: bool, now: float) -> Snapshot | None:
        """The log's unfinished last line (dots arrive one at a time); a snapshot if it moved."""
        if not self._dots.partial(partial_text(raw, smcl)):
            return None
        self._on_dots()
        return self.snapshot(now)

    def _on_dots(self) -> None:
        """The dots moved: progress follows the replications inside the command's slot."""
        state = self._dots.state
        if state is None or self.index == 0:
            return
        index, section, _ = self._dots_at
        if (index, section) != (self.index, self._dots.section):
            self._dots_at = (self.index, self._dots.section, self._progress)
        self._heartbeats = 0
        value = self._dots_value(0.0)
        if value is not None:
            self._advance(value)

    def _dots_value(self, creep: float) -> float | None:
        """Between where progress stood when the dots began and the slot's end, by the share of
        replications done; heartbeats creep into the next replication's share only."""
        state = self._dots.state
        index, _, base = self._dots_at
        if state is None or index != self.index or state.fraction is None or state.total is None:
            return None
        end = self.index - 1 + _SLOT_START + _SLOT_SPAN
        share = min(state.fraction + creep / state.total, 0.999)
        return base + (end - base) * share

    def finish(self, now: float) -> Snapshot:
        """The run has ended: progress equals total."""
        self._progress = float(self.total)
        return self.snapshot(now)

    def snapshot(self, now: float) -> Snapshot:
        progress = self._progress
        if self.timeline is not None:
            self.timeline.observe(self.index, now)
            progress = self.timeline.place(progress, now)
        return Snapshot(progress, self.total, self.message(now), now - self.started_at)

    def message(self, now: float) -> str:
        """What Claude Code shows on the running tool: file, k/N, elapsed, command, output."""
        parts = [f"{self.label} {self.index}/{self.total}", format_elapsed(now - self.started_at)]
        left = self.timeline.left(now) if self.timeline is not None else None
        if left is not None:
            parts.append(format_left(left))
        command = self.current
        if command is not None:
            parts.append(shorten(command.head, COMMAND_LIMIT))
        dots = self._dots.state if self._dots_at[0] == self.index and self.index else None
        if dots is not None:
            parts.append(dots.describe())
        elif self._newest:
            parts.append("» " + shorten(self._newest, OUTPUT_LIMIT))
        return shorten(" · ".join(parts), MESSAGE_LIMIT)

    def _on_echo(self, text: str, now: float) -> list[CommandStarted | ErrorRaised]:
        first, self._first_echo = self._first_echo, False
        if first and self.wrapper is not None and normalize(text) == normalize(self.wrapper):
            return []
        if self._depth > 0:
            if opens_nested_do(text):
                self._depth += 1
            return []
        matched = self._match(text)
        if matched is None:
            return []
        self.index = matched
        self._heartbeats = 0
        self._rc_pending = True
        command = self.commands[matched - 1]
        if opens_nested_do(command.text):
            self._depth = 1
        self._advance(matched - 1 + _SLOT_START)
        snapshot = self.snapshot(now)
        return [CommandStarted(matched, self.total, command.head, command.first_line, snapshot)]

    def _match(self, echo: str) -> int | None:
        said = normalize(echo)
        if not said:
            return None
        stop = min(len(self.commands), self.index + LOOKAHEAD)
        for position in range(self.index, stop):
            head = normalize(self.commands[position].head)
            if said == head or (len(said) >= 20 and head.startswith(said)):
                return position + 1
        return None

    def _on_return_code(self, rc: int, now: float) -> list[CommandStarted | ErrorRaised]:
        if rc == 1:
            self.break_seen = True
        if not self._rc_pending:
            return []  # the same error repeated while blocks and do-files unwind
        self._rc_pending = False
        message = "\n".join(self._recent)
        if rc == 1 and not message:
            message = "--Break--"
        self.errors.append(ErrorRecord(rc, message, self.index or None))
        return [ErrorRaised(rc, message, self.snapshot(now))]

    def _advance(self, value: float) -> None:
        if value > self._progress:
            self._progress = min(value, self.total - 0.01)
