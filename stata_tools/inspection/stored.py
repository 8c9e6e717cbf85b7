"""Stored results r(), e(), s(): read through pystata on the execution thread, shown as text."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

Kind = Literal["r", "e", "s"]
KINDS: tuple[Kind, ...] = ("r", "e", "s")
MAX_ROWS = 30
MAX_COLS = 12
MAX_MACRO_CHARS = 300
STATA_MISSING = 8.988e307


@dataclass(frozen=True, slots=True)
class Matrix:
    """A stored matrix with its row and column names (Stata's `rownames`/`colnames`)."""

    name: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, slots=True)
class StoredResults:
    """What `return list` / `ereturn list` / `sreturn list` would show."""

    kind: Kind
    scalars: Mapping[str, float] = field(default_factory=dict)
    macros: Mapping[str, str] = field(default_factory=dict)
    matrices: tuple[Matrix, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.scalars or self.macros or self.matrices)


def read_stored(pystata: ModuleType, sfi: ModuleType, kind: Kind) -> StoredResults:
    """Call only on the execution thread, between runs."""
    getter = {"r": "get_return", "e": "get_ereturn", "s": "get_sreturn"}[kind]
    values: Mapping[str, object] = getattr(pystata.stata, getter)()
    scalars: dict[str, float] = {}
    macros: dict[str, str] = {}
    matrices: list[Matrix] = []
    for name, value in sorted(values.items()):
        if isinstance(value, str):
            macros[name] = value
        elif isinstance(value, (int, float)):
            scalars[name] = float(value)
        else:
            matrices.append(_matrix(sfi, name, value))
    return StoredResults(kind, scalars, macros, tuple(matrices))


def _matrix(sfi: ModuleType, name: str, value: object) -> Matrix:
    grid = value.tolist() if hasattr(value, "tolist") else value
    rows_of = [list(row) if isinstance(row, (list, tuple)) else [row] for row in grid]  # type: ignore
    rows = _names(sfi, "getRowNames", name, len(rows_of), "r")
    cols = _names(sfi, "getColNames", name, len(rows_of[0]) if rows_of else 0, "c")
    return Matrix(name, rows, cols, tuple(tuple(float(x) for x in row) for row in rows_of))


def _names(sfi: ModuleType, method: str, name: str, count: int, prefix: str) -> tuple[str, ...]:
    try:
        names = list(getattr(sfi.Matrix, method)(name))
    except Exception:
        names = []
    if len(names) != count:
        names = [f"{prefix}{n}" for n in range(1, count + 1)]
    return tuple(str(n) for n in names)


def format_number(value: float) -> str:
    """Stata-like: missing as '.', integers plainly, others with 7 significant digits."""
    if math.isnan(value) or value >= STATA_MISSING:
        return "."
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.7g}"


def render_stored(results: StoredResults) -> str:
    """Text in the order Stata lists them: scalars, macros, matrices (truncated past a size)."""
    label = {"r": "r()", "e": "e()", "s": "s()"}[results.kind]
    if results.empty:
        return f"No {label} results are stored (run an r-class or e-class command first)."
    parts: list[str] = []
    if results.scalars:
        width = max(len(n) for n in results.scalars)
        parts.append("scalars:")
        parts.extend(f"  {n:>{width}} = {format_number(v)}" for n, v in results.scalars.items())
    if results.macros:
        width = max(len(n) for n in results.macros)
        parts.append("macros:")
        parts.extend(f"  {n:>{width}} : {_shorten(v)}" for n, v in results.macros.items())
    for matrix in results.matrices:
        parts.append(f"matrix {matrix.name} [{len(matrix.rows)},{len(matrix.cols)}]:")
        parts.append(render_matrix(matrix))
    return "\n".join(parts)


def render_matrix(matrix: Matrix, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> str:
    rows, cols = matrix.rows[:max_rows], matrix.cols[:max_cols]
    cells = [[format_number(v) for v in row[:max_cols]] for row in matrix.values[:max_rows]]
    head = max([len(r) for r in rows] + [0])
    widths = [max([len(c)] + [len(row[j]) for row in cells]) for j, c in enumerate(cols)]

    def line(label: str, values: Sequence[str]) -> str:
        padded = (v.rjust(w) for v, w in zip(values, widths, strict=False))
        return f"  {label:>{head}}  " + "  ".join(padded)

    lines = [line("", cols), *(line(n, row) for n, row in zip(rows, cells, strict=False))]
    cut = _cut_note(len(matrix.rows), len(matrix.cols), max_rows, max_cols)
    return "\n".join(lines + ([cut] if cut else []))


def _cut_note(rows: int, cols: int, max_rows: int, max_cols: int) -> str | None:
    if rows <= max_rows and cols <= max_cols:
        return None
    return (
        f"  (showing {min(rows, max_rows)} of {rows} rows and {min(cols, max_cols)} of {cols} "
        "columns; `matrix list` in run_code shows it whole)"
    )


def _shorten(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_MACRO_CHARS else text[: MAX_MACRO_CHARS - 1] + "…"


def matrix_from(
    name: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]]
) -> Matrix:
    """Build a Matrix from plain sequences (tests, other readers)."""
    return Matrix(name, tuple(rows), tuple(cols), tuple(tuple(float(v) for v in r) for r in values))
