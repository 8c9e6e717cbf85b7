"""Classify the lines of a Stata text or SMCL log, one line at a time, without I/O.

Classification is syntactic: a line that looks like a command echo (". cmd") is an ECHO even if a
program displayed it; deciding which echoes are the user's commands is the tracker's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

__all__ = ["Kind", "LogLine", "LogParser", "parse_lines", "smcl_to_text", "strip_comments"]


class Kind(StrEnum):
    """What a log line is, as far as its shape and its neighbours tell."""

    HEADER = "header"
    FOOTER = "footer"
    ECHO = "echo"
    CONTINUATION = "continuation"
    LOOP_ECHO = "loop_echo"
    OUTPUT = "output"
    ERROR = "error"
    RETURN_CODE = "return_code"
    BREAK = "break"
    END_OF_DO = "end_of_do"
    BLANK = "blank"
    MATA = "mata"
    TIMING = "timing"  # `set rmsg on`: `r; t=0.02 10:59:06` after a command that succeeded


@dataclass(frozen=True, slots=True)
class LogLine:
    """One classified line; `text` is the payload with markers and SMCL tags removed."""

    kind: Kind
    text: str
    raw: str
    rc: int | None = None
    number: int | None = None


# --------------------------------------------------------------------------------------------
# SMCL rendering

RULE_WIDTH = 79
"""Width of `{.-}` and of a bare `{hline}`: the rule at Stata's default linesize of 80."""

_STYLES = {
    "txt": "txt",
    "text": "txt",
    "res": "res",
    "result": "res",
    "err": "err",
    "error": "err",
    "com": "com",
    "inp": "inp",
    "input": "inp",
    "cmd": "cmd",
}
_ECHO_STYLES = frozenset({"com", "inp"})
# Directives that only change the font: dropped, but `{bf:x}` keeps x.
_FONTS = frozenset({"bf", "it", "sf", "rm", "ul", "hi", "hilite", "ul on", "ul off"})
# Paragraph and layout directives that print nothing by themselves (help rendering shares them).
LAYOUT_DIRECTIVES = frozenset(
    {
        "p",
        "p_end",
        "pstd",
        "psee",
        "phang",
        "phang2",
        "phang3",
        "pmore",
        "pmore2",
        "pmore3",
        "pin",
        "pin2",
        "pin3",
        "p2colset",
        "p2colreset",
        "p2col",
        "p2line",
        "p2coldent",
        "synopt",
        "synoptset",
        "synopthdr",
        "synoptline",
        "smcl",
        "asis",
        "s6hlp",
        "marker",
        "reset",
    }
)
_SILENT = LAYOUT_DIRECTIVES | {"title"}
# Links and argument-style directives: show the text after ":" or else the arguments.
_LINKS = frozenset(
    {
        "help",
        "helpb",
        "manhelp",
        "manhelpi",
        "manlink",
        "manlinki",
        "mansection",
        "browse",
        "view",
        "search",
        "stata",
        "net",
        "ado",
        "update",
        "back",
        "dialog",
        "matacmd",
        "findalias",
        "opt",
        "opth",
        "cmdab",
        "var",
        "varname",
        "vars",
        "varlist",
        "depvar",
        "indepvars",
        "newvar",
        "ifin",
        "weight",
        "dtype",
        "hiabb",
    }
)
_BOX_CHARS = frozenset({"TLC", "TRC", "BLC", "BRC", "TT", "BT", "LT", "RT", "+"})
_NAMED_CHARS = {"-(": "{", ")-": "}", "S|": "$", "'g": "`", "|": "|", "-": "-", "+": "+"}


def _match_brace(s: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start`, or -1 if it is unbalanced (a literal brace)."""
    depth = 0
    for j in range(start, len(s)):
        ch = s[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _split_colon(content: str) -> tuple[str, str | None]:
    """Split `head:body` at the first colon outside nested braces and quotes."""
    depth = 0
    quoted = False
    for j, ch in enumerate(content):
        if ch == '"':
            quoted = not quoted
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ":" and depth == 0 and not quoted:
            return content[:j], content[j + 1 :]
    return content, None


MAX_SMCL_NUMBER = 1000
"""Widths and repeat counts beyond this are capped: a hostile `{hline 300000000}` stays small."""
MAX_RENDERED_WIDTH = 8192
"""`{dup}` stops repeating once a line is this wide (nested dups multiply)."""


def smcl_int(args: str, default: int) -> int:
    """A directive's leading number (ASCII digits only), capped; `default` when there is none."""
    first = args.split(maxsplit=1)[0] if args.strip() else ""
    if first.isascii() and first.isdigit():
        return min(int(first), MAX_SMCL_NUMBER)
    return default


def smcl_char(arg: str) -> str:
    arg = arg.strip()
    if arg in _NAMED_CHARS:
        return _NAMED_CHARS[arg]
    if arg in _BOX_CHARS:
        return "+"
    try:
        if arg.lower().startswith("0x"):
            return chr(int(arg, 16))
        if arg.startswith("#"):
            return chr(int(arg[1:]))
    except ValueError:
        return ""
    return arg if len(arg) == 1 else ""


class _Renderer:
    """Renders SMCL into plain text while recording which style each piece was drawn in."""

    __slots__ = ("pieces", "style", "width")

    def __init__(self, style: str) -> None:
        self.pieces: list[tuple[str, str]] = []
        self.style = style
        self.width = 0

    def emit(self, text: str) -> None:
        if text:
            self.pieces.append((text, self.style))
            self.width += len(text)

    def render(self, s: str) -> None:
        i = 0
        n = len(s)
        while i < n:
            brace = s.find("{", i)
            if brace < 0:
                self.emit(s[i:])
                return
            self.emit(s[i:brace])
            close = _match_brace(s, brace)
            if close < 0:
                self.emit(s[brace:])
                return
            self.directive(s[brace + 1 : close], s[brace : close + 1])
            i = close + 1

    def scoped(self, body: str, style: str | None = None) -> None:
        saved = self.style
        if style is not None:
            self.style = style
        self.render(body)
        self.style = saved

    def directive(self, content: str, literal: str) -> None:
        name, _, rest = content.strip().partition(" ")
        if name in ("c", "char"):
            self.emit(smcl_char(rest))
            return
        head, body = _split_colon(content)
        name, _, args = head.strip().partition(" ")
        args = args.strip()
        if name in _STYLES:
            if body is None:
                self.style = _STYLES[name]
            else:
                self.scoped(body, _STYLES[name])
        elif name in _FONTS:
            if body is not None:
                self.scoped(body)
        elif name == "hline":
            self.emit("-" * smcl_int(args, max(RULE_WIDTH - self.width, 0)))
        elif name == ".-":
            self.emit("-" * max(RULE_WIDTH - self.width, 0))
        elif name == "col":
            self.emit(" " * max(smcl_int(args, 1) - 1 - self.width, 0))
        elif name == "space":
            self.emit(" " * smcl_int(args, 1))
        elif name == "dup" and body is not None:
            for _ in range(smcl_int(args, 1)):
                if self.width > MAX_RENDERED_WIDTH:
                    break
                self.render(body)
        elif name in ("ralign", "lalign", "center", "centre") and body is not None:
            inner = _Renderer(self.style)
            inner.render(body)
            text = "".join(t for t, _ in inner.pieces)
            width = smcl_int(args, len(text))
            aligned = {"ralign": text.rjust, "lalign": text.ljust}.get(name, text.center)(width)
            self.emit(aligned)
        elif name in _SILENT:
            if body is not None:
                self.scoped(body)
        elif name in _LINKS:
            if body is not None:
                self.scoped(body)
            else:
                self.emit(args.strip('"'))
        else:
            self.emit(literal)

    def text(self) -> str:
        return "".join(t for t, _ in self.pieces)

    def style_at(self, index: int) -> str | None:
        pos = 0
        for text, style in self.pieces:
            pos += len(text)
            if index < pos:
                return style
        return None


def smcl_to_text(line: str) -> str:
    """Render one SMCL line as the text Stata shows, so SMCL and text logs classify alike."""
    renderer = _Renderer("txt")
    renderer.render(line)
    return renderer.text()


# --------------------------------------------------------------------------------------------
# Classification

_RMSG = r"(?:\s+t=\s*\d+(?:\.\d*)?\s+\d\d?:\d\d:\d\d)"
# `set rmsg on` adds the time to a return code, `r(1); t=519.16 10:59:06`, and prints
# `r; t=0.02 10:59:06` after every command that succeeds.
_RC = re.compile(rf"r\((\d+)\);{_RMSG}?\s*")
_TIMING = re.compile(rf"r;{_RMSG}\s*")
_BREAK = re.compile(r"[.\dxen ]*--Break--\s*")  # may be glued to the end of a line of dots
# First characters of every line kind but plain output in a text log: blanks and labels start
# with a space, rules and --Break-- with "-", echoes ".", continuations ">", r(NNN); "r",
# "end of do-file" "e", Mata ":"; SMCL "{".
_NOT_PLAIN_FIRST = frozenset(" \t\f\v.>-re:{")
_RULE = re.compile(r"-{20,}\s*")
_MATA_RULE = re.compile(r"-+ mata \(type end to exit\) -+\s*")
_LABEL = re.compile(r"( *)(name|log|log type|opened on|closed on):(?:\s|$)")
_NUMBERED = re.compile(r" *(\d+)\.(?: (.*))?")
_PREFIX = re.compile(
    r"(?:(?:cap|capt|captu|captur|capture|qui|quie|quiet|quietl|quietly"
    r"|n|no|noi|nois|noisi|noisil|noisily)\s*:?\s+)+"
)
_BLOCK_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)  # an unclosed one runs to the end
_LINE_COMMENT = re.compile(r"(?:^|(?<=\s))//.*$", re.M)
_LOG_USING = re.compile(r"(?:^|\s|:)(?:cmd)?log\s+using\b")
_ECHOED = frozenset({Kind.ECHO, Kind.CONTINUATION, Kind.LOOP_ECHO})
_ECHO, _CONTINUATION, _OUTPUT, _ERROR = Kind.ECHO, Kind.CONTINUATION, Kind.OUTPUT, Kind.ERROR
_PROGRAM_WORDS = frozenset({"pr", "pro", "prog", "progr", "progra", "program"})
_NOT_DEFINE_WORDS = frozenset({"drop", "dir", "l", "li", "lis", "list"})
_INPUT_WORDS = frozenset({"inp", "inpu", "input"})


def strip_comments(pieces: Sequence[str]) -> str:
    """An echoed line and its `> ` continuations without comments: `/* */` may span pieces,
    `//` ends its piece (a `///` continuation's next line is the next piece)."""
    joined = _BLOCK_COMMENT.sub(" ", "\n".join(pieces))
    return _LINE_COMMENT.sub("", joined).replace("\n", " ").strip()


def _code(pieces: list[str]) -> str:
    """A command without comments and prefixes, for deciding whether it opens a block."""
    code = strip_comments(pieces)
    match = _PREFIX.match(code)
    return code[match.end() :] if match else code


def _is_empty(pieces: list[str]) -> bool:
    """A body line that holds no command: blank, a comment, or a `*` comment line."""
    code = strip_comments(pieces)
    return not code or code.startswith("*")


@dataclass(slots=True)
class _Block:
    """An echoed block body: numbered lines until `}` (at depth 0) or `end`.

    After a numbered line that holds no command (blank or comment), Stata echoes the following
    lines as `. cmd` with no number up to the next command; numbering then resumes."""

    ends_with: str  # "}" for braces, "end" for program define and input
    expected: int | None  # next line number; None = take the first one seen (input)
    depth: int = 1
    tolerant: bool = False  # input: output (the varname header) may come between rows
    pieces: list[str] = field(default_factory=list)  # the latest body line and its continuations
    opened: bool = False  # the latest body line ended in `{` (depth already counted)


def _opens_block(pieces: list[str]) -> _Block | None:
    code = _code(pieces)
    if code.endswith("{"):
        return _Block(ends_with="}", expected=2)
    words = code.split()
    if not words:
        return None
    if words[0] in _PROGRAM_WORDS and len(words) > 1 and words[1] not in _NOT_DEFINE_WORDS:
        return _Block(ends_with="end", expected=1)  # program [define] name
    if words[0] in _INPUT_WORDS:
        return _Block(ends_with="end", expected=None, tolerant=True)
    return None


def _plain_indented(raw: str) -> bool:
    """A line starting with a blank that can only be output (table rows): not blank, not a
    header label (their colon is by column 11), not a break (numbered echoes matter only
    inside a block, where this is not asked)."""
    return ":" not in raw[:12] and not raw.isspace() and not raw.rstrip().endswith("--Break--")


def _wrapped_output(raw: str) -> bool:
    """A `> ` line after output is that output wrapped at the line size (half the lines of a
    log of long `display` lines), unless it is a break."""
    return (raw == ">" or raw.startswith("> ")) and not raw.rstrip().endswith("--Break--")


class LogParser:
    """Stateful: headers, SMCL mode (sniffed from a first line "{smcl}", never from the file name),
    block echoes and Mata mode all depend on earlier lines. Feed one parser per file."""

    shortcut: ClassVar[bool] = True  # plain output settled at once (tests compare both ways)

    def __init__(self) -> None:
        self._first = True
        self._smcl = False
        self._style = "txt"
        self._prev: Kind | None = None
        self._expect_header = True  # at the start of the file and after a footer
        self._label_block: Kind | None = None  # inside name:/log:/log type:/... lines
        self._last_label = ""
        self._closing_rule = False  # a "closed on:" line was just seen
        self._after_footer = False  # SMCL: "{smcl}" and tag-only lines after the rule
        self._mata = False
        self._mata_end = False
        self._block: _Block | None = None
        self._echo: list[str] = []  # the latest top-level echo and its continuations
        self._rule_before = False  # the previous non-blank line was a dash rule
        self._log_using = False  # the newest top-level echo is a `log using`
        self._output_since_command = False

    @property
    def smcl(self) -> bool:
        """Whether the log is SMCL (decided by its first line)."""
        return self._smcl

    def feed(self, line: str) -> LogLine:
        """Classify the next line of the log (a trailing "\\r" or "\\n" is ignored)."""
        raw = line.rstrip("\r\n")
        if self._first:
            self._first = False
            raw = raw.removeprefix("\ufeff")
            if raw.strip() == "{smcl}":
                self._smcl = True
                return self._emit(Kind.HEADER, "", raw)
        elif (
            raw
            and self.shortcut
            and (
                raw[0] not in _NOT_PLAIN_FIRST
                or (raw[0] == " " and _plain_indented(raw))
                or (raw[0] == ">" and self._prev is Kind.OUTPUT and _wrapped_output(raw))
            )
            and not self._smcl
            and self._block is None
            and self._label_block is None
            and not (self._mata or self._after_footer or self._closing_rule or self._expect_header)
        ):  # the bulk of a big log: plain text output, settled without the full classification
            self._prev = Kind.OUTPUT
            self._output_since_command = True
            self._rule_before = False
            if self._echo:
                self._echo = []
            return LogLine(Kind.OUTPUT, raw, raw)
        if self._smcl:
            renderer = _Renderer(self._style)
            renderer.render(raw)
            self._style = renderer.style
            text = renderer.text()
            stripped = text.lstrip()
            first_style = renderer.style_at(len(text) - len(stripped)) if stripped else None
            echo_style = renderer.style_at(0) in _ECHO_STYLES
        else:
            text, first_style, echo_style = raw, None, True
        return self._classify(text, raw, first_style, echo_style)

    def _emit(
        self, kind: Kind, text: str, raw: str, *, rc: int | None = None, number: int | None = None
    ) -> LogLine:
        self._prev = kind
        if self._echo and kind is not _ECHO and kind is not _CONTINUATION:
            self._echo = []
        if kind is _OUTPUT or kind is _ERROR:
            self._output_since_command = True
        return LogLine(kind, text, raw, rc=rc, number=number)

    def _classify(self, text: str, raw: str, first_style: str | None, echo_style: bool) -> LogLine:
        blank = not text.strip()

        # SMCL leaves "{smcl}" and a tag-only line after the footer rule.
        if self._after_footer:
            if raw.strip() and (blank or raw.strip() == "{smcl}"):
                return self._emit(Kind.FOOTER, text, raw)
            self._after_footer = False
        if self._closing_rule:
            self._closing_rule = False
            if _RULE.fullmatch(text):
                self._after_footer = self._smcl
                self._expect_header = True
                return self._emit(Kind.FOOTER, text, raw)

        if blank:
            self._label_block = None
            if self._block is not None and not self._block.tolerant:
                self._block = None
            return self._emit(Kind.BLANK, text, raw)

        if self._label_block is not None or ":" in text[:12]:  # labels end by column 11
            label = self._header_or_footer(text, raw)
            if label is not None:
                return label
            self._label_block = None

        if self._expect_header:
            self._expect_header = False
            if _RULE.fullmatch(text):
                self._label_block = Kind.HEADER
                self._last_label = ""
                return self._emit(Kind.HEADER, text, raw)
        self._rule_before = text[0] == "-" and _RULE.fullmatch(text) is not None

        if self._mata:
            mata = self._in_mata(text, raw, echo_style)
            if mata is not None:
                return mata

        stripped = text.rstrip()
        if text[0] == "r":
            rc = _RC.fullmatch(text)
            if rc:
                self._block = None
                code = rc.group(1)
                return self._emit(Kind.RETURN_CODE, f"r({code});", raw, rc=int(code))
            if _TIMING.fullmatch(text):
                return self._emit(Kind.TIMING, stripped, raw)
        if stripped.endswith("--Break--") and _BREAK.fullmatch(text):
            self._block = None
            return self._emit(Kind.BREAK, stripped, raw)
        if stripped == "end of do-file":
            self._block = None
            self._mata = self._mata_end = False
            return self._emit(Kind.END_OF_DO, stripped, raw)

        if self._block is not None:
            numbered = self._in_block(text, raw, echo_style)
            if numbered is not None:
                return numbered

        if text.startswith(". ") and echo_style:
            command = text[2:]
            self._echo = [command]
            self._log_using = _LOG_USING.search(command) is not None
            self._output_since_command = False
            self._block = _opens_block(self._echo)
            self._expect_header = self._log_using
            return self._emit(Kind.ECHO, command, raw)
        if (text.startswith("> ") or text == ">") and self._prev in _ECHOED:
            more = text[2:]
            if self._echo:  # a top-level echo goes on: its `{` may come only now
                self._echo.append(more)
                if len(self._echo) == 2 and not self._log_using:  # wrapped inside `log using`
                    self._log_using = _LOG_USING.search("".join(self._echo)) is not None
                self._expect_header = self._log_using
                if self._block is None and "{" in more:
                    self._block = _opens_block(self._echo)
            return self._emit(Kind.CONTINUATION, more, raw)
        if text[0] == "-" and _MATA_RULE.fullmatch(text):
            self._mata = True
            self._mata_end = False
            self._block = None
            return self._emit(Kind.MATA, text, raw)
        if first_style == "err":
            return self._emit(Kind.ERROR, text, raw)
        return self._emit(Kind.OUTPUT, text, raw)

    def _header_or_footer(self, text: str, raw: str) -> LogLine | None:
        """name:/log:/log type:/opened on:/closed on: lines, and the `> ` wrap of a long value."""
        if self._label_block is not None and self._last_label == "log" and text.startswith("> "):
            return self._emit(self._label_block, text[2:], raw)
        match = _LABEL.match(text)
        if match is None or len(match.group(1)) + len(match.group(2)) != 10:
            return None
        label = match.group(2)
        if label in ("name", "log") and self._last_label in ("opened on", "closed on"):
            self._label_block = None  # a header's block is complete: the next one starts afresh
        if self._label_block is None:
            if label not in ("name", "log"):
                return None
            # A header's labels follow its dash rule (printed as output when it came late, as
            # after `log using` run in a loop); a footer's labels come first.
            opening = self._log_using and not self._output_since_command
            self._label_block = Kind.HEADER if opening or self._rule_before else Kind.FOOTER
        if label == "opened on":
            self._label_block = Kind.HEADER
        elif label == "closed on":
            self._label_block = Kind.FOOTER
            self._closing_rule = True
        self._last_label = label
        self._rule_before = False
        self._expect_header = False
        self._block = None
        return self._emit(self._label_block, text, raw)

    def _in_mata(self, text: str, raw: str, echo_style: bool) -> LogLine | None:
        if self._mata_end:
            self._mata = self._mata_end = False
            if _RULE.fullmatch(text):
                return self._emit(Kind.MATA, text, raw)
            return None
        if text.startswith(": ") or text == ":":
            if text[2:].strip() == "end":
                self._mata_end = True
            return self._emit(Kind.MATA, text[2:], raw)
        if (text.startswith("> ") or text == ">") and self._prev is Kind.MATA:
            return self._emit(Kind.MATA, text[2:], raw)
        if text.startswith(". ") and echo_style:
            self._mata = False  # Stata's prompt is back: Mata mode ended without its rule
        return None

    def _in_block(self, text: str, raw: str, echo_style: bool) -> LogLine | None:
        block = self._block
        assert block is not None
        match = _NUMBERED.fullmatch(text)
        if match is not None:
            number = int(match.group(1))
            if block.expected is None or number == block.expected:
                block.expected = number + 1
                return self._body_line(block, match.group(2) or "", raw, number)
        if (text.startswith("> ") or text == ">") and self._prev in _ECHOED:
            if block.pieces:
                block.pieces.append(text[2:])
                self._count_braces(block, opened_only=True)
            return self._emit(Kind.CONTINUATION, text[2:], raw)
        unnumbered = text.startswith(". ") and echo_style
        if unnumbered and block.pieces and _is_empty(block.pieces) and self._prev in _ECHOED:
            return self._body_line(block, text[2:], raw, None)
        if not block.tolerant:
            self._block = None
        return None

    def _body_line(self, block: _Block, body: str, raw: str, number: int | None) -> LogLine:
        block.pieces = [body]
        block.opened = False
        if block.ends_with == "end":
            if strip_comments(block.pieces) == "end":
                self._block = None
        else:
            self._count_braces(block, opened_only=False)
        return self._emit(Kind.LOOP_ECHO, body, raw, number=number)

    def _count_braces(self, block: _Block, *, opened_only: bool) -> None:
        """Stata's rule: `}` only first on a line, `{` only last (it may come on a `> ` line)."""
        if block.ends_with != "}":
            return
        code = strip_comments(block.pieces)
        if not opened_only and code.startswith("}"):
            block.depth -= 1
        if code.endswith("{") and not block.opened:
            block.opened = True
            block.depth += 1
        if block.depth <= 0:
            self._block = None


def parse_lines(lines: Iterable[str]) -> list[LogLine]:
    """Classify a whole log (one fresh parser)."""
    parser = LogParser()
    return [parser.feed(line) for line in lines]
