"""Macro expansion: `local', `nested`i'', `=exp', `:extended fn', $global and ${global}."""

from __future__ import annotations

from typing import Protocol

from .errors import StataError


class MacroEnv(Protocol):
    def local(self, name: str) -> str: ...
    def global_(self, name: str) -> str: ...
    def expression(self, text: str) -> str: ...
    def extended(self, text: str) -> str: ...


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _close_quote(s: str, i: int) -> int:
    """Index of the `'` closing the macro quote opened at s[i] == '`', nesting allowed."""
    depth = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "`" and not s.startswith('`"', i):
            depth += 1
        elif c == "'" and not (i > 0 and s[i - 1] == '"' and depth == 0):
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def expand(s: str, env: MacroEnv) -> str:
    """Expand every macro in s, innermost first, left to right."""
    if "`" not in s and "$" not in s:
        return s
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "`$":
            out.append(s[i + 1])
            i += 2
        elif c == "`" and i + 1 < n and s[i + 1] == '"':
            out.append('`"')
            i += 2
        elif c == "`":
            j = _close_quote(s, i)
            if j < 0:
                out.append(c)
                i += 1
                continue
            inner = expand(s[i + 1 : j], env)
            out.append(_lookup(inner, env))
            i = j + 1
        elif c == "$" and i + 1 < n and s[i + 1] == "{":
            j = s.find("}", i + 2)
            if j < 0:
                out.append(c)
                i += 1
                continue
            out.append(env.global_(expand(s[i + 2 : j], env).strip()))
            i = j + 1
        elif c == "$" and i + 1 < n and (s[i + 1].isalpha() or s[i + 1] == "_"):
            j = i + 1
            while j < n and _is_name_char(s[j]):
                j += 1
            out.append(env.global_(s[i + 1 : j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _lookup(inner: str, env: MacroEnv) -> str:
    if inner.startswith("="):
        return env.expression(inner[1:])
    if inner.startswith(":"):
        return env.extended(inner[1:].strip())
    name = inner.strip()
    if name.startswith("++") or name.startswith("--"):
        raise StataError(198, "invalid syntax")
    return env.local(name)


def split_words(text: str) -> list[str]:
    """Stata's tokenizing of a list: blanks separate, "quotes" and `"compound"' group."""
    words: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            j = text.find('"', i + 1)
            j = n if j < 0 else j
            words.append(text[i + 1 : j])
            i = j + 1
        elif text.startswith('`"', i):
            depth = 0
            j = i
            while j < n:
                if text.startswith('`"', j):
                    depth += 1
                    j += 2
                elif text.startswith("\"'", j):
                    depth -= 1
                    j += 2
                    if depth == 0:
                        break
                else:
                    j += 1
            words.append(text[i + 2 : j - 2])
            i = j
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            words.append(text[i:j])
            i = j
    return words


def strip_quotes(value: str) -> str:
    """`local x "a b"` stores a b: one pair of outer quotes (simple or compound) goes."""
    v = value.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"' and '"' not in v[1:-1]:
        return v[1:-1]
    if len(v) >= 4 and v.startswith('`"') and v.endswith("\"'"):
        return v[2:-2]
    return value.strip()
