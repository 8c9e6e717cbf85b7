"""A codebook and a variable search: of the data in memory through Stata, or of a .dta file
read without it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import InputRequiredResult, TextContent
from pydantic import Field

from stata_tools.inspection.codebook import (
    MAX_PAGE,
    Codebook,
    CodebookError,
    VariableEntry,
    check_page,
    check_pattern,
    check_varlist,
    codebook_from_read,
    entries_from_read,
    render_codebook,
    render_search,
    search,
)
from stata_tools.inspection.codebook_dta import dta_catalog, dta_codebook
from stata_tools.inspection.dta import DtaError
from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import get_session, query
from stata_tools.mcp.roots import with_client_roots
from stata_tools.stata.queries.codebook import codebook_read, variable_catalog
from stata_tools.stata.sessions import MAIN

IN_MEMORY = "the data in memory"

DtaPathArg = Annotated[
    str | None,
    Field(
        description="A .dta file to read instead of the data in memory (no Stata needed; "
        "inside the allowed roots). Default: the data in the session's memory."
    ),
]


async def codebook_data(
    ctx: Context,
    varlist: Annotated[
        str | None,
        Field(
            description="Variables: names, abbreviations, x* x? wildcards, a-b ranges; default all."
        ),
    ] = None,
    path: DtaPathArg = None,
    start: Annotated[
        int, Field(ge=0, description="First variable of the page, counting from 0.")
    ] = 0,
    count: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Variables per page.")] = 50,
    compact: Annotated[
        bool | None,
        Field(
            description="One line a variable (true) or a block each (false); default: compact "
            "when the page has more than 20 variables."
        ),
    ] = None,
    unique: Annotated[
        bool,
        Field(
            description="Count distinct values (sorts a copy of each variable: on millions of "
            "observations turn it off for a quick codebook)."
        ),
    ] = True,
    session: SessionArg = MAIN,
) -> ToolResult | InputRequiredResult:
    """Codebook: each variable's type, format, label, value labels, range, distinct values and
    missing count, a page at a time; the data, their sort order and r()/e() stay as they were."""
    try:
        check_page(start, count)
        wanted = check_varlist(varlist)
    except CodebookError as error:
        raise ToolError(str(error)) from None
    if path is not None:
        file = await _dta_path(path, ctx)
        if isinstance(file, InputRequiredResult):
            return file
        read = functools.partial(
            dta_codebook, file, wanted, start=start, count=count, unique=unique
        )
        book = await _off_loop(read)
    else:
        fn = functools.partial(
            codebook_read, varlist=wanted, start=start, count=count, unique=unique
        )
        try:
            book = codebook_from_read(await query(fn, ctx, session), IN_MEMORY, wanted)
        except CodebookError as error:
            raise ToolError(str(error)) from None
    if book.selected and start >= book.selected:
        raise ToolError(
            f"start={start} is past the last of the {book.selected} variables asked for "
            f"(start counts from 0, so at most {book.selected - 1})"
        )
    text = render_codebook(book, compact=compact)
    return ToolResult(content=[TextContent(type="text", text=text)], meta=_codebook_meta(book))


async def search_variables(
    ctx: Context,
    pattern: Annotated[
        str,
        Field(
            description="Text found anywhere in a name or label (case-insensitive), or a glob "
            "such as inc* or *_q? matched against whole names and label words."
        ),
    ],
    value_labels: Annotated[
        bool, Field(description='Also search the text of value labels (1 "Foreign").')
    ] = False,
    path: DtaPathArg = None,
    session: SessionArg = MAIN,
) -> ToolResult | InputRequiredResult:
    """Find variables by name, variable label or (on request) value-label text, in the data in
    memory or a .dta file; nothing in Stata changes."""
    try:
        text = check_pattern(pattern)
    except CodebookError as error:
        raise ToolError(str(error)) from None
    sets: Mapping[str, Mapping[float, str]]
    entries: tuple[VariableEntry, ...]
    if path is not None:
        file = await _dta_path(path, ctx)
        if isinstance(file, InputRequiredResult):
            return file
        entries, sets = await _off_loop(
            functools.partial(dta_catalog, file, value_labels=value_labels)
        )
        source = str(file)
    else:
        fn = functools.partial(variable_catalog, value_labels=value_labels)
        entries, sets = entries_from_read(await query(fn, ctx, session))
        source = IN_MEMORY
    matches = search(entries, text, sets if value_labels else None)
    rendered = render_search(
        matches, text, source=source, searched=len(entries), value_labels=value_labels
    )
    meta = {
        "source": source,
        "searched": len(entries),
        "matches": [{"name": m.variable.name, "where": list(m.where)} for m in matches],
    }
    return ToolResult(content=[TextContent(type="text", text=rendered)], meta=meta)


async def _dta_path(path: str, ctx: Context) -> Path | InputRequiredResult:
    """The .dta file's path, resolved, when the allowed roots hold it (as read_dta_file checks)."""
    if not path.strip():
        raise ToolError("path is empty: give a .dta file, or leave path out for the data in memory")

    async def allowed(client_roots: tuple[str, ...]) -> Path:
        roots = get_session().settings.roots
        if roots is None:
            return Path(path).expanduser()
        return roots.with_uris(client_roots).check(Path(path), ".dta file")

    return await with_client_roots(allowed, ctx)


async def _off_loop(read: Any) -> Any:
    """A read of a file, on a worker thread; its refusal as a ToolError."""
    try:
        return await anyio.to_thread.run_sync(read)
    except (DtaError, CodebookError) as error:
        raise ToolError(str(error)) from None


def _codebook_meta(book: Codebook) -> dict[str, Any]:
    return {
        "source": book.source,
        "n_obs": book.n_obs,
        "n_vars": book.n_vars,
        "selected": book.selected,
        "start": book.start,
        "stop": book.start + len(book.variables),
        "variables": [
            {
                "name": v.name,
                "type": v.type,
                "n_missing": v.n_missing,
                "n_unique": v.n_unique,
                "min": v.minimum,
                "max": v.maximum,
                "value_label": v.value_label,
            }
            for v in book.variables
        ],
    }


TOOLS = (codebook_data, search_variables)
