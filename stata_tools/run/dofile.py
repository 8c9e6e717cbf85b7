"""Split a do-file into the top-level commands Stata echoes, each with its exact source lines.

Progress is "command k of N" and the log echoes each command as ``. <first physical line>``, so
this reads a do-file the way Stata's reader does: comments, ``///``, ``#delimit ;`` and blocks.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "LINE_BREAK",
    "Command",
    "DoFileError",
    "Scanner",
    "SyntaxProblem",
    "decode_source",
    "scan_commands",
    "split_commands",
]


class DoFileError(ValueError):
    """A do-file Stata itself would reject before running (message names the line)."""

    line: int | None

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Command:
    """One top-level command: the unit Stata echoes with ``. `` and the tracker counts."""

    index: int
    first_line: int
    last_line: int
    lines: tuple[str, ...]
    text: str
    is_block: bool
    column: int = 0  # where it starts on first_line when `#delimit ;` put other text before it

    @property
    def head(self) -> str:
        """What Stata echoes after ``. ``: the command's first physical line."""
        return self.lines[0][self.column :].strip() if self.lines else ""

    @property
    def name(self) -> str:
        """The command word ("regress", "foreach", "capture", ...), for policy checks."""
        found = _NAME.match(self.text)
        return found.group() if found else ""


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A structural mistake the run would trip on, found without Stata, with the line it starts on.

    `fatal` ones make `split_commands` give up (no command count); the others leave it a count."""

    line: int
    kind: str  # stray-brace, unclosed-brace, unclosed-end, unclosed-comment, unclosed-string,
    #            open-statement
    message: str
    fatal: bool = False


def decode_source(data: bytes) -> tuple[str, str]:
    """Bytes → (text, encoding): BOM stripped, UTF-8 when valid, else cp1252/latin-1 (old Stata)."""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        return body.decode("utf-8"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned in cp1252
        return body.decode("latin-1"), "latin-1"


def split_commands(text: str) -> list[Command]:
    """Top-level commands of a do-file or a code snippet, in order; DoFileError when the blocks
    do not balance (then no count can be trusted)."""
    commands, problems = scan_commands(text)
    for problem in problems:
        if problem.fatal:
            raise DoFileError(f"line {problem.line}: {problem.message}", problem.line)
    return commands


def scan_commands(text: str) -> tuple[list[Command], list[SyntaxProblem]]:
    """The commands as far as they can be read, and every structural problem met on the way.

    A stray `}` is skipped and an unclosed block runs to the end of the text, so one mistake does
    not hide the next."""
    lines = LINE_BREAK.split(text) if text else []
    if lines and lines[-1] == "":
        lines.pop()  # the break that ends the last line does not start another
    commands: list[Command] = []
    reader = _Reader(Scanner(lines))
    for statements, is_block in reader.units():
        first, last = statements[0], statements[-1]
        commands.append(
            Command(
                index=len(commands) + 1,
                first_line=first.first + 1,
                last_line=last.last + 1,
                lines=tuple(lines[first.first : last.last + 1]),
                text=_flatten(statements),
                is_block=is_block,
                column=first.column,
            )
        )
    return commands, reader.problems


# --- lexical level: physical lines → statements --------------------------------------------------

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANKS = " \t\f\v"  # what Stata treats as blanks inside a line
_PLAIN = re.compile(r'[^ \t\f\v/"`;]+')  # runs with nothing the reader must look at
_COMMENT_MARK = re.compile(r"/\*|\*/")
_COMPOUND_MARK = re.compile(r"`\"|\"'")
_DELIMIT = re.compile(r"[ \t\f\v]*#d(?:e(?:l(?:i(?:m(?:i(?:t)?)?)?)?)?)?(?![A-Za-z0-9_])(.*)")
_NAME = re.compile(r"[^\s:,;{(=\"]+")


@dataclass(slots=True)
class _Statement:
    """One command as the reader sees it, before blocks group statements together."""

    first: int  # 0-based line index
    last: int
    column: int
    text: str
    opens_brace: bool  # ends with a `{` outside any string
    open_string: int | None = None  # 0-based line where a string was left open, if one was
    unterminated: bool = False  # under `#delimit ;`, ended by the end of text or a `#delimit`


class _Builder:
    """Accumulates a statement's executable text, collapsing blanks outside strings."""

    __slots__ = (
        "first_col",
        "first_row",
        "in_string",
        "last_row",
        "open_string",
        "parts",
        "space",
    )

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.space = False
        self.first_row = self.first_col = self.last_row = 0
        self.in_string = False  # whether the last text added belongs to a string
        self.open_string: int | None = None  # first line that ended inside a string

    def blank(self) -> None:
        self.space = bool(self.parts)

    def add(self, chunk: str, row: int, col: int, *, in_string: bool = False) -> None:
        if not self.parts:
            self.first_row, self.first_col = row, col
        elif self.space:
            self.parts.append(" ")
        self.space = False
        self.parts.append(chunk)
        self.last_row = row
        self.in_string = in_string

    def statement(self, first: int, last: int, column: int) -> _Statement:
        text = "".join(self.parts).rstrip(_BLANKS)  # blanks stay only inside closed strings
        opens = text.endswith("{") and not text.endswith("${") and not self.in_string
        return _Statement(first, last, column, text, opens, self.open_string)

    def start(self, lines: list[str]) -> tuple[int, int]:
        """Row and column where the text began; column 0 when only blanks precede it."""
        before = lines[self.first_row][: self.first_col]
        return self.first_row, self.first_col if before.strip(_BLANKS) else 0


class Scanner:
    """Physical lines → statements: strips comments, joins `///`, honours `#delimit ;`.

    Public for readers that need every statement with its own line (the command policy)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.row = 0
        self.col = 0
        self.semicolon = False  # `#delimit ;` in force
        self.depth = 0  # nesting of `/* */`, which may span lines and statements
        self.comment_row = 0  # where the outermost open `/*` began
        self.pushed: _Statement | None = None

    def raw_line(self) -> _Statement | None:
        """The next whole physical line, unlexed: python blocks are not Stata code."""
        if self.col:
            self.row, self.col = self.row + 1, 0
        if self.row >= len(self.lines):
            return None
        row, self.row, self.depth = self.row, self.row + 1, 0
        return _Statement(row, row, 0, " ".join(self.lines[row].split()), False)

    def statement(self) -> _Statement | None:
        """The next statement (possibly empty: comment-only), or None at end of text."""
        if self.pushed is not None:
            statement, self.pushed = self.pushed, None
            return statement
        built = _Builder()
        begin: int | None = None
        while self.row < len(self.lines):
            row, line = self.row, self.lines[self.row]
            if self.col == 0 and self.depth == 0 and (directive := _DELIMIT.match(line)):
                if built.parts:  # a command left open by `///` or a missing `;` ends here
                    return self._flush(built, begin, row - 1, unterminated=self.semicolon)
                self.semicolon = directive.group(1).lstrip().startswith(";")
                self.row, begin, built = row + 1, None, _Builder()
                continue
            if begin is None:
                begin = row
            continued, ended_at = self._scan(line, row, built)
            if ended_at is not None:  # `;` in semicolon mode
                self.col = ended_at + 1
                first, column = built.start(self.lines) if built.parts else (row, 0)
                return built.statement(first, row, column)
            self.row, self.col = row + 1, 0
            if self.semicolon:  # a line ending in `{`, or a lone `}`, needs no `;`
                first, column = built.start(self.lines) if built.parts else (row, 0)
                candidate = built.statement(first, row, column)
                if candidate.opens_brace or candidate.text == "}":
                    return candidate
                built.blank()
            elif self.depth or continued:
                built.blank()
            else:
                return built.statement(begin, row, 0)
        if not built.parts:
            return None
        return self._flush(built, begin, len(self.lines) - 1, unterminated=self.semicolon)

    def _flush(
        self, built: _Builder, begin: int | None, row: int, *, unterminated: bool = False
    ) -> _Statement:
        if self.semicolon:
            first, column = built.start(self.lines)
            statement = built.statement(first, built.last_row, column)
        else:
            statement = built.statement(row if begin is None else begin, row, 0)
        statement.unterminated = unterminated
        return statement

    def _scan(self, line: str, row: int, built: _Builder) -> tuple[bool, int | None]:
        """Lex the rest of one physical line into `built`: (continues with `///`, `;` column)."""
        j, n = self.col, len(line)
        strings: list[str] = []  # open `"` and `` `" `` (compound strings nest); never cross lines
        while j < n:
            if self.depth:
                mark = _COMMENT_MARK.search(line, j)
                if mark is None:
                    return False, None
                j = mark.end()
                if mark.group() == "/*":
                    self.depth += 1
                elif line.startswith("*", j):  # `*/*` closes one comment and opens the next
                    j += 1
                else:
                    self.depth -= 1
                continue
            if strings:
                if strings[-1] == '"':
                    close = line.find('"', j)
                    stop = n if close < 0 else close + 1
                    built.add(line[j:stop], row, j, in_string=True)
                    if close >= 0:
                        strings.pop()
                    j = stop
                    continue
                mark = _COMPOUND_MARK.search(line, j)
                stop = n if mark is None else mark.end()
                built.add(line[j:stop], row, j, in_string=True)
                if mark is not None:
                    if mark.group() == '`"':
                        strings.append('`"')
                    else:
                        strings.pop()
                j = stop
                continue
            plain = _PLAIN.match(line, j)
            if plain is not None:
                built.add(plain.group(), row, j)
                j = plain.end()
                continue
            char = line[j]
            if line.startswith("//", j) and (j == 0 or line[j - 1] in _BLANKS):
                built.blank()  # `//` comment; `///` also continues the command on the next line
                return line.startswith("///", j) and not self.semicolon, None
            if line.startswith("/*", j):
                built.blank()
                self.depth, j, self.comment_row = 1, j + 2, row
            elif char == '"' or line.startswith('`"', j):
                strings.append('"' if char == '"' else '`"')
                built.add(strings[-1], row, j, in_string=True)
                j += len(strings[-1])
            elif char == ";" and self.semicolon:
                return False, j
            elif char in _BLANKS:
                built.blank()
                j += 1
            else:
                built.add(char, row, j)
                j += 1
        if strings and built.open_string is None and not self.semicolon:
            built.open_string = row  # not judged under `#delimit ;`, where lines join
        return False, None


# --- block level: statements → top-level commands -------------------------------------------------


def _abbreviations(word: str, shortest: int) -> frozenset[str]:
    return frozenset(word[:size] for size in range(shortest, len(word) + 1))


_PREFIXES = (
    _abbreviations("capture", 3) | _abbreviations("quietly", 3) | _abbreviations("noisily", 1)
)
_PROGRAM = _abbreviations("program", 2)
_PROGRAM_ONE_LINERS = _abbreviations("list", 1) | {"dir", "drop"}  # `program drop x`: no block
_INPUT = _abbreviations("input", 3)
_MATA_OR_PYTHON = re.compile(r"(mata|python)\s*:?")
_END = re.compile(r"end(?: (?://|/\*).*)?")
_IF = re.compile(r"if\b")
_ELSE = re.compile(r"else\b")


def _opener(statement: _Statement) -> str | None:
    """Which block a statement opens: "{", "program", "mata", "python", "input", or None."""
    if statement.opens_brace:
        return "{"
    words = statement.text.split(" ")
    while len(words) > 1 and words[0].rstrip(":") in _PREFIXES:
        words = words[1:]
    if words[0] in _PROGRAM:
        return "program" if len(words) > 1 and words[1] not in _PROGRAM_ONE_LINERS else None
    if words[0] in _INPUT:
        return "input"
    alone = _MATA_OR_PYTHON.fullmatch(" ".join(words))  # `mata: stmt` is a one-line command
    return alone.group(1) if alone else None


class _Reader:
    """Groups statements into top-level commands: `{ }` blocks, `... end` blocks, if/else chains.

    Structural mistakes go to `problems`; reading goes on past each one."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.problems: list[SyntaxProblem] = []

    def units(self) -> Iterator[tuple[list[_Statement], bool]]:
        while (statement := self._next()) is not None:
            if statement.text.startswith("}"):
                self._problem(statement.first, "stray-brace", _STRAY, fatal=True)
                if not statement.opens_brace:
                    continue  # skipped; `} else {` still opens a block, read as one
            is_block = _opener(statement) is not None
            statements = self._unit(statement)
            if statement.opens_brace and _IF.match(statement.text):
                while statements[-1].text.startswith("}"):  # an `else` on the next line
                    following = self._next()
                    if following is None:
                        break
                    if not _ELSE.match(following.text):
                        self.scanner.pushed = following
                        break
                    statements += self._unit(following)
            yield statements, is_block
        if self.scanner.depth:
            message = "`/*` is never closed by `*/`: the rest of the file is a comment"
            self._problem(self.scanner.comment_row, "unclosed-comment", message)

    def _problem(self, row: int, kind: str, message: str, *, fatal: bool = False) -> None:
        self.problems.append(SyntaxProblem(row + 1, kind, message, fatal))

    def _next(self, *, star_comments: bool = True) -> _Statement | None:
        """The next statement with executable text; `*` lines are comments outside Mata."""
        while (statement := self.scanner.statement()) is not None:
            if statement.text and not (star_comments and statement.text.startswith("*")):
                if statement.open_string is not None:
                    message = 'a string opened on this line is never closed (a `"` or `` `" `` '
                    self._problem(statement.open_string, "unclosed-string", message + "alone)")
                if statement.unterminated:
                    message = "this command has no `;` to end it under `#delimit ;`"
                    self._problem(statement.first, "open-statement", message)
                return statement
        return None

    def _unit(self, statement: _Statement) -> list[_Statement]:
        kind = _opener(statement)
        if kind is None:
            return [statement]
        if kind == "{":
            return self._braces(statement)
        return self._until_end(statement, kind)

    def _braces(self, opener: _Statement) -> list[_Statement]:
        statements, open_rows = [opener], [opener.first]
        while open_rows:
            statement = self._next()
            if statement is None:
                for row in reversed(open_rows):  # the innermost first: that is what failed
                    self._problem(row, "unclosed-brace", _UNCLOSED, fatal=True)
                return statements
            if statement.text.startswith("}"):
                open_rows.pop()
                if statement.opens_brace:  # `} else {`
                    open_rows.append(statement.first)
                statements.append(statement)
                continue
            kind = _opener(statement)
            if kind is None:
                statements.append(statement)
            elif kind == "{":
                open_rows.append(statement.first)
                statements.append(statement)
            else:
                statements += self._until_end(statement, kind)
        return statements

    def _until_end(self, opener: _Statement, kind: str) -> list[_Statement]:
        """A program, Mata, Python or input block: everything up to the first `end`."""
        statements = [opener]
        open_rows: list[int] = []  # braces inside a program body, which Stata reads when it runs
        while True:
            if kind == "python":
                statement = self.scanner.raw_line()
            else:
                statement = self._next(star_comments=kind == "program")
            if statement is None:
                what = opener.text if len(opener.text) <= 60 else opener.text[:59] + "…"
                message = f"`{what}` is never closed by `end`"
                self._problem(opener.first, "unclosed-end", message, fatal=True)
                return statements
            statements.append(statement)
            if _END.fullmatch(statement.text):
                for row in reversed(open_rows):
                    message = f"{_UNCLOSED} before `end` on line {statement.first + 1}"
                    self._problem(row, "unclosed-brace", message)
                return statements
            if kind != "program":
                continue
            if statement.text.startswith("}"):
                if open_rows:
                    open_rows.pop()
                else:
                    self._problem(statement.first, "stray-brace", _STRAY)
            if statement.opens_brace:
                open_rows.append(statement.first)


_STRAY = "`}` closes a block that was never opened"
_UNCLOSED = "`{` is never closed by a `}`"


def _flatten(statements: list[_Statement]) -> str:
    """One line for a whole block: `foreach x in a b { display 1; display 2 }`."""
    texts = [statement.text for statement in statements if statement.text]
    joined = texts[0]
    for previous, text in itertools.pairwise(texts):
        opener = previous.endswith(("{", ":")) or previous in ("mata", "python")
        tight = opener or text.startswith("}") or _ELSE.match(text)
        joined += (" " if tight else "; ") + text
    return joined
