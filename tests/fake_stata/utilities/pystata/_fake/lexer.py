"""Split do-file source into commands: comments, `///` joins, `/* */` blocks and `#delimit ;`.

Each command keeps the physical lines it was typed on, because Stata echoes those (`. ` for
the first, `> ` for the rest) and executes the joined text with comments removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DELIMIT = re.compile(r"^#d(?:e(?:l(?:i(?:m(?:i(?:t)?)?)?)?)?)?(?:\s+(\S+))?\s*$")


@dataclass(frozen=True, slots=True)
class Cmd:
    raw: tuple[str, ...]
    text: str
    line: int

    @property
    def blank(self) -> bool:
        return self.text == ""


EOF_PROMPT = Cmd(("",), "", 0)


def delimit_target(text: str) -> str | None:
    """`;` or `cr` when the command is `#delimit …`, else None."""
    m = _DELIMIT.match(text)
    if m is None:
        return None
    return (m.group(1) or "cr").lower()


def _compound_end(s: str, i: int) -> int:
    """Index just past the `"'` closing the compound quote opened at s[i] == '`'."""
    depth = 0
    n = len(s)
    while i < n:
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
    return n


def _scan(line: str, in_block: bool, *, slashes: bool) -> tuple[str, bool, bool]:
    """Strip comments from one physical line: (code, continues with ///, still inside /* */)."""
    out: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        if in_block:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out), False, True
            i = j + 2
            in_block = False
            out.append(" ")
            continue
        c = line[i]
        if c == '"':
            j = line.find('"', i + 1)
            j = n if j < 0 else j + 1
            out.append(line[i:j])
            i = j
        elif line.startswith('`"', i):
            j = _compound_end(line, i)
            out.append(line[i:j])
            i = j
        elif line.startswith("/*", i):
            in_block = True
            i += 2
        elif slashes and line.startswith("//", i) and (i == 0 or line[i - 1].isspace()):
            return "".join(out), line.startswith("///", i), False
        else:
            out.append(c)
            i += 1
    return "".join(out), False, in_block


def _ends_with_continuation(line: str) -> bool:
    return re.search(r"(^|\s)///", line) is not None


def lex(source: str, *, interactive: bool = False) -> list[Cmd]:
    """Commands of a do-file (or of one interactive line, where `//` is not a comment)."""
    lines = source.splitlines()
    cmds: list[Cmd] = []
    i = 0
    semicolon = False
    while i < len(lines):
        if semicolon:
            i, cmd, semicolon = _lex_semicolon(lines, i, cmds)
            if cmd is not None:
                cmds.append(cmd)
            continue
        start = i
        raw: list[str] = []
        code: list[str] = []
        in_block = False
        star = lines[i].lstrip().startswith("*")
        while i < len(lines):
            phys = lines[i]
            raw.append(phys)
            i += 1
            if star:
                if _ends_with_continuation(phys) and not interactive:
                    continue
                break
            piece, cont, in_block = _scan(phys, in_block, slashes=not interactive)
            code.append(piece)
            if cont:
                code.append(" ")
            if not (cont or in_block):
                break
        text = "" if star else "".join(code).strip()
        cmds.append(Cmd(tuple(raw), text, start + 1))
        if not interactive and delimit_target(text) == ";":
            semicolon = True
    return cmds


def _lex_semicolon(lines: list[str], i: int, out: list[Cmd]) -> tuple[int, Cmd | None, bool]:
    """One command in `#delimit ;` mode, which ends at `;` rather than at the end of the line."""
    first = lines[i]
    if not first.strip():
        return i + 1, None, True
    target = delimit_target(first.strip())
    if target is not None:
        return i + 1, Cmd((first,), first.strip(), i + 1), target == ";"
    start = i
    raw: list[str] = []
    code: list[str] = []
    in_block = False
    star = first.lstrip().startswith("*")
    while i < len(lines):
        phys = lines[i]
        piece, _, in_block = _scan(phys, in_block, slashes=True)
        cut = _semicolon_at(piece) if not in_block else -1
        if cut >= 0:
            # Keep whatever follows the `;` on this line for the next command.
            consumed = _raw_prefix_len(phys, piece[: cut + 1])
            raw.append(phys[:consumed])
            code.append(piece[:cut])
            rest = phys[consumed:]
            if rest.strip():
                lines[i] = rest
            else:
                i += 1
            text = "" if star else " ".join(p.strip() for p in code if p.strip())
            return i, Cmd(tuple(raw), text, start + 1), True
        raw.append(phys)
        code.append(piece)
        i += 1
    text = "" if star else " ".join(p.strip() for p in code if p.strip())
    return i, Cmd(tuple(raw), text, start + 1), True


def _semicolon_at(code: str) -> int:
    """Index of the first `;` outside quotes, or -1."""
    i = 0
    n = len(code)
    while i < n:
        c = code[i]
        if c == '"':
            j = code.find('"', i + 1)
            i = n if j < 0 else j + 1
        elif code.startswith('`"', i):
            i = _compound_end(code, i)
        elif c == ";":
            return i
        else:
            i += 1
    return -1


def _raw_prefix_len(phys: str, code_prefix: str) -> int:
    """Length of the physical line up to the `;` that ends code_prefix."""
    want = code_prefix.count(";")
    seen = 0
    for k, c in enumerate(phys):
        if c == ";":
            seen += 1
            if seen == want:
                return k + 1
    return len(phys)
