"""Data files without Stata: describe one and read a page of its rows, whatever its format.

.dta, .sav/.zsav and .sas7bdat go through pyreadstat; .parquet through pyarrow; .xlsx through
openpyxl and .xls through xlrd; .csv/.tsv/.txt are streamed with the standard library. Each
reader reads the description and the page asked for, never the whole of a large file, and
imports its library only when used, so a missing one is an error naming the package to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from stata_tools.inspection.datafiles.delimited import read_delimited
from stata_tools.inspection.datafiles.excel import read_xls, read_xlsx
from stata_tools.inspection.datafiles.opening import FORMATS, Format, a_or_an, open_checked
from stata_tools.inspection.datafiles.page import (
    MAX_COUNT,
    DataFileError,
    DataPage,
    DataVariable,
    check_window,
)
from stata_tools.inspection.datafiles.parquet import read_parquet
from stata_tools.inspection.datafiles.readstat import read_readstat
from stata_tools.inspection.datafiles.render import render_page
from stata_tools.safety.files import stable_path

__all__ = [
    "EXTENSIONS",
    "MAX_COUNT",
    "DataFileError",
    "DataPage",
    "DataVariable",
    "format_of",
    "read_as",
    "read_data_file",
    "render_page",
]

EXTENSIONS = tuple(ext for fmt in FORMATS for ext in fmt.extensions)
"""Every extension read_data_file reads, lower case."""


def format_of(path: Path) -> Format:
    """The format a file's extension names; DataFileError listing the ones read otherwise."""
    suffix = path.suffix.lower()
    for fmt in FORMATS:
        if suffix in fmt.extensions:
            return fmt
    shown = f"extension {path.suffix!r}" if path.suffix else "no extension"
    raise DataFileError(
        f"{path.name} has {shown}: data files read are {', '.join(EXTENSIONS)}"
        " (rename the file to its format's extension)"
    )


def read_data_file(
    path: Path | str,
    *,
    variables: Sequence[str] | str | None = None,
    start: int = 0,
    count: int = 20,
    sheet: str | None = None,
    apply_value_labels: bool = True,
) -> DataPage:
    """Describe `path` and read rows ``start`` .. ``start+count`` (0-based) of ``variables``.

    ``variables`` is a list of exact (case-sensitive) names or one space-separated string;
    ``count=0`` describes the file without reading rows; ``sheet`` picks an Excel worksheet by
    name or position (1 = first). Value labels are applied where the format keeps them.
    """
    file = Path(path).expanduser()
    return read_as(format_of(file), file, variables, start, count, sheet, apply_value_labels)


def read_as(
    fmt: Format,
    file: Path,
    variables: Sequence[str] | str | None = None,
    start: int = 0,
    count: int = 20,
    sheet: str | None = None,
    apply_value_labels: bool = True,
) -> DataPage:
    """`file` read as `fmt` whatever its name says (the .dta form reads any name as .dta)."""
    check_window(start, count)
    if sheet is not None and not fmt.name.startswith("Excel"):
        raise DataFileError(
            f"sheet= is for Excel workbooks; {file.name} is {a_or_an(fmt.name)} file"
        )
    if sheet is not None and (not isinstance(sheet, str) or not sheet.strip()):
        raise DataFileError(f"sheet must be a sheet's name or position (1 = first), got {sheet!r}")
    with open_checked(file, fmt) as handle:
        return _dispatch(file, fmt, handle, variables, start, count, sheet, apply_value_labels)


def _dispatch(
    file: Path,
    fmt: Format,
    handle: BinaryIO,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
    sheet: str | None,
    apply_value_labels: bool,
) -> DataPage:
    """The reader for `fmt`; those that open by name get the open descriptor's own path."""
    if fmt.name in ("CSV", "TSV"):
        return read_delimited(file, handle, fmt.name, variables, start, count)
    if fmt.name == "Excel .xlsx":
        return read_xlsx(file, handle, variables, start, count, sheet)
    if fmt.name == "Excel .xls":
        return read_xls(file, handle, variables, start, count, sheet)
    source = stable_path(handle, file)
    if fmt.name == "Parquet":
        return read_parquet(file, source, variables, start, count)
    return read_readstat(file, source, fmt.name, variables, start, count, apply_value_labels)
