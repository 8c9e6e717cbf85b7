"""Stata, SPSS and SAS files through pyreadstat (ReadStat): the metadata, then only the page.

ReadStat reads the header alone (``metadataonly``) and then exactly the rows asked for
(``row_offset``/``row_limit``), so a page of a 2 GB file costs what the page costs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stata_tools.inspection.datafiles.page import (
    DataFileError,
    DataPage,
    DataVariable,
    capped_sets,
    resolve_variables,
    start_beyond,
)

__all__ = ["READERS", "read_readstat"]

READERS = {
    "Stata .dta": "read_dta",
    "SPSS .sav": "read_sav",
    "SPSS .zsav": "read_sav",
    "SAS .sas7bdat": "read_sas7bdat",
}
"""The pyreadstat function that reads each format."""

_STATA_EPOCH = dt.date(1960, 1, 1)
_STATA_EPOCH_TIME = dt.datetime(1960, 1, 1)
_STATA_TYPES = {"int8": "byte", "int16": "int", "int32": "long", "float": "float"}
_SAS_CATALOG_NOTE = (
    "SAS keeps value labels in a separate .sas7bcat catalog, which is not read: "
    "user formats are shown by name, values unlabelled"
)


def read_readstat(
    file: Path,
    source: Path,
    kind: str,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
    apply_value_labels: bool,
) -> DataPage:
    """The page of `file`, read through `source` (the open file's own path where the OS has one)."""
    stata = kind == "Stata .dta"
    _, meta = _read(kind, source, file, metadataonly=True)
    names = tuple(meta.column_names)
    n_obs = None if meta.number_rows is None or meta.number_rows < 0 else int(meta.number_rows)
    columns = resolve_variables(variables, names, file.name)
    if n_obs is not None and start > 0 and start >= n_obs:
        raise start_beyond(start, n_obs, file.name)

    all_sets: dict[str, dict[Any, str]] = dict(meta.value_labels or {})
    described = tuple(_describe(meta, name, stata, all_sets) for name in columns)
    rows: tuple[tuple[object, ...], ...] = ()
    stop = start if n_obs is None else min(start + count, n_obs)
    if (n_obs is None and count > 0) or stop > start:
        data, _ = _read(
            kind,
            source,
            file,
            row_offset=start,
            row_limit=count if n_obs is None else stop - start,
            usecols=None if variables is None else list(columns),
            output_format="dict",
            disable_datetime_conversion=stata,  # Stata's own %t formats are read here
        )
        sets = all_sets if apply_value_labels else {}
        rows = _rows(data, described, sets, stata)
        stop = start + len(rows)

    notes = ()
    if kind == "SAS .sas7bdat" and any(v.format and not v.value_labels for v in described):
        notes = (_SAS_CATALOG_NOTE,)
    return DataPage(
        path=str(file),
        n_obs=n_obs,
        n_vars=len(names),
        data_label=meta.file_label or "",
        variables=described,
        value_labels=capped_sets(described, all_sets),
        columns=columns,
        rows=rows,
        start=start,
        stop=stop,
        kind=kind,
        notes=notes,
        at_least=stop,
    )


def _read(kind: str, source: Path, file: Path, **options: Any) -> Any:
    """One pyreadstat call on `source` with its errors turned into DataFileError naming `file`
    (imported late: it is slow)."""
    import pyreadstat

    reader = getattr(pyreadstat, READERS[kind])
    try:
        return reader(str(source), **options)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeError) as exc:
        raise DataFileError(
            f"cannot read {file} (damaged, truncated or unsupported?): {exc}"
        ) from exc


def _describe(meta: Any, name: str, stata: bool, sets: Mapping[str, object]) -> DataVariable:
    readstat_type = meta.readstat_variable_types.get(name, "")
    width = meta.variable_storage_width.get(name, 0)
    label_set = meta.variable_to_label.get(name) or None
    return DataVariable(
        name=name,
        type=_storage_type(readstat_type, width, stata),
        format=meta.original_variable_types.get(name) or "",
        label=meta.column_names_to_labels.get(name) or "",
        value_labels=label_set if stata or label_set in sets else None,
    )


def _storage_type(readstat_type: str, width: int, stata: bool) -> str:
    if readstat_type == "string":
        return f"str{width}" if width else "strL"
    if stata:
        return _STATA_TYPES.get(readstat_type, readstat_type or "?")
    return "numeric" if readstat_type else "?"


def _rows(
    data: Mapping[str, Sequence[object]],
    described: tuple[DataVariable, ...],
    sets: Mapping[str, Mapping[Any, str]],
    stata: bool,
) -> tuple[tuple[object, ...], ...]:
    columns = []
    for var in described:
        labels = sets.get(var.value_labels or "")
        columns.append([_cell(value, var, labels, stata) for value in data.get(var.name, ())])
    length = min((len(column) for column in columns), default=0)
    return tuple(tuple(column[i] for column in columns) for i in range(length))


def _cell(
    value: object, var: DataVariable, labels: Mapping[Any, str] | None, stata: bool
) -> object:
    """A raw value as the format means it: missing, label text, date, or number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str | dt.date):
        return value
    if labels is not None:
        text = labels.get(value)
        if text is not None:
            return text
    if stata and isinstance(value, int | float) and var.format.lstrip("%-").startswith("t"):
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
