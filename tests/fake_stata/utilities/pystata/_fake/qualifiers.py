"""Pure parsing of Stata's `varlist [if exp] [in range] [, options]` and observation ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import StataError
from .syntax import split_options

_IN = re.compile(r"(?:^|\s)in\s+(-?\w+(?:\s*/\s*-?\w+)?)(?=\s+if\s|\s*$)")
_IF = re.compile(r"(?:^|\s)if(?=[\s(!~-])")


@dataclass(frozen=True, slots=True)
class Qualified:
    main: str  # the varlist (or `newvar = exp`) part
    if_exp: str | None
    in_range: str | None
    options: str


def qualifiers(text: str) -> Qualified:
    main, opts = split_options(text)
    in_range = None
    m = _IN.search(main)
    if m is not None:
        in_range = m.group(1)
        main = main[: m.start()] + main[m.end() :]
    if_exp = None
    m = _IF.search(main)
    if m is not None:
        if_exp = main[m.end() :].strip()
        main = main[: m.start()]
        if not if_exp:
            raise StataError(198, "invalid syntax")
    return Qualified(main.strip(), if_exp, in_range, opts.strip())


def _bound(text: str, nobs: int) -> int:
    t = text.strip().lower()
    if t == "f":
        return 1
    if t == "l":
        return nobs
    try:
        k = int(t)
    except ValueError:
        raise StataError(198, f"'{text}' invalid obs no") from None
    return nobs + k + 1 if k < 0 else k


def obs_range(spec: str, nobs: int) -> range:
    """`in 1/5`, `in 3`, `in -5/l`, `in f/l` → 0-based indices; out of range is r(198)."""
    a, _, b = spec.partition("/")
    lo = _bound(a, nobs)
    hi = _bound(b, nobs) if b else lo
    if lo < 1 or hi > nobs or (lo > hi and b):
        raise StataError(198, "Obs. nos. out of range")
    return range(lo - 1, hi)
