"""Check a do-file before running it, without Stata: its commands, the do-files it calls, what the
command policy would refuse, called files outside the roots, and structural mistakes with lines.

`check_source` is the logic (files come through a loader); `check_do_file` reads from disk the way a
run would; `render_check` writes the report as plain text a model reads well.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from stata_tools.run.dofile import SyntaxProblem, decode_source, scan_commands
from stata_tools.safety.files import NotAFile, read_regular_file
from stata_tools.safety.guard import MAX_CALLED_BYTES, CalledDoFile, policy_source, read_called
from stata_tools.safety.policy import (
    ALLOW_ENV,
    UNCHECKED,
    DoCall,
    Policy,
    Violation,
    called_files,
    check,
)
from stata_tools.safety.roots import ROOTS_ENV, Roots
from stata_tools.stata.settings import Settings

__all__ = [
    "MAX_DEPTH",
    "MAX_FILES",
    "CheckError",
    "CheckReport",
    "ChildCall",
    "ChildStatus",
    "CommandStart",
    "FileCheck",
    "Finding",
    "check_do_file",
    "check_source",
    "render_check",
]

MAX_BYTES = MAX_CALLED_BYTES  # what the policy reads of a called file; the top file too
MAX_DEPTH = 16  # do-files calling do-files: as deep as the policy follows them
MAX_FILES = 200  # files read in one check, so a wide tree of calls stays cheap
LISTED = 40  # commands listed one by one; the others in ranges
HEAD_WIDTH = 76


class CheckError(ValueError):
    """The file cannot be checked at all; the message says what was wrong and what to do."""


class ChildStatus(StrEnum):
    """What became of one `do`/`run`/`include`."""

    FOUND = "found"
    MISSING = "not found"
    OUTSIDE = "outside the allowed roots"
    CYCLE = "a cycle"
    REPEATED = "checked above"
    TOO_DEEP = "not followed"


@dataclass(frozen=True, slots=True)
class CommandStart:
    """Where one top-level command starts: what the tracker counts as command k."""

    index: int
    line: int
    last_line: int
    head: str
    is_block: bool


@dataclass(frozen=True, slots=True)
class ChildCall:
    """One call of another do-file, and what checking it found."""

    line: int
    command: str  # do, ru, run, include
    written: str  # the path as written, the code's own macros expanded
    status: ChildStatus
    path: Path | None  # the file read; for OUTSIDE the first place it could be
    looked_in: tuple[Path, ...]  # the places inside the roots it was looked for
    unreadable: tuple[str, ...]  # why places that hold something could not be read
    captured: bool  # under `capture`
    via_macro: bool  # the path comes from macros
    file: FileCheck | None = None  # what checking it found, when it was followed


@dataclass(frozen=True, slots=True)
class FileCheck:
    """One do-file: its commands, its structural problems and the files it calls."""

    name: str  # the top file's name, or a child's path as its caller wrote it
    path: Path
    encoding: str
    empty: bool  # no bytes but blanks
    commands: tuple[CommandStart, ...]
    syntax: tuple[SyntaxProblem, ...]
    children: tuple[ChildCall, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the report says, with where it is and what to do about it."""

    kind: str  # a SyntaxProblem kind, or refused, missing, outside-roots, cycle, empty, ...
    file: str
    line: int | None
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything `check_do_file` found; `problems` are what the run would hit."""

    file: FileCheck
    refusals: tuple[Violation, ...]
    problems: tuple[Finding, ...]
    notes: tuple[Finding, ...]  # worth knowing, but the run would not fail on them
    policy: str  # what the policy refuses, or that it was not checked
    roots: tuple[Path, ...] | None  # None: every path allowed
    folders: tuple[Path, ...]  # where called do-files were looked for, in order

    @property
    def ok(self) -> bool:
        return not self.problems

    def files(self) -> list[FileCheck]:
        """Every file read, callers before the files they call."""
        found: list[FileCheck] = []
        stack = [self.file]
        while stack:
            current = stack.pop()
            found.append(current)
            stack += [c.file for c in reversed(current.children) if c.file is not None]
        return found

    def to_meta(self) -> dict[str, Any]:
        """The structured part, for an MCP result's `_meta`."""
        return {
            "ok": self.ok,
            "path": str(self.file.path),
            "commands": len(self.file.commands),
            "command_lines": [c.line for c in self.file.commands],
            "problems": [_finding_meta(f) for f in self.problems],
            "notes": [_finding_meta(f) for f in self.notes],
            "children": [
                {
                    "file": parent.name,
                    "line": child.line,
                    "written": child.written,
                    "status": child.status.name.lower(),
                    "path": str(child.path) if child.path else None,
                    "commands": len(child.file.commands) if child.file else None,
                }
                for parent in self.files()
                for child in parent.children
            ],
        }


def _finding_meta(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "file": finding.file,
        "line": finding.line,
        "message": finding.message,
    }


# --- the check ------------------------------------------------------------------------------------

Loader = Callable[[str], CalledDoFile]


def check_do_file(
    path: str | os.PathLike[str],
    working_dir: str | os.PathLike[str] | None = None,
    *,
    settings: Settings | None = None,
    cwd: Path | None = None,
) -> CheckReport:
    """Check a do-file as `run_do_file` would find it; its settings are `Settings.from_env()`.

    CheckError when it cannot be read, OutsideRoots when it (or the working directory) lies outside
    the allowed roots: then it is not read at all."""
    settings = Settings.from_env() if settings is None else settings
    roots = settings.roots
    base = cwd or Path.cwd()
    folder = _working_dir(working_dir, base, roots)
    target = Path(os.path.expanduser(os.fspath(path)))
    target = target if target.is_absolute() else (folder or base) / target
    if roots is not None:
        roots.check(target, "do-file")
    target = target.resolve()
    text, encoding = _read(target)
    folders = (folder or base, target.parent)
    return check_source(
        text,
        target.name,
        target,
        policy=settings.policy,
        roots=roots,
        load=lambda written: read_called(written, folders, roots),
        folders=folders,
        encoding=encoding,
    )


def check_source(
    text: str,
    name: str,
    path: Path,
    *,
    policy: Policy | None,
    roots: Roots | None,
    load: Loader,
    folders: Sequence[Path] = (),
    encoding: str = "utf-8",
) -> CheckReport:
    """The report for a do-file's text; `load(written)` finds the do-files it calls."""
    cache: dict[str, CalledDoFile] = {}

    def cached(written: str) -> CalledDoFile:  # the walk and the policy read each file once
        if written not in cache:
            cache[written] = load(written)
        return cache[written]

    walk = _Walk(cached)
    top = walk.file(text, name, path, encoding, depth=0, ancestors=(path.resolve(),))
    refusals: tuple[Violation, ...] = ()
    if policy is not None:
        refusals = tuple(
            check(
                text, policy, name=name, load=lambda w: policy_source(cached(w)), fresh_locals=True
            )
        )
    problems, notes = _findings(top, refusals)
    return CheckReport(
        file=top,
        refusals=refusals,
        problems=tuple(problems),
        notes=tuple(notes),
        policy="not checked (no command policy in these settings)"
        if policy is None
        else policy.describe(),
        roots=roots.paths if roots is not None else None,
        folders=tuple(folders),
    )


@dataclass
class _Walk:
    """One check's walk over the call tree: the files read so far, by real path."""

    load: Loader
    seen: set[Path] = field(default_factory=set)

    def file(
        self,
        text: str,
        name: str,
        path: Path,
        encoding: str,
        *,
        depth: int,
        ancestors: tuple[Path, ...],
    ) -> FileCheck:
        self.seen.add(ancestors[-1])
        commands, syntax = scan_commands(text)
        starts = tuple(
            CommandStart(c.index, c.first_line, c.last_line, c.head, c.is_block) for c in commands
        )
        children = tuple(self._child(call, depth, ancestors) for call in called_files(text))
        return FileCheck(name, path, encoding, not text.strip(), starts, tuple(syntax), children)

    def _child(self, call: DoCall, depth: int, ancestors: tuple[Path, ...]) -> ChildCall:
        looked: list[Path] = []
        outside: list[Path] = []
        unreadable: list[str] = []
        for candidate in call.names:
            called = self.load(candidate)
            looked += called.tried
            outside += called.outside
            unreadable += called.unreadable
            if called.path is None or called.text is None:
                continue
            real = called.path.resolve()
            file: FileCheck | None = None
            if real in ancestors:
                status = ChildStatus.CYCLE
            elif real in self.seen:
                status = ChildStatus.REPEATED
            elif depth + 1 >= MAX_DEPTH or len(self.seen) >= MAX_FILES:
                status = ChildStatus.TOO_DEEP
            else:
                status = ChildStatus.FOUND
                file = self.file(
                    called.text,
                    candidate,
                    called.path,
                    called.encoding or "utf-8",
                    depth=depth + 1,
                    ancestors=(*ancestors, real),
                )
            return _child_call(call, status, called.path, looked, unreadable, file)
        status = ChildStatus.OUTSIDE if outside and not looked else ChildStatus.MISSING
        first = outside[0] if status is ChildStatus.OUTSIDE else None
        return _child_call(call, status, first, looked, unreadable)


def _child_call(
    call: DoCall,
    status: ChildStatus,
    path: Path | None,
    looked: list[Path],
    unreadable: list[str],
    file: FileCheck | None = None,
) -> ChildCall:
    return ChildCall(
        line=call.line,
        command=call.command,
        written=call.path,
        status=status,
        path=path,
        looked_in=tuple(dict.fromkeys(looked)),
        unreadable=tuple(dict.fromkeys(unreadable)),
        captured=call.captured,
        via_macro=call.via_macro,
        file=file,
    )


def _working_dir(
    value: str | os.PathLike[str] | None, base: Path, roots: Roots | None
) -> Path | None:
    if value is None:
        return None
    folder = Path(os.path.expanduser(os.fspath(value)))
    folder = folder if folder.is_absolute() else base / folder
    if roots is not None:
        roots.check(folder, "working directory")
    if not folder.exists():
        raise CheckError(f"working directory {folder} does not exist: create it or pass another")
    if not folder.is_dir():
        raise CheckError(f"working directory {folder} is a file, not a directory")
    return folder.resolve()


def _read(path: Path) -> tuple[str, str]:
    """The do-file's text and encoding; CheckError when it is no do-file."""
    try:
        data = read_regular_file(path, MAX_BYTES + 1)
    except FileNotFoundError:
        raise CheckError(
            f"do-file {path} does not exist: check the path (relative paths start at the "
            "working directory)"
        ) from None
    except NotAFile as error:
        hint = (
            "pass the path of a .do file inside it"
            if path.is_dir()
            else "pass the path of a .do file saved on disk"
        )
        raise CheckError(f"{error}: {hint}") from None
    except OSError as error:
        raise CheckError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise CheckError(
            f"{path} is larger than {MAX_BYTES >> 20} MB, more than a check reads: split it into "
            "do-files that call each other"
        )
    if b"\x00" in data:
        raise CheckError(
            f"{path} holds NUL bytes, so it is not a plain-text do-file (a .dta or other binary, "
            "or a UTF-16 text): pass the .do file, saved as UTF-8"
        )
    return decode_source(data)


# --- what the findings mean -----------------------------------------------------------------------

_UNSAFE_PATH_CHARS = ("`", "$", "\n", "\r")  # as the run refuses them in a do-file's path
_SYNTAX_FIXES = {
    "stray-brace": "remove it, or add the `{` it was meant to close",
    "unclosed-brace": "add the `}` that closes this block",
    "unclosed-end": "add `end` on a line of its own where the block stops",
    "unclosed-comment": "add `*/` where the comment should stop",
    "unclosed-string": 'close it on its line (`"…"` or `` `"…"\' ``), or remove the stray quote',
    "open-statement": "end it with `;` (or put `#delimit cr` after the last `;`)",
}


def _findings(top: FileCheck, refusals: Sequence[Violation]) -> tuple[list[Finding], list[Finding]]:
    problems: list[Finding] = []
    notes: list[Finding] = []
    if top.empty:
        problems.append(
            Finding(
                "empty",
                top.name,
                None,
                "the file is empty: there is nothing to run",
                "write the commands to run in it, or pass another file",
            )
        )
    elif not top.commands and not top.syntax:
        problems.append(
            Finding(
                "nothing-to-run",
                top.name,
                None,
                "the file holds only comments or blank lines: there is nothing to run",
                "check that this is the do-file you meant",
            )
        )
    if any(char in str(top.path) for char in _UNSAFE_PATH_CHARS):
        problems.append(
            Finding(
                "unsafe-path",
                top.name,
                None,
                f"{top.path} holds a character Stata would expand as a macro (` or $) or a line "
                "break, so the run refuses it",
                "rename the file or folder",
            )
        )
    stack = [top]
    while stack:
        current = stack.pop(0)
        if current.encoding not in ("utf-8", "utf-8-sig"):
            notes.append(
                Finding(
                    "encoding",
                    current.name,
                    None,
                    f"not UTF-8; read as {current.encoding} (Stata runs it as is; non-ASCII "
                    "text may display oddly)",
                    "Stata's `unicode translate` converts it to UTF-8",
                )
            )
        for problem in current.syntax:
            fix = _SYNTAX_FIXES.get(problem.kind, "")
            problems.append(Finding(problem.kind, current.name, problem.line, problem.message, fix))
        for child in current.children:
            finding = _child_finding(current, child)
            if finding is not None:
                (notes if _is_note(child) else problems).append(finding)
            if child.file is not None:
                stack.append(child.file)
    for violation in refusals:
        macro = " (from a macro)" if violation.via_macro else ""
        if violation.category == UNCHECKED:
            kind = "unchecked"
            fix = f"write the command out, or turn the policy off with {ALLOW_ENV}=all"
        else:
            kind, fix = "refused", f"to allow it, set {ALLOW_ENV}={violation.category}"
        problems.append(
            Finding(
                kind,
                violation.file or top.name,
                violation.line,
                f"{violation.source}: `{violation.command}`{macro} {violation.does}; the command "
                "policy refuses it, so nothing would run",
                fix,
            )
        )
    problems.sort(key=lambda f: (f.file != top.name, f.file, f.line or 0))
    return problems, notes


def _is_note(child: ChildCall) -> bool:
    """A call the run may survive: a missing file under `capture`, or one named by macros."""
    if child.status is ChildStatus.MISSING:
        return child.captured or child.via_macro
    return child.status is ChildStatus.TOO_DEEP


_MACRO_CAVEAT = " (the path comes from macros the code may not set, so this may be wrong)"


def _child_finding(parent: FileCheck, child: ChildCall) -> Finding | None:
    call = f"`{child.command} {child.written}`"
    looked = ", ".join(str(p) for p in child.looked_in) or "nowhere inside the roots"
    if child.status is ChildStatus.MISSING:
        if child.captured:
            why, fix = "(under capture, so the run goes on without it)", "check the name"
        elif child.via_macro:
            why = _MACRO_CAVEAT.strip()
            fix = "check the macros hold what you expect before this line"
        else:
            why = "(Stata stops with r(601))"
            fix = "check the name and the working directory relative paths start from"
        found = "; ".join(child.unreadable) if child.unreadable else "file not found"
        return Finding(
            "missing", parent.name, child.line, f"{call}: {found}; looked for {looked} {why}", fix
        )
    if child.status is ChildStatus.OUTSIDE:
        return Finding(
            "outside-roots",
            parent.name,
            child.line,
            f"{call}: {_shown(child.path)} is outside the allowed roots, so the run is refused"
            + (
                " (the path comes from macros, read as the run's own check reads them)"
                if child.via_macro
                else ""
            ),
            f"move it inside a root, or add its folder to {ROOTS_ENV}",
        )
    if child.status is ChildStatus.CYCLE:
        return Finding(
            "cycle",
            parent.name,
            child.line,
            f"{call}: {child.path} is already running further up this chain of calls; "
            "unless a condition stops it, it calls itself until Stata's nesting limit ends "
            "the run",
            "remove the call, or make sure a condition stops it",
        )
    if child.status is ChildStatus.TOO_DEEP:
        return Finding(
            "not-followed",
            parent.name,
            child.line,
            f"{call}: {child.path} was not checked (a check follows calls {MAX_DEPTH} "
            f"deep and reads at most {MAX_FILES} files)",
            "check that file on its own",
        )
    return None


# --- rendering ------------------------------------------------------------------------------------


def render_check(report: CheckReport, from_command: int = 1, count: int = LISTED) -> str:
    """The report as plain text: verdict, problems, notes, commands, calls, policy and roots.

    Commands `from_command` … `from_command + count - 1` are listed one by one (all of them when
    the file has few more than `count`); the others in ranges of lines."""
    top = report.file
    lines = [_verdict(report)]
    if report.problems:
        lines += ["", f"Problems the run would hit ({len(report.problems)}):"]
        lines += [_finding_line(f) for f in report.problems]
    if report.notes:
        lines += ["", "Notes:"]
        lines += [_finding_line(f) for f in report.notes]
    if top.commands:
        lines += [
            "",
            f"Commands in {top.name} ({len(top.commands)}, each by the line it starts on):",
        ]
        lines += _command_lines(top.commands, from_command, count)
    calls = [(0, child) for child in top.children]
    if calls:
        lines += ["", "Do-files it calls:"]
    while calls:
        depth, child = calls.pop(0)
        lines.append("  " * depth + "- " + _call_line(child))
        if child.file is not None:
            calls[:0] = [(depth + 1, grandchild) for grandchild in child.file.children]
    lines += ["", f"Command policy: {report.policy}"]
    roots = "any path" if report.roots is None else ", ".join(str(r) for r in report.roots)
    lines.append(f"Allowed roots: {roots}")
    if report.folders:
        where = ", then ".join(str(f) for f in dict.fromkeys(report.folders))
        lines.append(f"Called do-files are looked for in {where}.")
    return "\n".join(lines)


def _verdict(report: CheckReport) -> str:
    top = report.file
    parts = [_count(len(top.commands), "command")]
    called = {child.written for child in top.children}
    if called:
        parts.append(f"calls {_count(len(called), 'do-file')}")
    if report.ok:
        head = "no problems found"
    else:
        head = f"{_count(len(report.problems), 'problem')} the run would hit"
    return f"Checked {top.name} without Stata: {head} · " + " · ".join(parts)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _finding_line(finding: Finding) -> str:
    where = finding.file if finding.line is None else f"{finding.file} line {finding.line}"
    fix = f" → {finding.fix}" if finding.fix else ""
    return f"- {where}: {finding.message}{fix}"


def _command_lines(commands: Sequence[CommandStart], first: int, count: int) -> list[str]:
    total = len(commands)
    first = min(max(first, 1), total)
    if total <= count + 10:
        return [_command_line(c) for c in commands]
    shown = range(first, min(first + count, total + 1))
    before, after = commands[: shown.start - 1], commands[shown.stop - 1 :]
    lines = _ranges(before)
    lines += [_command_line(commands[i - 1]) for i in shown]
    lines += _ranges(after)
    lines.append(
        f"  ({len(shown)} of {total:,} listed one by one; from_command=K lists {count} from "
        "command K)"
    )
    return lines


def _command_line(command: CommandStart) -> str:
    span = (
        f"{command.line}"
        if command.last_line == command.line
        else (f"{command.line}–{command.last_line}")
    )
    head = " ".join(command.head.split())  # tabs and runs of blanks: one space
    if len(head) > HEAD_WIDTH:
        head = head[: HEAD_WIDTH - 1] + "…"
    return f"{command.index:>5}. line {span}: {head}"


def _ranges(commands: Sequence[CommandStart]) -> list[str]:
    """Commands in at most ~20 rows: which commands start within which lines."""
    if not commands:
        return []
    size = max(10, math.ceil(len(commands) / 20))
    rows = []
    for i in range(0, len(commands), size):
        chunk = commands[i : i + size]
        rows.append(
            f"  commands {chunk[0].index}–{chunk[-1].index}: lines {chunk[0].line}–"
            f"{chunk[-1].last_line}"
        )
    return rows


def _shown(path: Path | None) -> str:
    """A path, and where it really leads when `..` or a link make that differ."""
    if path is None:
        return "?"
    real = os.path.realpath(path)
    return str(path) if real == str(path) else f"{path} (that is, {real})"


def _call_line(child: ChildCall) -> str:
    where = f"line {child.line}: {child.command} {child.written}"
    if child.status is ChildStatus.FOUND and child.file is not None:
        return f"{where} → {child.path} · {_count(len(child.file.commands), 'command')}"
    if child.status in (ChildStatus.CYCLE, ChildStatus.REPEATED, ChildStatus.TOO_DEEP):
        return f"{where} → {child.path} ({child.status.value})"
    if child.status is ChildStatus.OUTSIDE:
        return f"{where} → {_shown(child.path)} (outside the allowed roots)"
    return f"{where} → not found" + (" (under capture)" if child.captured else "")
