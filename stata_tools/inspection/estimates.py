"""Stored models side by side: which to show, one table of coefficients, stars and fit statistics.

Pure: the models come from stata/queries/estimates.py (read between runs); this module only chooses,
labels (`1.foreign` → `foreign = Foreign`, base levels marked, `_cons` last in each equation),
tests (t with the model's e(df_r), z otherwise) and lays out text a model reads easily.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stata_tools.stata.queries.estimates import Estimates, EstimatesIndex, EstimatesRead

MAX_MODELS = 8
MAX_ROWS = 150  # coefficient rows shown before the table says how many it left out
ACTIVE = "."
LEGEND = "* p<0.05 ** p<0.01 *** p<0.001"
STATA_MISSING = 8.988e307
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_FACTOR = re.compile(r"^(\d+)([bno]*)\.(\w+)$")
_OPERATED = re.compile(r"^([co]+)\.(\w+)$")
# e() scalars shown under the coefficients, in this order, when any model has them.
_STATS: tuple[tuple[str, str], ...] = (
    ("N", "N"),
    ("r2", "R²"),
    ("r2_a", "adj. R²"),
    ("r2_p", "pseudo R²"),
    ("F", "F"),
    ("chi2", "chi²"),
    ("ll", "log likelihood"),
    ("aic", "AIC"),
    ("bic", "BIC"),
    ("rmse", "root MSE"),
    ("N_clust", "clusters"),
)


class EstimatesError(ValueError):
    """The models asked for cannot be shown; the message says what to do."""


def choose_models(
    names: Sequence[str] | None, index: EstimatesIndex, cap: int = MAX_MODELS
) -> tuple[tuple[str, ...], str | None]:
    """The names to read (`.` is the active results) and a note, or EstimatesError."""
    if names is not None:
        wanted = list(dict.fromkeys(name.strip() for name in names))
        if not wanted:
            raise EstimatesError(
                "names is empty: leave it out to compare every stored model, or name some"
            )
        bad = [n for n in wanted if n != ACTIVE and not _NAME.match(n)]
        if bad:
            raise EstimatesError(
                f"{', '.join(map(repr, bad))}: not a Stata name (letters, digits and _, at most "
                "32, not starting with a digit; '.' means the active results)"
            )
        unknown = [n for n in wanted if n != ACTIVE and n not in index.stored]
        if unknown:
            stored = ", ".join(index.stored) if index.stored else "none"
            raise EstimatesError(
                f"no stored estimates named {', '.join(unknown)}; stored: {stored} "
                "(`estimates store name` after a model stores it)"
            )
        if ACTIVE in wanted and not index.active_cmd:
            raise EstimatesError("'.' asks for the active results, but there are none")
        if len(wanted) > cap:
            raise EstimatesError(
                f"{len(wanted)} models asked for; compare_estimates shows at most {cap} at once"
            )
        return tuple(wanted), None
    if index.stored:
        chosen = index.stored[-cap:]
        note = None
        if len(index.stored) > cap:
            note = (
                f"{len(index.stored)} models are stored; showing the last {cap} "
                f"(name the ones you want with names=[...])"
            )
        return chosen, note
    if index.active_cmd:
        return (ACTIVE,), (
            f"no estimates are stored: showing the active results ({index.active_cmd}); "
            "`estimates store name` after each model compares them side by side"
        )
    raise EstimatesError(
        "no estimation results: run a model and `estimates store name` first "
        "(for example `regress price mpg` then `estimates store m1`)"
    )


@dataclass(frozen=True, slots=True)
class Cell:
    b: float
    se: float | None
    p: float | None
    base: bool = False  # a factor's base level (or an interaction's), shown as (base)
    omitted: bool = False  # dropped for collinearity, shown as (omitted)


@dataclass(frozen=True, slots=True)
class Row:
    equation: str
    name: str  # e(b)'s column name within its equation
    label: str  # how a reader sees it: `foreign = Foreign`, `foreign = Foreign # mpg`
    cells: tuple[Cell | None, ...]  # one per model; None where the model has no such term


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    cmd: str
    depvar: str
    test: str  # "t" or "z"
    stats: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    stats: tuple[tuple[str, str], ...]  # (e() name, label) rows that some model has
    note: str | None = None


def build_table(read: EstimatesRead, note: str | None = None) -> Table:
    labels = {(var, level): text for var, level, text in read.value_labels}
    columns = tuple(_column(model) for model in read.models)
    order: list[tuple[str, str]] = []
    found: list[dict[tuple[str, str], Cell]] = []
    for model, column in zip(read.models, columns, strict=True):
        cells: dict[tuple[str, str], Cell] = {}
        df = column.stats.get("df_r") if column.test == "t" else None
        for full, b, variance in zip(model.columns, model.b, model.variances, strict=False):
            equation, _, name = full.rpartition(":")
            key = ("" if equation == "_" else equation, name)
            if key not in order:
                order.append(key)
            cells[key] = _cell(name, b, variance, df)
        found.append(cells)
    rows = tuple(
        Row(eq, name, label_of(name, labels), tuple(cells.get((eq, name)) for cells in found))
        for eq, name in _ordered(order)
    )
    shown = tuple((key, label) for key, label in _STATS if any(key in c.stats for c in columns))
    return Table(columns, rows, shown, note)


def _column(model: Estimates) -> Column:
    stats = {key: value for key, value in model.scalars if value < STATA_MISSING}
    k, n, ll = stats.get("rank"), stats.get("N"), stats.get("ll")
    if k is not None and n and ll is not None:  # as `estat ic` computes them, df = e(rank)
        stats.setdefault("aic", -2 * ll + 2 * k)
        stats.setdefault("bic", -2 * ll + k * math.log(n))
    test = "t" if stats.get("df_r") else "z"
    label = "(active)" if model.name == ACTIVE else model.name
    return Column(label, model.cmd, model.depvar, test, stats)


def _cell(name: str, b: float, variance: float, df: float | None) -> Cell:
    parts = name.split("#")
    base = any("b" in (m.group(2) if (m := _FACTOR.match(p)) else "") for p in parts)
    omitted = not base and any(_is_omitted(p) for p in parts)
    if base or omitted or not variance > 0 or math.isnan(variance) or variance >= STATA_MISSING:
        se = None if (base or omitted or math.isnan(variance)) else 0.0
        return Cell(b, se, None, base, omitted)
    se = math.sqrt(variance)
    return Cell(b, se, p_value(b / se, df))


def _is_omitted(part: str) -> bool:
    if (m := _FACTOR.match(part)) is not None:
        return "o" in m.group(2)
    m = _OPERATED.match(part)
    return m is not None and "o" in m.group(1)


def _ordered(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Equations in order of first appearance, each with `_cons` last."""
    equations = list(dict.fromkeys(eq for eq, _ in keys))
    out: list[tuple[str, str]] = []
    for eq in equations:
        mine = [k for k in keys if k[0] == eq]
        out += [k for k in mine if k[1] != "_cons"] + [k for k in mine if k[1] == "_cons"]
    return out


def label_of(name: str, labels: Mapping[tuple[str, int], str]) -> str:
    """`1.foreign` → `foreign = Foreign`; `1.foreign#c.mpg` → `foreign = Foreign # mpg`;
    `0b.foreign` → `foreign = Domestic (base)`; `o.mpg` → `mpg (omitted)`."""
    parts = []
    for part in name.split("#"):
        if (m := _FACTOR.match(part)) is not None:
            level, var = int(m.group(1)), m.group(3)
            parts.append(f"{var} = {labels.get((var, level), str(level))}")
        elif (m := _OPERATED.match(part)) is not None:
            parts.append(m.group(2))
        else:
            parts.append(part)
    return " # ".join(parts)


def p_value(statistic: float, df: float | None) -> float:
    """Two-sided: Student's t with df degrees of freedom, else the normal."""
    if df is None or df <= 0 or df >= STATA_MISSING:
        return math.erfc(abs(statistic) / math.sqrt(2))
    return _betainc(df / 2, 0.5, df / (df + statistic * statistic))


def stars(p: float | None) -> str:
    if p is None:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def format_number(value: float) -> str:
    """Five significant digits without an exponent where one is not needed."""
    if math.isnan(value) or value >= STATA_MISSING:
        return "."
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1e7 or size < 1e-4:
        return f"{value:.3e}"
    decimals = max(0, min(6, 4 - math.floor(math.log10(size))))
    return f"{value:.{decimals}f}"


def _stat_text(key: str, value: float | None) -> str:
    if value is None:
        return ""
    if key in ("N", "N_clust") and value == int(value):
        return f"{int(value):,}"
    if key in ("r2", "r2_a", "r2_p"):
        return f"{value:.4f}"
    return format_number(value)


def render_table(table: Table) -> str:
    """Coefficients with their standard errors in parentheses beneath, stars, fit statistics."""
    heads = [(c.name, c.cmd, c.depvar) for c in table.columns]
    lines: list[list[str]] = []  # rows of [label, cell per model]
    shown = table.rows[:MAX_ROWS]
    equations = {row.equation for row in shown}
    current: str | None = None
    for row in shown:
        if len(equations) > 1 and row.equation != current:
            lines.append([f"[{row.equation or 'main'}]", *([""] * len(heads))])
        current = row.equation
        top, under = [row.label], [""]
        for cell in row.cells:
            a, b = _cell_text(cell)
            top.append(a)
            under.append(b)
        lines.append(top)
        if any(under[1:]):
            lines.append(under)
    stat_lines = [
        [label, *(_stat_text(key, c.stats.get(key)) for c in table.columns)]
        for key, label in table.stats
    ]
    head_rows = [["", *(h[i] for h in heads)] for i in range(3)]
    every = [[r[0], *map(_padded, r[1:])] for r in head_rows + lines + stat_lines]
    width0 = max(len(r[0]) for r in every)
    widths = [max(len(r[j]) for r in every) for j in range(1, len(heads) + 1)]

    def fmt(row: list[str]) -> str:
        cells = "  ".join(_padded(t).rjust(w) for t, w in zip(row[1:], widths, strict=True))
        return f"{row[0]:<{width0}}  {cells}".rstrip()

    rule = "-" * (width0 + 2 + sum(widths) + 2 * (len(widths) - 1))
    tests = sorted({c.test for c in table.columns})
    how = " and ".join({"t": "t with the model's e(df_r)", "z": "z (normal)"}[t] for t in tests)
    out = [
        f"{len(table.columns)} model{'s' if len(table.columns) != 1 else ''} side by side: "
        f"coefficient, (standard error) beneath; {LEGEND} ({how})",
    ]
    if table.note:
        out.append(f"Note: {table.note}")
    out += [fmt(r) for r in head_rows] + [rule] + [fmt(r) for r in lines]
    if len(table.rows) > MAX_ROWS:
        out.append(f"[… {len(table.rows) - MAX_ROWS} more coefficients not shown …]")
    if stat_lines:
        out += [rule] + [fmt(r) for r in stat_lines]
    return "\n".join(out)


def _cell_text(cell: Cell | None) -> tuple[str, str]:
    if cell is None:
        return "", ""
    if cell.base:
        return "(base)", ""
    if cell.omitted:
        return "(omitted)", ""
    top = format_number(cell.b) + stars(cell.p)
    return top, "" if cell.se is None else f"({format_number(cell.se)})"


def _padded(text: str) -> str:
    """Three places after each number for its stars, so that the digits line up; a standard
    error's closing parenthesis takes the first of them."""
    if not text:
        return text
    if text.endswith(")"):
        return text + "  "
    return text + " " * (3 - (len(text) - len(text.rstrip("*"))))


def table_meta(table: Table) -> dict[str, Any]:
    """The table as data (the MCP result's `_meta`)."""
    return {
        "models": [
            {
                "name": c.name,
                "cmd": c.cmd,
                "depvar": c.depvar,
                "test": c.test,
                "stats": dict(c.stats),
            }
            for c in table.columns
        ],
        "rows": [
            {
                "equation": row.equation,
                "name": row.name,
                "label": row.label,
                "cells": [
                    None
                    if cell is None
                    else {
                        "b": cell.b,
                        "se": cell.se,
                        "p": cell.p,
                        "base": cell.base,
                        "omitted": cell.omitted,
                    }
                    for cell in row.cells
                ],
            }
            for row in table.rows
        ],
        "legend": LEGEND,
        "note": table.note,
    }


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta I_x(a, b), for Student's t tail (Numerical Recipes)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b
