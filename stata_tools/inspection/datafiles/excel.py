"""Excel workbooks: one sheet, its first row as the names, the rows below it a page at a time.

.xlsx is streamed with openpyxl's read-only mode (rows parsed one by one, none kept but the page);
.xls with xlrd, which loads the chosen sheet whole: the format caps a sheet at 65,536 rows.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from stata_tools.inspection.datafiles.optional import require
from stata_tools.inspection.datafiles.page import (
    DataFileError,
    DataPage,
    DataVariable,
    resolve_variables,
    start_beyond,
)
from stata_tools.inspection.datafiles.xlsx_rows import sheet_rows

__all__ = ["COUNT_LIMIT_BYTES", "read_xls", "read_xlsx"]

COUNT_LIMIT_BYTES = 4 * 1024 * 1024
"""A sheet that does not state its size is counted by streaming only up to this file size."""


def read_xlsx(
    file: Path,
    handle: BinaryIO,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
    sheet: str | None,
) -> DataPage:
    """The page of one sheet of an .xlsx workbook open as `handle`."""
    openpyxl = require("openpyxl", "openpyxl", ".xlsx")
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors alike
        raise DataFileError(
            f"cannot read {file} (damaged, encrypted or not an .xlsx workbook?): {exc}"
        ) from None
    try:
        name = _pick(sheet, list(book.sheetnames), file)
        ws = book[name]
        rows = sheet_rows(ws)
        header = next(rows, None)
        dimension_rows = ws.max_row if isinstance(ws.max_row, int) else None
        page: list[tuple[Any, ...]] = []
        read = 0
        for row in rows:
            if read >= start + count:  # one row past the page: there are more
                read += 1
                break
            if read >= start:
                page.append(row)
            read += 1
        else:
            dimension_rows = read + 1
        if dimension_rows is None and _size(handle) <= COUNT_LIMIT_BYTES:
            dimension_rows = read + 1 + sum(1 for _ in rows)  # no stated size: cheap to count
        n_obs = None if dimension_rows is None else max(0, dimension_rows - 1)
        if n_obs is not None and n_obs < read:
            n_obs = None  # the sheet's stated size is stale: more rows than it says were read
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(f"cannot read sheet of {file} (damaged?): {exc}") from None
    finally:
        book.close()
    return _page(file, "Excel .xlsx", list(book.sheetnames), name, header, page, n_obs, read,
                 variables, start)  # fmt: skip


def read_xls(
    file: Path,
    handle: BinaryIO,
    variables: Sequence[str] | str | None,
    start: int,
    count: int,
    sheet: str | None,
) -> DataPage:
    """The page of one sheet of an old .xls workbook open as `handle`."""
    xlrd = require("xlrd", "xlrd", ".xls")
    try:
        book = xlrd.open_workbook(file_contents=handle.read(), on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct errors
        raise DataFileError(
            f"cannot read {file} (damaged, encrypted or not an .xls workbook?): {exc}"
        ) from None
    try:
        names = list(book.sheet_names())
        name = _pick(sheet, names, file)
        ws = book.sheet_by_name(name)
        header = tuple(_xls_cell(xlrd, book, c) for c in ws.row(0)) if ws.nrows else None
        n_obs = max(0, ws.nrows - 1)
        stop = min(n_obs, start + count)
        page = [tuple(_xls_cell(xlrd, book, c) for c in ws.row(1 + i)) for i in range(start, stop)]
    finally:
        book.release_resources()
    return _page(file, "Excel .xls", names, name, header, page, n_obs, n_obs, variables, start)


def _size(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_size


def _pick(sheet: str | None, names: list[str], file: Path) -> str:
    """The sheet asked for by name (or by position, 1 = first); the first sheet by default."""
    if not names:
        raise DataFileError(f"{file} has no worksheets")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = {n.casefold(): n for n in names}
    if sheet.casefold() in folded:
        return folded[sheet.casefold()]
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    listed = ", ".join(repr(n) for n in names)
    raise DataFileError(
        f"no sheet {sheet!r} in {file.name}: its sheets are {listed} (a name, or a position"
        " counting from 1)"
    )


def _page(
    file: Path,
    kind: str,
    sheets: list[str],
    sheet: str,
    header: tuple[Any, ...] | None,
    raw: list[tuple[Any, ...]],
    n_obs: int | None,
    read: int,
    variables: Sequence[str] | str | None,
    start: int,
) -> DataPage:
    cells = list(header or ())
    while cells and cells[-1] in (None, ""):
        cells.pop()
    names: list[str] = []
    for i, cell in enumerate(cells):
        name = _text(cell).strip()
        names.append(name if name and name not in names else f"v{i + 1}")
    columns = resolve_variables(variables, tuple(names), f"{file.name} (sheet {sheet!r})")
    if n_obs is not None and start > 0 and start >= n_obs:
        raise start_beyond(start, n_obs, f"{file.name} (sheet {sheet!r})")
    index = [names.index(c) for c in columns]
    rows = tuple(tuple(_value(r[i] if i < len(r) else None) for i in index) for r in raw)
    described = tuple(
        DataVariable(name, _column_type(row[j] for row in rows), "", "", None)
        for j, name in enumerate(columns)
    )
    notes = ["the first row gives the names; types are judged from the rows shown"]
    if len(sheets) > 1:
        notes.append(f"sheets: {', '.join(sheets)} (ask for one with sheet=)")
    if n_obs is None:
        notes.append(
            "the sheet does not state its size and the file is large: its rows were not counted"
        )
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
        kind=f"{kind}, sheet {sheet!r}",
        notes=tuple(notes),
        at_least=read,
    )


def _xls_cell(xlrd: Any, book: Any, cell: Any) -> object:
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERR")
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    return cell.value


def _value(cell: object) -> object:
    """Empty cells missing, whole floats whole, midnight datetimes as dates (Excel has no date
    type apart from a number format)."""
    if cell is None or (isinstance(cell, str) and cell.strip() == ""):
        return None
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e15:
        return int(cell)
    if isinstance(cell, dt.datetime) and cell.time() == dt.time(0) and cell.tzinfo is None:
        return cell.date()
    return cell


def _column_type(cells: Iterable[object]) -> str:
    kinds = set()
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, int | float):  # bool is an int
            kinds.add("numeric")
        elif isinstance(cell, dt.date | dt.time):
            kinds.add("date")
        else:
            kinds.add("string")
    return kinds.pop() if len(kinds) == 1 else "string"


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
