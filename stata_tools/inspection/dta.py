"""Look inside a Stata ``.dta`` file without Stata: the .dta form of ``read_data_file``.

Kept for the ``read_dta_file`` tool and existing callers: the same reader and renderer as every
other format (``stata_tools.inspection.datafiles``), with .dta's names. Only the metadata and the
page asked for are read, so this is cheap on a file of any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stata_tools.inspection.datafiles import read_as, render_page
from stata_tools.inspection.datafiles.opening import FORMATS
from stata_tools.inspection.datafiles.page import (
    MAX_COUNT,
    DataFileError,
    DataPage,
    DataVariable,
)

__all__ = [
    "MAX_COUNT",
    "DtaError",
    "DtaPage",
    "DtaVariable",
    "read_dta",
    "render_dta",
]

_DTA = next(fmt for fmt in FORMATS if fmt.name == "Stata .dta")

DtaError = DataFileError
DtaPage = DataPage
DtaVariable = DataVariable


def read_dta(
    path: Path | str,
    *,
    variables: Sequence[str] | str | None = None,
    start: int = 0,
    count: int = 20,
    apply_value_labels: bool = True,
) -> DataPage:
    """Describe a .dta file and read rows ``start`` .. ``start+count`` (0-based) of ``variables``.

    Any name is read as a .dta file (the caller asked for one), so a misnamed file gets the .dta
    checks; ``count=0`` describes the file without reading rows.
    """
    file = Path(path).expanduser()
    return read_as(_DTA, file, variables, start, count, None, apply_value_labels)


def render_dta(page: DataPage, *, max_chars: int = 20_000) -> str:
    """The page as text a model reads: header, variables, value labels, rows like ``list``."""
    return render_page(page, max_chars=max_chars)
