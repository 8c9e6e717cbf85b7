"""Render Stata help files (SMCL) as Markdown a model reads well.

Help files are written for Stata's Viewer: paragraphs reflow, `{synopt}` rows form two-column
tables, and text outside paragraphs is shown line by line exactly as typed. The Markdown keeps
what carries meaning (headings, `code`, option lists, example commands, tables drawn with
`{col}`) and drops what only drives the Viewer (menus, markers, comments).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from stata_tools.run.logs.parse import (
    LAYOUT_DIRECTIVES,
    MAX_RENDERED_WIDTH,
    RULE_WIDTH,
    smcl_char,
    smcl_int,
)

__all__ = ["smcl_to_markdown"]


# --------------------------------------------------------------------------------------------
# Inline rendering: SMCL text → styled runs

_MAX_DEPTH = 40
"""Directives nested deeper than this are shown as written (keeps hostile input off the stack)."""

_CODE, _EM, _STRONG, _LINK, _BREAK = "code", "em", "strong", "link", "break"

_NAME = re.compile(r"\s*(\*|(?:\.\.\.|\.-|[A-Za-z][A-Za-z0-9_]*)(?=$|[\s:]))")
_URL = re.compile(r"(?:https?|ftp|mailto):\S+", re.IGNORECASE)

_STYLE_OF = {
    "cmd": _CODE,
    "com": _CODE,
    "inp": _CODE,
    "input": _CODE,
    "bf": _STRONG,
    "hi": _STRONG,
    "hilite": _STRONG,
    "title": _STRONG,
    "dlgtab": _STRONG,
    "syntab": _STRONG,
    "it": _EM,
}
# Style and layout directives whose `:text` is shown in the surrounding style.
_PLAIN_BODY = LAYOUT_DIRECTIVES | {
    "txt",
    "text",
    "res",
    "result",
    "err",
    "error",
    "sf",
    "rm",
    "ul",
    "bind",
    "viewerjumpto",
    "vieweralsosee",
    "viewerdialog",
}
_HEADINGS = frozenset({"title", "dlgtab", "syntab"})
_ALIGN = frozenset({"ralign", "lalign", "center", "centre", "right"})
_PLACEHOLDERS = {
    "var": "varname",
    "varname": "varname",
    "vars": "varlist",
    "varlist": "varlist",
    "depvar": "depvar",
    "depvars": "depvarlist",
    "depvarlist": "depvarlist",
    "indepvars": "indepvars",
    "newvar": "newvar",
    "newvarlist": "newvarlist",
}
_BRACKETED = {"ifin": ("if", "in"), "weight": ("weight",), "dtype": ("type",)}
_TEXT_LINKS = frozenset(
    {"view", "net", "ado", "update", "back", "search", "dialog", "matacmd", "findalias", "manpage"}
)


_KNOWN = frozenset(
    {"*", "...", ".-", "c", "char", "opt", "opth", "cmdab", "help", "helpb", "browse", "stata"}
    | {"manhelp", "manhelpi", "manlink", "manlinki", "mansection", "hline", "col", "space"}
    | {"break", "dup"}
    | set(_STYLE_OF)
    | _PLAIN_BODY
    | _ALIGN
    | _TEXT_LINKS
    | set(_PLACEHOLDERS)
    | set(_BRACKETED)
)


@dataclass(frozen=True, slots=True)
class _Run:
    """A piece of rendered text in one style; `url` is set for links to the web."""

    text: str
    style: str = ""
    url: str = ""


def _nest(outer: str, inner: str) -> str:
    """Markdown cannot style inside a code span, so code wins; otherwise the inner style does."""
    return _CODE if outer == _CODE else inner


def _cell_width(text: str) -> int:
    """Columns `text` takes on a terminal: CJK characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _brace_pairs(text: str) -> dict[int, int]:
    """Each `{` that has a matching `}` → the index of that `}` (one pass, so lookups are free)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for j, ch in enumerate(text):
        if ch == "{":
            stack.append(j)
        elif ch == "}" and stack:
            pairs[stack.pop()] = j
    return pairs


def _colon_at(text: str, start: int, end: int, pairs: dict[int, int]) -> int:
    """Index of the first colon in text[start:end] outside braces, "quotes" and `"compound
    quotes"', or -1. Nested braces are skipped whole, so deep nesting costs nothing."""
    compound = 0
    quoted = False
    j = start
    while j < end:
        ch = text[j]
        if ch == "`" and text.startswith('`"', j):
            compound += 1
            j += 2
            continue
        if ch == '"' and compound and text.startswith("\"'", j):
            compound -= 1
            j += 2
            continue
        if ch == "{" and j in pairs:
            j = pairs[j] + 1
            continue
        if ch == '"' and not compound:
            quoted = not quoted
        elif ch == ":" and not quoted and not compound:
            return j
        j += 1
    return -1


def _split_colon(content: str) -> tuple[str, str | None]:
    """`head:body` split at the first colon outside braces and quotes."""
    colon = _colon_at(content, 0, len(content), _brace_pairs(content))
    return (content, None) if colon < 0 else (content[:colon], content[colon + 1 :])


def _unquote(text: str) -> str:
    text = text.strip()
    if text.startswith('`"') and text.endswith("\"'"):
        return text[2:-2].strip()
    return text.strip('"').strip()


def _drop_abbrev_colon(spec: str) -> str:
    """`a:bsorb(x)` → `absorb(x)`: in {opt} and {cmdab} colons before the argument mark the
    shortest abbreviation (nested directives keep theirs)."""
    out: list[str] = []
    depth = 0
    for j, ch in enumerate(spec):
        if ch == "(" and depth == 0:
            return "".join(out) + spec[j:]
        depth += (ch == "{") - (ch == "}")
        if not (ch == ":" and depth == 0):
            out.append(ch)
    return "".join(out)


def _opth_spec(spec: str) -> str:
    """`{opth vce:(reghdfe##model:vcetype)}` shows `vce(vcetype)`: the argument is a help link."""
    spec = _drop_abbrev_colon(spec)
    paren = spec.find("(")
    if paren < 0 or not spec.endswith(")"):
        return spec
    inner = spec[paren + 1 : -1].strip()
    inner = inner.removeprefix("help ").strip()
    topic, text = _split_colon(inner)
    shown = text if text is not None else topic.split("##", 1)[0]
    return f"{spec[:paren]}({shown.strip()})"


class _Inline:
    """Renders SMCL text to runs; `pre` keeps Stata's columns (for text shown line by line)."""

    __slots__ = ("pre", "runs", "width")

    def __init__(self, *, pre: bool) -> None:
        self.pre = pre
        self.runs: list[_Run] = []
        self.width = 0

    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    def emit(self, text: str, style: str = "", url: str = "") -> None:
        if not text:
            return
        if self.pre and "\t" in text:
            text = self._expand_tabs(text)
        self.runs.append(_Run(text, style, url))
        tail = text.rsplit("\n", 1)
        self.width = _cell_width(tail[-1]) + (self.width if len(tail) == 1 else 0)

    def _expand_tabs(self, text: str) -> str:
        out: list[str] = []
        column = self.width
        for ch in text:
            if ch == "\t":
                pad = 8 - column % 8
                out.append(" " * pad)
                column += pad
            else:
                out.append(ch)
                column = 0 if ch == "\n" else column + _cell_width(ch)
        return "".join(out)

    def render(self, source: str, style: str = "", depth: int = 0) -> None:
        pairs = _brace_pairs(source)
        i = 0
        n = len(source)
        while i < n:
            brace = source.find("{", i)
            if brace < 0:
                self.emit(source[i:], style)
                return
            self.emit(source[i:brace], style)
            close = pairs.get(brace, -1)
            if close < 0:
                self.emit(source[brace:], style)
                return
            if depth >= _MAX_DEPTH:
                self.emit(source[brace : close + 1], style)
            elif not self.directive(source, brace, close, pairs, style, depth + 1):
                # Not SMCL: the brace is text, and what follows it is read as usual (Stata does
                # the same), so `{ {cmd:a} | {cmd:b} }` keeps its braces and its markup.
                self.emit("{", style)
                i = brace + 1
                continue
            i = close + 1

    def directive(
        self, source: str, brace: int, close: int, pairs: dict[int, int], style: str, depth: int
    ) -> bool:
        """Render the directive source[brace:close+1]; False when SMCL does not know it."""
        match = _NAME.match(source, brace + 1, close)
        if match is None or match.group(1) not in _KNOWN:
            return False
        name = match.group(1)
        if name in ("*", "..."):
            return True
        if name in ("c", "char"):
            self.emit(smcl_char(source[match.end() : close]), style)
            return True
        if name in ("opt", "opth") and source[match.end()] != ":":
            spec = source[match.end() : close].strip()
            spec = _opth_spec(spec) if name == "opth" else _drop_abbrev_colon(spec)
            self.render(spec, _nest(style, _CODE), depth)
            return True
        colon = _colon_at(source, match.end(), close, pairs)
        if colon < 0:
            return self._named(name, source[match.end() : close].strip(), None, style, depth)
        args = source[match.end() : colon].strip()
        return self._named(name, args, source[colon + 1 : close], style, depth)

    def _named(self, name: str, args: str, body: str | None, style: str, depth: int) -> bool:
        if name in _HEADINGS and body is None:
            return False  # `{title}` with no text is a word in braces (LaTeX, say)
        if name in _STYLE_OF and body is None and args:
            # `{cmd gtools}`: a missing colon; the words are what the author meant to show
            self.render(args, _nest(style, _STYLE_OF[name]), depth)
        elif name in _STYLE_OF or name in _PLAIN_BODY:
            if body is not None:  # without a body it is a mode toggle, which Markdown ignores
                self.render(body, _nest(style, _STYLE_OF.get(name, style)), depth)
        elif name == "cmdab":
            self.render(_drop_abbrev_colon(body or args), _nest(style, _CODE), depth)
        elif name in ("help", "helpb"):
            self._help(args, body, _nest(style, _CODE if name == "helpb" else style), depth)
        elif name in ("manhelp", "manhelpi", "manlink", "manlinki", "mansection"):
            self._manual(name, args, body, style, depth)
        elif name == "browse":
            self._browse(args, body, style, depth)
        elif name == "stata":
            self._link_text(args, body, _nest(style, _CODE), depth)
        elif name in _TEXT_LINKS:
            self._link_text(args, body, style, depth)
        elif name in _PLACEHOLDERS:
            self.emit(body or _PLACEHOLDERS[name], _nest(style, _EM))
        elif name in _BRACKETED:
            for k, word in enumerate(_BRACKETED[name]):
                self.emit(" [" if k else "[", style)
                self.emit(word, _nest(style, _EM))
                self.emit("]", style)
        elif name in ("hline", ".-"):
            self._hline(args)
        elif name == "col":
            pad = smcl_int(args, 1) - 1 - self.width if self.pre else 1
            self.emit(" " * max(pad, 0), style)
        elif name == "space":
            self.emit(" " * (smcl_int(args, 1) if self.pre else 1), style)
        elif name == "break":
            self.emit("\n", _BREAK)
        elif name == "dup" and body is not None:
            for _ in range(min(smcl_int(args, 1), 200)):
                if self.width > MAX_RENDERED_WIDTH:
                    break
                self.render(body, style, depth)
        elif name in _ALIGN and body is not None:
            self._align(name, args, body, style, depth)
        else:
            return False
        return True

    def _help(self, args: str, body: str | None, style: str, depth: int) -> None:
        if body is not None and body.strip():
            if body.strip() != "[+]":  # reghdfe's "more" links say nothing in text
                self.render(body, style, depth)
        else:
            self.emit(_unquote(args).split("##", 1)[0], style)

    def _manual(self, name: str, args: str, body: str | None, style: str, depth: int) -> None:
        words = _unquote(args).split()
        if name.startswith("manhelp"):
            entry, section = [*words, "", ""][:2]
            self.emit(f"[{section}] " if section else "", style)
            if body:
                self.render(body, style, depth)
            else:
                self.emit(entry, style)
        elif body:
            self.render(body, style, depth)
        elif words:
            self.emit(f"[{words[0]}] {' '.join(words[1:])}".strip(), style)

    def _browse(self, args: str, body: str | None, style: str, depth: int) -> None:
        target = _unquote(args)
        shown = body if body is not None and body.strip() else None
        if self.pre or not _URL.fullmatch(target):
            if shown is None:
                self.emit(target, style)
            else:
                self.render(shown, style, depth)
            return
        if shown is None:
            self.emit(target, _LINK, target)
            return
        inner = _Inline(pre=False)
        inner.render(shown, "", depth)
        self.emit(" ".join(inner.text().split()), _LINK, target)

    def _link_text(self, args: str, body: str | None, style: str, depth: int) -> None:
        if body is not None and body.strip():
            self.render(body, style, depth)
        else:
            self.emit(_unquote(args), style)

    def _hline(self, args: str) -> None:
        if not self.pre:
            self.emit("—")
        else:
            self.emit("-" * smcl_int(args, max(RULE_WIDTH - self.width, 0)))

    def _align(self, name: str, args: str, body: str, style: str, depth: int) -> None:
        if not self.pre:
            self.render(body, style, depth)
            return
        inner = _Inline(pre=True)
        inner.render(body, style, depth)
        text = inner.text()
        pad = max(smcl_int(args, 0) - _cell_width(text), 0)
        if name == "right":
            pad = max(RULE_WIDTH - self.width - _cell_width(text), 1)
            self.emit(" " * pad + text, style)
        elif name == "ralign":
            self.emit(" " * pad + text, style)
        elif name == "lalign":
            self.emit(text + " " * pad, style)
        else:
            self.emit(" " * (pad // 2) + text + " " * (pad - pad // 2), style)


# --------------------------------------------------------------------------------------------
# Runs → Markdown

_OPENERS, _CLOSERS = "([", ")]"
_LOOKAHEAD = 12
"""Words of plain text a code span may swallow while one of its brackets is open."""
_BOUNDARY_PUNCT = re.compile(r"[\[\](),|=#.:;+\-/<>*'\"~!?$%&^{}]+")


def _balance(text: str) -> int:
    return sum(ch in _OPENERS for ch in text) - sum(ch in _CLOSERS for ch in text)


def _split_words(runs: list[_Run]) -> list[_Run]:
    """Cut non-code runs at whitespace so spacing between words becomes runs of its own."""
    out: list[_Run] = []
    for run in runs:
        if run.style in (_CODE, _LINK, _BREAK):
            out.append(run)
            continue
        for piece in re.split(r"(\s+)", run.text):
            if piece:
                out.append(_Run(piece, "ws" if piece.isspace() else run.style, run.url))
    return out


def _merge_code(runs: list[_Run]) -> list[_Run]:
    """`{cmd:b(}{it:fmt}{cmd:)}` → one code span `b(fmt)`: Markdown cannot italicise inside code,
    and three spans in a row read worse than one."""
    tokens = _split_words(runs)
    out: list[_Run] = []
    i = 0
    while i < len(tokens):
        if tokens[i].style != _CODE:
            out.append(tokens[i])
            i += 1
            continue
        taken = [tokens[i]]
        while out and out[-1].style == _EM:  # {it:var1}{cmd:#}…
            taken.insert(0, out.pop())
        depth = _balance("".join(t.text for t in taken))
        pending: list[_Run] = []
        k = i + 1
        while k < len(tokens) and len(pending) <= _LOOKAHEAD:
            nxt = tokens[k]
            if nxt.style in (_LINK, _BREAK, _STRONG):
                break
            if depth > 0 and nxt.style == "" and nxt.text[0] in _CLOSERS:
                cut = 0
                while cut < len(nxt.text) and nxt.text[cut] in _CLOSERS and cut < depth:
                    cut += 1
                taken += [*pending, _Run(nxt.text[:cut], _CODE)]
                depth -= cut
                pending = []
                if nxt.text[cut:]:
                    tokens[k] = _Run(nxt.text[cut:], "")
                else:
                    k += 1
                continue
            joined = depth + _balance("".join(t.text for t in pending)) + _balance(nxt.text)
            if joined >= 0 and (
                nxt.style == _CODE or (nxt.style == _EM and (depth > 0 or not pending))
            ):
                taken += [*pending, nxt]
                depth = joined
                pending = []
            elif (depth > 0 and nxt.style in ("ws", "")) or (
                nxt.style == "" and _BOUNDARY_PUNCT.fullmatch(nxt.text)
            ):
                pending.append(nxt)
            else:
                break
            k += 1
        out.append(_Run("".join(t.text for t in taken), _CODE))
        out.extend(pending)
        i = k
    return _rejoin(out)


def _rejoin(tokens: list[_Run]) -> list[_Run]:
    """Spaces between two words of one emphasis go back inside it: `**a b**`, not `**a** **b**`;
    a word mixing bold and italic becomes bold (`**minval(#)**`, not `**minval(***#***)**`)."""
    tokens = list(tokens)
    j = 0
    while j < len(tokens):
        k = j
        while k < len(tokens) and tokens[k].style in (_EM, _STRONG):
            k += 1
        if any(t.style == _STRONG for t in tokens[j:k]):
            tokens[j:k] = [_Run(t.text, _STRONG) for t in tokens[j:k]]
        j = max(k, j + 1)
    out: list[_Run] = []
    for j, token in enumerate(tokens):
        if token.style == "ws":
            before = out[-1].style if out else ""
            after = tokens[j + 1].style if j + 1 < len(tokens) else ""
            style = before if before == after and before in (_EM, _STRONG) else ""
            token = _Run(token.text, style)
        if out and out[-1].style == token.style and token.style not in (_LINK, _BREAK, _CODE):
            out[-1] = _Run(out[-1].text + token.text, token.style)
        else:
            out.append(token)
    return out


def _escape(text: str, following: str) -> str:
    """Escape what would turn plain text into Markdown markup, and little else (stays readable)."""
    out: list[str] = []
    n = len(text)
    for j, ch in enumerate(text):
        nxt = text[j + 1] if j + 1 < n else following
        prev = text[j - 1] if j else " "
        if (
            ch in "`*"
            or (ch == "\\" and nxt and nxt.isascii() and not nxt.isalnum() and not nxt.isspace())
            or (ch == "_" and not (prev.isalnum() and nxt.isalnum()))
            or (ch == "]" and nxt != "" and nxt in "([")
            or (ch == "<" and (nxt.isalpha() or nxt in "/!?"))
        ):
            out.append("\\")
        out.append(ch)
    return "".join(out)


def _code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _wrap(text: str, marker: str, following: str) -> str:
    """Emphasis must hug its text; surrounding spaces move outside the markers."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{_escape(core, following)}{marker}{trail}"


def _link(run: _Run) -> str:
    text = run.text.strip() or run.url
    if text == run.url:
        return f"<{run.url}>" if " " not in run.url and ">" not in run.url else run.url
    url = f"<{run.url}>" if re.search(r"[\s()]", run.url) else run.url
    label = re.sub(r"([\[\]])", r"\\\1", _escape(text, ""))
    return f"[{label}]({url})"


def _runs_to_markdown(runs: list[_Run]) -> str:
    parts: list[str] = []
    for j, run in enumerate(runs):
        following = runs[j + 1].text[:1] if j + 1 < len(runs) else ""
        if run.style == _BREAK:
            parts.append("\n")
        elif run.style == _CODE:
            core = run.text.strip()
            if core:
                lead = " " if run.text[:1].isspace() else ""
                trail = " " if run.text[-1:].isspace() else ""
                parts.append(f"{lead}{_code_span(core)}{trail}")
            else:
                parts.append(run.text)
        elif run.style == _LINK:
            parts.append(_link(run))
        elif run.style == _EM:
            parts.append(_wrap(run.text, "*", following))
        elif run.style == _STRONG:
            parts.append(_wrap(run.text, "**", following))
        else:
            parts.append(_escape(run.text, following))
    return "".join(parts)


def _coalesce(runs: list[_Run]) -> list[_Run]:
    """Join neighbouring runs of one style and collapse whitespace, as a reflowed paragraph does."""
    out: list[_Run] = []
    for run in runs:
        text = run.text if run.style == _BREAK else re.sub(r"\s+", " ", run.text)
        if out and out[-1].text.endswith(" ") and text.startswith(" "):
            text = text[1:]
        if not text:
            continue
        if out and out[-1].style == run.style and run.style not in (_LINK, _BREAK):
            out[-1] = _Run(out[-1].text + text, run.style)
        else:
            out.append(_Run(text, run.style, run.url))
    return out


_LINE_GUARD = re.compile(r"#{1,6}(?:\s|$)|>|[=\-_*+](?:\s*[=\-_*]){2,}\s*$|=+\s*$")


def _guard_lines(markdown: str) -> str:
    """A line that starts like a heading, quote or rule would change the document's structure."""
    lines = []
    for line in markdown.split("\n"):
        line = line.strip()
        lines.append("\\" + line if _LINE_GUARD.match(line) else line)
    return "\n".join(line for line in lines if line)


def _inline(source: str) -> tuple[str, str]:
    """Paragraph-mode SMCL → (Markdown, plain text), both with whitespace collapsed."""
    renderer = _Inline(pre=False)
    renderer.render(source)
    runs = _coalesce(renderer.runs)
    plain = "\n".join(" ".join(line.split()) for line in "".join(r.text for r in runs).split("\n"))
    markdown = _guard_lines(_runs_to_markdown(_coalesce(_merge_code(runs))))
    return markdown, plain.strip()


def _pre_text(source: str) -> str:
    renderer = _Inline(pre=True)
    renderer.render(source)
    return renderer.text()


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    md: str
    plain: str


@dataclass(frozen=True, slots=True)
class _Para:
    md: str
    plain: str


@dataclass(frozen=True, slots=True)
class _Row:
    """One row of a two-column table ({synopt}, {p2col}); a row with no term continues the last."""

    term_md: str
    term_plain: str
    md: str
    plain: str


@dataclass(frozen=True, slots=True)
class _TableHead:
    md: str
    header: bool = False  # the {synopthdr} line naming the columns, not a group title ({syntab})


@dataclass(frozen=True, slots=True)
class _Code:
    lines: tuple[str, ...]
    lang: str


@dataclass(frozen=True, slots=True)
class _Line:
    """A line outside any paragraph: Stata shows it as typed. Grouped later into code or prose."""

    raw: str


@dataclass(frozen=True, slots=True)
class _Blank:
    pass


_Block = _Heading | _Para | _Row | _TableHead | _Code | _Line | _Blank
_BLANK = _Blank()

_PARA_STARTS = frozenset(
    {"p", "pstd", "psee", "phang", "phang2", "phang3", "pmore", "pmore2", "pmore3"}
    | {"pin", "pin2", "pin3"}
)
_ROW_STARTS = frozenset({"synopt", "p2col", "p2coldent"})
_INVISIBLE = frozenset(
    {"*", "...", "marker", "smcl", "asis", "s6hlp", "synoptset", "synoptline"}
    | {"p2colset", "p2colreset", "p2line", "viewerjumpto", "vieweralsosee", "viewerdialog"}
)
_RULE_LINE = re.compile(r"\s*\{(?:hline(?:\s+\d+)?|\.-)\}\s*")
_INCLUDE = re.compile(r"\s*INCLUDE\s+help\s+(\S+)\s*$", re.IGNORECASE)
_COMMAND_LINE = re.compile(r"\.(?:\s|$)")


def _escape_braces(text: str) -> str:
    """Braces that open no directive are text; spelled as {c -(} they stay text when lines join."""
    return "".join({"{": "{c -(}", "}": "{c )-}"}.get(ch, ch) for ch in text)


def _pieces(line: str) -> Iterator[tuple[str, str | None]]:
    """Top-level (literal, directive content) pairs of one line; content is None for text."""
    pairs = _brace_pairs(line)
    i = 0
    while i < len(line):
        brace = line.find("{", i)
        if brace < 0:
            yield line[i:], None
            return
        if brace > i:
            yield line[i:brace], None
        close = pairs.get(brace, -1)
        if close < 0:
            yield line[brace:], None
            return
        yield line[brace : close + 1], line[brace + 1 : close]
        i = close + 1


class _Builder:
    """Splits the file into blocks the way the Viewer does: paragraphs run from a {p…} directive
    to {p_end} or a blank line; everything else is shown line by line."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.line: list[str] = []
        self.parts: list[str] | None = None
        self.term: str | None = None  # set while a table row is open

    def feed(self, line: str) -> None:
        if not line.strip():
            self.close()
            self.blocks.append(_BLANK)
            return
        include = _INCLUDE.match(line)
        if include:
            self.close()
            name = include.group(1)
            self.blocks.append(_Para(f"*See help {_code_span(name)}.*", f"See help {name}."))
            return
        if _RULE_LINE.fullmatch(line):
            self.close()
            self.blocks.append(_Line(line))
            return
        for literal, content in _pieces(line):
            if content is None:
                self.add(_escape_braces(literal))
                continue
            match = _NAME.match(content)
            name = match.group(1) if match else ""
            rest = content[match.end() :] if match else ""
            if name in _PARA_STARTS:
                self.close()
                self.parts = []
            elif name in _ROW_STARTS:
                self.close()
                self.parts = []
                self.term = _split_colon(rest)[1] or ""
            elif name == "p_end":
                self.close()
            elif name in ("title", "dlgtab", "syntab") and _split_colon(rest)[1] is not None:
                self.close()
                md, plain = _inline(_split_colon(rest)[1] or "")
                if plain:
                    level = {"title": 2, "dlgtab": 3}.get(name)
                    self.blocks.append(
                        _Heading(level, md, plain) if level else _TableHead(_escape(plain, ""))
                    )
            elif name == "synopthdr":
                self.close()
                label = _split_colon(rest)[1]
                md, _ = _inline(label) if label and label.strip() else ("options", "")
                self.blocks.append(_TableHead(f"*{md}* — *Description*", header=True))
            elif name in _INVISIBLE:
                continue
            else:
                self.add(literal)
        if self.parts is not None:
            self.parts.append(" ")
        else:
            self.flush_line()

    def add(self, raw: str) -> None:
        (self.parts if self.parts is not None else self.line).append(raw)

    def flush_line(self) -> None:
        if self.line:
            self.blocks.append(_Line("".join(self.line)))
            self.line = []

    def close(self) -> None:
        self.flush_line()
        if self.parts is None:
            return
        raw = "".join(self.parts)
        term, self.parts, self.term = self.term, None, None
        md, plain = _inline(raw)
        if term is not None:
            term_md, term_plain = _inline(term)
            if term_plain and not plain and "`" not in term_md:
                self.blocks.append(_TableHead(_escape(term_plain, "")))  # "Scalars", "Macros"
            elif term_plain or plain:
                self.blocks.append(_Row(term_md, term_plain, md, plain))
        elif plain:
            lines = plain.split("\n")
            if all(_COMMAND_LINE.match(x) for x in lines):
                self.blocks.append(_Code(tuple(lines), "stata"))
            else:
                self.blocks.append(_Para(md, plain))


# --------------------------------------------------------------------------------------------
# Line-by-line text: code blocks or prose

_PRE_SIGNAL = re.compile(
    r"\{(?:col|space|ralign|lalign|center|centre|dup)\s"
    r"|\{(?:com|res|result|txt|text|inp|input|err|error)\}"
    r"|\{c(?:har)?\s+(?:\||TLC|TRC|BLC|BRC|TT|BT|LT|RT|\+)\}"
    r"|\t"
)


_LEADING_COL = re.compile(r"^\s*\{col\s+\d+\}")


def _is_rule(text: str) -> bool:
    return bool(re.fullmatch(r"\s*-{2,}\s*", text))


def _layout(lines: list[tuple[str, str]]) -> str | None:
    """How Stata's line-by-line text reads best: "code" for tables, captured output and code
    (columns, output styles, box characters, tabs, `. cmd` lines, wide gaps, several indented
    lines); "prose" for text; None for one indented line, which goes with its neighbours."""
    for raw, text in lines:
        if len(lines) == 1:
            raw = _LEADING_COL.sub("", raw)
        if _PRE_SIGNAL.search(raw) or re.search(r"\S {3,}\S", text.strip()):
            return "code"
        if text.strip().startswith(". ") and not _is_rule(text):
            return "code"
    indented = any(text[:2].isspace() and not _is_rule(text) for _, text in lines)
    if not indented:
        return "prose"
    return "code" if len(lines) > 1 else None


def _code_block(lines: list[str]) -> _Code:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x), default=0)
    lines = [x[indent:] for x in lines]
    first = next((x for x in lines if x), "")
    return _Code(tuple(lines), "stata" if first.startswith(". ") else "")


def _prose(lines: list[tuple[str, str]]) -> _Para | None:
    mds, plains = [], []
    for raw, text in lines:
        if _is_rule(text):
            continue
        md, plain = _inline(raw)
        if plain:
            mds.append(md)
            plains.append(plain)
    return _Para("\n".join(mds), "\n".join(plains)) if plains else None


def _group_lines(blocks: list[_Block]) -> list[_Block]:
    """Turn runs of `_Line`s into code blocks (kept as shown) or prose (reflowed Markdown).
    Groups of lines split by blank lines that are all code become one block."""
    out: list[_Block] = []
    region: list[_Line | _Blank] = []
    seen_heading = False
    for block in [*blocks, None]:
        if isinstance(block, (_Line, _Blank)):
            region.append(block)
            continue
        if region:
            out.extend(_region_blocks(region, preamble=not seen_heading))
            region = []
        if block is not None:
            seen_heading = seen_heading or isinstance(block, _Heading)
            out.append(block)
    return out


def _region_blocks(region: list[_Line | _Blank], *, preamble: bool) -> list[_Block]:
    groups: list[list[tuple[str, str]]] = [[]]
    for block in region:
        pieces = _pre_text(block.raw).split("\n") if isinstance(block, _Line) else [""]
        for piece in pieces:
            if piece.strip():
                groups[-1].append((block.raw, piece))
            elif groups[-1]:
                groups.append([])
    groups = [g for g in groups if g]
    layouts = ["prose" if preamble else _layout(g) for g in groups]
    for j, layout in enumerate(layouts):
        if layout is None:  # one indented line: code next to code, else text
            near = layouts[max(j - 1, 0) : j + 2]
            layouts[j] = "code" if "code" in near else "prose"
    out: list[_Block] = []
    code: list[str] = []
    for group, layout in zip(groups, layouts, strict=True):
        if layout == "code":
            code += [*([""] if code else []), *(text for _, text in group)]
            continue
        if code:
            out.append(_code_block(code))
            code = []
        para = _prose(group)
        if para is not None:
            out.append(para)
    if code:
        out.append(_code_block(code))
    return out


def _join_examples(blocks: list[_Block]) -> list[_Block]:
    """Comment lines just before example commands join them; neighbouring examples merge."""
    out: list[_Block] = []
    for j, block in enumerate(blocks):
        nxt = blocks[j + 1] if j + 1 < len(blocks) else None
        if (
            isinstance(block, _Para)
            and isinstance(nxt, _Code)
            and nxt.lang == "stata"
            and re.match(r"(?:\*|//)", block.plain)
            and "\n" not in block.plain
        ):
            block = _Code((block.plain,), "stata")
        last = out[-1] if out else None
        if isinstance(block, _Code) and isinstance(last, _Code) and block.lang == last.lang:
            out[-1] = _Code(last.lines + block.lines, last.lang)
        else:
            out.append(block)
    return out


# --------------------------------------------------------------------------------------------
# The title

_SECTIONS = frozenset(
    {
        "syntax",
        "description",
        "options",
        "examples",
        "example",
        "remarks",
        "remarks and examples",
        "stored results",
        "saved results",
        "references",
        "reference",
        "author",
        "authors",
        "also see",
        "see also",
        "acknowledgements",
        "acknowledgments",
        "title",
        "table of contents",
        "contents",
        "menu",
        "methods and formulas",
        "quick examples",
        "citation",
        "history",
    }
)
_HEADER = re.compile(r"help(?:\s+for)?\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
_DASH = re.compile(r"\s+(?:—|–|--|-)\s+")


def _name_and_description(md: str, plain: str) -> tuple[str, str] | None:
    """`**reghdfe** — Linear regression …` → ("reghdfe", "Linear regression …")."""
    plain_line, md_line = plain.split("\n", 1)[0], md.split("\n", 1)[0]
    plain_cut, md_cut = _DASH.search(plain_line), _DASH.search(md_line)
    if plain_cut is None or md_cut is None:
        return None
    name = plain_line[: plain_cut.start()].strip()
    description = md_line[md_cut.end() :].strip()
    if not name or not description or len(name) > 60:
        return None
    return name, description


def _block_text(block: _Block) -> tuple[str, str] | None:
    if isinstance(block, _Para):
        return block.md, block.plain
    if isinstance(block, _Row):
        return f"{block.term_md} {block.md}", f"{block.term_plain} {block.plain}"
    return None


def _with_title(blocks: list[_Block]) -> list[_Block]:
    """Lead with `# name — description`, taken from the Title section, the first heading or a
    "help for name" header line, whichever the file has."""
    first = next((j for j, b in enumerate(blocks) if isinstance(b, _Heading)), len(blocks))
    preamble: list[_Block] = []
    name = ""
    for block in blocks[:first]:
        if isinstance(block, _Para):
            kept = []
            for md, plain in zip(block.md.split("\n"), block.plain.split("\n"), strict=False):
                header = _HEADER.match(plain)
                if header and not name:
                    name = header.group(1)
                else:
                    kept.append((md, plain))
            if kept:
                preamble.append(_Para("\n".join(m for m, _ in kept), "\n".join(p for _, p in kept)))
        else:
            preamble.append(block)
    rest = blocks[first:]
    title: str | None = None
    heading = rest[0] if rest else None
    if isinstance(heading, _Heading) and heading.plain.strip().lower() == "title":
        body = next((b for b in rest[1:3] if _block_text(b) is not None), None)
        texts = _block_text(body) if body is not None else None
        split = _name_and_description(*texts) if texts is not None else None
        if split is not None:
            title = f"{split[0]} — {split[1]}"
            rest = [b for b in rest[1:] if b is not body]
    elif isinstance(heading, _Heading) and heading.plain.strip().lower() not in _SECTIONS:
        title = f"{name} — {heading.md}" if name else heading.md
        rest = rest[1:]
    if title is None:
        row = next((b for b in preamble if isinstance(b, _Row) and b.term_plain and b.md), None)
        if row is not None:
            title = f"{row.term_plain} — {row.md}"
            preamble.remove(row)
        elif name:
            title = name
    lead: list[_Block] = [_Heading(1, title, title)] if title else []
    return lead + preamble + rest


# --------------------------------------------------------------------------------------------
# Markdown output


_BULLETS = frozenset({"-", "o", "*", "•", "·"})


def _block_markdown(block: _Block, previous: _Block | None) -> str:
    if isinstance(block, _Heading):
        return f"{'#' * block.level} {block.md}" if block.md else ""
    if isinstance(block, _Para):
        return block.md
    if isinstance(block, _TableHead):
        return block.md if block.header else f"**{block.md}**" if block.md else ""
    if isinstance(block, _Row):
        text = block.md.replace("\n", "\n  ")
        if block.term_plain in _BULLETS:
            return f"- {text}"
        if not block.term_plain:
            prefix = "  " if isinstance(previous, _Row) else "- "
            return prefix + text
        return f"- {block.term_md} — {text}" if text else f"- {block.term_md}"
    if isinstance(block, _Code):
        body = "\n".join(block.lines)
        longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=2)
        fence = "`" * (longest + 1)
        return f"{fence}{block.lang}\n{body}\n{fence}"
    return ""


def _render(blocks: list[_Block]) -> str:
    out: list[str] = []
    previous: _Block | None = None
    for block in blocks:
        text = _block_markdown(block, previous)
        if not text:
            continue
        tight = isinstance(block, _Row) and isinstance(previous, (_Row, _TableHead))
        if out:
            out.append("\n" if tight else "\n\n")
        out.append(text)
        previous = block
    return "".join(out) + "\n" if out else ""


def _logical_lines(text: str) -> list[str]:
    """Physical lines joined where a line ends in `{...}`; junk before `{smcl}` dropped."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and "{smcl}" in lines[0]:
        lines[0] = lines[0][lines[0].index("{smcl}") :]
    out: list[str] = []
    pending = ""
    for line in lines:
        stripped = line.rstrip()
        if stripped.endswith("{...}"):
            pending += stripped[: -len("{...}")]
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


_REDIRECT = re.compile(r"\s*\.h\s+(\S+)\s*")


def _truncate(markdown: str, max_chars: int) -> str:
    """Cut at a line end near max_chars, close an open code fence, and say how much is missing.
    The note alone may be longer than a tiny max_chars."""
    total = len(markdown)
    if total <= max_chars:
        return markdown
    room = max(max_chars - len(_NOTE.format(total, total)) - 4, 0)  # 4: a closing fence
    cut = markdown.rfind("\n", 0, room + 1)
    head = markdown[: cut if cut >= room * 0.8 else room].rstrip()
    fence = "\n```" if len(re.findall(r"(?m)^`{3,}", head)) % 2 else ""
    return (head + fence + _NOTE.format(total - len(head), total)).lstrip("\n")


_NOTE = "\n\n[… truncated: {:,} of {:,} characters not shown]\n"


def smcl_to_markdown(text: str, *, max_chars: int | None = None) -> str:
    """Render a help file's SMCL as Markdown: titles → headings, {cmd}/{opt} → `code`, {it} → *x*,
    links → their text (URLs as [text](url)), {synopt} tables → bullet lists, examples keep their
    `. command` lines in code blocks; cut at max_chars with a note saying how much was cut."""
    redirect = _REDIRECT.fullmatch(text.removeprefix("\ufeff"))
    if redirect:
        markdown = f"See help {_code_span(redirect.group(1))}.\n"
    else:
        builder = _Builder()
        for line in _logical_lines(text):
            builder.feed(line)
        builder.close()
        blocks = _with_title(_join_examples(_group_lines(builder.blocks)))
        markdown = _render(blocks)
    return markdown if max_chars is None else _truncate(markdown, max(max_chars, 0))
