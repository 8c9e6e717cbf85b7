"""Tracker: turns classified log lines into "command k of N" progress, errors and heartbeats.

Progress arithmetic: before the first echo progress is 0; when top-level command k (1-based) is
echoed it becomes ``k - 1 + 0.05``; heartbeats creep towards ``k - 1 + 0.9`` without reaching it;
the end of the run sets it to ``total``. Every value handed out is larger than the one before.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from stata_tools.run.dofile import Command
from stata_tools.run.durations import format_elapsed
from stata_tools.run.events import CommandStarted, ErrorRaised, Snapshot
from stata_tools.run.graphs import exported_file
from stata_tools.run.logs.parse import Kind, LogLine, strip_comments
from stata_tools.run.replications import DotsReader, partial_text
from stata_tools.run.timings import Timeline, format_left

MESSAGE_LIMIT = 200
COMMAND_LIMIT = 60
OUTPUT_LIMIT = 70
LOOKAHEAD = 3  # echoes may skip commands Stata never echoes (quietly'd blocks)
MIN_PREFIX = 20  # a first echo line this long (blanks removed) may match before its `> ` lines
MIN_FIRST = 8  # a first line this long that is exactly a command's names it, whatever follows
QUIET_S = 1.0  # an echo with no new line for this long is complete (Stata writes it at once)
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


def squash(text: str) -> str:
    """Text without any blanks: echoes expand tabs and wrap anywhere, so only the rest counts."""
    return "".join(text.split())


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with an ellipsis where it was cut."""
    text = normalize(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _after_prefixes(command_text: str) -> tuple[bool, str]:
    """(whether capture/quietly silence it, the command after its prefixes and `version #:`)."""
    rest = normalize(command_text)
    silent = False
    while rest:
        word, _, after = rest.partition(" ")
        word = word.rstrip(":").lower()
        if word in _SILENT_PREFIXES:
            silent = True
        elif word in _LOUD_PREFIXES:
            silent = False
        elif word == "version" and after:
            after = after.partition(" ")[2]
        else:
            break
        rest = after.lstrip(": ")
    return silent, rest


def opens_nested_do(command_text: str) -> bool:
    """True when the command runs a do-file whose own echo reaches the log (`do` also prints
    `end of do-file`); `run`, `quietly do` and `capture do` show nothing."""
    silent, rest = _after_prefixes(command_text)
    return not silent and rest.partition(" ")[0].lower() in _NESTED


_CALLED = re.compile(r'(do|include)\s+(?:"([^"]*)"|`"(.*?)"\'|([^\s,"]+))', re.IGNORECASE)


def called_do_file(command_text: str) -> tuple[str, str] | None:
    """("do" or "include", the file as written, `.do` added without an extension) for a command
    whose do-file echoes into the log; None when it does not, or the name holds a macro."""
    if not opens_nested_do(command_text):
        return None
    found = _CALLED.match(_after_prefixes(command_text)[1])
    if found is None:
        return None
    path = next(group for group in found.groups()[1:] if group is not None).strip()
    if not path or "`" in path or "$" in path:
        return None
    if "." not in path.replace("\\", "/").rsplit("/", 1)[-1]:
        path += ".do"
    return found.group(1).lower(), path


@dataclass(frozen=True, slots=True)
class Script:
    """A do-file the run calls, lexed: what a child tracker follows."""

    label: str
    commands: tuple[Command, ...]
    source: str | None = None  # its path, where the do-files it calls are looked for


Resolver = Callable[[str, "str | None"], "Script | None"]
"""(the file as written, the calling file's path) → the called do-file lexed, or None."""


@dataclass(slots=True)
class ErrorRecord:
    """The first error the log shows: its code, Stata's message and the command it came from
    (`command_index` at the top level; `script` and `command` where it happened, maybe a child)."""

    rc: int
    message: str
    command_index: int | None
    script: str | None = None
    command: Command | None = None


def echo_target(command: Command) -> tuple[str, tuple[str, ...]]:
    """What Stata echoes for a command at the top level, blanks removed: its head (every line
    of a plain command; a block's lines up to its `{`) and, for a block, each later line."""
    lines = list(command.lines)
    if lines:
        lines[0] = lines[0][command.column :]
    if not command.is_block:
        return squash("".join(lines)), ()
    end = next((j for j in range(len(lines)) if strip_comments(lines[: j + 1]).endswith("{")), 0)
    return squash("".join(lines[: end + 1])), tuple(squash(line) for line in lines[end + 1 :])


def _calls_do_file(command: Command) -> bool:
    """A block whose body runs do-files: their echoes look like top-level ones."""
    return command.is_block and any(opens_nested_do(part) for part in command.text.split("; "))


def _is_note(text: str) -> bool:
    return text.lstrip().startswith(("(note:", "note:"))


@dataclass(slots=True)
class Tracker:
    """Follows one run's log lines; pure state, the caller supplies the clock.

    An echo counts only at the top level: a block's own lines (Stata echoes an `if … {` body
    line by line, the branch not taken too) belong to it, and while it runs do-files, their
    echoes to them. The next command is found among the following few by its echo joined with
    its `> ` lines; after commands Stata never echoed, by an exact echo of any later one."""

    commands: Sequence[Command]
    label: str
    started_at: float
    wrapper: str | None = None
    timeline: Timeline | None = None  # last run's times: weighted progress, time left (timings.py)
    resolve: Resolver | None = None  # finds the do-files the run calls, to follow them too
    source: str | None = None  # the file this tracker follows
    include: bool = False  # it follows an `include`, whose end Stata does not mark
    status: str | None = None  # leads the message: a batch or Slurm job's state, say
    done: bool = False  # its own `end of do-file` was seen
    echoed: bool = False  # a command echo has reached it
    index: int = 0
    errors: list[ErrorRecord] = field(default_factory=list)
    exports: list[tuple[str, str]] = field(default_factory=list)
    break_seen: bool = False
    _depth: int = 0
    _heartbeats: int = 0
    _progress: float = 0.0
    _newest: str = ""
    _recent: deque[str] = field(default_factory=lambda: deque(maxlen=3))
    _rc_pending: bool = True
    _first_echo: bool = True
    _export_text: str = ""
    _dots: DotsReader = field(default_factory=DotsReader)  # replication dots (replications.py)
    _dots_at: tuple[int, int, float] = (0, 0, 0.0)  # command, dots section, progress at its start
    _targets: list[str] = field(default_factory=list)
    _firsts: list[str] = field(default_factory=list)  # each command's first line, blanks removed
    _where: dict[str, list[int]] = field(default_factory=dict)  # target → positions, in order
    _bodies: list[tuple[str, ...]] = field(default_factory=list)
    _body: tuple[str, ...] = ()  # the current block's lines not echoed yet
    _body_at: int = 0
    _body_fresh: bool = False  # nothing seen since the block's head: is its body echoed, how?
    _said: str | None = None  # a top-level echo (blanks removed) not matched yet
    _said_at: float = 0.0
    _said_first: str = ""  # the pending echo's first line
    _unmatched: str | None = None  # the newest complete echo that matched nothing here
    _child: Tracker | None = None  # the called do-file being followed
    _opaque: bool = False  # an include we cannot read runs: only exact echoes of ours count
    _runs_do_files: bool = False  # the current command is a block that runs do-files
    _depth_echoed: bool = False  # a do-file we cannot read has echoed something

    def __post_init__(self) -> None:
        for command in self.commands:
            target, body = echo_target(command)
            self._targets.append(target)
            self._bodies.append(body)
            self._firsts.append(squash(command.head))
            self._where.setdefault(target, []).append(len(self._targets) - 1)

    @property
    def total(self) -> int:
        return max(1, len(self.commands))

    @property
    def current(self) -> Command | None:
        return self.commands[self.index - 1] if self.index else None

    def feed(self, line: LogLine, now: float) -> Sequence[CommandStarted | ErrorRaised]:
        """Account for one classified log line; return the events it causes."""
        if self._child is not None:
            return self._feed_child(line, now)
        kind = line.kind
        if kind is Kind.CONTINUATION:
            return self._on_continuation(line.text, now)
        events: list[CommandStarted | ErrorRaised] = []
        if self._said is not None:  # the echo before this line is complete
            events += self._settle(now, complete=True)
            if self._child is not None:  # it started a do-file: the line is the child's
                return [*events, *self._feed_child(line, now)]
        if self._body_fresh and kind is not Kind.ECHO and kind is not Kind.LOOP_ECHO:
            self._body, self._body_fresh = (), False  # no echo of its lines (`quietly {`)
        if kind is Kind.OUTPUT or kind is Kind.ERROR:  # most lines: checked first
            if self._depth == 1 and not self._depth_echoed and line.text.strip():
                self._depth = 0  # output before any echo: the `do` failed (file not found)
            if line.text.strip():
                self._newest = line.text
                self._recent.append(line.text)
                self._note_export(line.text)
            if ("(" in line.text or not self._dots.idle) and self._dots.feed(line.text):
                self._on_dots()  # replication dots: one substring test while no loop is on
            return events or _NONE
        if not self._dots.idle:
            self._dots.stop()
        if kind is Kind.ECHO:
            self.echoed = True
            self._recent.clear()
            self._body_fresh = False
            events += self._on_echo(line.text, now)
        elif kind is Kind.LOOP_ECHO:
            self._recent.clear()
            if self._body_fresh:  # a loop or program: its lines are numbered, not ours to see
                self._body, self._body_fresh = (), False
        elif kind is Kind.END_OF_DO:
            if self._depth:
                self._depth -= 1
            else:
                self.done = True
        elif kind is Kind.RETURN_CODE and line.rc is not None:
            if self._depth == 1 and not self._depth_echoed:  # the `do` failed: no file ran
                self._depth = 0
            events += self._on_return_code(line.rc, now)
        elif kind is Kind.BREAK:
            self.break_seen = True
        return events

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

    def _feed_child(self, line: LogLine, now: float) -> list[CommandStarted | ErrorRaised]:
        """A line while a called do-file runs: the child's; its progress moves inside our slot."""
        child = self._child
        assert child is not None
        if not child.echoed and line.kind in (Kind.OUTPUT, Kind.ERROR) and line.text.strip():
            self._end_child(child)  # output before its first echo: the `do` failed, ran nothing
            return self.feed(line, now)
        raised = [e for e in child.feed(line, now) if isinstance(e, ErrorRaised)]
        if child.exports:  # graphs its `graph export` wrote are the run's
            self.exports += child.exports
            child.exports.clear()
        self.break_seen = self.break_seen or child.break_seen
        if raised:
            record = child.errors[-1]
            self._rc_pending = False  # the `do` repeats the child's code as it returns
            self.errors.append(
                ErrorRecord(record.rc, record.message, self.index, record.script, record.command)
            )
        events: list[CommandStarted | ErrorRaised] = []
        if child.done or (raised and child.index == 0):  # ended, or the `do` itself failed
            self._end_child(child)
        elif child.include and child._unmatched is not None:  # maybe our next command
            said, child._unmatched = child._unmatched, None
            found = self._exact(said, self.index, min(len(self.commands), self.index + LOOKAHEAD))
            if found is not None:
                self._end_child(child)
                events += self._start(found + 1, now)
        if self._child is not None:
            self._advance(self.index - 1 + _SLOT_START + _SLOT_SPAN * child.fraction)
        snapshot = self.snapshot(now)
        return [replace(e, snapshot=snapshot) for e in raised] + events

    def _end_child(self, child: Tracker) -> None:
        self._child = None
        if child._newest:
            self._newest = child._newest
        if self.index:  # heartbeats go on creeping from where the child left the slot
            reached = (self._progress - (self.index - 1 + _SLOT_START)) / _SLOT_SPAN
            reached = min(max(reached, 0.0), 0.99)
            self._heartbeats = math.ceil(_HEARTBEAT_HALF_LIFE * reached / (1 - reached))

    @property
    def fraction(self) -> float:
        """How far this tracker is, 0 to below 1."""
        return self._progress / self.total

    def heartbeat(self, now: float) -> Snapshot:
        """A little more progress within the current command's slot, never reaching the next."""
        if self._child is not None:
            child = self._child
            child.heartbeat(now)
            self._advance(self.index - 1 + _SLOT_START + _SLOT_SPAN * child.fraction)
            return self.snapshot(now)
        if self._said is not None and now - self._said_at >= QUIET_S:
            self._settle(now, complete=True)
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
        """What Claude Code shows on the running tool: file, k/N (and the called do-file's, the
        innermost two levels), elapsed, time left, the innermost command, its newest output."""
        chain = [self]
        while chain[-1]._child is not None:
            chain.append(chain[-1]._child)  # type: ignore[arg-type]
        where = " › ".join(f"{t.label} {t.index}/{t.total}" for t in chain[-2:])
        if self.status:
            where = f"{self.status} · {where}"
        parts = [where, format_elapsed(now - self.started_at)]
        left = self.timeline.left(now) if self.timeline is not None else None
        if left is not None:
            parts.append(format_left(left))
        inner = chain[-1]
        command = inner.current
        if command is not None:
            parts.append(shorten(command.head, COMMAND_LIMIT))
        dots = inner._dots.state if inner._dots_at[0] == inner.index and inner.index else None
        if dots is not None:
            parts.append(dots.describe())
        elif inner._newest:
            parts.append("» " + shorten(inner._newest, OUTPUT_LIMIT))
        return shorten(" · ".join(parts), MESSAGE_LIMIT)

    def _on_echo(self, text: str, now: float) -> list[CommandStarted | ErrorRaised]:
        said = squash(text)
        first, self._first_echo = self._first_echo, False
        if first and self.wrapper is not None and said and squash(self.wrapper).startswith(said):
            return []
        if self._depth > 0:
            self._depth_echoed = True
            if opens_nested_do(text):
                self._depth += 1
            return []
        if self._in_body(said):
            return []
        if not said:
            return []
        self._said, self._said_at, self._said_first = said, now, said
        return self._settle(now, complete=False)

    def _on_continuation(self, text: str, now: float) -> Sequence[CommandStarted | ErrorRaised]:
        if self._said is None:
            return _NONE
        self._said += squash(text)
        self._said_at = now
        return self._settle(now, complete=False)

    def _in_body(self, said: str) -> bool:
        """Whether an echo is the next line of the current block (searched forward in it)."""
        body, at = self._body, self._body_at
        if not said:  # a blank line of the block, if that is what comes next
            if at < len(body) and not body[at]:
                self._body_at = at + 1
                return True
            return False
        for j in range(at, len(body)):
            if body[j].startswith(said):
                self._body_at = j + 1
                return True
        return False

    def _settle(self, now: float, *, complete: bool) -> list[CommandStarted | ErrorRaised]:
        """Match the pending echo; an incomplete one only within the next few commands."""
        said = self._said
        assert said is not None
        inside = self._body_at < len(self._body)  # the current block's lines are not all seen
        strict = self._opaque or self._runs_do_files
        stop = min(len(self.commands), self.index + (1 if strict else LOOKAHEAD))
        found: int | None = None
        loose = not (strict or inside)  # a block's stray line must be a whole command to count
        for position in range(self.index, stop):
            target = self._targets[position]
            if said == target or (loose and len(said) >= MIN_PREFIX and target.startswith(said)):
                found = position
                break
        if found is None and complete and loose:
            # edited since the log was written, past its first line: that line still tells
            first = self._said_first
            if len(first) >= MIN_FIRST and first != said:
                found = next((p for p in range(self.index, stop) if self._firsts[p] == first), None)
        if found is None and complete and not inside and not strict:
            found = self._exact(said, stop, len(self.commands))
        if found is None:
            if complete:
                self._said, self._unmatched = None, said
            return []
        self._said = None
        return self._start(found + 1, now)

    def _exact(self, said: str, start: int, stop: int) -> int | None:
        """The first command from `start` (before `stop`) whose echo is exactly `said`."""
        positions = self._where.get(said)
        if not positions:
            return None
        at = bisect.bisect_left(positions, start)
        return positions[at] if at < len(positions) and positions[at] < stop else None

    def _start(self, matched: int, now: float) -> list[CommandStarted | ErrorRaised]:
        self.index = matched
        self._heartbeats = 0
        self._rc_pending = True
        self._body, self._body_at = self._bodies[matched - 1], 0
        self._body_fresh = True
        self._opaque = False
        command = self.commands[matched - 1]
        self._runs_do_files = _calls_do_file(command)
        if opens_nested_do(command.text):
            self._follow(command, now)
        self._advance(matched - 1 + _SLOT_START)
        snapshot = self.snapshot(now)
        return [CommandStarted(matched, self.total, command.head, command.first_line, snapshot)]

    def _follow(self, command: Command, now: float) -> None:
        """A called do-file starts: follow it when it can be read, else wait for its end."""
        called = called_do_file(command.text)
        script = None
        if called is not None and self.resolve is not None:
            try:
                script = self.resolve(called[1], self.source)
            except Exception:  # a file we cannot read or lex: progress by heartbeat, as before
                script = None
        include = called is not None and called[0] == "include"
        if script is not None and script.commands:
            self._child = Tracker(
                script.commands,
                script.label,
                now,
                resolve=self.resolve,
                source=script.source,
                include=include,
            )
        elif include or _after_prefixes(command.text)[1].partition(" ")[0].lower() == "include":
            self._opaque = True  # no `end of do-file` will come: wait for an exact echo of ours
        else:
            self._depth, self._depth_echoed = 1, False

    def _on_return_code(self, rc: int, now: float) -> list[CommandStarted | ErrorRaised]:
        if rc == 1:
            self.break_seen = True
        if not self._rc_pending:
            return []  # the same error repeated while blocks and do-files unwind
        self._rc_pending = False
        lines = [text for text in self._recent if not _is_note(text)][-2:]
        message = "\n".join(lines)
        if rc == 1 and not message:
            message = "--Break--"
        self.errors.append(ErrorRecord(rc, message, self.index or None, self.label, self.current))
        return [ErrorRaised(rc, message, self.snapshot(now))]

    def _advance(self, value: float) -> None:
        if value > self._progress:
            self._progress = min(value, self.total - 0.01)
