"""An .xlsx sheet's rows as values, streamed in memory that does not grow with the rows skipped.

openpyxl's read-only mode clears each parsed row element but leaves it in its parent, so skipping
to row 1,000,000 holds a million empty elements (about 100 bytes each). This parses the sheet with
openpyxl's own row parser and drops each row element once read. It leans on openpyxl internals
(tested with 3.1): when they are not there, openpyxl's public ``iter_rows`` is used instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["sheet_rows"]


def sheet_rows(ws: Any) -> Iterator[tuple[Any, ...]]:
    """Every row of a read-only worksheet from the first, as values (a missing row is ())."""
    try:
        rows = _streamed(ws)
    except (ImportError, AttributeError, TypeError):
        return ws.iter_rows(values_only=True)
    return rows


def _streamed(ws: Any) -> Iterator[tuple[Any, ...]]:
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    book = ws.parent
    options = {
        "data_only": True,
        "epoch": book.epoch,
        "date_formats": book._date_formats,
        "timedelta_formats": book._timedelta_formats,
    }
    shared, get_row, source = ws._shared_strings, ws._get_row, ws._get_source
    row_tag, data_tag = f"{{{SHEET_MAIN_NS}}}row", f"{{{SHEET_MAIN_NS}}}sheetData"

    def rows() -> Iterator[tuple[Any, ...]]:
        with source() as src:
            parser = WorkSheetParser(src, shared, **options)
            parent = None
            expected = 1
            for event, element in iterparse(src, events=("start", "end")):
                if event == "start":
                    if element.tag == data_tag:
                        parent = element
                    continue
                if element.tag != row_tag:
                    continue
                index, cells = parser.parse_row(element)
                element.clear()
                if parent is not None:
                    parent.remove(element)
                while expected < index:
                    expected += 1
                    yield ()
                expected = index + 1
                yield tuple(get_row(cells, 1, None, values_only=True))

    return rows()
