"""Stata's number formats: `display`'s %9.0g, macro values' %18.0g, and explicit %fmts."""

from __future__ import annotations

import re

from .errors import StataError

Number = float | None  # None is Stata's missing value `.`


def _strip_zero(s: str) -> str:
    if s.startswith("0."):
        return s[1:]
    if s.startswith("-0."):
        return "-" + s[2:]
    return s


def general(x: Number, digits: int) -> str:
    """%w.0g: integers in full while they fit, else `digits` significant digits."""
    if x is None or x != x:
        return "."
    if x == int(x) and abs(x) < 10 ** (digits + 1):
        return str(int(x))
    s = f"{x:.{digits}g}"
    if "e" in s:
        mant = 3 if digits <= 8 else 11
        return f"{x:.{mant}e}"
    return _strip_zero(s)


def display_number(x: Number) -> str:
    """How `display exp` shows a number (%9.0g without the padding)."""
    return general(x, 8)


def macro_number(x: Number) -> str:
    """How `local x = exp` stores a number (%18.0g without the padding)."""
    return general(x, 16)


_FMT = re.compile(r"%(-)?(0)?(\d*)(?:\.(\d+))?([fgesc])(c)?$")


def is_format(text: str) -> bool:
    return _FMT.match(text) is not None


def apply_format(fmt: str, value: float | str | None) -> str:
    """A subset of Stata's %fmt: %w.df, %w.dg, %w.de (with c for commas), %ws, %-ws."""
    m = _FMT.match(fmt)
    if m is None:
        raise StataError(120, "invalid %format")
    left, zero, width_s, dec_s, kind, comma = m.groups()
    width = int(width_s) if width_s else 0
    if kind == "s":
        if not isinstance(value, str):
            raise StataError(120, "invalid %format")
        text = value
    else:
        if isinstance(value, str):
            raise StataError(120, "invalid %format")
        dec = int(dec_s) if dec_s is not None else 0
        if value is None:
            text = "."
        elif kind == "f":
            text = f"{value:,.{dec}f}" if comma else f"{value:.{dec}f}"
        elif kind == "e":
            text = f"{value:.{dec}e}"
        else:
            text = general(value, max(1, (width or 9) - 1)) if dec == 0 else f"{value:.{dec}g}"
            text = _strip_zero(text) if dec else text
    if left:
        return text.ljust(width)
    if zero and text != ".":
        return text.zfill(width)
    return text.rjust(width)
