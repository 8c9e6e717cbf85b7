"""What every data-file reader returns: the file described and one window of its rows."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "MAX_COUNT",
    "DataFileError",
    "DataPage",
    "DataVariable",
    "capped_sets",
    "check_window",
    "resolve_variables",
    "start_beyond",
]

MAX_COUNT = 1_000
"""Most rows one page may hold: a page is for reading, not for exporting the data."""

_MAX_LABELS_PER_SET = 100
_FIRST_NAMES = 10


@dataclass(frozen=True, slots=True)
class DataVariable:
    """One variable (column) as its format describes it."""

    name: str
    type: str
    """The format's own type: byte/int/long/float/double/str#/strL (Stata), numeric/string
    (SPSS, SAS, guessed for CSV and Excel), or the Arrow type (Parquet)."""
    format: str
    """Display format where the format keeps one (%9.2f, F8.2, DATE9.), else empty."""
    label: str
    value_labels: str | None
    """Name of the value-label set attached to the variable, if any."""


@dataclass(frozen=True, slots=True)
class DataPage:
    """The description of a file plus one window of its rows, values ready to show."""

    path: str
    n_obs: int | None
    """Rows in the file; None when it can't be known without reading it all (a large CSV)."""
    n_vars: int
    """Variables in the file (``variables`` describes only the page's columns)."""
    data_label: str
    variables: tuple[DataVariable, ...]
    value_labels: Mapping[str, Mapping[float | int | str, str]]
    """Label sets attached to the page's columns, each cut to its first 100 values."""
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    """Cells: None for missing, str, int, float, date, datetime (value labels already applied)."""
    start: int
    """0-based index of the first row; rows cover observations start+1 .. stop (1-based)."""
    stop: int
    kind: str = "Stata .dta"
    """The format read, as a person names it (with the encoding or sheet where it matters)."""
    notes: tuple[str, ...] = ()
    """What the reader had to decide or could not know (encoding guessed, types guessed...)."""
    at_least: int = 0
    """When ``n_obs`` is None: rows known to exist (the file was read this far)."""


class DataFileError(ValueError):
    """The file or the request can't be read; the message says why and what to do instead."""


def check_window(start: object, count: object) -> None:
    """`start` and `count` as a page takes them: integers, start ≥ 0, 0 ≤ count ≤ MAX_COUNT."""
    for name, value in (("start", start), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataFileError(f"{name} must be an integer, got {value!r}")
    assert isinstance(start, int) and isinstance(count, int)
    if start < 0:
        raise DataFileError(f"start must be 0 or more (0 is the first observation), got {start}")
    if not 0 <= count <= MAX_COUNT:
        raise DataFileError(f"count must be between 0 and {MAX_COUNT}, got {count}")


def start_beyond(start: int, n_obs: int, file: str) -> DataFileError:
    """The error for a page that starts past the last row."""
    last = f" (start is 0-based, so at most {n_obs - 1:,})" if n_obs else ""
    return DataFileError(
        f"start={start} is beyond the data: {file} has {n_obs:,} observations{last}"
    )


def resolve_variables(
    variables: Sequence[str] | str | None, names: tuple[str, ...], file: str
) -> tuple[str, ...]:
    """Exact names in the order asked; unknown ones get close matches or the file's first names."""
    if variables is None:
        return names
    wanted = variables.split() if isinstance(variables, str) else list(variables)
    if not all(isinstance(name, str) for name in wanted):
        raise DataFileError(f"variables must be names (strings), got {variables!r}")
    if not wanted:
        raise DataFileError("no variables named; leave variables unset to list them all")
    known = set(names)
    missing = [name for name in dict.fromkeys(wanted) if name not in known]
    if missing:
        raise DataFileError(_unknown_message(missing, names, file))
    return tuple(dict.fromkeys(wanted))


def _unknown_message(missing: list[str], names: tuple[str, ...], file: str) -> str:
    by_folded = {name.casefold(): name for name in names}
    parts = []
    any_without_match = False
    for name in missing:
        close = [by_folded[name.casefold()]] if name.casefold() in by_folded else []
        close += [m for m in difflib.get_close_matches(name, names, n=3) if m not in close]
        if close:
            parts.append(f"{name} (did you mean {', '.join(close)}?)")
        else:
            parts.append(name)
            any_without_match = True
    noun = "variable" if len(missing) == 1 else "variables"
    message = f"{noun} not found in {file}: {'; '.join(parts)}. Names are case-sensitive."
    if any_without_match:
        first = ", ".join(names[:_FIRST_NAMES])
        more = f", ... ({len(names):,} in all)" if len(names) > _FIRST_NAMES else ""
        message += f" The file's variables: {first}{more}." if names else " The file has none."
    return message


def capped_sets(
    described: tuple[DataVariable, ...], sets: Mapping[str, Mapping[Any, str]]
) -> Mapping[str, Mapping[float | int | str, str]]:
    """The label sets the page's columns use, each cut to its first 100 values."""
    capped: dict[str, Mapping[float | int | str, str]] = {}
    for var in described:
        name = var.value_labels
        if name and name in sets and name not in capped:
            items = list(sets[name].items())[:_MAX_LABELS_PER_SET]
            capped[name] = MappingProxyType(dict(items))
    return MappingProxyType(capped)
