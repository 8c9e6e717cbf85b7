"""Real do/log pairs (../shared/stata-corpus/pairs) and where a log really is in its do-file.

The truth here is computed without the tracker or the parser: each echoed line of the log
(`. x`, `  N. x`, joined with the `> ` lines after it) is aligned, in order, with the do-file's
physical lines by their text with blanks removed; the command holding the newest aligned line is
the command Stata is in.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from stata_tools.run.dofile import Command, decode_source, split_commands
from stata_tools.run.logs.parse import smcl_to_text

_ECHO = re.compile(r"(?: *\d+)?\. (.*)")
_RC = re.compile(r"r\((\d+)\);(?:\s+t=.*)?\s*")
_SHORT = 6  # an echo this short (blanks removed) is looked for only this close; others anywhere
_NEAR = 25  # after the last aligned line (the nearest match wins: a `quietly { }` body is skipped)


def squash(text: str) -> str:
    return "".join(text.split())


@dataclass(frozen=True)
class Pair:
    do_file: Path
    log: Path

    @property
    def name(self) -> str:
        return self.do_file.stem


def pairs(folder: Path) -> list[Pair]:
    """Each do-file with its log: the log whose header names the same file, else the same stem."""
    logs = sorted([*folder.glob("*.log"), *folder.glob("*.smcl")])
    found = []
    for do_file in sorted(folder.glob("*.do")):
        text = decode_source(do_file.read_bytes())[0]
        using = re.findall(r"log\s+using\s+\"?([^\s\",]+)", text)
        stems = {Path(u).stem for u in using} | {do_file.stem.split("__")[-1]}
        match = [log for log in logs if log.stem.split("__")[-1] in stems]
        if match:
            found.append(Pair(do_file, match[0]))
    return found


_SMCL_ONLY = {"{smcl}", "{com}{sf}{ul off}", "{txt}{sf}{ul off}"}


def read_lines(path: Path) -> list[str]:
    """A log's lines; an SMCL log's as the text Stata shows (its own markup lines left out)."""
    data = path.read_bytes()
    text = decode_source(data)[0]
    lines = text.replace("\r\n", "\n").split("\n")
    lines = lines[:-1] if lines and lines[-1] == "" else lines
    if lines and lines[0].strip() == "{smcl}":
        lines = [smcl_to_text(line) for line in lines[1:] if line.strip() not in _SMCL_ONLY]
    return lines


def commands_of(path: Path) -> list[Command]:
    return split_commands(decode_source(path.read_bytes())[0])


@dataclass
class Truth:
    """For every log line, the command (1-based; 0 before any) Stata is in, and which commands
    were echoed at the top level at their first line (the line of the log, 0-based)."""

    command_at: list[int]
    echoed_at: dict[int, int]
    misplaced: list[int]  # top-level echoes of a line inside a command that is not a block
    in_blocks: list[int]  # top-level echoes of a block's own lines (an `if` body echoed)


def truth(log_lines: list[str], source: str) -> Truth:
    physical = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    squashed = [squash(line) for line in physical]
    commands = split_commands(source)
    starts = [c.first_line for c in commands]

    def command_of(line: int) -> tuple[int, bool]:
        k = bisect_right(starts, line)
        if k and line <= commands[k - 1].last_line:
            return k, line == commands[k - 1].first_line
        return 0, False

    misplaced: list[int] = []
    in_blocks: list[int] = []

    records: list[tuple[int, str, bool]] = []  # (log line, squashed echo, top level)
    joined_to = -2  # the log line the newest record reaches
    for n, raw in enumerate(log_lines):
        match = _ECHO.fullmatch(raw)
        if match is not None:
            records.append((n, squash(match.group(1)), raw.startswith(". ")))
            joined_to = n
        elif raw.startswith("> ") and joined_to == n - 1:
            at, said, top = records[-1]
            records[-1] = (at, said + squash(raw[2:]), top)
            joined_to = n
    command_at = [0] * len(log_lines)
    echoed_at: dict[int, int] = {}
    pointer = 0
    current = 0
    marks: list[tuple[int, int]] = []
    for at, said, top in records:
        if not said:
            continue
        reach = _NEAR if len(said) < _SHORT else len(physical)
        for j in range(pointer, min(len(physical), pointer + reach)):
            line = squashed[j]
            if line and (said.startswith(line) or line.startswith(said)):
                pointer = j + 1
                k, first = command_of(j + 1)
                if k:
                    current = max(current, k)
                    if first and top and k not in echoed_at:
                        echoed_at[k] = at
                    elif top and not first:
                        (in_blocks if commands[k - 1].is_block else misplaced).append(at)
                marks.append((at, current))
                break
    mark = 0
    value = 0
    for n in range(len(log_lines)):
        while mark < len(marks) and marks[mark][0] <= n:
            value = marks[mark][1]
            mark += 1
        command_at[n] = value
    return Truth(command_at, echoed_at, misplaced, in_blocks)


def recorded_error(log_lines: list[str]) -> tuple[int, int] | None:
    """(rc, log line) of the error a recorded run stopped with: an `r(NNN);` followed only by
    blank lines, `end of do-file` and the same code again; None when the run went on."""
    tail = [n for n, line in enumerate(log_lines) if line.strip()]
    while tail and log_lines[tail[-1]].strip() == "end of do-file":
        tail.pop()
    if not tail or not (found := _RC.fullmatch(log_lines[tail[-1]].strip())):
        return None
    rc, at = int(found.group(1)), tail[-1]
    before = [n for n in tail if n < at]
    if before and log_lines[before[-1]].strip() == "end of do-file":  # the `do` repeating it
        earlier = [n for n in before if log_lines[n].strip() not in ("end of do-file", "")]
        again = _RC.fullmatch(log_lines[earlier[-1]].strip()) if earlier else None
        if again and int(again.group(1)) == rc:
            at = earlier[-1]
    return rc, at


def first_lines_echoed(log_lines: list[str]) -> set[str]:
    """Every echo's text with blanks removed, to tell a command the log never shows."""
    return {squash(m.group(1)) for line in log_lines if (m := _ECHO.fullmatch(line))}


_NUMBERED = re.compile(r" *(\d+)\. ?(.*)")
_MATA_RULE = re.compile(r"-+ mata \(type end to exit\) -+\s*")
_PROGRAM = re.compile(r"(?:pr|pro|prog|progr|progra|program)\s+(?!(?:drop|dir|l|li|lis|list)\b)\S")


def rebuild(log_lines: list[str]) -> list[tuple[str, int | None]]:
    """A do-file's physical lines rebuilt from a log's own echoes, each with the log line it was
    echoed at at the top level (None for block bodies and Mata lines): an echo and its `> ` lines
    as one line, the numbered (and unnumbered `. `) lines after a block's head as its body up to
    its closing `}` or `end`, Mata prompts between the Mata rule and `end`; a nested do-file's
    lines (up to its `end of do-file`) left out."""
    out: list[tuple[str, int | None]] = []
    nested = 0
    body: str | None = None  # inside a block's echoed body: "}" or "end" closes it
    depth = 0
    mata = False
    n = 0
    while n < len(log_lines):
        line = log_lines[n]
        if nested:
            if line.strip() == "end of do-file":
                nested -= 1
            elif line.startswith(". ") and _runs_do_file(line[2:]):
                nested += 1
            n += 1
            continue
        if mata:
            if line.startswith(": "):
                out.append((line[2:], None))
                mata = line[2:].strip() != "end"
            n += 1
            continue
        if _MATA_RULE.fullmatch(line):
            mata = True
            n += 1
            continue
        numbered = _NUMBERED.fullmatch(line) if body is not None else None
        if not (numbered or line.startswith(". ")):
            if line.strip() and body is not None:
                body = None  # output: the block's echo is over
            n += 1
            continue
        text = numbered.group(2) if numbered else line[2:]
        at = n
        n += 1
        while n < len(log_lines) and log_lines[n].startswith("> "):
            text += log_lines[n][2:]
            n += 1
        code = text.split("//")[0].strip()
        if body is not None:
            out.append((text, None))
            if body == "end":
                body = None if code == "end" else body
            else:
                depth += code.endswith("{") - code.startswith("}")
                body = None if depth <= 0 else body
            continue
        out.append((text, at))
        if code.endswith("{"):
            body, depth = "}", 1
        elif _PROGRAM.match(code) or re.match(r"inp(?:u|ut)?\b", code):
            body = "end"
        if _runs_do_file(text):
            nested += 1
    return out


def _runs_do_file(text: str) -> bool:
    words = text.replace(":", " ").split()
    while words and words[0].lower() in ("cap", "capture", "noi", "noisily", "n"):
        words = words[1:]
    return bool(words) and words[0] in ("do", "include")
