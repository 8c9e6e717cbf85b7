"""Data files of every common format, described and paged without Stata."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import InputRequiredResult, TextContent
from pydantic import Field

from stata_tools.inspection import datafiles
from stata_tools.inspection.datafiles import EXTENSIONS, MAX_COUNT, DataFileError, render_page
from stata_tools.mcp.context import get_session
from stata_tools.mcp.roots import with_client_roots


async def read_data_file(
    path: Annotated[
        str,
        Field(description="Path of the file: " + ", ".join(EXTENSIONS) + "."),
    ],
    ctx: Context,
    variables: Annotated[
        str | None,
        Field(description="Space-separated variable (column) names, exact; default all."),
    ] = None,
    start: Annotated[int, Field(ge=0, description="First row to show, counting from 0.")] = 0,
    count: Annotated[
        int, Field(ge=0, le=MAX_COUNT, description="Rows to show (0: describe only).")
    ] = 20,
    sheet: Annotated[
        str | int | None,
        Field(description="Excel only: the worksheet's name, or its position (1 = first)."),
    ] = None,
    value_labels: Annotated[
        bool, Field(description="Show value labels (.dta, .sav) instead of the codes.")
    ] = True,
) -> ToolResult | InputRequiredResult:
    """Describe a data file and show a page of its rows without Stata: .dta, .csv/.tsv,
    .xlsx/.xls, .sav/.zsav, .sas7bdat, .parquet. Value labels applied where the format has them;
    only the page is read, so large files are cheap."""
    file = await with_client_roots(lambda roots: _allowed(Path(path), roots), ctx)
    if isinstance(file, InputRequiredResult):
        return file
    read = functools.partial(
        datafiles.read_data_file,
        file,
        variables=variables,
        start=start,
        count=count,
        sheet=None if sheet is None else str(sheet),
        apply_value_labels=value_labels,
    )
    try:
        page = await anyio.to_thread.run_sync(read)
    except DataFileError as error:
        raise ToolError(str(error)) from None
    meta = {
        "path": page.path,
        "format": page.kind,
        "n_obs": page.n_obs,
        "n_vars": page.n_vars,
        "start": page.start,
        "stop": page.stop,
        "columns": list(page.columns),
    }
    return ToolResult(content=[TextContent(type="text", text=render_page(page))], meta=meta)


async def _allowed(path: Path, client_roots: tuple[str, ...]) -> Path:
    """A data file's path, resolved, when the allowed roots hold it; OutsideRoots otherwise."""
    roots = get_session().settings.roots
    if roots is None:
        return path.expanduser()
    return roots.with_uris(client_roots).check(path, "data file")


TOOLS = (read_data_file,)
