"""Numbers in Stata's tables (summarize, regress, list): %w.0g keeps a column for the sign."""

from __future__ import annotations

import re

from .numfmt import apply_format


def _strip_zero(s: str) -> str:
    return s[1:] if s.startswith("0.") else s


def gfit(x: float | None, chars: int) -> str:
    """The most significant digits of x whose unsigned text fits in `chars` (%w.0g, w=chars+1)."""
    if x is None or x != x:
        return "."
    sign = "-" if x < 0 else ""
    ax = abs(x)
    if ax == int(ax) and len(str(int(ax))) <= chars:
        return sign + str(int(ax))
    for d in range(min(chars, 17), 0, -1):
        s = f"{ax:.{d}g}"
        if "e" in s:
            continue
        s = _strip_zero(s)
        if len(s) <= chars:
            return sign + s
    mant = max(0, chars - 6)
    return sign + f"{ax:.{mant}e}"


def sig(x: float | None, digits: int) -> str:
    """%w.dg with d significant digits (Root MSE's %9.5g), trailing zeros dropped."""
    if x is None or x != x:
        return "."
    s = f"{x:.{digits}g}"
    if "e" in s:
        return s
    return "-" + _strip_zero(s[1:]) if s.startswith("-") else _strip_zero(s)


def commas(text: str) -> str:
    m = re.match(r"(-?)(\d+)(.*)$", text)
    if m is None:
        return text
    return f"{m.group(1)}{int(m.group(2)):,}{m.group(3)}"


_FMT = re.compile(r"%(-)?(\d+)(?:\.(\d+))?([fgs])(c)?$")


def fmt_value(fmt: str, value: float | str | None) -> str:
    """A value under a variable's display format, without padding (how `list` shows it)."""
    m = _FMT.match(fmt)
    if isinstance(value, str):
        return value
    if m is None:
        return apply_format(fmt, value).strip()
    _, width, dec, kind, comma = m.groups()
    if value is None:
        return "."
    if kind == "g" and (dec is None or dec == "0"):
        text = gfit(value, int(width) - 1)
    elif kind == "g":
        text = sig(value, int(dec))
    else:
        text = f"{value:.{int(dec or 0)}f}"
    return commas(text) if comma and "e" not in text else text


def right_aligned(fmt: str) -> bool:
    return not fmt.startswith("%-")
