"""Stata expressions: numbers, strings, missing, operators with Stata's precedence, functions.

Evaluation happens while parsing; `parse_prefix` stops at the first token that cannot continue
the expression, which is how `display a b` and `if exp command` find where one item ends.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import StataError
from .numfmt import macro_number

Value = float | str | None  # None is the missing value `.`


class Resolver(Protocol):
    def name(self, name: str) -> Value: ...
    def ref(self, kind: str, name: str) -> Value: ...
    def scalar(self, name: str) -> Value: ...


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # num, miss, str, name, op, end
    text: str
    pos: int
    value: Value = None


_OPS = ("==", "!=", "~=", ">=", "<=", "+", "-", "*", "/", "^", "!", "~", "<", ">", "&", "|")
_OPS += ("(", ")", ",", "[", "]", "=", ":", "{", "}")


def _compound_end(s: str, i: int) -> int:
    depth = 0
    while i < len(s):
        if s.startswith('`"', i):
            depth += 1
            i += 2
        elif s.startswith("\"'", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise StataError(198, "invalid syntax")


def tokenize(s: str) -> list[Tok]:
    toks: list[Tok] = []
    i = 0
    n = len(s)
    while True:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            toks.append(Tok("end", "", n))
            return toks
        c = s[i]
        if c.isdigit() or (c == "." and i + 1 < n and s[i + 1].isdigit()):
            j = i
            while j < n and (s[j].isdigit() or s[j] == "."):
                j += 1
            if j < n and s[j] in "eE" and j + 1 < n and (s[j + 1].isdigit() or s[j + 1] in "+-"):
                j += 2
                while j < n and s[j].isdigit():
                    j += 1
            text = s[i:j]
            try:
                toks.append(Tok("num", text, i, float(text)))
            except ValueError:
                raise StataError(198, "invalid syntax") from None
            i = j
        elif c == ".":
            j = i + 1
            if (
                j < n
                and s[j].isalpha()
                and s[j].islower()
                and not (j + 1 < n and s[j + 1].isalnum())
            ):
                j += 1
            toks.append(Tok("miss", s[i:j], i))
            i = j
        elif c == '"':
            j = s.find('"', i + 1)
            if j < 0:
                raise StataError(198, "unmatched quote")
            toks.append(Tok("str", s[i : j + 1], i, s[i + 1 : j]))
            i = j + 1
        elif s.startswith('`"', i):
            j = _compound_end(s, i)
            toks.append(Tok("str", s[i:j], i, s[i + 2 : j - 2]))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (s[j].isalnum() or s[j] == "_"):
                j += 1
            toks.append(Tok("name", s[i:j], i))
            i = j
        else:
            for op in _OPS:
                if s.startswith(op, i):
                    toks.append(Tok("op", op, i))
                    i += len(op)
                    break
            else:
                toks.append(Tok("op", c, i))
                i += 1


def truth(v: Value) -> bool:
    """Stata's truth: any non-zero number, and missing, is true; strings are a type mismatch."""
    if isinstance(v, str):
        raise StataError(109, "type mismatch")
    return v is None or v != 0


def _num(v: Value) -> float | None:
    if isinstance(v, str):
        raise StataError(109, "type mismatch")
    return v


def _bool(b: bool) -> float:
    return 1.0 if b else 0.0


def _compare(op: str, a: Value, b: Value) -> float:
    if isinstance(a, str) != isinstance(b, str):
        raise StataError(109, "type mismatch")
    if not isinstance(a, str):
        # Missing is larger than every number and equal to itself.
        ka = (1, 0.0) if a is None else (0, a)
        kb = (1, 0.0) if b is None else (0, b)
        a, b = ka, kb  # type: ignore[assignment]
    if op == "==":
        return _bool(a == b)
    if op in ("!=", "~="):
        return _bool(a != b)
    if op == "<":
        return _bool(a < b)  # type: ignore[operator]
    if op == ">":
        return _bool(a > b)  # type: ignore[operator]
    if op == "<=":
        return _bool(a <= b)  # type: ignore[operator]
    return _bool(a >= b)  # type: ignore[operator]


def _arith(op: str, a: Value, b: Value) -> Value:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "*" and isinstance(a, str) != isinstance(b, str):
        s, k = (a, b) if isinstance(a, str) else (b, a)
        if k is None:
            return ""
        return s * max(0, int(k))  # type: ignore[arg-type]
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    try:
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            if y == 0:
                return None
            r = x / y
        else:
            r = x**y
            if isinstance(r, complex):
                return None
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    if isinstance(r, complex) or math.isinf(r) or math.isnan(r):
        return None
    return float(r)


class Parser:
    def __init__(self, text: str, resolver: Resolver) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.r = resolver

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def _take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def _is(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def _expect(self, op: str) -> None:
        if not self._is(op):
            raise StataError(198, "invalid syntax")
        self.i += 1

    def parse(self) -> Value:
        return self._or()

    def _or(self) -> Value:
        v = self._and()
        while self._is("|"):
            self.i += 1
            w = self._and()
            v = _bool(truth(v) or truth(w))
        return v

    def _and(self) -> Value:
        v = self._cmp()
        while self._is("&"):
            self.i += 1
            w = self._cmp()
            v = _bool(truth(v) and truth(w))
        return v

    def _cmp(self) -> Value:
        v = self._add()
        while self._is("==", "!=", "~=", "<", ">", "<=", ">="):
            op = self._take().text
            v = _compare(op, v, self._add())
        return v

    def _add(self) -> Value:
        v = self._mul()
        while self._is("+", "-"):
            op = self._take().text
            v = _arith(op, v, self._mul())
        return v

    def _mul(self) -> Value:
        v = self._unary()
        while self._is("*", "/"):
            op = self._take().text
            v = _arith(op, v, self._unary())
        return v

    def _unary(self) -> Value:
        if self._is("-"):
            self.i += 1
            v = _num(self._unary())
            return None if v is None else -v
        if self._is("+"):
            self.i += 1
            return _num(self._unary())
        if self._is("!", "~"):
            self.i += 1
            return _bool(not truth(self._unary()))
        return self._pow()

    def _pow(self) -> Value:
        v = self._atom()
        while self._is("^"):
            self.i += 1
            if self._is("-"):
                self.i += 1
                w = _num(self._atom())
                w = None if w is None else -w
            else:
                w = self._atom()
            v = _arith("^", v, w)
        return v

    def _atom(self) -> Value:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return t.value
        if t.kind == "miss":
            self.i += 1
            return None
        if t.kind == "str":
            self.i += 1
            return t.value
        if self._is("("):
            self.i += 1
            v = self._or()
            self._expect(")")
            return v
        if t.kind == "name":
            self.i += 1
            if self._is("("):
                self.i += 1
                return self._call(t.text)
            return self.r.name(t.text)
        raise StataError(198, "invalid syntax")

    def _call(self, fname: str) -> Value:
        if fname in ("r", "e", "c", "s"):
            j = self.text.find(")", self.tok.pos)
            if j < 0:
                raise StataError(198, "invalid syntax")
            inner = self.text[self.tok.pos : j].strip()
            while self.tok.kind != "end" and self.tok.pos < j:
                self.i += 1
            self._expect(")")
            return self.r.ref(fname, inner)
        if fname == "scalar":
            name = self._take()
            self._expect(")")
            return self.r.scalar(name.text)
        args: list[Value] = []
        if not self._is(")"):
            args.append(self._or())
            while self._is(","):
                self.i += 1
                args.append(self._or())
        self._expect(")")
        fn = FUNCTIONS.get(fname)
        if fn is None:
            raise StataError(133, f"unknown function {fname}()")
        try:
            return fn(*args)
        except TypeError:
            raise StataError(198, "invalid syntax") from None


def parse_prefix(text: str, resolver: Resolver) -> tuple[Value, int]:
    """Evaluate the longest expression at the start of text; return it and where it ended."""
    p = Parser(text, resolver)
    v = p.parse()
    return v, p.tok.pos


def evaluate(text: str, resolver: Resolver) -> Value:
    p = Parser(text, resolver)
    if p.tok.kind == "end":
        raise StataError(198, "invalid syntax")
    v = p.parse()
    if p.tok.kind != "end":
        raise StataError(198, "invalid syntax")
    return v


# --- functions -------------------------------------------------------------------------------


def _n(f: Callable[..., float]) -> Callable[..., Value]:
    def g(*args: Value) -> Value:
        xs = [_num(a) for a in args]
        if any(x is None for x in xs):
            return None
        try:
            r = f(*xs)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
        return None if r is None or math.isnan(r) or math.isinf(r) else float(r)

    return g


def _s(v: Value) -> str:
    if not isinstance(v, str):
        raise StataError(109, "type mismatch")
    return v


def _round(x: float, y: float = 1.0) -> float:
    return math.floor(x / y + 0.5) * y


def _substr(s: Value, start: Value, length: Value = None) -> str:
    text = _s(s)
    b = int(_num(start) or 1)
    if b < 0:
        b = len(text) + b + 1
    if b < 1 or b > len(text):
        return ""
    n = _num(length)
    end = len(text) if n is None else b - 1 + int(n)
    return text[b - 1 : end]


def _word(s: Value, k: Value) -> str:
    words = _s(s).split()
    i = int(_num(k) or 0)
    if i < 0:
        i = len(words) + i + 1
    return words[i - 1] if 1 <= i <= len(words) else ""


def _string(v: Value, fmt: Value = None) -> str:
    if isinstance(v, str):
        raise StataError(109, "type mismatch")
    if fmt is not None:
        from .numfmt import apply_format

        return apply_format(_s(fmt), v).strip()
    return macro_number(v)


def _real(v: Value) -> Value:
    try:
        return float(_s(v).strip())
    except ValueError:
        return None


def _missing(*vs: Value) -> float:
    return _bool(any(v is None or v == "" for v in vs))


def _cond(c: Value, a: Value, b: Value, m: Value = ...) -> Value:  # type: ignore[assignment]
    if c is None and m is not ...:
        return m
    return a if truth(c) else b


def _inlist(x: Value, *vs: Value) -> float:
    return _bool(any(x == v for v in vs))


def _inrange(x: Value, a: Value, b: Value) -> float:
    xs = _num(x)
    lo = _num(a)
    hi = _num(b)
    if xs is None:
        return _bool(hi is None)
    return _bool((lo is None or lo <= xs) and (hi is None or xs <= hi))


def _reldif(x: Value, y: Value) -> Value:
    a, b = _num(x), _num(y)
    if a is None or b is None:
        return 0.0 if a is b else None
    return abs(a - b) / (abs(b) + 1)


def _minmax(pick: Callable[..., float]) -> Callable[..., Value]:
    def g(*vs: Value) -> Value:
        xs = [x for x in (_num(v) for v in vs) if x is not None]
        return pick(xs) if xs else None

    return g


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "abs": _n(abs),
    "ceil": _n(math.ceil),
    "floor": _n(math.floor),
    "int": _n(math.trunc),
    "trunc": _n(math.trunc),
    "round": _n(_round),
    "sqrt": _n(math.sqrt),
    "exp": _n(math.exp),
    "ln": _n(math.log),
    "log": _n(math.log),
    "log10": _n(math.log10),
    "mod": _n(lambda x, y: x - y * math.floor(x / y)),
    "sign": _n(lambda x: (x > 0) - (x < 0)),
    "min": _minmax(min),
    "max": _minmax(max),
    "missing": _missing,
    "mi": _missing,
    "cond": _cond,
    "inlist": _inlist,
    "inrange": _inrange,
    "reldif": _reldif,
    "runiform": lambda *a: random.random(),
    "strlen": lambda s: float(len(_s(s).encode("utf-8"))),
    "ustrlen": lambda s: float(len(_s(s))),
    "length": lambda s: float(len(_s(s))),
    "upper": lambda s: _s(s).upper(),
    "lower": lambda s: _s(s).lower(),
    "strupper": lambda s: _s(s).upper(),
    "strlower": lambda s: _s(s).lower(),
    "ustrupper": lambda s: _s(s).upper(),
    "ustrlower": lambda s: _s(s).lower(),
    "trim": lambda s: _s(s).strip(),
    "strtrim": lambda s: _s(s).strip(),
    "ltrim": lambda s: _s(s).lstrip(),
    "strltrim": lambda s: _s(s).lstrip(),
    "rtrim": lambda s: _s(s).rstrip(),
    "strrtrim": lambda s: _s(s).rstrip(),
    "itrim": lambda s: " ".join(_s(s).split()),
    "stritrim": lambda s: " ".join(_s(s).split()),
    "substr": _substr,
    "usubstr": _substr,
    "strpos": lambda s, t: float(_s(s).find(_s(t)) + 1),
    "strreverse": lambda s: _s(s)[::-1],
    "subinstr": lambda s, a, b, n: (
        _s(s).replace(_s(a), _s(b)) if n is None else _s(s).replace(_s(a), _s(b), int(n))
    ),
    "word": _word,
    "wordcount": lambda s: float(len(_s(s).split())),
    "string": _string,
    "strofreal": _string,
    "real": _real,
    "char": lambda k: chr(int(_num(k) or 0)),
    "float": _n(lambda x: x),
}
