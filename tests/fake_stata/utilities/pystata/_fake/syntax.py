"""Pure helpers for reading Stata commands: names and abbreviations, prefixes, blocks, options."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from .errors import StataError
from .lexer import Cmd
from .numfmt import macro_number

# --- command names ---------------------------------------------------------------------------

COMMANDS: tuple[tuple[str, int], ...] = (  # full name, shortest abbreviation length
    ("display", 2),
    ("local", 3),
    ("global", 2),
    ("scalar", 3),
    ("forvalues", 4),
    ("foreach", 7),
    ("while", 5),
    ("if", 2),
    ("else", 4),
    ("error", 5),
    ("exit", 4),
    ("assert", 2),
    ("sleep", 5),
    ("log", 3),
    ("do", 2),
    ("run", 3),
    ("include", 7),
    ("set", 3),
    ("version", 4),
    ("clear", 5),
    ("cd", 2),
    ("pwd", 3),
    ("program", 2),
    ("args", 4),
    ("return", 3),
    ("ereturn", 4),
    ("sreturn", 4),
    ("macro", 2),
    ("continue", 8),
    ("count", 3),
    ("contract", 8),
    ("_return", 7),
    ("_gr_list", 8),
    ("sysuse", 6),
    ("generate", 1),
    ("replace", 7),
    ("drop", 4),
    ("keep", 4),
    ("label", 2),
    ("describe", 1),
    ("summarize", 2),
    ("list", 1),
    ("regress", 3),
    ("matrix", 3),
    ("scatter", 2),
    ("twoway", 2),
    ("line", 4),
    ("histogram", 4),
    ("graph", 2),
    ("frame", 5),
    ("frames", 6),
    ("pwf", 3),
    ("cwf", 3),
    ("mkf", 3),
    ("_dots", 5),
    ("simulate", 8),
    ("bootstrap", 9),
    ("bs", 2),
    ("jackknife", 4),
    ("shell", 2),
    ("xshell", 3),
    ("winexec", 7),
    ("file", 4),
    ("save", 4),
    ("ssc", 3),
    ("net", 3),
    ("sysdir", 6),
    ("sort", 4),
    ("estimates", 3),
    ("_estimates", 10),
)
PREFIXES: tuple[tuple[str, int], ...] = (("quietly", 3), ("noisily", 1), ("capture", 3))


def resolve(word: str, table: tuple[tuple[str, int], ...]) -> str | None:
    for full, least in table:
        if len(word) >= least and full.startswith(word):
            return full
    return None


_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)")
_PREFIX_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\s*:)?(?=\s|\{|$|:)\s*")
_VERSION_PREFIX = re.compile(r"vers(?:i(?:o(?:n)?)?)?\s+[\d.]+\s*:\s*")


def split_prefixes(text: str) -> tuple[list[str], str]:
    """`capture noisily: cmd` → (["capture", "noisily"], "cmd"); `version 18:` counts too."""
    prefixes: list[str] = []
    while True:
        vm = _VERSION_PREFIX.match(text)
        if vm:
            prefixes.append("version")
            text = text[vm.end() :]
            continue
        m = _PREFIX_WORD.match(text)
        if m is None:
            return prefixes, text
        kind = resolve(m.group(1), PREFIXES)
        if kind is None:
            return prefixes, text
        prefixes.append(kind)
        text = text[m.end() :]


def first_word(text: str) -> tuple[str | None, str]:
    m = _WORD.match(text)
    if m is None:
        return None, text
    return m.group(1), text[m.end() :]


def core_text(text: str) -> str:
    return split_prefixes(text)[1]


def is_program_define(core: str) -> bool:
    word, rest = first_word(core)
    if word is None or resolve(word, COMMANDS) != "program":
        return False
    sub, _ = first_word(rest.strip())
    return sub not in ("drop", "dir", "list") and bool(rest.strip())


def classify(text: str) -> str:
    """How a block opener is read: `loop` and `program` whole, anything else line by line."""
    core = core_text(text)
    if is_program_define(core):
        return "program"
    word, _ = first_word(core)
    if word is not None and resolve(word, COMMANDS) in ("foreach", "forvalues", "while"):
        return "loop"
    return "lines"


def opens_block(text: str) -> bool:
    return text.endswith("{") or is_program_define(core_text(text))


def match_block(cmds: tuple[Cmd, ...] | list[Cmd], i: int) -> int:
    """Index of the `}` (or `end`) that closes the block opened by cmds[i]."""
    if classify(cmds[i].text) == "program":
        for j in range(i + 1, len(cmds)):
            if cmds[j].text == "end":
                return j
        raise StataError(612, "unexpected end of file")
    depth = 0
    for j in range(i, len(cmds)):
        t = cmds[j].text
        if t.endswith("{"):
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0:
                return j
    raise StataError(612, "unexpected end of file")


def split_top_level(text: str, separator: str) -> tuple[str, str] | None:
    """Split at the first `separator` outside quotes and parentheses; None when there is none."""
    depth = 0
    quote = False
    for k, c in enumerate(text):
        if c == '"':
            quote = not quote
        elif not quote and c == "(":
            depth += 1
        elif not quote and c == ")":
            depth -= 1
        elif not quote and depth == 0 and c == separator:
            return text[:k], text[k + 1 :]
    return None


def split_options(text: str) -> tuple[str, str]:
    """Split `what, options` at the first comma outside quotes and parentheses."""
    return split_top_level(text, ",") or (text, "")


def options(text: str) -> dict[str, str]:
    """`replace name(x) text` → {"replace": "", "name": "x", "text": ""}."""
    out: dict[str, str] = {}
    for m in re.finditer(r"([A-Za-z_]\w*)(?:\(([^)]*)\))?", text):
        out[m.group(1).lower()] = (m.group(2) or "").strip()
    return out


def numlist(text: str) -> list[str]:
    """`1/3 5(2)9 12` → the numbers, formatted as macro values."""
    out: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        m = re.fullmatch(r"(-?[\d.]+)\s*(?:/\s*(-?[\d.]+)|\(\s*(-?[\d.]+)\s*\)\s*(-?[\d.]+))", item)
        try:
            if m is None:
                out.append(macro_number(float(item)))
                continue
            a = float(m.group(1))
            if m.group(2) is not None:
                b, step = float(m.group(2)), 1.0 if float(m.group(2)) >= a else -1.0
            else:
                step, b = float(m.group(3)), float(m.group(4))
        except ValueError:
            raise StataError(121, "invalid numlist") from None
        out.extend(macro_number(v) for v in steps(a, step, b))
    return out


def steps(a: float, step: float, b: float) -> Iterator[float]:
    if step == 0:
        raise StataError(198, "invalid syntax")
    count = math.floor((b - a) / step + 1e-9) + 1
    for k in range(max(0, count)):
        v = a + k * step
        yield float(round(v)) if abs(v - round(v)) < 1e-9 else v
