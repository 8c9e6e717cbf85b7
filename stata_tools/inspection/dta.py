"""Look inside a Stata ``.dta`` file without Stata: describe it and list one page of rows.

The ``read_dta_file`` tool must work on machines with no Stata at all, and on files of any size,
so this reads with pyreadstat (ReadStat) and only ever materialises the metadata and the page that
was asked for. ``render_dta`` turns a page into the compact text a model reads, within a budget.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from stata_tools.safety.files import NotAFile, open_regular, stable_path

__all__ = [
    "MAX_COUNT",
    "DtaError",
    "DtaPage",
    "DtaVariable",
    "read_dta",
    "render_dta",
]

MAX_COUNT = 1_000
"""Most rows one page may hold: a page is for reading, not for exporting the data."""

_MAX_LABELS_PER_SET = 100
_MAX_CELL = 40
_MAX_TABLE_WIDTH = 240
_MIN_CHARS = 200
_FIRST_NAMES = 10

_STATA_EPOCH = dt.date(1960, 1, 1)
_STATA_EPOCH_TIME = dt.datetime(1960, 1, 1)
_STORAGE_TYPES = {
    "int8": "byte",
    "int16": "int",
    "int32": "long",
    "float": "float",
    "double": "double",
}
# Old formats 102-115 start with their version byte, then the byte order (1 = MSF, 2 = LSF).
_OLD_FORMATS = frozenset({102, 103, 104, 105, 108, 110, 111, 112, 113, 114, 115})
_NUMBER_FORMAT = re.compile(r"%-?0?(\d+)(?:\.(\d+))?([fge])(c?)$")


@dataclass(frozen=True, slots=True)
class DtaVariable:
    """One variable as Stata's ``describe`` shows it."""

    name: str
    type: str
    """Storage type: byte, int, long, float, double, str#, strL."""
    format: str
    label: str
    value_labels: str | None
    """Name of the value-label set attached to the variable, if any."""


@dataclass(frozen=True, slots=True)
class DtaPage:
    """The description of a file plus one window of its rows, values ready to show."""

    path: str
    n_obs: int
    n_vars: int
    """Variables in the file (``variables`` describes only the page's columns)."""
    data_label: str
    variables: tuple[DtaVariable, ...]
    value_labels: Mapping[str, Mapping[float | int, str]]
    """Label sets attached to the page's columns, each cut to its first 100 values."""
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    """Cells: None for missing, str, int, float, date, datetime (value labels already applied)."""
    start: int
    """0-based index of the first row; rows cover observations start+1 .. stop (1-based)."""
    stop: int


class DtaError(ValueError):
    """The file or the request can't be read; the message says why and what to do instead."""


def read_dta(
    path: Path | str,
    *,
    variables: Sequence[str] | str | None = None,
    start: int = 0,
    count: int = 20,
    apply_value_labels: bool = True,
) -> DtaPage:
    """Describe ``path`` and read rows ``start`` .. ``start+count`` (0-based) of ``variables``.

    Only the metadata and the requested page are read, so this is cheap on a file of any size.
    ``variables`` is a list of exact (case-sensitive) names or one space-separated string.
    ``count=0`` describes the file without reading rows.
    """
    file = Path(path).expanduser()
    _check_window(start, count)
    with _open_checked(file) as handle:
        return _read_page(
            file, stable_path(handle, file), variables, start, count, apply_value_labels
        )


def _read_page(
    file: Path,
    source: Path,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
    apply_value_labels: bool,
) -> DtaPage:
    """The page, read through `source` (the open file's own path where the OS has one)."""
    _, meta = _read(source, file, metadataonly=True)
    names = tuple(meta.column_names)
    n_obs = int(meta.number_rows or 0)
    columns = names if variables is None else _resolve(variables, names, file.name)
    if start > 0 and start >= n_obs:
        last = f" (start is 0-based, so at most {n_obs - 1:,})" if n_obs else ""
        raise DtaError(
            f"start={start} is beyond the data: {file.name} has {n_obs:,} observations{last}"
        )

    described = tuple(_describe(meta, name) for name in columns)
    all_sets: dict[str, dict[Any, str]] = dict(meta.value_labels or {})
    rows: tuple[tuple[object, ...], ...] = ()
    stop = min(start + count, n_obs)
    if stop > start:
        data, _ = _read(
            source,
            file,
            row_offset=start,
            row_limit=stop - start,
            usecols=None if variables is None else list(columns),
            output_format="dict",
            disable_datetime_conversion=True,
        )
        sets = all_sets if apply_value_labels else {}
        rows = _rows(data, described, sets)
        stop = start + len(rows)

    return DtaPage(
        path=str(file),
        n_obs=n_obs,
        n_vars=len(names),
        data_label=meta.file_label or "",
        variables=described,
        value_labels=_capped_sets(described, all_sets),
        columns=columns,
        rows=rows,
        start=start,
        stop=stop,
    )


def render_dta(page: DtaPage, *, max_chars: int = 20_000) -> str:
    """The page as text a model reads: header, variables, value labels, then the rows like ``list``.

    Sections share ``max_chars`` fairly; whatever is cut is replaced by a note saying so.
    """
    if max_chars < _MIN_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_CHARS}, got {max_chars}")
    label = f'"{page.data_label}"' if page.data_label else "(none)"
    header = [
        f"{page.path}: {page.n_obs:,} observations, {page.n_vars:,} variables, label {label}",
    ]
    sections = [
        _variables_section(page),
        _labels_section(page),
        _rows_section(page),
    ]
    text = _fit(header, [s for s in sections if s is not None], max_chars)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# --- reading -------------------------------------------------------------------------------


def _open_checked(file: Path) -> BinaryIO:
    """The file, open, when it is a regular .dta file: a plain message before ReadStat gives an
    obscure one, and a FIFO, socket or device is refused at once instead of blocking a read."""
    if not file.exists():
        raise DtaError(f"no such file: {file}")
    if file.is_dir():
        raise DtaError(f"{file} is a directory, not a .dta file")
    try:
        handle = open_regular(file)
    except NotAFile as exc:
        raise DtaError(f"{exc}: only a regular .dta file can be read") from None
    except OSError as exc:
        raise DtaError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        head = handle.read(16)
        handle.seek(0)
    except OSError as exc:
        handle.close()
        raise DtaError(f"cannot read {file}: {exc.strerror or exc}") from exc
    if not _looks_like_dta(head):
        handle.close()
        shown = head[:11].decode("latin-1", "replace")
        what = "it is empty" if not head else f"it starts with {shown!r}"
        raise DtaError(f"{file} is not a Stata .dta file ({what})")
    return handle


def _looks_like_dta(head: bytes) -> bool:
    if head.startswith(b"<stata_dta>"):
        return True
    return len(head) >= 2 and head[0] in _OLD_FORMATS and head[1] in (1, 2)


def _check_window(start: int, count: int) -> None:
    for name, value in (("start", start), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DtaError(f"{name} must be an integer, got {value!r}")
    if start < 0:
        raise DtaError(f"start must be 0 or more (0 is the first observation), got {start}")
    if not 0 <= count <= MAX_COUNT:
        raise DtaError(f"count must be between 0 and {MAX_COUNT}, got {count}")


def _read(source: Path, file: Path, **options: Any) -> Any:
    """One pyreadstat call on `source` with its errors turned into DtaError naming `file`
    (imported late: it is slow)."""
    import pyreadstat

    try:
        return pyreadstat.read_dta(str(source), **options)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeError) as exc:
        raise DtaError(f"cannot read {file} (damaged, truncated or unsupported?): {exc}") from exc


def _resolve(variables: Sequence[str] | str, names: tuple[str, ...], file: str) -> tuple[str, ...]:
    """Exact names in the order asked; unknown ones get close matches or the file's first names."""
    wanted = variables.split() if isinstance(variables, str) else list(variables)
    if not all(isinstance(name, str) for name in wanted):
        raise DtaError(f"variables must be names (strings), got {variables!r}")
    if not wanted:
        raise DtaError("no variables named; leave variables unset to list them all")
    known = set(names)
    missing = [name for name in dict.fromkeys(wanted) if name not in known]
    if missing:
        raise DtaError(_unknown_message(missing, names, file))
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


def _describe(meta: Any, name: str) -> DtaVariable:
    return DtaVariable(
        name=name,
        type=_storage_type(
            meta.readstat_variable_types.get(name, ""),
            meta.variable_storage_width.get(name, 0),
        ),
        format=meta.original_variable_types.get(name) or "",
        label=meta.column_names_to_labels.get(name) or "",
        value_labels=meta.variable_to_label.get(name) or None,
    )


def _storage_type(readstat_type: str, width: int) -> str:
    if readstat_type == "string":
        return f"str{width}" if width else "strL"
    return _STORAGE_TYPES.get(readstat_type, readstat_type or "?")


def _capped_sets(
    described: tuple[DtaVariable, ...], sets: Mapping[str, Mapping[Any, str]]
) -> Mapping[str, Mapping[float | int, str]]:
    capped: dict[str, Mapping[float | int, str]] = {}
    for var in described:
        name = var.value_labels
        if name and name in sets and name not in capped:
            items = list(sets[name].items())[:_MAX_LABELS_PER_SET]
            capped[name] = MappingProxyType(dict(items))
    return MappingProxyType(capped)


def _rows(
    data: Mapping[str, Sequence[object]],
    described: tuple[DtaVariable, ...],
    sets: Mapping[str, Mapping[Any, str]],
) -> tuple[tuple[object, ...], ...]:
    columns = []
    for var in described:
        labels = sets.get(var.value_labels or "")
        columns.append([_cell(value, var, labels) for value in data.get(var.name, ())])
    length = min((len(column) for column in columns), default=0)
    return tuple(tuple(column[i] for column in columns) for i in range(length))


def _cell(value: object, var: DtaVariable, labels: Mapping[Any, str] | None) -> object:
    """A raw value as Stata's ``list`` would mean it: missing, label text, date, or number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if labels is not None:
        text = labels.get(value)
        if text is not None:
            return text
    if isinstance(value, int | float) and var.format.lstrip("%-").startswith("t"):
        return _stata_time(value, var.format)
    if isinstance(value, float) and value.is_integer() and var.type in ("byte", "int", "long"):
        return int(value)
    return value


def _stata_time(value: float, fmt: str) -> object:
    """Stata's date/time encodings as dates (ISO) or Stata's period look (2020m1, 2020q3, ...)."""
    whole = math.floor(value)
    kind = fmt.lstrip("%-")[1:2].lower()
    try:
        if kind == "d":
            return _STATA_EPOCH + dt.timedelta(days=whole)
        if kind == "c":  # %tC counts leap seconds; the few seconds of difference are ignored.
            return _STATA_EPOCH_TIME + dt.timedelta(milliseconds=whole)
    except OverflowError:
        return value
    per_year = {"w": 52, "m": 12, "q": 4, "h": 2}.get(kind)
    if per_year is not None:
        year, period = divmod(whole, per_year)
        return f"{1960 + year}{kind}{period + 1}"
    if kind == "y":
        return whole
    return value


# --- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Section:
    """Lines to show; ``head`` lines are always kept, ``body`` lines may be cut with a note."""

    head: tuple[str, ...]
    body: tuple[str, ...]
    cut_note: Callable[[int], str]
    """The note that replaces ``n`` cut body lines."""


def _variables_section(page: DtaPage) -> _Section | None:
    if not page.variables:
        return None
    table = _table(
        ("variable", "type", "format", "value label", "variable label"),
        [
            (v.name, v.type, v.format, v.value_labels or "", _short(v.label, 80))
            for v in page.variables
        ],
        right=(),
    )
    shown = "" if len(page.variables) == page.n_vars else f" ({len(page.variables)} asked for)"
    return _Section(
        head=("", f"Variables{shown}:", table[0]),
        body=tuple(table[1:]),
        cut_note=lambda n: f"... {n:,} more variables not shown (output budget)",
    )


def _labels_section(page: DtaPage) -> _Section | None:
    if not page.value_labels:
        return None
    lines = []
    for name, labels in page.value_labels.items():
        pairs = ", ".join(f"{_key(k)}={_short(v, _MAX_CELL)}" for k, v in labels.items())
        lines.append(_short(f"{name}: {pairs}", _MAX_TABLE_WIDTH))
    return _Section(
        head=("", "Value labels:"),
        body=tuple(lines),
        cut_note=lambda n: f"... {n:,} more value-label sets not shown (output budget)",
    )


def _rows_section(page: DtaPage) -> _Section:
    if not page.rows:
        why = "no observations" if page.n_obs == 0 else "no rows asked for"
        return _Section(head=("", f"Rows: none ({why})"), body=(), cut_note=lambda n: "")
    numbers = [f"{page.start + i + 1}." for i in range(len(page.rows))]
    cells = [
        [_display(cell, var) for cell, var in zip(row, page.variables, strict=True)]
        for row in page.rows
    ]
    right = {i for i, var in enumerate(page.variables) if not var.type.startswith("str")}
    shown = _columns_that_fit(page.columns, cells, len(max(numbers, key=len)))
    table = _table(
        ("", *page.columns[:shown]),
        [(n, *row[:shown]) for n, row in zip(numbers, cells, strict=True)],
        right={0} | {i + 1 for i in right},
    )
    title = f"Rows {page.start + 1:,}-{page.stop:,} of {page.n_obs:,}"
    if shown < len(page.columns):
        cut = ", ".join(page.columns[shown:])
        title += f" (showing {shown} of {len(page.columns)} columns; not shown: {_short(cut, 120)})"
    return _Section(
        head=("", title + ":", table[0]),
        body=tuple(table[1:]),
        cut_note=lambda n: (
            f"... {n:,} more rows not shown (output budget); ask for fewer rows or variables"
        ),
    )


def _columns_that_fit(columns: tuple[str, ...], cells: list[list[str]], number_width: int) -> int:
    """How many leading columns fit in one line of the table (always at least one)."""
    width = number_width
    for i, name in enumerate(columns):
        column_width = max([len(name), *(len(row[i]) for row in cells)])
        width += 2 + column_width
        if width > _MAX_TABLE_WIDTH and i > 0:
            return i
    return len(columns)


def _table(
    header: tuple[str, ...], rows: list[tuple[str, ...]], *, right: Collection[int]
) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _fit(header: list[str], sections: list[_Section], max_chars: int) -> str:
    """Join sections, cutting the longest bodies first so each gets a fair share of the budget."""
    fixed = sum(len(line) + 1 for line in header)
    fixed += sum(len(line) + 1 for s in sections for line in s.head)
    sizes = [sum(len(line) + 1 for line in s.body) for s in sections]
    # Every line is counted with its newline, and the last one has none: hence the + 1.
    shares = _fair_shares(sizes, max(0, max_chars + 1 - fixed))
    out = list(header)
    for section, size, share in zip(sections, sizes, shares, strict=True):
        out.extend(section.head)
        if size <= share:
            out.extend(section.body)
            continue
        kept: list[str] = []
        used = 0
        for i, line in enumerate(section.body):
            note = section.cut_note(len(section.body) - i - 1)
            if used + len(line) + 1 + len(note) + 1 > share:
                break
            kept.append(line)
            used += len(line) + 1
        out.extend(kept)
        out.append(section.cut_note(len(section.body) - len(kept)))
    return "\n".join(out)


def _fair_shares(sizes: list[int], budget: int) -> list[int]:
    """Max-min fair split: small sections get all they need, big ones split what is left."""
    shares = [0] * len(sizes)
    pending = sorted(range(len(sizes)), key=lambda i: sizes[i])
    while pending:
        fair = budget // len(pending)
        i = pending.pop(0)
        shares[i] = min(sizes[i], fair)
        budget -= shares[i]
    return shares


def _display(cell: object, var: DtaVariable) -> str:
    if cell is None:
        return "."
    if isinstance(cell, str):
        return _short(
            cell.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"), _MAX_CELL
        )
    if isinstance(cell, dt.datetime):
        spec = "seconds" if cell.microsecond == 0 else "milliseconds"
        return cell.isoformat(sep=" ", timespec=spec)
    if isinstance(cell, dt.date):
        return cell.isoformat()
    if isinstance(cell, int | float):
        return _number(cell, var.format, single=var.type == "float")
    return _short(str(cell), _MAX_CELL)


def _number(value: float, fmt: str, *, single: bool = False) -> str:
    """A number in the variable's display format (%9.2f, %9.0gc, %10.3e); %g as Stata shows it."""
    match = _NUMBER_FORMAT.match(fmt)
    width, digits, kind, commas = match.groups() if match else ("9", "0", "g", "")
    group = "," if commas else ""
    if kind == "f":
        return f"{value:{group}.{int(digits or 0)}f}"
    if kind == "e":
        return f"{value:.{int(digits or 0)}e}"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):{group}}"
    significant = int(digits) if digits and int(digits) > 0 else min(max(int(width) - 2, 6), 15)
    if single:
        significant = min(significant, 7)
    return f"{value:.{significant}g}"


def _key(value: object) -> str:
    return _number(value, "") if isinstance(value, int | float) else str(value)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
