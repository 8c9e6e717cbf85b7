"""Time from the last run: what each command of a do-file took, so the next run of it can say
`~8m left` and move its progress by time rather than by command count.

Pure: the history is plain data in and out (runs.py reads and writes the file). A command is keyed
by its text (whitespace collapsed, hashed) and which occurrence of that text it is, so editing one
command forgets only that command's time.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FileRecord",
    "Timeline",
    "command_keys",
    "dump_history",
    "expected_durations",
    "format_left",
    "parse_history",
    "record_run",
]

HISTORY_VERSION = 1
MAX_FILES = 200
"""Do-files remembered; the ones run longest ago are forgotten first."""
MAX_COMMANDS = 5_000
"""Commands remembered per do-file."""
_SLOT_START = 0.05  # the tracker's slot: a command's progress runs from k-1+0.05 …
_SLOT_END = 0.9  # … to k-1+0.9 (progress.py)
_NUDGE = 0.05  # how much the nearer of clock and tracker still moves progress
_MIN_COVERAGE = 0.5  # `left` needs the times of at least half the commands


def command_keys(texts: Sequence[str]) -> list[str]:
    """One key per command: a hash of its text and the occurrence of that text in the file."""
    seen: Counter[str] = Counter()
    keys = []
    for text in texts:
        digest = hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]
        seen[digest] += 1
        keys.append(f"{digest}:{seen[digest]}")
    return keys


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the last run of one do-file took: per command (by key) and in all."""

    commands: Mapping[str, float] = field(default_factory=dict)
    duration_s: float | None = None
    status: str | None = None
    updated: float = 0.0  # wall-clock time of the run that wrote it


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if 0.0 <= value < 1e9 else None


def parse_history(data: object) -> dict[str, FileRecord]:
    """The history file's content; anything malformed (or of another version) is left out."""
    if not isinstance(data, dict) or data.get("version") != HISTORY_VERSION:
        return {}
    files = data.get("files")
    if not isinstance(files, dict):
        return {}
    out: dict[str, FileRecord] = {}
    for path, entry in list(files.items())[:MAX_FILES]:
        if not isinstance(path, str) or not isinstance(entry, dict):
            continue
        raw = entry.get("commands")
        commands: dict[str, float] = {}
        if isinstance(raw, dict):
            for key, value in list(raw.items())[:MAX_COMMANDS]:
                seconds = _seconds(value)
                if isinstance(key, str) and seconds is not None:
                    commands[key] = seconds
        status = entry.get("status")
        out[path] = FileRecord(
            commands=commands,
            duration_s=_seconds(entry.get("duration_s")),
            status=status if isinstance(status, str) else None,
            updated=_seconds(entry.get("updated")) or 0.0,
        )
    return out


def dump_history(files: Mapping[str, FileRecord]) -> dict[str, Any]:
    """The history as JSON-ready data."""
    return {
        "version": HISTORY_VERSION,
        "files": {
            path: {
                "updated": round(record.updated, 3),
                "duration_s": None if record.duration_s is None else round(record.duration_s, 3),
                "status": record.status,
                "commands": {key: round(value, 3) for key, value in record.commands.items()},
            }
            for path, record in files.items()
        },
    }


def record_run(
    files: Mapping[str, FileRecord],
    path: str,
    keys: Sequence[str],
    durations: Mapping[int, float],
    duration_s: float,
    status: str,
    now: float,
) -> dict[str, FileRecord]:
    """The history after a run of `path`: the commands it timed (1-based `durations`) replace
    their old times, untimed commands keep theirs, commands no longer in the file are dropped."""
    old = files.get(path, FileRecord())
    commands: dict[str, float] = {}
    for number, key in enumerate(keys[:MAX_COMMANDS], start=1):
        if number in durations:
            commands[key] = max(0.0, durations[number])
        elif key in old.commands:
            commands[key] = old.commands[key]
    updated = {**files, path: FileRecord(commands, max(0.0, duration_s), status, now)}
    newest = sorted(updated.items(), key=lambda item: item[1].updated, reverse=True)
    return dict(newest[:MAX_FILES])


def expected_durations(record: FileRecord | None, keys: Sequence[str]) -> list[float | None]:
    """What each command took last time, None where the history does not know it."""
    if record is None:
        return [None] * len(keys)
    return [record.commands.get(key) for key in keys]


def format_left(seconds: float) -> str:
    """`~45s left`, `~8m left`, `~1h05m left`: coarse, as a guess should be."""
    if seconds < 60:
        return f"~{max(1, round(seconds))}s left"
    if seconds < 3600:
        return f"~{round(seconds / 60)}m left"
    hours, rest = divmod(int(seconds), 3600)
    return f"~{hours}h{rest // 60:02d}m left"


class Timeline:
    """One run's clock: weights progress by last run's times and records this run's.

    The tracker's progress `p` (command k's slot is k-1 … k) maps to time: command k gets a share
    of `total` in proportion to what it took last time (the median for commands without a time),
    and inside its slot progress moves by the share of that time spent and by what the tracker
    knows (replication dots, heartbeats): the further of the two, nudged by the other so that it
    strictly grows with each. So the mapped progress strictly increases with the tracker's and
    with time, ends at `total`, and `k` in the message stays k.
    """

    def __init__(self, expected: Sequence[float | None]) -> None:
        self._expected = list(expected)
        self._n = len(self._expected)
        known = [e for e in self._expected if e is not None]
        self._known = len(known)
        fallback = statistics.median(known) if known else 0.0
        floor = max(sum(known) / max(self._n, 1) * 1e-3, 1e-3)
        self._weights = [max(fallback if e is None else e, floor) for e in self._expected]
        self._cumulative = [0.0]
        for weight in self._weights:
            self._cumulative.append(self._cumulative[-1] + weight)
        self._index = 0
        self._started: float | None = None  # when the current command was first seen
        self._durations: dict[int, float] = {}

    @property
    def weighted(self) -> bool:
        """Whether any command has a time from the last run."""
        return self._known > 0 and self._n > 0

    def observe(self, index: int, now: float) -> None:
        """The tracker is at command `index` (0: before the first) at `now`."""
        if index <= self._index:
            return
        if self._index and self._started is not None:
            self._durations[self._index] = max(0.0, now - self._started)
        for skipped in range(self._index + 1, index):
            self._durations[skipped] = 0.0  # never echoed: its time went to the one before
        self._index, self._started = index, now

    def durations(self, end: float, *, completed: bool) -> dict[int, float]:
        """What each command took (1-based); the last one only if the run completed it."""
        out = dict(self._durations)
        if completed and self._index and self._started is not None:
            out[self._index] = max(0.0, end - self._started)
        return out

    def place(self, progress: float, now: float) -> float:
        """The tracker's progress, weighted by time."""
        n = self._n
        if not self.weighted or progress <= 0:
            return progress
        if progress >= n:
            return float(n)
        slot = min(int(progress), n - 1)
        within = progress - slot
        if slot + 1 == self._index and self._started is not None and within >= _SLOT_START:
            span = _SLOT_END - _SLOT_START
            told = min((within - _SLOT_START) / span, 1.0)  # what the tracker says
            timed = min((now - self._started) / self._weights[slot], 0.99)  # what the clock says
            share = (max(told, timed) + _NUDGE * min(told, timed)) / (1 + _NUDGE)
            within = _SLOT_START + span * share  # the further of the two; the other still nudges
        share = (self._cumulative[slot] + within * self._weights[slot]) / self._cumulative[-1]
        return min(n * share, n - 1e-6)

    def left(self, now: float) -> float | None:
        """Seconds the run should still take, if last run's times cover enough of it."""
        if not self.weighted or self._known < _MIN_COVERAGE * self._n:
            return None
        index = self._index
        rest = self._cumulative[-1] - self._cumulative[index]
        if index and self._started is not None:
            rest += max(self._weights[index - 1] - (now - self._started), 0.0)
        return rest
