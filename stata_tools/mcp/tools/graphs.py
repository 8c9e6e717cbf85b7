"""Graphs in Stata's memory: listed, and exported to a file."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from fastmcp.utilities.types import Image
from mcp_types import TextContent
from pydantic import Field

from stata_tools.inspection.graphs import GraphRequestError, graph_format, graph_name
from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import get_session, query
from stata_tools.stata.queries.graphs import export_graph as export_graph_file
from stata_tools.stata.queries.graphs import graph_names
from stata_tools.stata.sessions import MAIN


async def list_graphs(ctx: Context, session: SessionArg = MAIN) -> ToolResult:
    """The graphs in Stata's memory, by name (export_graph shows any of them)."""
    found = await query(graph_names, ctx, session)
    text = "Graphs in memory: " + ", ".join(found) if found else "No graphs in memory."
    return ToolResult(content=[TextContent(type="text", text=text)], meta={"graphs": found})


async def export_graph(
    name: Annotated[str, Field(description="The graph's name (list_graphs shows them).")],
    ctx: Context,
    format: Annotated[str, Field(description="png (shown as an image), svg or pdf.")] = "png",
    session: SessionArg = MAIN,
) -> ToolResult:
    """Export a graph in memory to a file; PNG comes back as an image."""
    try:
        graph, fmt = graph_name(name), graph_format(format)
    except GraphRequestError as error:
        raise ToolError(str(error)) from None
    folder = get_session().settings.run_dir / "graphs"
    if session != MAIN:
        folder = folder / session  # two sessions' graphs of one name stay apart
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{graph}.{fmt}"
    export = functools.partial(export_graph_file, name=graph, path=path, fmt=fmt)
    await query(export, ctx, session)
    text = f"Graph {graph} → {path} ({fmt.upper()}, {path.stat().st_size:,} bytes)"
    content: list[Any] = [TextContent(type="text", text=text)]
    if fmt == "png":
        content.append(Image(path=path, format="png").to_image_content())
    return ToolResult(content=content, meta={"name": graph, "path": str(path), "format": fmt})


TOOLS = (list_graphs, export_graph)
