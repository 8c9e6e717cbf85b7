"""A codebook and a variable search over facts read from Stata or from a .dta file.

Pure: the facts arrive as dataclasses (from `stata.queries.codebook` through Stata, or from
`codebook_dta` without it); this module expands varlists the way Stata does, renders the
codebook (detailed, or one line a variable when there are many) and matches search patterns.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "COMPACT_ABOVE",
    "MAX_MATCHES",
    "MAX_PAGE",
    "Codebook",
    "CodebookError",
    "Match",
    "VariableEntry",
    "VariableFacts",
    "check_page",
    "check_pattern",
    "check_varlist",
    "codebook_from_read",
    "entries_from_read",
    "expand_varlist",
    "format_number",
    "freeze_labels",
    "render_codebook",
    "render_search",
    "search",
    "stata_time",
]

COMPACT_ABOVE = 20
"""More variables than this on one page: one line a variable, as `codebook, compact` shows."""
MAX_PAGE = 500
"""Most variables one codebook page describes: each costs a pass over the data."""
MAX_MATCHES = 200
"""Most search matches shown; the rest are counted."""
_LABELS_SHOWN = 25
_MAX_VARLIST = 20_000
_TOKEN = re.compile(r"^[A-Za-z_*?~][A-Za-z0-9_*?~]*$")
_WILD = re.compile(r"[*?~]")
_EPOCH = dt.date(1960, 1, 1)
_EPOCH_TIME = dt.datetime(1960, 1, 1)
_MISSING = 8.98846567431158e307
"""Stata's `.` as sfi returns it: anything at or above is missing."""


class CodebookError(ValueError):
    """A varlist, page or pattern that cannot be answered; the message says what to do."""


@dataclass(frozen=True, slots=True)
class VariableFacts:
    """One variable as a codebook describes it."""

    name: str
    type: str
    """Storage type: byte, int, long, float, double, str#, strL."""
    format: str
    label: str
    value_label: str | None
    """Name of the value-label set attached, if any (it may be undefined)."""
    n_missing: int
    """Observations missing: `.` and `.a`-`.z` for numbers, "" for strings."""
    n_unique: int | None
    """Distinct non-missing values; None when they were not counted."""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_string(self) -> bool:
        return self.type.startswith("str")


@dataclass(frozen=True, slots=True)
class Codebook:
    """The facts for one page of a varlist, with the value labels they use."""

    source: str
    """'the data in memory' or the .dta file's path."""
    n_obs: int
    n_vars: int
    """Variables in the dataset."""
    selected: int
    """Variables the varlist names (the page is a window on them)."""
    start: int
    variables: tuple[VariableFacts, ...]
    value_labels: Mapping[str, Mapping[float, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """Defined sets attached to the page's variables; an attached name missing here is undefined."""
    sorted_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VariableEntry:
    """What a search looks at for one variable."""

    name: str
    type: str
    label: str
    value_label: str | None


@dataclass(frozen=True, slots=True)
class Match:
    variable: VariableEntry
    where: tuple[str, ...]
    """'name', 'label', or 'value label origin: 1 "Foreign"' for each place it matched."""


# --- building from what a Stata read returns ---------------------------------------------------


def codebook_from_read(read: Mapping[str, Any], source: str, varlist: str = "") -> Codebook:
    """A Codebook from `stata_tools.stata.queries.codebook_read`'s plain answer; a varlist
    Stata refused becomes a CodebookError that says why (and what was meant, when it can)."""
    if "varlist_refused" in read:
        try:
            expand_varlist(varlist, read["names"])
        except CodebookError as error:
            raise CodebookError(f"{error} ({_rc(read['varlist_refused'])})") from None
        raise CodebookError(
            f"Stata refused the varlist {varlist!r} ({_rc(read['varlist_refused'])})"
        )
    return Codebook(
        source=source,
        n_obs=int(read["n_obs"]),
        n_vars=int(read["n_vars"]),
        selected=int(read["selected"]),
        start=int(read["start"]),
        variables=tuple(VariableFacts(**facts) for facts in read["variables"]),
        value_labels=freeze_labels(read["value_labels"]),
        sorted_by=tuple(read.get("sorted_by", ())),
    )


def _rc(refusal: str) -> str:
    found = re.search(r"r\((\d+)\)", refusal)
    return f"r({found.group(1)})" if found else "refused"


def entries_from_read(
    read: Mapping[str, Any],
) -> tuple[tuple[VariableEntry, ...], Mapping[str, Mapping[float, str]]]:
    """Search entries and value-label sets from `queries.variable_catalog`'s answer."""
    entries = tuple(VariableEntry(**entry) for entry in read["variables"])
    return entries, freeze_labels(read.get("value_labels", {}))


def freeze_labels(
    sets: Mapping[str, Mapping[Any, str]],
) -> Mapping[str, Mapping[float, str]]:
    """Value-label sets, read-only."""
    return MappingProxyType({name: MappingProxyType(dict(labels)) for name, labels in sets.items()})


# --- arguments -----------------------------------------------------------------------------------


def check_page(start: int, count: int) -> None:
    for name, value in (("start", start), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodebookError(f"{name} must be an integer, got {value!r}")
    if start < 0:
        raise CodebookError(f"start counts variables from 0 and cannot be negative, got {start}")
    if not 1 <= count <= MAX_PAGE:
        raise CodebookError(f"count must be between 1 and {MAX_PAGE} variables, got {count}")


def check_varlist(varlist: str | None) -> str:
    """The varlist as Stata should see it ('' for all); names, wildcards and a-b ranges only."""
    if varlist is None or not varlist.strip():
        return ""
    if len(varlist) > _MAX_VARLIST:
        raise CodebookError(
            f"varlist is {len(varlist):,} characters long (at most {_MAX_VARLIST:,}); use "
            "wildcards (q1_*) or ranges (q1-q90), or page with start and count"
        )
    tokens = _tokens(varlist)
    for token in tokens:
        for part in token.split("-") if "-" in token else [token]:
            if not _TOKEN.match(part):
                raise CodebookError(
                    f"{token!r} is not a variable name or pattern (letters, digits, _, the "
                    "wildcards * ? ~ and a-b ranges); search_variables finds names by label"
                )
    return " ".join(tokens)


def check_pattern(pattern: str) -> str:
    text = pattern.strip() if isinstance(pattern, str) else ""
    if not text:
        raise CodebookError(
            "pattern is empty: give part of a name or label (income), or a glob (inc*)"
        )
    if len(text) > 200:
        raise CodebookError(f"pattern is {len(text)} characters long; at most 200")
    return text


def _tokens(varlist: str) -> list[str]:
    return re.sub(r"\s*-\s*", "-", varlist.strip()).split()


def expand_varlist(varlist: str | None, names: Sequence[str]) -> list[str]:
    """Stata's varlist rules on `names`: exact names, unique abbreviations, * ? ~ wildcards,
    a-b ranges (ends abbreviable) and _all; each name once, in the order asked."""
    text = check_varlist(varlist)
    if not text:
        return list(names)
    if not names:
        raise CodebookError("no variables defined")
    out: dict[str, None] = {}
    for token in _tokens(text):
        if token in ("_all", "*"):
            out.update(dict.fromkeys(names))
        elif "-" in token:
            first, _, last = token.partition("-")
            i, j = names.index(_one(first, names)), names.index(_one(last, names))
            if i > j:
                raise CodebookError(f"{token}: {names[i]} comes after {names[j]} in the data")
            out.update(dict.fromkeys(names[i : j + 1]))
        elif _WILD.search(token):
            out.update(dict.fromkeys(_wildcard(token, names)))
        else:
            out[_one(token, names)] = None
    return list(out)


def _one(token: str, names: Sequence[str]) -> str:
    if token in names:
        return token
    if _WILD.search(token):
        raise CodebookError(f"{token}: a wildcard cannot end a range")
    hits = [name for name in names if name.startswith(token)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        shown = ", ".join(hits[:8]) + (", ..." if len(hits) > 8 else "")
        raise CodebookError(f"{token} is an ambiguous abbreviation ({shown})")
    close = difflib.get_close_matches(token, names, n=3)
    folded = [name for name in names if name.casefold() == token.casefold()]
    hint = list(dict.fromkeys([*folded, *close]))
    suggestion = f"; did you mean {', '.join(hint)}? Names are case-sensitive" if hint else ""
    raise CodebookError(f"variable {token} not found{suggestion}")


def _wildcard(token: str, names: Sequence[str]) -> list[str]:
    regex = re.compile(
        "".join(".*" if c in "*~" else "." if c == "?" else re.escape(c) for c in token) + r"\Z"
    )
    hits = [name for name in names if regex.match(name)]
    if not hits:
        raise CodebookError(f"variable {token} not found")
    if "~" in token and len(hits) > 1:
        raise CodebookError(f"{token} is an ambiguous abbreviation ({', '.join(hits[:8])})")
    return hits


# --- rendering ---------------------------------------------------------------------------------


def render_codebook(book: Codebook, *, compact: bool | None = None) -> str:
    """The page as text: a header, then the variables (one line each when compact, which is
    the default above COMPACT_ABOVE variables), then a note on the next page."""
    compact = len(book.variables) > COMPACT_ABOVE if compact is None else compact
    stop = book.start + len(book.variables)
    header = f"{book.source}: {book.n_obs:,} observations, {book.n_vars:,} variables"
    if book.sorted_by:
        header += f", sorted by {' '.join(book.sorted_by)}"
    lines = [header]
    if book.selected != len(book.variables):
        lines.append(f"Variables {book.start + 1:,}-{stop:,} of the {book.selected:,} asked for")
    if not book.variables:
        lines.append("(no variables)")
        return "\n".join(lines)
    lines.append("")
    lines += _compact(book) if compact else _detailed(book)
    if stop < book.selected:
        lines += ["", f"{book.selected - stop:,} more: ask again with start={stop}"]
    return "\n".join(lines)


def _compact(book: Codebook) -> list[str]:
    rows = [
        (
            v.name,
            v.type,
            "" if v.n_unique is None else f"{v.n_unique:,}",
            f"{v.n_missing:,}",
            _range(v) if not v.is_string else "",
            _value_label_name(v, book),
            _short(v.label, 60),
        )
        for v in book.variables
    ]
    header = ("Variable", "Type", "Unique", "Missing", "Range", "Value label", "Label")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    right = {2, 3}

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), *(line(r) for r in rows)]
    used = [v.value_label for v in book.variables if v.value_label]
    if used:
        out.append("")
        out.append("Value labels:")
        for name in dict.fromkeys(used):
            out.append(f"  {name}: {_labels_text(book.value_labels.get(name), limit=8)}")
    return out


def _detailed(book: Codebook) -> list[str]:
    out: list[str] = []
    for v in book.variables:
        if out:
            out.append("")
        out.append(f"{v.name}" + (f"  {v.label}" if v.label else "  (no variable label)"))
        kind = "string" if v.is_string else "numeric"
        described = f"  type: {kind} ({v.type}), format {v.format}"
        if v.value_label:
            described += f", value label {_value_label_name(v, book)}"
        out.append(described)
        facts = []
        if not v.is_string:
            facts.append(f"range: {_range(v) or '(all missing)'}")
        if v.n_unique is not None:
            facts.append(f"unique values: {v.n_unique:,}")
        what = '""' if v.is_string else "."
        facts.append(f"missing {what}: {v.n_missing:,}/{book.n_obs:,}")
        out.append("  " + "   ".join(facts))
        if v.value_label and v.value_label in book.value_labels:
            labels = book.value_labels[v.value_label]
            out.append(f"  labels: {_labels_text(labels, limit=_LABELS_SHOWN)}")
    return out


def _range(v: VariableFacts) -> str:
    if v.minimum is None or v.maximum is None:
        return ""
    shown = f"[{format_number(v.minimum, v.type)}, {format_number(v.maximum, v.type)}]"
    low, high = stata_time(v.minimum, v.format), stata_time(v.maximum, v.format)
    return shown if low is None or high is None else f"{shown} = {low} to {high}"


def stata_time(value: float, fmt: str) -> str | None:
    """A value of a %t-formatted variable as a date or period (2020-01-31, 2020m1, 1999q4);
    None for other formats."""
    body = fmt.lstrip("%-")
    kind = body[1:2].lower() if body[:1] == "t" else "d" if body[:1] == "d" else ""
    if not kind or math.isnan(value) or abs(value) > 1e13:
        return None
    whole = math.floor(value)
    try:
        if kind == "d":
            return (_EPOCH + dt.timedelta(days=whole)).isoformat()
        if kind == "c":  # %tC counts leap seconds; the seconds of difference are ignored
            return (_EPOCH_TIME + dt.timedelta(milliseconds=whole)).isoformat(sep=" ")
    except OverflowError:
        return None
    per_year = {"w": 52, "m": 12, "q": 4, "h": 2}.get(kind)
    if per_year is not None:
        year, period = divmod(whole, per_year)
        return f"{1960 + year}{kind}{period + 1}"
    return str(whole) if kind == "y" else None


def _value_label_name(v: VariableFacts, book: Codebook) -> str:
    if not v.value_label:
        return ""
    return v.value_label if v.value_label in book.value_labels else f"{v.value_label} (undefined)"


def _labels_text(labels: Mapping[float, str] | None, *, limit: int) -> str:
    if labels is None:
        return "(not defined)"
    if not labels:
        return "(empty)"
    pairs = [f'{format_number(k)} "{text}"' for k, text in list(labels.items())[:limit]]
    more = f", ... ({len(labels):,} in all)" if len(labels) > limit else ""
    return ", ".join(pairs) + more


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_number(value: float, vtype: str = "double") -> str:
    """A number as a codebook shows it: integers whole, a float's value to float precision."""
    if isinstance(value, float) and (math.isnan(value) or value >= _MISSING):
        return "."
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value)}"
    return f"{value:.7g}" if vtype == "float" else f"{value:.10g}"


# --- search --------------------------------------------------------------------------------------


def search(
    entries: Iterable[VariableEntry],
    pattern: str,
    value_labels: Mapping[str, Mapping[float, str]] | None = None,
) -> list[Match]:
    """Variables whose name or label matches, case-insensitively: a glob (* ?) matches a name
    whole and a label whole or word by word; plain text is found anywhere. With `value_labels`,
    the texts of each variable's labelled values are searched too."""
    text = check_pattern(pattern)
    matches_name, matches_text = _matchers(text)
    found = []
    for entry in entries:
        where = []
        if matches_name(entry.name):
            where.append("name")
        if entry.label and matches_text(entry.label):
            where.append("label")
        if value_labels is not None and entry.value_label in value_labels:
            labels = value_labels[entry.value_label]
            hits = [f'{format_number(k)} "{v}"' for k, v in labels.items() if matches_text(v)]
            if hits:
                more = f", ... ({len(hits)} in all)" if len(hits) > 5 else ""
                where.append(f"value label {entry.value_label}: {', '.join(hits[:5])}{more}")
        if where:
            found.append(Match(entry, tuple(where)))
    return found


def _matchers(pattern: str) -> tuple[Any, Any]:
    folded = pattern.casefold()
    if not any(c in folded for c in "*?"):
        return (lambda s: folded in s.casefold()), (lambda s: folded in s.casefold())
    regex = re.compile(fnmatch.translate(folded), re.S)

    def name(s: str) -> bool:
        return regex.match(s.casefold()) is not None

    def text(s: str) -> bool:
        low = s.casefold()
        return regex.match(low) is not None or any(
            regex.match(word) for word in re.findall(r"[\w'-]+", low)
        )

    return name, text


def render_search(
    matches: Sequence[Match], pattern: str, *, source: str, searched: int, value_labels: bool
) -> str:
    where = "names, labels and value labels" if value_labels else "names and labels"
    head = f'{source}: {len(matches):,} of {searched:,} variables match "{pattern}" ({where})'
    if not matches:
        hint = "" if value_labels else "; value_labels=true also searches the labels' values"
        return head + f"\nNo match. A glob (inc*) matches whole names or label words{hint}."
    shown = matches[:MAX_MATCHES]
    rows = [(m.variable.name, m.variable.type, m.variable.label, "; ".join(m.where)) for m in shown]
    header = ("Variable", "Type", "Label", "Matched in")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(3)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            [*(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True)), cells[3]]
        ).rstrip()

    out = [head, "", line(header), *(line(r) for r in rows)]
    if len(matches) > len(shown):
        out.append(f"... {len(matches) - len(shown):,} more; narrow the pattern")
    return "\n".join(out)
