"""Styled output lines and their two renderings: plain text (screen, text logs) and SMCL.

The interpreter describes everything it shows as `Line`s of styled `Seg`ments; the screen
and text logs wrap them at the linesize with `> `, SMCL logs tag them and never wrap.
"""

from __future__ import annotations

from dataclasses import dataclass

TXT = "txt"
RES = "res"
ERR = "err"
COM = "com"
INP = "inp"
RAW = "raw"  # blanks Stata writes before a style tag (the log header's indentation)
RC = "rc"  # a return-code line: `r(111);` as text, a `{search …}` link in SMCL
RULE = "rule"  # a full-width dash rule: `{.-}` in SMCL

_STYLES = {TXT, RES, ERR, COM, INP}


@dataclass(frozen=True, slots=True)
class Seg:
    style: str
    text: str


@dataclass(frozen=True, slots=True)
class Line:
    segs: tuple[Seg, ...]

    @property
    def is_blank(self) -> bool:
        return all(s.style not in (RULE, RC) and s.text == "" for s in self.segs)


BLANK = Line((Seg(TXT, ""),))
RULE_LINE = Line((Seg(RULE, ""),))


def line(style: str, text: str) -> Line:
    return Line((Seg(style, text),))


def plain(ln: Line, linesize: int) -> str:
    """The line as the screen shows it, before wrapping."""
    parts = []
    for seg in ln.segs:
        parts.append("-" * (linesize - 1) if seg.style == RULE else seg.text)
    return "".join(parts)


def wrap(text: str, linesize: int) -> list[str]:
    """Stata breaks lines longer than linesize-1 and continues them after `> `."""
    width = linesize - 1
    if len(text) <= width:
        return [text]
    out = [text[:width]]
    rest = text[width:]
    step = width - 2
    while rest:
        out.append("> " + rest[:step])
        rest = rest[step:]
    return out


def render_text(ln: Line, linesize: int) -> list[str]:
    return wrap(plain(ln, linesize), linesize)


def smcl_escape(text: str) -> str:
    return text.replace("{", "\0").replace("}", "{c )-}").replace("\0", "{c -(}")


class SmclRenderer:
    """Writes SMCL as Stata does: a style tag only when the style changes."""

    def __init__(self, mode: str | None = COM) -> None:
        self.mode = mode

    def render(self, ln: Line) -> str:
        if ln.is_blank:
            out = "" if self.mode in (TXT, None) else "{txt}"
            self.mode = None  # Stata re-tags the first line after a blank one
            return out
        out: list[str] = []
        for seg in ln.segs:
            if seg.style == RAW:
                out.append(seg.text)
                continue
            style = TXT if seg.style in (RC, RULE) else seg.style
            if style != self.mode:
                out.append("{" + style + "}")
                self.mode = style
            if seg.style == RULE:
                out.append("{.-}")
            elif seg.style == RC:
                out.append(f"{{search {seg.text[:-1]}, local:{seg.text}}}")
            else:
                out.append(smcl_escape(seg.text))
        return "".join(out)
