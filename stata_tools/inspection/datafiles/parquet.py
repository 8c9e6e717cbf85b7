"""Parquet files through pyarrow: the footer describes the file, and only the row groups that
hold the page are decoded, batch by batch, so memory stays near one batch whatever the file."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stata_tools.inspection.datafiles.optional import require
from stata_tools.inspection.datafiles.page import (
    DataFileError,
    DataPage,
    DataVariable,
    resolve_variables,
    start_beyond,
)

__all__ = ["read_parquet"]

_CELLS_PER_BATCH = 1 << 22  # rows x columns decoded at once while skipping to the page
_MAX_BATCH_ROWS = 1 << 16


def read_parquet(
    file: Path,
    source: Path,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
) -> DataPage:
    """The page of a Parquet file, read through `source` (the open file's own path)."""
    pq = require("pyarrow.parquet", "pyarrow", ".parquet")
    import pyarrow as pa

    try:
        parquet = pq.ParquetFile(str(source), buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"cannot read {file} (damaged or truncated?): {exc}") from None
    schema = parquet.schema_arrow
    names = tuple(schema.names)
    columns = resolve_variables(variables, names, file.name)
    metadata = parquet.metadata
    n_obs = int(metadata.num_rows)
    if start > 0 and start >= n_obs:
        raise start_beyond(start, n_obs, file.name)
    described = tuple(_describe(schema.field(name)) for name in columns)
    stop = min(start + count, n_obs)
    try:
        rows = _rows(parquet, list(columns), start, stop) if stop > start else ()
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"cannot read the rows of {file} (damaged?): {exc}") from None
    notes = []
    if any(v.type.startswith("category") for v in described):
        notes.append("category (dictionary) columns are shown by their labels")
    return DataPage(
        path=str(file),
        n_obs=n_obs,
        n_vars=len(names),
        data_label="",
        variables=described,
        value_labels={},
        columns=columns,
        rows=rows,
        start=start,
        stop=start + len(rows),
        kind=f"Parquet ({metadata.num_row_groups:,} row groups)",
        notes=tuple(notes),
        at_least=start + len(rows),
    )


def _describe(field: Any) -> DataVariable:
    import pyarrow as pa

    kind = field.type
    if pa.types.is_dictionary(kind):
        shown = f"category ({_type_name(kind.value_type)})"
    else:
        shown = _type_name(kind)
    meta = field.metadata or {}
    label = meta.get(b"label", b"").decode("utf-8", "replace")
    return DataVariable(field.name, shown, "", label, None)


def _type_name(kind: Any) -> str:
    text = str(kind)
    return {"large_string": "string", "large_binary": "binary"}.get(text, text)


def row_groups_for(sizes: Sequence[int], start: int, stop: int) -> tuple[list[int], int]:
    """The row groups holding rows start..stop-1 and how many rows of the first to skip."""
    ends = list(itertools.accumulate(sizes))
    first = bisect.bisect_right(ends, start)
    last = bisect.bisect_right(ends, stop - 1)
    before = ends[first - 1] if first else 0
    return list(range(first, min(last, len(sizes) - 1) + 1)), start - before


def _rows(
    parquet: Any, columns: list[str], start: int, stop: int
) -> tuple[tuple[object, ...], ...]:
    metadata = parquet.metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    groups, skip = row_groups_for(sizes, start, stop)
    wanted = stop - start
    batch = max(wanted, min(_MAX_BATCH_ROWS, _CELLS_PER_BATCH // max(1, len(columns))))
    out: list[tuple[object, ...]] = []
    for record_batch in parquet.iter_batches(
        batch_size=batch, row_groups=groups, columns=columns, use_threads=False
    ):
        if skip >= record_batch.num_rows:
            skip -= record_batch.num_rows
            continue
        part = record_batch.slice(skip, wanted - len(out))
        skip = 0
        data = part.to_pydict()
        out.extend(zip(*(map(_cell, data[name]) for name in columns), strict=True))
        if len(out) >= wanted:
            break
    return tuple(out)


def _cell(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
