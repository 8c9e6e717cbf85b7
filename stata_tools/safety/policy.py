"""The command policy: refuse dangerous Stata commands before `run_code` or `run_do_file` runs them.

An AI agent writes the Stata code this server runs. `check` reads that code the way Stata's
reader does (comments, `///`, `#delimit ;`, blocks, prefixes) and returns a `Violation` for every
command in a category the `Policy` refuses, naming the command, its line and the setting that
allows it.

Categories (the names `STATA_TOOLS_ALLOW` takes, comma-separated; `all` turns the policy off). Every
one is refused by default. Abbreviations are Stata's: `sh:ell` means `sh`, `she`, `shel`, `shell`.

    shell    !  !!  sh:ell  xsh:ell  winexec  unix  dos     (`!ls` needs no space)
    erase    erase  rm  rmdir;  Mata's unlink() and rmdir()
    python   python in every form: `python:`, python ... end, python script, python set exec, ...
    java     java in every form (java:, java ... end, java set ...), javacall
    plugin   plugin call, program ..., plugin
    install  net ins:tall, net get, ssc inst:all, ssc uninstall, ssc copy, ado uninst:all,
             ado upd:ate ..., up:date, adoupdate ..., up:date,
             update all|swap|ado|executable|utilities

What is followed: the prefixes `capture`, `quietly`, `noisily`, `nobreak`, `break`, `novarabbrev`
and `varabbrev` (abbreviated, with or without a colon) and every `prefix ... :` (`by x:`,
`bysort x (y):`, `frame f:`, `version 17:`, `svy:`, `mi xeq:`, ...); one-line `if exp command` (a
refused word anywhere after `if` counts, so `if rm > 1 display x` is refused) and `else command`;
every statement inside loops, `if` and `else` bodies, `quietly {}` and program definitions, with
its own line; Mata (`mata: ...` and mata ... end; a statement with open parentheses continues on
the next line) calling `stata()`/`_stata()` with a literal, `unlink()` or `rmdir()`, and setting
macros with st_local()/st_global(); macros resolved with a small symbol table built in source order
(`local c shell`, `local c "shell"`, `local c = "sh" + "ell"`, `global g shell` then `$g`/`${g}`,
`foreach c in shell ...`, `gettoken`, `tokenize`, `args`, `syntax`, `macro shift`; definitions in
loops and programs count for every use inside loops and programs); and `do`, `run`, `include`,
`texdoc do`, `dyndoc`, `dyntext` and `markstat` of other files through the `load` callback, every
call with its own arguments, files told apart by the real path the loader names.

It fails closed: what it cannot check is a Violation of category UNCHECKED whose reason says why
(a command word or Mata command known only at run time, a macro never defined where an earlier run
may have set it, a called file it cannot read, or a limit reached, named in LIMITS). Only
`STATA_TOOLS_ALLOW=all` lets such code run.

This is the friendly first line of defence, not the lock: Stata is a full programming language and
code can build a command at run time in ways no static check follows (`file write` a do-file then
`do` it, ado-files put on the adopath, `cd` before `do`, ...). Allowing `python` or `java` allows
everything. The operating-system sandbox around Stata is the lock; see docs/security.md.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The lexer's statement level, not split_commands: that joins a block into one command (losing the
# lines inside it) and raises DoFileError on unbalanced braces; the statement reader never raises.
from stata_tools.about import docs_url
from stata_tools.run.dofile import LINE_BREAK, Scanner, decode_source
from stata_tools.safety.documents import dyndoc_code, markstat_code

__all__ = [
    "ALLOW_ENV",
    "CATEGORIES",
    "UNCHECKED",
    "Category",
    "CouldNotCheck",
    "DoCall",
    "Policy",
    "PolicyError",
    "Source",
    "Violation",
    "called_files",
    "check",
    "refusal_message",
]

ALLOW_ENV = "STATA_TOOLS_ALLOW"
DOCS = docs_url("security.md")


UNCHECKED = "unchecked"  # a Violation's category when the code could not be checked at all


class PolicyError(ValueError):
    """A bad STATA_TOOLS_ALLOW value: the server should not start with a policy nobody meant."""


class CouldNotCheck(Exception):
    """Raised by a loader for a called do-file that exists but cannot be checked (too large, ...).

    The policy fails closed: the call is refused, and the message is the reason it gives."""


@dataclass(frozen=True, slots=True)
class Source:
    """What a loader found for a called do-file: its text and the path it really is.

    Two files with one name (in different folders) are two files: the policy tells them apart
    by `path`, and checks each call of each with its own arguments."""

    text: str
    path: str


@dataclass(frozen=True)
class Category:
    """One thing the policy can refuse: what it does (for messages) and the commands in it."""

    does: str
    commands: tuple[str, ...]
    instead: str = ""  # a sanctioned way to do what the category refuses, when there is one


# The one table. Notation: `sh:ell` = abbreviations down to `sh`; `net ins:tall` = a subcommand;
# `pr:ogram ..., plugin` = the command with that option; `mata: unlink()` = a Mata function
# (and its `_unlink()` twin); `!`/`!!` = Stata's shell escapes. `ado upd:ate ..., up:date` = the
# subcommand with that option (options abbreviate as commands do).
CATEGORIES: Mapping[str, Category] = {
    "shell": Category(
        "runs an operating-system command",
        ("!", "!!", "sh:ell", "xsh:ell", "winexec", "unix", "dos"),
    ),
    "erase": Category(
        "deletes files or directories",
        ("erase", "rm", "rmdir", "mata: unlink()", "mata: rmdir()"),
    ),
    "python": Category("runs Python code", ("python",)),
    "java": Category("runs Java code", ("java", "javacall")),
    "plugin": Category("loads compiled code (a plugin)", ("plugin", "pr:ogram ..., plugin")),
    "install": Category(
        "installs, updates or removes Stata packages",
        (
            "net ins:tall",
            "net get",
            "ssc inst:all",
            "ssc uninstall",
            "ssc copy",
            "ado uninst:all",
            "ado upd:ate ..., up:date",
            "adoupdate ..., up:date",
            "update all",
            "update swap",
            "update ado",
            "update executable",
            "update utilities",
        ),
        "To install one package from SSC or an allowed site with the policy on, use the "
        "install_package tool instead.",
    ),
}


# --- the policy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Which categories may run; everything else in CATEGORIES is refused."""

    allowed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.allowed) - set(CATEGORIES)
        if unknown:
            raise PolicyError(_unknown_names(unknown))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Policy:
        """The one place that reads STATA_TOOLS_ALLOW; a typo fails loudly rather than refusing."""
        env = os.environ if env is None else env
        names = {n.lower() for n in re.split(r"[\s,]+", env.get(ALLOW_ENV, "")) if n}
        if "all" in names:
            names = (names - {"all"}) | set(CATEGORIES)
        unknown = names - set(CATEGORIES)
        if unknown:
            raise PolicyError(_unknown_names(unknown))
        return cls(frozenset(names))

    @property
    def refused(self) -> frozenset[str]:
        """The categories `check` reports."""
        return frozenset(CATEGORIES) - self.allowed

    def describe(self) -> str:
        """One line for `doctor`: what is refused and how to change it."""
        refused = [name for name in CATEGORIES if name in self.refused]
        allowed = [name for name in CATEGORIES if name in self.allowed]
        if not refused:
            return f"off: every command allowed ({ALLOW_ENV}=all)"
        if not allowed:
            return f"refusing {', '.join(refused)} (set {ALLOW_ENV} to allow some, or all)"
        value = ",".join(allowed)
        return f"refusing {', '.join(refused)}; allowing {', '.join(allowed)} ({ALLOW_ENV}={value})"


def _unknown_names(unknown: Iterable[str]) -> str:
    names = ", ".join(sorted(unknown))
    valid = ", ".join([*CATEGORIES, "all"])
    return f"{ALLOW_ENV}: unknown category {names}; valid names are {valid}"


@dataclass(frozen=True)
class Violation:
    """One refused command: where it is and which setting would allow it."""

    category: str
    command: str  # as Stata would run it: "shell", "!", "net install"; the expansion for macros
    line: int
    file: str | None  # the do-file it is in; `name` (None when unnamed) for the checked text itself
    source: str  # the offending statement, shortened
    via_macro: bool = False  # the command word came from expanding a macro
    reason: str = ""  # for UNCHECKED: why it could not be checked (which limit, what is unknown)

    @property
    def does(self) -> str:
        """What the command does, or why it could not be checked."""
        if self.category == UNCHECKED:
            return f"could not be checked: {self.reason}"
        return CATEGORIES[self.category].does

    @property
    def setting(self) -> str:
        """The STATA_TOOLS_ALLOW value that would let it run."""
        return "all" if self.category == UNCHECKED else self.category

    def message(self) -> str:
        """The full sentence for the agent: what, where, why, and how to allow it."""
        if self.category == UNCHECKED:
            return (
                f"{self._what()} {self.does}; the command policy refuses what it cannot check. "
                f"Write the command out in the code, or turn the policy off with "
                f"{ALLOW_ENV}=all (see {DOCS})."
            )
        instead = CATEGORIES[self.category].instead
        return (
            f"{self._what()} {self.does}; refused by the command policy. "
            f"To allow it, set {ALLOW_ENV}={self.category} (see {DOCS})."
            + (f" {instead}" if instead else "")
        )

    def _what(self) -> str:
        macro = " (from a macro)" if self.via_macro else ""
        where = f"line {self.line} of {self.file}" if self.file else f"line {self.line}"
        return f"`{self.command}`{macro} on {where}"


def refusal_message(violations: Sequence[Violation]) -> str:
    """All violations in one reply: the first few in full, then how many more."""
    if not violations:
        return ""
    shown, rest = violations[:_SHOWN], len(violations) - _SHOWN
    count = "a command" if len(violations) == 1 else f"{len(violations)} commands"
    lines = [f"Nothing was run: the command policy refused {count}."]
    lines += [f"- {v._what()} {v.does}: {v.source}" for v in shown]
    if rest > 0:
        lines.append(f"- … and {rest} more.")
    categories = ",".join(dict.fromkeys(v.category for v in violations if v.category != UNCHECKED))
    if categories:
        lines.append(f"To allow them, set {ALLOW_ENV}={categories} (see {DOCS}).")
    lines += [
        CATEGORIES[name].instead
        for name in dict.fromkeys(v.category for v in violations if v.category != UNCHECKED)
        if CATEGORIES[name].instead
    ]
    if any(v.category == UNCHECKED for v in violations):
        lines.append(
            "The policy refuses what it cannot check: write the command out in the code, or turn "
            f"the policy off with {ALLOW_ENV}=all (see {DOCS})."
        )
    return "\n".join(lines)


_SHOWN = 5


# --- the rules, compiled from CATEGORIES ----------------------------------------------------------


def _abbreviations(spec: str) -> frozenset[str]:
    """`sh:ell` → sh, she, shel, shell; a word without `:` stands for itself."""
    head, _, tail = spec.partition(":")
    full = head + tail
    return frozenset(full[:size] for size in range(len(head), len(full) + 1))


@dataclass(frozen=True)
class _Rule:
    category: str
    subcommands: frozenset[str] | None = None  # the next word must be one of these
    option: re.Pattern[str] | None = None  # an option after the comma must match this
    option_name: str = ""


def _compile() -> tuple[dict[str, list[tuple[str, _Rule]]], dict[str, str], dict[str, str]]:
    words: dict[str, list[tuple[str, _Rule]]] = {}
    bangs: dict[str, str] = {}
    mata: dict[str, str] = {}
    for category, entry in CATEGORIES.items():
        for spec in entry.commands:
            if spec.startswith("!"):
                bangs[spec] = category
                continue
            if spec.startswith("mata: "):
                mata[spec.removeprefix("mata: ").rstrip("()")] = category
                continue
            head, _, option = spec.partition(" ..., ")
            word, _, sub = head.partition(" ")
            pattern = None
            if option:
                forms = "|".join(sorted(map(re.escape, _abbreviations(option)), key=len)[::-1])
                pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{forms})(?![A-Za-z0-9_])")
            rule = _Rule(
                category,
                _abbreviations(sub) if sub else None,
                pattern,
                option.replace(":", ""),
            )
            for form in _abbreviations(word):
                words.setdefault(form, []).append((form, rule))
    return words, bangs, mata


_WORD_RULES, _BANG_RULES, _MATA_RULES = _compile()
_MATA_CALL = re.compile(
    r"(?<![A-Za-z0-9_])_?(" + "|".join(map(re.escape, _MATA_RULES)) + r")\s*(?:\(|$)"
)


# --- Stata's words --------------------------------------------------------------------------------

_BLANKS = " \t\f\v"
_UNKNOWN = "\ue000"  # what a macro this cannot resolve expands to
_LIMIT = "\ue003"  # what a macro expands to when a limit stopped following it: fails closed
_ARGUMENT = "\ue004"  # a program's own arguments (`0', `1', args, syntax): unknown until it runs
# A macro the code never defines: empty, as Stata reads it, unless something this does not see set
# it (an earlier run in the same session, a command's local() option, an ado-file's c_local).
# Where it would be the whole command word, the statement is refused as unchecked.
_UNDEFINED = "\ue005"
_NAME = re.compile(r"[A-Za-z_\ue000\ue003\ue004\ue005][A-Za-z0-9_\ue000\ue003\ue004\ue005]*")
_MACRO_NAME = re.compile(r"[A-Za-z0-9_]+")
_END = re.compile(r"end(?:\s+(?://|/\*).*)?")
_ALONE = re.compile(r"(mata|python|java)\s*:?")  # these alone open a block ending with `end`


def _forms(word: str, shortest: int) -> frozenset[str]:
    return frozenset(word[:size] for size in range(shortest, len(word) + 1))


_CAPTURE = _forms("capture", 3)
# Prefixes that take the command right after them, with or without a colon ([P] capture, quietly,
# break, varabbrev). Those that need a colon (by, frame, version, svy, bootstrap, ...) are found by
# their colon.
_SIMPLE_PREFIXES = (
    _CAPTURE
    | _forms("quietly", 3)
    | _forms("noisily", 1)
    | {"nobreak", "break", "novarabbrev", "varabbrev"}
)
_LOCAL = _forms("local", 3)
_GLOBAL = _forms("global", 2)
_PROGRAM = _forms("program", 2)
_PROGRAM_ONE_LINERS = _forms("list", 1) | {"dir", "drop"}
_INPUT = _forms("input", 3)
_DO = frozenset({"do", "ru", "run", "include"})
# Words after which a colon is syntax, not `prefix:` (macro functions, free text, names, paths).
_COLON_IS_NOT_A_PREFIX = (
    _LOCAL
    | _GLOBAL
    | _forms("matrix", 3)
    | _forms("display", 2)
    | _forms("estimates", 3)
    | _forms("label", 2)
    | _forms("return", 3)
    | _forms("ereturn", 4)
    | _forms("sreturn", 4)
    | _DO
    | {"dyndoc", "dyntext", "markstat", "texdoc", "webdoc"}
    | {"mata", "python", "java", "if", "else", "gettoken", "tokenize", "c_local", "macro"}
    | {"note", "notes", "char", "cd", "use", "save", "copy", "mkdir", "sysuse", "putexcel"}
)
# Words worth trying as the command of a one-line `if exp command`.
_TRIGGERS = (
    frozenset(_WORD_RULES)
    | _SIMPLE_PREFIXES
    | _DO
    | {"mata", "dyndoc", "dyntext", "markstat", "texdoc", "webdoc"}
)
# Limits keep a check fast on any input. Reaching one refuses the statement as "could not be
# checked" (fail closed); the reason names the limit.
_MAX_NESTING = 8  # `mata: stata("mata: stata(...)")`, `if 1 if 1 ...`
_MAX_IF_TRIES = 8
_MAX_DEPTH = 16  # do-files calling do-files
_MAX_FILES = 400  # checks of called do-files in one check (each call with its own arguments)
_MAX_VARIANTS = 64  # macro expansions tried per statement
_MAX_VALUES = 16  # candidate values kept per macro
_MAX_ROUNDS = 32  # rounds of macro expansion per statement (nesting, re-reading values)
_MAX_GROWTH = 20_000  # characters expansion may add to a statement
_MAX_MATA_JOIN = 64  # Mata lines one statement may span (an open parenthesis continues it)
_MAX_TEXT = 16 << 20  # characters of one file or code text
LIMITS = {
    "nesting": f"commands nested more than {_MAX_NESTING} deep (`if`, Mata's stata(), ...)",
    "if": f"more than {_MAX_IF_TRIES} words in one `if` that could start a command",
    "depth": f"do-files calling do-files more than {_MAX_DEPTH} deep",
    "files": f"more than {_MAX_FILES} checks of called do-files in one check",
    "macros": (
        f"macros with more than {_MAX_VALUES} possible values, more than {_MAX_VARIANTS} "
        f"combinations, {_MAX_ROUNDS} rounds of expansion or {_MAX_GROWTH:,} added characters"
    ),
    "mata": f"a Mata statement longer than {_MAX_MATA_JOIN} lines",
    "size": f"more than {_MAX_TEXT >> 20} MB of code in one file, more than a check reads",
}


def _top_level(text: str, target: str, start: int = 0) -> int | None:
    """Index of the first `target` from `start` outside strings, parentheses and brackets."""
    if text.find(target, start) < 0:  # the common case, without walking the text
        return None
    depth = 0
    i, n = start, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            close = text.find('"', i + 1)
            i = n if close < 0 else close + 1
            continue
        if text.startswith('`"', i):
            close = text.find("\"'", i + 2)
            i = n if close < 0 else close + 2
            continue
        if char == target and depth == 0:
            return i
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        i += 1
    return None


def _tokens(text: str) -> list[tuple[int, str]]:
    """Blank-separated tokens with their offsets; strings stay whole."""
    found: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in _BLANKS:
            i += 1
            continue
        start = i
        while i < n and text[i] not in _BLANKS:
            if text[i] == '"':
                close = text.find('"', i + 1)
                i = n if close < 0 else close + 1
            elif text.startswith('`"', i):
                close = text.find("\"'", i + 2)
                i = n if close < 0 else close + 2
            else:
                i += 1
        found.append((start, text[start:i]))
    return found


def _unquote(token: str) -> str:
    if token.startswith('`"') and token.endswith("\"'") and len(token) >= 4:
        return token[2:-2]
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1]
    return token


def _string_value(
    expr: str, *, juxtapose: bool = False, start: int = 0, stop: str = ""
) -> str | None:
    """The value of a concatenation of string literals (`"sh" + "ell"`), else None.

    It reads from `start` to the end, or to the first character in `stop` after an operand.
    """
    parts: list[str] = []
    i, n = start, len(expr)
    expect_operand = True
    while i < n:
        char = expr[i]
        if char in _BLANKS:
            i += 1
        elif char in stop and not expect_operand:
            break
        elif char == '"' and (expect_operand or juxtapose):
            close = expr.find('"', i + 1)
            if close < 0:
                return None
            parts.append(expr[i + 1 : close])
            i, expect_operand = close + 1, False
        elif expr.startswith('`"', i) and (expect_operand or juxtapose):
            close = expr.find("\"'", i + 2)
            if close < 0:
                return None
            parts.append(expr[i + 2 : close])
            i, expect_operand = close + 2, False
        elif char == "+" and not expect_operand:
            i, expect_operand = i + 1, True
        else:
            return None
    return "".join(parts) if parts and not expect_operand else None


# --- macros ---------------------------------------------------------------------------------------

_LOCAL_REF = re.compile(r"`(?!\")([^`']*)'")  # innermost first; `" opens a compound string
_GLOBAL_REF = re.compile(r"\$(?:\{([^{}$`']*)\}|([A-Za-z_][A-Za-z0-9_]{0,31}))")
_DEFINED = re.compile(r"[ ]*([A-Za-z0-9_]+)(.*)", re.DOTALL)  # after `local`: name, rest
_DISPLAY_FUNCTION = re.compile(r":\s*di(?:s(?:p(?:l(?:a(?:y)?)?)?)?)?(?![A-Za-z0-9_])")

Lookup = Callable[[str], tuple[str, ...]]


def _expand(text: str, lookup: Lookup) -> list[str]:
    """Every way the statement's macros can expand (capped); unresolvable ones become _UNKNOWN.

    Each round replaces every innermost reference (globals first, since `` `$g' `` names a local
    by a global), branching only on the leftmost one with several values; the others wait for a
    later round. Expanded values are read again, so delayed `\\`c'` expansions resolve too.
    """
    if "`" not in text and "$" not in text:
        return [text]
    variants = [text]
    limit = len(text) + _MAX_GROWTH
    for _ in range(_MAX_ROUNDS):
        following: list[str] = []
        changed = False
        for index, variant in enumerate(variants):
            # past the cap, a macro with several values becomes _LIMIT instead of branching
            room = len(following) + len(variants) - index < _MAX_VARIANTS
            expanded = _round(variant, lookup, room) if len(variant) <= limit else None
            if expanded is None:
                following.append(variant)
            else:
                changed = True
                following += expanded
        variants = list(dict.fromkeys(following))
        if not changed:
            break
    return [_forget_macros(variant) for variant in variants]


def _round(text: str, lookup: Lookup, branching: bool = True) -> list[str] | None:
    """One round of `_expand` for one variant; None when it has no macro left."""
    refs = list(_GLOBAL_REF.finditer(text)) or list(_LOCAL_REF.finditer(text))
    if not refs:
        return None
    pieces: list[str] = []
    branch: tuple[int, tuple[str, ...]] | None = None  # (piece index, values)
    position = 0
    for ref in refs:
        pieces.append(text[position : ref.start()])
        values = _values(ref, lookup)
        if len(values) == 1:
            pieces.append(values[0])
        elif not branching:
            pieces.append(_LIMIT)
        elif branch is None:
            branch = (len(pieces), values)
            pieces.append("")
        else:
            pieces.append(ref.group())  # a later round
        position = ref.end()
    pieces.append(text[position:])
    if branch is None:
        return ["".join(pieces)]
    index, values = branch
    return ["".join([*pieces[:index], value, *pieces[index + 1 :]]) for value in values]


def _values(ref: re.Match[str], lookup: Lookup) -> tuple[str, ...]:
    """What one `` `name' ``, `` `=exp' ``, `$name` or `${name}` may expand to."""
    if ref.group().startswith("$"):
        name = (ref.group(1) if ref.group(1) is not None else ref.group(2)).strip(_BLANKS)
        return (lookup("G:" + name) if _MACRO_NAME.fullmatch(name) else ()) or (_UNKNOWN,)
    content = ref.group(1)
    if content.startswith("="):
        value = _string_value(content[1:].strip(_BLANKS))
        return (_UNKNOWN,) if value is None else (value,)
    name = content.strip(_BLANKS)
    if name.startswith(("++", "--")):
        name = name[2:]
    elif name.endswith(("++", "--")):
        name = name[:-2]
    if name == "*":  # `*': the arguments, as `0' has them
        name = "0"
    return (lookup("L:" + name) if _MACRO_NAME.fullmatch(name) else ()) or (_UNKNOWN,)


def _forget_macros(text: str) -> str:
    """References left when a limit stopped the expansion: _LIMIT, so they fail closed."""
    for _ in range(_MAX_ROUNDS):
        forgotten = _LOCAL_REF.sub(_LIMIT, _GLOBAL_REF.sub(_LIMIT, text))
        if forgotten == text:
            break
        text = forgotten
    return text


def _prioritized(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct values, those that could start a refused command first; past the cap, _LIMIT."""
    unique = list(dict.fromkeys(values))
    if len(unique) <= _MAX_VALUES:
        return tuple(unique)
    unique.sort(key=lambda value: not _may_refuse(value))
    return (*unique[:_MAX_VALUES], _LIMIT)


def _may_refuse(value: str) -> bool:
    value = value.lstrip(_BLANKS)
    word = _NAME.match(value)
    return (
        value.startswith("!")
        or "`" in value
        or "$" in value
        or _LIMIT in value
        or _ARGUMENT in value
        or bool(word and word.group() in _TRIGGERS)
    )


class _Macros:
    """Local and global macros by source order, plus every value each ever gets (for loops)."""

    def __init__(
        self, initial: Mapping[str, tuple[str, ...]] | None = None, *, fresh_locals: bool = False
    ) -> None:
        self.fresh_locals = fresh_locals  # a do-file's own scope: no local is set before it runs
        self.initial = dict(initial or {})
        self.current: dict[str, tuple[str, ...]] = dict(self.initial)
        self.ever: dict[str, set[str]] = {k: set(v) for k, v in self.initial.items()}

    def restart(self) -> None:
        self.current = dict(self.initial)

    def lookup(self, key: str, *, anywhere: bool = False, fresh: bool = False) -> tuple[str, ...]:
        """A macro's possible values; one never defined is empty in Stata, but a global (or a
        local where an earlier run may have set locals) could hold anything: _UNDEFINED."""
        known_empty = key.startswith("L:") and (fresh or self.fresh_locals)
        values = list(self.current.get(key, ("" if known_empty else _UNDEFINED,)))
        if anywhere and key in self.ever:
            values += sorted(self.ever[key])
        return _prioritized(values)

    def define(self, key: str, values: Iterable[str]) -> None:
        kept = _prioritized(values) or ("",)
        self.current[key] = kept
        self.ever.setdefault(key, set()).update(kept)

    def globals(self) -> dict[str, tuple[str, ...]]:
        return {k: v for k, v in self.current.items() if k.startswith("G:")}


def _strip_prefixes(text: str) -> str:
    """`capture`, `quietly` and `noisily` (abbreviated, with or without a colon) removed."""
    return text[_after_prefixes(text, 0) :]


def _after_prefixes(text: str, pos: int) -> int:
    while True:
        found = _NAME.match(text, pos)
        if found is None or found.group() not in _SIMPLE_PREFIXES:
            return pos
        pos = _skip(text, found.end(), _BLANKS)
        if text.startswith(":", pos):
            pos = _skip(text, pos + 1, _BLANKS)


def _captured(text: str) -> bool:
    """Whether `capture` is among the statement's leading prefixes."""
    pos = 0
    while (found := _NAME.match(text, pos)) is not None and found.group() in _SIMPLE_PREFIXES:
        if found.group() in _CAPTURE:
            return True
        pos = _skip(text, found.end(), _BLANKS)
        if text.startswith(":", pos):
            pos = _skip(text, pos + 1, _BLANKS)
    return False


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _definitions(
    text: str, macros: _Macros, in_program: bool = False
) -> list[tuple[str, list[str]]]:
    """The macros one (expanded) statement defines, with their possible values."""
    text = _strip_prefixes(text.replace(_UNDEFINED, ""))
    words = text.split(" ", 2)
    first = words[0]
    if first in ("mata", "mata:") and len(words) > 1:
        return _mata_definitions(text[len(first) :].lstrip(_BLANKS).removeprefix(":"))
    if first in _LOCAL or first in _GLOBAL or first == "c_local":
        found = _DEFINED.match(text, len(first))
        if found is None or found.group(2).startswith(("++", "--")):
            return []  # `local ++i`, `local x++`, a name this cannot read
        key = ("G:" if first in _GLOBAL else "L:") + found.group(1)
        value = [_assigned(found.group(2))]
        if first == "c_local":  # also the caller's, once this file or program returns
            return [(key, value), ("C:" + found.group(1), value)]
        return [(key, value)]
    if first in ("foreach", "forv", "forva", "forval", "forvalu", "forvalue", "forvalues"):
        if len(words) < 2 or not _MACRO_NAME.fullmatch(words[1]):
            return []
        return [("L:" + words[1], _loop_values(words[2] if len(words) > 2 else "", macros))]
    if first in ("tempvar", "tempname", "tempfile"):
        names = " ".join(words[1:]).split()
        return [("L:" + name, [_UNKNOWN]) for name in names if _MACRO_NAME.fullmatch(name)]
    if first == "args":  # names for the arguments: a program's are known only when it runs
        names = [n for n in " ".join(words[1:]).split() if _MACRO_NAME.fullmatch(n)]
        if in_program:
            return [("L:" + name, [_ARGUMENT]) for name in names]
        return [("L:" + name, list(macros.lookup(f"L:{i}"))) for i, name in enumerate(names, 1)]
    if first == "syntax":
        return _syntax(" ".join(words[1:]), macros, in_program)
    if first == "tokenize":
        values = [_unquote(token) for _, token in _tokens(" ".join(words[1:]))]
        return [(f"L:{i}", [value]) for i, value in enumerate(values, 1)]
    if first == "gettoken":
        return _gettoken(text[len(first) :], macros, in_program)
    shift = _MACRO_SHIFT.fullmatch(text)
    if shift is not None:
        return _shifted(macros, int(shift.group(1) or 1))
    return _set_by_commands(text)


_LOCAL_OPTION = re.compile(r"(?<![A-Za-z0-9_])local\(\s*([A-Za-z0-9_]+)\s*\)")
_READS_INTO = re.compile(
    r"(?:file\s+r(?:e(?:ad?)?)?\s+\S+|(?:ts|fv)?unab\s+(?:\S+\s+)?|display.*_request2?\()"
    r"\s*\(?\s*([A-Za-z0-9_]+)"
)
_MACRO_SHIFT = re.compile(r"ma(?:c(?:ro?)?)?\s+shift(?:\s+([0-9]+))?\s*")


def _set_by_commands(text: str) -> list[tuple[str, list[str]]]:
    """Macros ordinary commands set from data or files (`levelsof x, local(c)`, `file read h c`,
    `unab c : ...`, `display _request(c)`): their values are known only when they run."""
    found = [("L:" + name, [_UNKNOWN]) for name in _LOCAL_OPTION.findall(text)]
    into = _READS_INTO.match(text)
    if into is not None:
        key = ("G:" if "_request" in into.group() else "L:") + into.group(1)
        found.append((key, [_UNKNOWN]))
    return found


def _shifted(macros: _Macros, by: int) -> list[tuple[str, list[str]]]:
    """After `macro shift`, each positional macro may hold any later argument."""
    positions = sorted(
        int(k[2:]) for k in macros.current if _POSITIONAL.fullmatch(k) and k != "L:0"
    )
    found: list[tuple[str, list[str]]] = []
    for i in positions:
        later = [v for j in positions if j >= i for v in macros.current[f"L:{j}"]]
        found.append((f"L:{i}", [*later, ""] if by else later))
    return found


def _syntax(spec: str, macros: _Macros, in_program: bool) -> list[tuple[str, list[str]]]:
    """What `syntax` sets: a flag option its own name or nothing; everything else holds (part of)
    the arguments, which for a program are known only when it runs."""
    arguments = macros.lookup("L:0")
    value = _ARGUMENT if in_program or any(v.strip(_BLANKS) for v in arguments) else ""
    comma = _top_level(spec.replace("[", " ").replace("]", " "), ",")  # `[, opts]` is optional
    head, options = (spec, "") if comma is None else (spec[:comma], spec[comma:])
    found: dict[str, list[str]] = {
        name: [value] for name in ("varlist", "namelist", "anything", "options", "if", "in")
    }
    found |= {name: [value] for name in ("using", "exp", "weight")}
    for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head):
        found[name.lower()] = [value]
    for option in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)(\()?", options):
        name = option.group(1).lower()
        if option.group(2):  # NAME(string), NAME(integer), ...: what the caller wrote
            found[name] = [value]
        elif name.startswith("no") and len(name) > 2:  # noCONStant → `constant'
            found[name[2:]] = ["", name]
        else:  # a flag: its own name, or nothing
            found[name] = ["", name]
    if not in_program:
        found["anything"] = list(arguments)
    return [("L:" + name, values) for name, values in found.items()]


def _assigned(rest: str) -> str:
    """The value `local name rest` stores."""
    rest = rest.strip(_BLANKS)
    if rest.startswith("="):
        value = _string_value(rest[1:])
        return _UNKNOWN if value is None else value
    if rest.startswith(":"):
        display = _DISPLAY_FUNCTION.match(rest)
        value = _string_value(rest[display.end() :], juxtapose=True) if display else None
        return _UNKNOWN if value is None else value
    tokens = _tokens(rest)
    return _unquote(rest) if len(tokens) == 1 else rest


def _loop_values(rest: str, macros: _Macros) -> list[str]:
    """What `foreach name in|of local|of global ... {` gives the loop variable."""
    rest = rest.removesuffix("{").strip(_BLANKS)
    kind, _, items = rest.partition(" ")
    if kind == "in":
        return [_unquote(t) for _, t in _tokens(items)] or [""]
    source, _, name = items.partition(" ")
    name = name.strip(_BLANKS)
    if kind == "of" and _MACRO_NAME.fullmatch(name):
        prefix = "L:" if source in _LOCAL else "G:" if source in _GLOBAL else None
        if prefix is not None:
            values = [
                _unquote(token)
                for value in macros.lookup(prefix + name)
                for _, token in _tokens(value)
            ]
            return values or [""]
    return [_UNKNOWN]


def _gettoken(rest: str, macros: _Macros, in_program: bool) -> list[tuple[str, list[str]]]:
    targets, colon, source = rest.partition(":")
    names = targets.split()
    if not colon or not names or not all(_MACRO_NAME.fullmatch(n) for n in names[:2]):
        return []
    source_name = source.split(",")[0].strip(_BLANKS)
    if "," in source or not _MACRO_NAME.fullmatch(source_name):  # parse() etc.: unknown
        return [("L:" + n, [_UNKNOWN]) for n in names[:2]]
    if in_program and source_name.isdigit():  # a program's own arguments
        return [("L:" + n, [_ARGUMENT]) for n in names[:2]]
    firsts, rests = [], []
    for value in macros.lookup("L:" + source_name):
        tokens = _tokens(value)
        firsts.append(_unquote(tokens[0][1]) if tokens else "")
        rests.append(value[tokens[1][0] :] if len(tokens) > 1 else "")
    found = [("L:" + names[0], firsts)]
    if len(names) > 1:
        found.append(("L:" + names[1], rests))
    return found


_MATA_SETS = re.compile(r"(?<![A-Za-z0-9_])st_(local|global)\s*\(")


def _mata_definitions(code: str) -> list[tuple[str, list[str]]]:
    """Macros Mata sets with st_local("name", value) and st_global("name", value)."""
    found: list[tuple[str, list[str]]] = []
    for call in _MATA_SETS.finditer(code):
        arguments = _call_arguments(code, call.end() - 1)
        if arguments is None or len(arguments) < 2:
            continue  # a getter, or a call this cannot read
        name = _string_value(_unwrap(arguments[0]))
        if name is None or not _MACRO_NAME.fullmatch(name):
            continue
        value = _string_value(_unwrap(arguments[1]))
        key = ("L:" if call.group(1) == "local" else "G:") + name
        found.append((key, [_UNKNOWN if value is None else value]))
    return found


def _call_arguments(code: str, open_paren: int) -> list[str] | None:
    """The top-level arguments of the call whose `(` is at `open_paren`; None if it never closes."""
    blank = _blank_strings(code)
    depth = 0
    start = open_paren + 1
    arguments: list[str] = []
    for i in range(open_paren, len(blank)):
        char = blank[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                arguments.append(code[start:i])
                return arguments
        elif char == "," and depth == 1:
            arguments.append(code[start:i])
            start = i + 1
    return None


def _unwrap(expression: str) -> str:
    """`(("shell ls"))` → `"shell ls"`: parentheses around a whole expression removed."""
    expression = expression.strip(_BLANKS)
    while expression.startswith("(") and expression.endswith(")"):
        inner = _call_arguments(expression, 0)
        if inner is None or len(inner) != 1 or len(inner[0]) != len(expression) - 2:
            break
        expression = inner[0].strip(_BLANKS)
    return expression


def _open_parentheses(code: str) -> int:
    blank = _blank_strings(code)
    return blank.count("(") - blank.count(")")


# --- statements -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Statement:
    line: int
    text: str
    mata: bool = False  # Mata code, not a Stata command
    nested: bool = False  # inside a loop, an if/else body or a program: runs more than once
    in_program: bool = False


def _statements(text: str, *, data: bool = True) -> list[_Statement]:
    """Every statement Stata would read as a command or as Mata, with its first line.

    Lines after `input` are data up to `end` only where Stata reads them so: `input` as the
    statement's command, at the top level of a do-file (not in a program, loop or other block),
    not under `capture`, and `data` (False for a file run with `nostop`): where a bad data line
    would end `input` and let the next lines run as commands, they are read as commands."""
    lines = LINE_BREAK.split(text) if text else []
    scanner = Scanner(lines)
    blocks: list[str] = []  # "program", "mata", "python", "java", "input"
    braces = 0
    found: list[_Statement] = []
    pending: list[_Statement] = []  # a Mata statement whose parentheses are still open

    def flush_mata() -> None:
        if pending:
            first = pending[0]
            joined = " ".join(part.text for part in pending)
            found.append(_Statement(first.line, joined, True, first.nested, first.in_program))
            pending.clear()

    while True:
        raw = bool(blocks) and blocks[-1] in ("python", "java", "input")
        statement = scanner.raw_line() if raw else scanner.statement()
        if statement is None:
            flush_mata()
            return found
        body = statement.text
        if not body:
            continue
        line = statement.first + 1
        kind = blocks[-1] if blocks else "stata"
        in_program = "program" in blocks
        if kind in ("python", "java", "input", "mata"):
            if _END.fullmatch(body):
                flush_mata()
                blocks.pop()
            elif kind == "mata":
                nested = braces > 0 or in_program
                pending.append(_Statement(line, body, True, nested, in_program))
                joined = " ".join(part.text for part in pending)
                if _open_parentheses(joined) <= 0 or len(pending) >= _MAX_MATA_JOIN:
                    flush_mata()
            continue
        if body.startswith("*"):
            continue  # a comment
        if blocks and _END.fullmatch(body):  # closes a program
            blocks.pop()
            continue
        found.append(_Statement(line, body, False, braces > 0 or in_program, in_program))
        at_top = braces == 0 and not in_program
        if body.startswith("}"):
            braces = max(braces - 1, 0)
        if statement.opens_brace:
            braces += 1
        opened = _opens(body)
        plain = data and at_top and not scanner.semicolon and not _captured(body)
        if opened == "input" and not plain:
            continue
        if opened is not None:
            blocks.append(opened)


def _opens(text: str) -> str | None:
    """Which `... end` block a statement opens, if any."""
    text = _strip_prefixes(text)
    alone = _ALONE.fullmatch(text)
    if alone:
        return alone.group(1)
    words = text.split(" ")
    if words[0] in _INPUT:
        return "input"
    if words[0] in _PROGRAM and len(words) > 1 and words[1] not in _PROGRAM_ONE_LINERS:
        options = text[(_top_level(text, ",") or len(text)) :]
        return None if re.search(r"(?<![A-Za-z0-9_])plugin(?![A-Za-z0-9_])", options) else "program"
    return None


def _physical_lines(text: str) -> list[_Statement]:
    """The fallback reader: one statement per physical line, `//` and `/* */` comments removed."""
    found = []
    for number, line in enumerate(LINE_BREAK.split(text), 1):
        code = re.sub(r"/\*.*?\*/|(?:^|[ \t])//.*", " ", line).strip()
        if code and not code.startswith("*"):
            found.append(_Statement(number, " ".join(code.split())))
    return found


# --- what a statement runs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    """`do`/`run`/`include` (or dyndoc, markstat, ...) of another file: its path and arguments."""

    word: str
    path: str
    args: tuple[str, ...]
    captured: bool = False  # under `capture`
    nostop: bool = False  # `, nostop`: an error does not stop the file
    kind: str = "do"  # "do" (do, run, include, texdoc do), "dyndoc" (dyndoc, dyntext), "markstat"
    extension: str = ".do"  # what Stata adds to a name without one


Hit = tuple[str, str, str]  # (category or UNCHECKED, command as written, reason when unchecked)

_ARGUMENT_REASON = "the command comes from a program's arguments, known only when it runs"
_UNDEFINED_REASON = (
    "the command comes from a macro this code never defines (an earlier run, or a command "
    "this does not follow, may have set it)"
)
_UNKNOWN_REASON = (
    "the command comes from a macro whose value is known only when it runs (an expression, an "
    "extended function, r() or e() results, ...)"
)
_QUOTED_COMMAND = frozenset(
    {"bootstrap", "bs", "bstrap", "jackknife", "jknife", "permute", "simulate", "statsby"}
)
_DYNAMIC = {"dyndoc": ("dyndoc", ""), "dyntext": ("dyndoc", ""), "markstat": ("markstat", ".stmd")}


def _shown(word: str) -> str:
    for marker in (_UNKNOWN, _LIMIT, _ARGUMENT, _UNDEFINED):
        word = word.replace(marker, "?")
    return word


def _unchecked(word: str, reason: str) -> Hit:
    return (UNCHECKED, _shown(word) or "?", reason)


def _hits(text: str, calls: list[_Call], depth: int = 0) -> list[Hit]:
    """The refusable commands one expanded statement runs, following prefixes and `if`."""
    found: list[Hit] = []
    if depth > _MAX_NESTING:
        return [_unchecked(text.split(" ", 1)[0][:40], LIMITS["nesting"])]
    pos = 0
    captured = False
    while True:  # every round moves past a prefix, so this ends
        pos = _skip(text, pos, _BLANKS + "}")
        if pos < len(text) and text[pos] == _UNDEFINED:
            found.append(_unchecked("?", _UNDEFINED_REASON))  # a command word from macros never
            end = _skip(text, pos, _UNDEFINED)  # defined: what they hold is unknown here; what
            pos = _skip(text, end, _BLANKS)  # follows is what Stata runs when they are empty
        if pos >= len(text):
            break
        if text[pos] == "!":
            bang = "!!" if text.startswith("!!", pos) else "!"
            found.append((_BANG_RULES[bang], bang, ""))
            break
        name = _NAME.match(text, pos)
        if name is None:
            break  # not a command word
        word, after = name.group().replace(_UNDEFINED, ""), name.end()
        if len(word) < len(name.group()):  # `sh`u'ell`: part of the word from such a macro
            found.append(_unchecked("?", _UNDEFINED_REASON))
        if _LIMIT in word:  # "?": the statement's own first word is shown
            found.append(_unchecked("?", LIMITS["macros"]))
            break
        if _ARGUMENT in word:
            found.append(_unchecked("?", _ARGUMENT_REASON))
            break
        if _UNKNOWN in word:
            found.append(_unchecked("?", _UNKNOWN_REASON))
            break
        if word in _SIMPLE_PREFIXES:
            captured = captured or word in _CAPTURE
            pos = _skip(text, after, _BLANKS)
            pos += text.startswith(":", pos)
            continue
        if word == "else":
            pos = after
            continue
        # its arguments as Stata reads them, with the macros never defined empty (the command
        # after a prefix's colon, an `if` or Mata is judged on `text`, where they still show)
        rest = text[after:].replace(_UNDEFINED, "")
        found += _word_hits(word, rest, 0)
        if word in _DO:
            found += _add_call(word, rest, calls, captured)
        elif word in _DYNAMIC:
            kind, extension = _DYNAMIC[word]
            if kind == "markstat":
                using = re.match(r"[ \t]*using(?![A-Za-z0-9_])", rest)
                rest = rest[using.end() :] if using else ""
            found += _add_call(word, rest, calls, captured, kind=kind, extension=extension)
        elif word in ("texdoc", "webdoc"):
            sub = re.match(r"[ \t]*do(?![A-Za-z0-9_])", rest)
            if sub is not None:
                found += _add_call(
                    f"{word} do", rest[sub.end() :], calls, captured, extension=f".{word}"
                )
        elif word in _QUOTED_COMMAND:  # Stata 8's `bootstrap "command" ...`, under version 8
            quoted = re.match(r'[ \t]*(?:"([^"]*)"|`"(.*?)"\')', text[after:])
            if quoted is not None:
                found += _hits(quoted.group(1) or quoted.group(2) or "", calls, depth + 1)
        elif word == "if":
            found += _if_hits(text[after:], calls, depth)
        elif word == "mata":
            code = text[_skip(text, after, _BLANKS) :].removeprefix(":")
            found += _mata_hits(code, calls, depth + 1)
        if word in _COLON_IS_NOT_A_PREFIX:
            break
        colon = _top_level(text, ":", after)
        if colon is None:
            break
        pos = colon + 1
    return found


def _word_hits(word: str, text: str, after: int) -> list[Hit]:
    """What the rules say about `word`, whose arguments start at `text[after]`."""
    found: list[Hit] = []
    for written, rule in _WORD_RULES.get(word, ()):
        command = written
        if rule.subcommands is not None:
            sub = _NAME.match(text, _skip(text, after, _BLANKS))
            if sub is None or sub.group() not in rule.subcommands:
                continue
            command = f"{written} {sub.group()}"
        if rule.option is not None:
            comma = _top_level(text, ",", after)
            options = "" if comma is None else text[comma + 1 :]
            if not rule.option.search(options):
                continue
            command = f"{command} …, {rule.option_name}"
        found.append((rule.category, command, ""))
    return found


_OPERATOR_NEXT = re.compile(r"[ \t]*[=<>!~&|+\-*/^,)\]]")


def _if_hits(rest: str, calls: list[_Call], depth: int) -> list[Hit]:
    """`if exp command`: try each word that could start a refused command."""
    if rest.rstrip(_BLANKS).endswith("{"):
        return []
    tries = 0
    for start, token in _tokens(rest):
        name = _NAME.match(token)
        if name is None:
            continue
        word = name.group()
        if word not in _TRIGGERS:
            marker = any(m in word for m in (_LIMIT, _ARGUMENT, _UNKNOWN, _UNDEFINED))
            if not marker or _OPERATOR_NEXT.match(rest, start + len(token)):
                continue  # a marker inside the expression, not where a command starts
        if tries >= _MAX_IF_TRIES:
            return [_unchecked("if", LIMITS["if"])]
        tries += 1
        found = _hits(rest[start:], calls, depth + 1)
        if found:
            return found
    return []


_MATA_STATA = re.compile(r"(?<![A-Za-z0-9_])_?stata(?![A-Za-z0-9_])")


def _mata_hits(code: str, calls: list[_Call], depth: int, *, as_stata: bool = False) -> list[Hit]:
    """Mata code: stata()/_stata() with a provable literal (else refused as unchecked),
    unlink() and rmdir(); Stata words when a line may be Stata (in a program)."""
    if depth > _MAX_NESTING:
        return [_unchecked("stata()", LIMITS["nesting"])]
    found: list[Hit] = []
    blank = _blank_strings(code)
    for call in _MATA_STATA.finditer(blank):
        name = call.group() + "()"
        after = _skip(blank, call.end(), _BLANKS)
        if after >= len(blank):
            found.append(_unchecked(name, "the call continues on a later line this cannot join"))
            continue
        if blank[after] != "(":
            continue  # a variable that happens to be named stata
        arguments = _call_arguments(code, after)
        if arguments is None:
            found.append(_unchecked(name, "its parentheses never close"))
            continue
        value = _string_value(_unwrap(arguments[0]))
        if value is None and not arguments[0].strip(_BLANKS):
            found.append(_unchecked(name, "a pointer to it can run any command later"))
        elif value is None:
            reason = "Mata's stata() runs a command computed when it runs, not written out"
            found.append(_unchecked(name, reason))
        elif "`" in value or "$" in value:
            found.append(_unchecked(name, "the command holds macros Stata expands when it runs"))
        else:
            found += _hits(value, calls, depth + 1)
    for call in _MATA_CALL.finditer(blank):
        found.append((_MATA_RULES[call.group(1)], call.group(1) + "()", ""))
    if as_stata:
        word = _NAME.match(code.lstrip(_BLANKS))
        after_word = code.lstrip(_BLANKS)[word.end() :].lstrip(_BLANKS) if word else ""
        if word is not None and not (after_word and after_word[0] in "=([{.;,+-*/<>!&|^':)"):
            stata = _hits(code, calls, depth + 1)
            found += [hit for hit in stata if hit[1][0] != "!" and hit[0] != UNCHECKED]
    return found


_STRINGS = re.compile(r'`"[^"]*"\'|"[^"]*"')


def _blank_strings(code: str) -> str:
    """The code with the inside of every string blanked, each character kept in its place."""

    def blank(match: re.Match[str]) -> str:
        text = match.group()
        edge = 2 if text.startswith('`"') else 1
        return text[:edge] + " " * (len(text) - 2 * edge) + text[-edge:]

    return _STRINGS.sub(blank, code)


def _add_call(
    word: str,
    rest: str,
    calls: list[_Call],
    captured: bool,
    *,
    kind: str = "do",
    extension: str = ".do",
) -> list[Hit]:
    rest = rest.replace(_UNDEFINED, "").strip(_BLANKS)
    comma = _top_level(rest, ",")
    tokens = _tokens(rest[:comma])
    if not tokens:
        return []
    path = _unquote(tokens[0][1]).strip(_BLANKS)
    if _LIMIT in path:
        return [_unchecked(f"{word} {path}", LIMITS["macros"])]
    if _ARGUMENT in path:
        return [_unchecked(f"{word} {path}", "the file's name comes from a program's arguments")]
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path):  # Stata fetches and runs it
        return [_unchecked(f"{word} {path}", "a file from the web is read only when it runs")]
    if path == "{":  # Mata's `do { ... } while ()`, read as Stata in a Mata block
        return []
    options = "" if comma is None else rest[comma + 1 :]
    nostop = re.search(r"(?<![A-Za-z0-9_])nostop(?![A-Za-z0-9_])", options) is not None
    if path and _UNKNOWN not in path:
        arguments = tuple(_unquote(t) for _, t in tokens[1:])
        calls.append(_Call(word, path, arguments, captured, nostop, kind, extension))
    return []


# --- checking -------------------------------------------------------------------------------------


Loaded = str | bytes | Source | None


@dataclass
class _Run:
    """One `check` call: the policy, the loader, and the called files already checked."""

    refused: frozenset[str]
    load: Callable[[str], Loaded] | None
    line_by_line: bool = False  # the fallback reader, for when the real one fails
    done: set[tuple[object, ...]] = field(default_factory=set)  # (file, its inputs) checked
    loaded: dict[str, tuple[str, str] | BaseException | None] = field(default_factory=dict)
    after: dict[tuple[object, ...], dict[str, tuple[str, ...]]] = field(default_factory=dict)
    checks: int = 0
    found: list[Violation] = field(default_factory=list)
    calls: list[DoCall] = field(default_factory=list)  # this file's own calls, for called_files

    def file(
        self,
        text: str,
        name: str | None,
        depth: int,
        macros: Mapping[str, tuple[str, ...]] | None = None,
        *,
        data: bool = True,
        fresh: bool = False,
    ) -> _Macros:
        """Check one file's text; its macros as they stand at the end."""
        if len(text) > _MAX_TEXT:
            first = _Statement(1, _shorten(text[:200].split("\n", 1)[0]))
            self._refuse(first, name, UNCHECKED, "?", False, LIMITS["size"])
            return _Macros(macros, fresh_locals=fresh)
        lines = self.line_by_line
        statements = _physical_lines(text) if lines else _statements(text, data=data)
        table = _Macros(macros, fresh_locals=fresh)
        self._walk(statements, name, depth, table)
        return table

    def _walk(
        self, statements: list[_Statement], name: str | None, depth: int, macros: _Macros
    ) -> None:
        for statement in statements:  # first pass: every value each macro ever gets
            self._define(statement, macros)
        macros.restart()
        for statement in statements:
            calls: list[_Call] = []
            checked = self._check(statement, macros, calls)
            hits = [h for h in checked if h[0] in self.refused]  # refused for certain, or else
            hits = hits or [h for h in checked if h[0] == UNCHECKED]  # what could not be checked
            for category, command, via_macro, reason in hits:
                self._refuse(statement, name, category, command, via_macro, reason)
            for call in calls:
                if depth == 0 and call.kind == "do" and call.word in _DO:
                    macro = "`" in statement.text or "$" in statement.text
                    self.calls.append(
                        DoCall(statement.line, call.word, call.path, call.captured, macro)
                    )
                refused = self._call(call, depth, macros)
                if refused is not None:
                    self._refuse(statement, name, UNCHECKED, refused[0], False, refused[1])
            self._define(statement, macros)

    def _refuse(
        self,
        statement: _Statement,
        name: str | None,
        category: str,
        command: str,
        via_macro: bool,
        reason: str,
    ) -> None:
        source = _shorten(statement.text)
        if command == "?":  # a marker: show the statement's own first word instead
            command = statement.text.split(" ", 1)[0][:40]
        self.found.append(
            Violation(category, command, statement.line, name, source, via_macro, reason)
        )

    def _check(
        self, statement: _Statement, macros: _Macros, calls: list[_Call]
    ) -> list[tuple[str, str, bool, str]]:
        text = _clean(statement.text)

        def lookup(key: str) -> tuple[str, ...]:
            if statement.in_program and _POSITIONAL.fullmatch(key):
                return (_ARGUMENT,)  # a program's `0', `1', ...: its caller's, not the file's
            return macros.lookup(key, anywhere=statement.nested, fresh=statement.in_program)

        def hits_of(code: str, into: list[_Call]) -> list[Hit]:
            if statement.mata:  # also as Stata, in case Stata did not open the block we assume
                return _mata_hits(code, into, 0, as_stata=True)
            return _hits(code, into)

        found: dict[Hit, None] = {}
        for variant in _expand(text, lookup):
            for hit in hits_of(variant, calls):
                found[hit] = None
        calls[:] = list(dict.fromkeys(calls))
        if not found:
            return []
        literal: set[Hit] = set(found)
        if "`" in text or "$" in text:  # which hits are there without expanding anything
            literal = set(hits_of(_expand(text, lambda key: (_UNKNOWN,))[0], []))
        return [
            (cat, command, (cat, command, reason) not in literal, reason)
            for cat, command, reason in found
        ]

    def _define(self, statement: _Statement, macros: _Macros) -> None:
        text = _clean(statement.text)
        text = text.replace("\\`", "\ue001").replace("\\$", "\ue002")  # `\`x'` delays expansion

        def lookup(key: str) -> tuple[str, ...]:
            if statement.in_program and _POSITIONAL.fullmatch(key):
                return (_ARGUMENT,)
            return macros.lookup(key, fresh=statement.in_program)

        for variant in _expand(text, lookup):
            variant = variant.replace("\ue001", "`").replace("\ue002", "$")
            if statement.mata:
                definitions = _mata_definitions(variant)
            else:
                definitions = _definitions(variant, macros, statement.in_program)
            for key, values in definitions:
                macros.define(key, values)

    def _load(self, name: str) -> tuple[str, str] | None:
        """The text and identity of a called file, read once per name; raises what load raised."""
        if name not in self.loaded:
            try:
                self.loaded[name] = _loaded(self.load(name), name) if self.load else None
            except Exception as error:
                self.loaded[name] = error
        result = self.loaded[name]
        if isinstance(result, BaseException):
            raise result
        return result

    def _call(self, call: _Call, depth: int, macros: _Macros) -> tuple[str, str] | None:
        """Check one call of another file with its own inputs; (command, reason) if refused."""
        if self.load is None:
            return None
        written = f"{call.word} {call.path}"
        if depth + 1 >= _MAX_DEPTH:
            return written, LIMITS["depth"]
        for name in _names(call.path, call.extension):
            try:
                loaded = self._load(name)
            except CouldNotCheck as error:
                return written, str(error)
            except Exception as error:
                return written, f"reading {name} failed ({type(error).__name__}: {error})"
            if loaded is None:
                continue
            text, identity = loaded
            if call.word == "include":  # runs in the caller's scope
                inherited = dict(macros.current)
            else:
                inherited = macros.globals()
                inherited["L:0"] = (" ".join(call.args),)
                for i, arg in enumerate(call.args, 1):
                    inherited[f"L:{i}"] = (arg,)
            key = (identity, call.kind, call.word == "include", call.nostop, _frozen(inherited))
            if key not in self.done:
                if self.checks >= _MAX_FILES:
                    return written, LIMITS["files"]
                self.done.add(key)
                self.checks += 1
                if call.kind == "dyndoc":
                    text = dyndoc_code(text)
                elif call.kind == "markstat":
                    text = markstat_code(text)
                fresh = call.word != "include" or macros.fresh_locals  # do/run: its own scope
                table = self.file(
                    text, name, depth + 1, inherited, data=not call.nostop, fresh=fresh
                )
                shared = call.word == "include"
                self.after[key] = {
                    k: v for k, v in table.current.items() if shared or k.startswith(("G:", "C:"))
                }
            # what it leaves behind: globals, c_local, and for `include` its locals too
            for k, values in self.after.get(key, {}).items():  # (nothing yet inside a cycle)
                macros.define("L:" + k[2:] if k.startswith("C:") else k, values)
            return None
        return None


_POSITIONAL = re.compile(r"L:[0-9]+")


def _clean(text: str) -> str:
    """The statement with our own marker characters made harmless, so text cannot forge them."""
    for marker in (_UNKNOWN, _LIMIT, _ARGUMENT, _UNDEFINED):
        text = text.replace(marker, "?")
    return text


def _frozen(macros: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted(macros.items()))


def _loaded(value: Loaded, name: str) -> tuple[str, str] | None:
    """What a loader returned as (text, identity); identity is the real path when it gave one."""
    if value is None:
        return None
    if isinstance(value, Source):
        return value.text, value.path
    if isinstance(value, bytes):  # tolerate a loader that returns the raw file
        return decode_source(value)[0], name
    return str(value), name


@dataclass(frozen=True, slots=True)
class DoCall:
    """A `do`, `run` or `include` of another do-file, as `check` reads and follows it."""

    line: int
    command: str  # do, ru, run or include
    path: str  # as written, with the macros the code itself defines expanded
    captured: bool  # under `capture`: a missing file does not stop the run
    via_macro: bool  # the statement uses macros: the path may depend on what Stata has set

    @property
    def names(self) -> tuple[str, ...]:
        """The names `check` asks its loader for, in order."""
        return _names(self.path)


def _names(path: str, extension: str = ".do") -> tuple[str, ...]:
    """`.do` is added to a name without an extension; the bare name is tried after it."""
    base = re.split(r"[/\\]", path)[-1]
    return (path,) if "." in base or not extension else (path + extension, path)


def called_files(text: str) -> list[DoCall]:
    """The do-files `text` itself calls, with their lines, read as `check` reads them."""
    for line_by_line in (False, True):
        with contextlib.suppress(Exception):
            run = _Run(frozenset(), None, line_by_line)
            run.file(text if isinstance(text, str) else str(text), None, 0)
            return run.calls
    return []  # pragma: no cover - the line-by-line reader is a few regular expressions


def _shorten(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def check(
    text: str,
    policy: Policy,
    *,
    name: str | None = None,
    load: Callable[[str], Loaded] | None = None,
    fresh_locals: bool = False,
) -> list[Violation]:
    """Every refused command in `text` (and the do-files it calls), in order; never raises.

    `load(path)` returns a do-file the code calls with `do`, `run` or `include` (the path as
    written, with `.do` added when it has no extension): its text, or a `Source` naming the real
    path too (so same-named files in different folders are told apart), or None when there is no
    such file; it raises `CouldNotCheck` for one that exists but cannot be checked. Each call is
    checked with its own arguments. What cannot be checked (a limit reached, a command computed at
    run time where the policy needs it written out) is refused with category UNCHECKED. If reading
    fails for any reason, the code is read again one physical line at a time; if that fails too,
    the whole text is refused as unchecked. `fresh_locals`: the text runs as a do-file (`do`),
    in a local scope of its own; otherwise (code run with `include` in a session) a local it never
    defines may have been set by an earlier run, and is refused where it would be the command.
    """
    if not policy.refused:
        return []
    for line_by_line in (False, True):
        with contextlib.suppress(Exception):
            return _check_or_raise(
                text, policy, name=name, load=load, line_by_line=line_by_line, fresh=fresh_locals
            )
    reason = "an internal error stopped the check (please report it)"  # pragma: no cover
    return [Violation(UNCHECKED, "?", 1, name, _shorten(str(text)[:80]), reason=reason)]


def _check_or_raise(
    text: str,
    policy: Policy,
    *,
    name: str | None = None,
    load: Callable[[str], Loaded] | None = None,
    line_by_line: bool = False,
    fresh: bool = False,
) -> list[Violation]:
    """`check` without its safety net, so tests and the fuzzer see every internal error."""
    run = _Run(policy.refused, load, line_by_line)
    if name is not None:
        run.done.add((name, "do", False, False, ()))
    run.file(text if isinstance(text, str) else str(text), name, 0, fresh=fresh)
    return list(dict.fromkeys(run.found))
