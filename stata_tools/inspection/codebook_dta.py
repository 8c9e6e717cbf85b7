"""A codebook and the search entries of a .dta file, read without Stata.

The metadata come from `dta.read_dta` (which also checks the file is a regular, readable .dta);
the values of the page's variables only are read with pyreadstat a chunk of rows at a time, so a
file larger than memory is counted in bounded memory (the distinct values themselves excepted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stata_tools.inspection.codebook import (
    Codebook,
    VariableEntry,
    VariableFacts,
    check_page,
    expand_varlist,
    freeze_labels,
)
from stata_tools.inspection.dta import DtaError, DtaVariable, read_dta
from stata_tools.safety.files import NotAFile, open_regular, stable_path

__all__ = ["dta_catalog", "dta_codebook"]

CHUNK_CELLS = 2_000_000
"""Values read at once: rows per chunk = this / the page's variables."""


def dta_codebook(
    path: Path | str,
    varlist: str | None = None,
    *,
    start: int = 0,
    count: int = 50,
    unique: bool = True,
    chunk_cells: int = CHUNK_CELLS,
) -> Codebook:
    """Facts for variables start .. start+count of `varlist` in the file (Stata's varlist
    rules; DtaError or CodebookError say what is wrong)."""
    check_page(start, count)
    file = Path(path).expanduser()
    described = read_dta(file, count=0)  # checks the file; every variable, no rows
    names = [v.name for v in described.variables]
    chosen = expand_varlist(varlist, names)
    page = [described.variables[names.index(name)] for name in chosen[start : start + count]]
    with _open(file) as handle:
        source = stable_path(handle, file)
        sets = _value_labels(source, file)
        counts = _count(source, file, page, described.n_obs, unique, chunk_cells)
    variables = tuple(_facts(v, counts[v.name], described.n_obs) for v in page)
    attached = {v.value_label for v in variables if v.value_label}
    return Codebook(
        source=str(file),
        n_obs=described.n_obs,
        n_vars=described.n_vars,
        selected=len(chosen),
        start=start,
        variables=variables,
        value_labels=freeze_labels({k: v for k, v in sets.items() if k in attached}),
    )


def dta_catalog(
    path: Path | str, *, value_labels: bool = False
) -> tuple[tuple[VariableEntry, ...], Mapping[str, Mapping[float, str]]]:
    """Search entries for every variable of the file and, when asked, its value-label sets;
    reads the metadata only."""
    file = Path(path).expanduser()
    described = read_dta(file, count=0)
    entries = tuple(
        VariableEntry(v.name, v.type, v.label, v.value_labels) for v in described.variables
    )
    sets: dict[str, dict[Any, str]] = {}
    if value_labels:
        with _open(file) as handle:
            sets = _value_labels(stable_path(handle, file), file)
    return entries, freeze_labels(sets)


class _Tally:
    """What one variable's values come to, chunk by chunk (numbers through NumPy)."""

    def __init__(self, string: bool, unique: bool) -> None:
        self.string = string
        self.unique = unique
        self.missing = 0
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.strings: set[str] = set()
        self.numbers: list[Any] = []  # each chunk's distinct values, merged at the end

    def add(self, column: list[Any]) -> None:
        if self.string:
            present = [x for x in column if x is not None and x != ""]
            self.missing += len(column) - len(present)
            if self.unique:
                self.strings.update(present)
            return
        import numpy as np

        values = np.asarray(column, dtype="float64")  # None (missing) becomes NaN
        values = values[~np.isnan(values)]
        self.missing += len(column) - len(values)
        if not len(values):
            return
        low, high = float(values.min()), float(values.max())
        self.minimum = low if self.minimum is None else min(self.minimum, low)
        self.maximum = high if self.maximum is None else max(self.maximum, high)
        if self.unique:
            self.numbers.append(np.unique(values))

    def distinct(self) -> int | None:
        if not self.unique:
            return None
        if self.string:
            return len(self.strings)
        import numpy as np

        return len(np.unique(np.concatenate(self.numbers))) if self.numbers else 0


def _count(
    source: Path,
    file: Path,
    page: list[DtaVariable],
    n_obs: int,
    unique: bool,
    chunk_cells: int,
) -> dict[str, _Tally]:
    tallies = {v.name: _Tally(v.type.startswith("str"), unique) for v in page}
    if not page or n_obs == 0:
        return tallies
    rows = max(1, chunk_cells // len(page))
    for chunk in _chunks(source, file, [v.name for v in page], rows):
        for name, tally in tallies.items():
            tally.add(list(chunk.get(name, ())))
    return tallies


def _chunks(source: Path, file: Path, columns: list[str], rows: int) -> Iterator[Mapping[str, Any]]:
    import pyreadstat

    chunks = pyreadstat.read_file_in_chunks(
        pyreadstat.read_dta,
        str(source),
        chunksize=rows,
        usecols=columns,
        output_format="dict",
        disable_datetime_conversion=True,
    )
    try:
        for data, _ in chunks:
            yield data
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeError) as exc:
        raise DtaError(f"cannot read {file} (damaged, truncated or unsupported?): {exc}") from exc


def _facts(v: DtaVariable, tally: _Tally, n_obs: int) -> VariableFacts:
    return VariableFacts(
        name=v.name,
        type=v.type,
        format=v.format,
        label=v.label,
        value_label=v.value_labels,
        n_missing=tally.missing,
        n_unique=tally.distinct(),
        minimum=None if tally.minimum is None else float(tally.minimum),
        maximum=None if tally.maximum is None else float(tally.maximum),
    )


def _value_labels(source: Path, file: Path) -> dict[str, dict[Any, str]]:
    import pyreadstat

    try:
        _, meta = pyreadstat.read_dta(str(source), metadataonly=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeError) as exc:
        raise DtaError(f"cannot read {file} (damaged, truncated or unsupported?): {exc}") from exc
    return {name: dict(labels) for name, labels in (meta.value_labels or {}).items()}


def _open(file: Path) -> Any:
    try:
        return open_regular(file)
    except NotAFile as exc:
        raise DtaError(f"{exc}: only a regular .dta file can be read") from None
    except OSError as exc:
        raise DtaError(f"cannot read {file}: {exc.strerror or exc}") from exc
