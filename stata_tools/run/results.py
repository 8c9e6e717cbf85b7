"""RunResult, the output budget (head + tail + every error line) and the text a model reads."""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stata_tools.run.data_change import DataChange
from stata_tools.run.durations import format_elapsed
from stata_tools.run.errors import explain
from stata_tools.run.graphs import GraphFile
from stata_tools.run.logs.parse import Kind, LogLine

_KEPT_KINDS = (Kind.RETURN_CODE, Kind.ERROR, Kind.BREAK)
_HEAD_SHARE = 0.4
_ERROR_SHARE = 0.2


class RunStatus(enum.StrEnum):
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"
    CRASHED = "crashed"  # Stata's process died mid-run: no return code, the session is gone


@dataclass(frozen=True, slots=True)
class StataError:
    """The error that ended (or marked) a run, located in the user's source."""

    rc: int
    message: str
    command: str | None = None
    line: int | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Excerpt:
    """Output cut to a budget; `omitted_lines` says how much the model does not see."""

    text: str
    total_lines: int
    total_chars: int
    omitted_lines: int

    @property
    def complete(self) -> bool:
        return self.omitted_lines == 0


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything a caller learns about a finished run."""

    run_id: str
    status: RunStatus
    rc: int
    source: str
    log_path: str
    duration_s: float
    commands_total: int
    commands_done: int
    output: Excerpt
    error: StataError | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    graphs: tuple[GraphFile, ...] = ()
    last_duration_s: float | None = None  # the previous run of the same do-file (timings.py)
    last_status: str | None = None
    session_lost: str | None = None  # why Stata's session (its data) ended during this run
    job: Mapping[str, Any] | None = None  # batch and Slurm runs: job id, end state, node, tasks
    data: DataChange | None = None  # what the run did to the data in memory, when it did anything

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.OK

    def to_meta(self) -> dict[str, Any]:
        """Structured details for programs (the MCP result's `_meta`)."""
        error = self.error
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "rc": self.rc,
            "source": self.source,
            "log_path": self.log_path,
            "duration_s": round(self.duration_s, 3),
            "commands_total": self.commands_total,
            "commands_done": self.commands_done,
            "output_lines": self.output.total_lines,
            "output_omitted_lines": self.output.omitted_lines,
            "error": None
            if error is None
            else {
                "rc": error.rc,
                "message": error.message,
                "command": error.command,
                "line": error.line,
                "source": error.source,
            },
            "notes": list(self.notes),
            "graphs": [{"name": g.name, "path": g.path, "format": g.format} for g in self.graphs],
            "last_run": None
            if self.last_duration_s is None
            else {"duration_s": round(self.last_duration_s, 3), "status": self.last_status},
            "session_lost": self.session_lost,
            **({"job": dict(self.job)} if self.job is not None else {}),
            **({"data": self.data.to_meta()} if self.data is not None else {}),
        }


class ExcerptBuilder:
    """Keeps the head, the tail and every error line (with the message before it) within a budget.

    Fed one line at a time with bounded memory, so a 100 MB log costs no more than the budget.
    """

    def __init__(self, budget_chars: int) -> None:
        self._head_budget = int(budget_chars * _HEAD_SHARE)
        self._error_budget = int(budget_chars * _ERROR_SHARE)
        self._tail_budget = budget_chars - self._head_budget - self._error_budget
        self._head: list[str] = []
        self._head_chars = 0
        self._tail: deque[tuple[int, str]] = deque()
        self._tail_chars = 0
        self._errors: dict[int, str] = {}
        self._error_chars = 0
        self._previous: tuple[int, str] | None = None
        self.total_lines = 0
        self.total_chars = 0

    def add(self, line: LogLine) -> None:
        number, text = self.total_lines, line.raw.rstrip("\r")
        size = len(text) + 1
        self.total_lines += 1
        self.total_chars += size
        if len(self._head) == number and self._head_chars + size <= self._head_budget:
            self._head.append(text)
            self._head_chars += size
        else:
            self._tail.append((number, text))
            self._tail_chars += size
            while self._tail_chars > self._tail_budget and self._tail:
                _, dropped = self._tail.popleft()
                self._tail_chars -= len(dropped) + 1
        if line.kind in _KEPT_KINDS:
            kept = [self._previous] if self._previous else []
            for keep_number, keep_text in (*kept, (number, text)):
                if keep_number in self._errors:
                    continue
                if self._error_chars + len(keep_text) + 1 <= self._error_budget:
                    self._errors[keep_number] = keep_text
                    self._error_chars += len(keep_text) + 1
        if line.kind is not Kind.BLANK:
            self._previous = (number, text)

    def build(self) -> Excerpt:
        return _assemble(self._head, self._tail, self._errors, self.total_lines, self.total_chars)


def excerpt(lines: Iterable[LogLine], budget_chars: int) -> Excerpt:
    """The excerpt of a whole sequence of lines."""
    builder = ExcerptBuilder(budget_chars)
    for line in lines:
        builder.add(line)
    return builder.build()


def _assemble(
    head: list[str],
    tail: deque[tuple[int, str]],
    errors: dict[int, str],
    total_lines: int,
    total_chars: int,
) -> Excerpt:
    first_tail = tail[0][0] if tail else total_lines
    if first_tail <= len(head):
        text = "\n".join([*head, *(t for _, t in tail)])
        return Excerpt(text, total_lines, total_chars, 0)
    gap_start, gap_end = len(head), first_tail  # lines [gap_start, gap_end) are not in head or tail
    middle = {n: t for n, t in errors.items() if gap_start <= n < gap_end}
    parts = list(head)
    cursor = gap_start
    for number in sorted(middle):
        if number > cursor:
            parts.append(f"[… {number - cursor:,} lines omitted …]")
        parts.append(f"[line {number + 1:,}] {middle[number]}")
        cursor = number + 1
    if gap_end > cursor:
        parts.append(f"[… {gap_end - cursor:,} lines omitted …]")
    parts.extend(t for _, t in tail)
    omitted = gap_end - gap_start - len(middle)
    return Excerpt("\n".join(parts), total_lines, total_chars, omitted)


def headline(result: RunResult) -> str:
    """First line of every result: status, return code, duration, log location."""
    took = format_elapsed(result.duration_s)
    if result.last_duration_s is not None:
        status = "" if result.last_status in (None, "ok") else f", {result.last_status}"
        took = f"took {took} (last run {format_elapsed(result.last_duration_s)}{status})"
    progress = f"{result.commands_done}/{result.commands_total} commands"
    code = f"rc {result.rc}"
    if result.status is RunStatus.CRASHED:  # no return code: say how Stata ended instead
        code = result.session_lost or "no return code"
    return (
        f"Stata {result.status.value} · {code} · {took} · {progress} · "
        f"run {result.run_id} · log {result.log_path}"
    )


def render_text(result: RunResult) -> str:
    """The whole result as plain text, in the order a reader needs it."""
    return "\n".join([headline(result), *_details(result), _output_block(result)])


def render_summary_last(result: RunResult) -> str:
    """For a terminal: the output first and the status line last, where the eye lands."""
    return "\n".join([_output_block(result), *_details(result), headline(result)])


def _details(result: RunResult) -> list[str]:
    blocks = []
    if result.error is not None:
        stopped = result.status in (RunStatus.CANCELLED, RunStatus.TIMED_OUT)
        blocks.append(_stop_block(result.error) if stopped else _error_block(result.error))
    if result.data is not None and (line := result.data.line) is not None:
        blocks.append(line)
    blocks.extend(f"Note: {note}" for note in result.notes)
    blocks.extend(_graph_line(graph) for graph in result.graphs)
    return blocks


def _output_block(result: RunResult) -> str:
    output = result.output
    if output.total_lines == 0:
        return "(no output)"
    label = (
        f"--- output ({output.total_lines:,} lines) ---"
        if output.complete
        else f"--- output: {output.total_lines:,} lines, {output.omitted_lines:,} omitted; "
        f"the full log is at {result.log_path} ---"
    )
    return f"{label}\n{_trimmed(output.text)}"


def _graph_line(graph: GraphFile) -> str:
    what = f"graph {graph.name}" if graph.name else "file the code exported"
    return f"Graph: {what} → {graph.path} ({graph.format.upper()})"


def output_only(text: str) -> str:
    """A run's output without command echoes, for tools that send their own commands."""
    kept: list[str] = []
    in_echo = False
    for line in text.split("\n"):
        if line.startswith(". ") or line == ".":
            in_echo = True
            continue
        if in_echo and (line.startswith("> ") or re.match(r"^\s+\d+\. ", line)):
            continue
        in_echo = False
        kept.append(line)
    return _trimmed("\n".join(kept))


def _trimmed(text: str) -> str:
    """Without the blank lines, the empty prompt and the `end of do-file` Stata ends runs with."""
    lines = text.split("\n")
    while lines and lines[0].strip() == "":
        lines.pop(0)
    while lines and lines[-1].strip() in ("", ".", "end of do-file"):
        lines.pop()
    return "\n".join(lines)


def _stop_block(error: StataError) -> str:
    """A run we stopped: r(1) is Stata's answer to the break, not a fault in the code."""
    where = ""
    if error.command:
        at = f"line {error.line} of {error.source}" if error.line and error.source else "command"
        where = f" at {at}: {error.command}"
    return f"Stopped{where} (r(1) is Stata's answer to the break, not an error in the code)"


def _error_block(error: StataError) -> str:
    code = explain(error.rc)
    lines = [f"Error r({error.rc}): {error.message or code.meaning}"]
    lines.append(f"  What it means: {code.meaning.replace('__', '…')}. {code.explanation}")
    if code.fix:
        lines.append(f"  Usual fix: {code.fix}")
    if error.command:
        where = f"line {error.line} of {error.source}" if error.line and error.source else "command"
        lines.append(f"  Failing {where}: {error.command}")
    return "\n".join(lines)
