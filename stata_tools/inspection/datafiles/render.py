"""A data page as the text a model reads: header, variables, value labels, rows like ``list``.

Sections share the budget fairly; whatever is cut is replaced by a note saying so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from stata_tools.inspection.datafiles.page import DataPage, DataVariable

__all__ = ["render_page"]

_MAX_CELL = 40
_MAX_TABLE_WIDTH = 240
_MIN_CHARS = 200
_STATA_KIND = "Stata .dta"
_NUMBER_FORMAT = re.compile(r"%-?0?(\d+)(?:\.(\d+))?([fge])(c?)$")
_SPSS_FIXED = re.compile(r"(F|COMMA|DOT|DOLLAR|PCT|N)(\d+)\.(\d+)$")


def render_page(page: DataPage, *, max_chars: int = 20_000) -> str:
    """The page as text within ``max_chars``; a .dta page reads as it always has."""
    if max_chars < _MIN_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_CHARS}, got {max_chars}")
    label = f'"{page.data_label}"' if page.data_label else "(none)"
    header = [f"{page.path}: {_observations(page)}, {page.n_vars:,} variables, label {label}"]
    if page.kind != _STATA_KIND:
        header.append(f"Format: {page.kind}")
    header.extend(f"Note: {note}" for note in page.notes)
    sections = [
        _variables_section(page),
        _labels_section(page),
        _rows_section(page),
    ]
    text = _fit(header, [s for s in sections if s is not None], max_chars)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _observations(page: DataPage) -> str:
    if page.n_obs is not None:
        return f"{page.n_obs:,} observations"
    return f"observations unknown (at least {page.at_least:,})"


def _of(page: DataPage) -> str:
    return f"{page.n_obs:,}" if page.n_obs is not None else f"at least {page.at_least:,}"


@dataclass(frozen=True, slots=True)
class _Section:
    """Lines to show; ``head`` lines are always kept, ``body`` lines may be cut with a note."""

    head: tuple[str, ...]
    body: tuple[str, ...]
    cut_note: Callable[[int], str]
    """The note that replaces ``n`` cut body lines."""


def _variables_section(page: DataPage) -> _Section | None:
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


def _labels_section(page: DataPage) -> _Section | None:
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


def _rows_section(page: DataPage) -> _Section:
    if not page.rows:
        why = "no observations" if page.n_obs == 0 else "no rows asked for"
        return _Section(head=("", f"Rows: none ({why})"), body=(), cut_note=lambda n: "")
    numbers = [f"{page.start + i + 1}." for i in range(len(page.rows))]
    stata = page.kind == _STATA_KIND
    cells = [
        [_display(cell, var, stata) for cell, var in zip(row, page.variables, strict=True)]
        for row in page.rows
    ]
    right = {i for i, var in enumerate(page.variables) if not _is_text(var)}
    shown = _columns_that_fit(page.columns, cells, len(max(numbers, key=len)))
    table = _table(
        ("", *page.columns[:shown]),
        [(n, *row[:shown]) for n, row in zip(numbers, cells, strict=True)],
        right={0} | {i + 1 for i in right},
    )
    title = f"Rows {page.start + 1:,}-{page.stop:,} of {_of(page)}"
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


def _is_text(var: DataVariable) -> bool:
    """Text columns are aligned left, as ``list`` does: str#, strL, string, large_string."""
    return var.type.startswith("str") or "string" in var.type


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


def _display(cell: object, var: DataVariable, stata: bool) -> str:
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
        if stata:
            return _number(cell, var.format, single=var.type == "float")
        return _plain_number(cell, var.format)
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


def _plain_number(value: float, fmt: str) -> str:
    """A number from a format without Stata's display formats: SPSS F/COMMA w.d honoured,
    otherwise integers whole and up to 10 significant digits."""
    match = _SPSS_FIXED.match(fmt)
    if match:
        group = "," if match.group(1) in ("COMMA", "DOLLAR") else ""
        return f"{value:{group}.{int(match.group(3))}f}"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _key(value: object) -> str:
    return _number(value, "") if isinstance(value, int | float) else str(value)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
