"""`display`: strings, expressions, `as style`, _n, _col, _skip, _dup, _char, _continue, %fmt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import StataError
from .expr import Resolver, parse_prefix
from .lines import ERR, INP, RES, TXT, Seg
from .numfmt import apply_format, display_number

_STYLE_WORDS = {
    "text": TXT,
    "txt": TXT,
    "result": RES,
    "res": RES,
    "error": ERR,
    "err": ERR,
    "input": INP,
    "inp": INP,
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARG = re.compile(r"\s*\(\s*([^)]*)\)")
_FMT = re.compile(r"%-?0?\d*(?:\.\d+)?[fgesc]c?")


@dataclass(frozen=True, slots=True)
class Shown:
    lines: tuple[tuple[Seg, ...], ...]
    cont: bool  # _continue: the last line stays open


def _int_arg(text: str, pos: int, resolver: Resolver) -> tuple[int, int]:
    m = _ARG.match(text, pos)
    if m is None:
        raise StataError(198, "invalid syntax")
    v, _ = parse_prefix(m.group(1), resolver)
    if not isinstance(v, float):
        raise StataError(198, "invalid syntax")
    return int(v), m.end()


def render_display(args: str, resolver: Resolver) -> Shown:
    lines: list[tuple[Seg, ...]] = []
    cur: list[Seg] = []
    style = RES
    cont = False
    dup = 1
    i = 0
    n = len(args)

    def width() -> int:
        return sum(len(s.text) for s in cur)

    def put(text: str) -> None:
        nonlocal dup
        cur.append(Seg(style, text * dup))
        dup = 1

    while True:
        while i < n and args[i].isspace():
            i += 1
        if i >= n:
            break
        if args.startswith(",,", i):
            i += 2
            continue
        if args[i] == ",":
            cur.append(Seg(style, " "))
            i += 1
            continue
        m = _WORD.match(args, i)
        word = m.group(0) if m else ""
        if word == "as":
            rest = _WORD.match(args, _skip_ws(args, m.end()))  # type: ignore[union-attr]
            if rest is None or rest.group(0) not in _STYLE_WORDS:
                raise StataError(198, "invalid syntax")
            style = _STYLE_WORDS[rest.group(0)]
            i = rest.end()
            continue
        if word == "in":
            rest = _WORD.match(args, _skip_ws(args, m.end()))  # type: ignore[union-attr]
            if rest is not None and rest.group(0) == "smcl":
                i = rest.end()
                continue
        if word in ("_n", "_newline"):
            count = 1
            i = m.end()  # type: ignore[union-attr]
            if _ARG.match(args, i):
                count, i = _int_arg(args, i, resolver)
            for _ in range(count):
                lines.append(tuple(cur))
                cur = []
            continue
        if word in ("_c", "_continue"):
            cont = True
            i = m.end()  # type: ignore[union-attr]
            continue
        if word in ("_col", "_column"):
            col, i = _int_arg(args, m.end(), resolver)  # type: ignore[union-attr]
            pad = col - 1 - width()
            if pad > 0:
                cur.append(Seg(style, " " * pad))
            continue
        if word in ("_s", "_skip"):
            k, i = _int_arg(args, m.end(), resolver)  # type: ignore[union-attr]
            cur.append(Seg(style, " " * max(0, k)))
            continue
        if word == "_dup":
            dup, i = _int_arg(args, m.end(), resolver)  # type: ignore[union-attr]
            dup = max(0, dup)
            continue
        if word == "_char":
            k, i = _int_arg(args, m.end(), resolver)  # type: ignore[union-attr]
            put(chr(k))
            continue
        fm = _FMT.match(args, i)
        if fm is not None:
            value, used = parse_prefix(args[fm.end() :], resolver)
            put(apply_format(fm.group(0), value))
            i = fm.end() + used
            continue
        value, used = parse_prefix(args[i:], resolver)
        if used == 0:
            raise StataError(198, "invalid syntax")
        put(value if isinstance(value, str) else display_number(value))
        i += used
    lines.append(tuple(cur))
    return Shown(tuple(lines), cont)


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i
