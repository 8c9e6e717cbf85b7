"""Stata's help files as Markdown."""

from __future__ import annotations

from typing import Annotated

from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import TextContent
from pydantic import Field

from stata_tools.inspection.help import HelpNotFound, HelpTopicError, lookup_help
from stata_tools.mcp.context import get_session
from stata_tools.stata.discovery import PystataShadowed, StataNotFound


async def stata_help(
    topic: Annotated[
        str, Field(description="A command or topic, e.g. regress, reghdfe, regress postestimation.")
    ],
) -> ToolResult:
    """Stata's help for a command (official or installed from SSC), as Markdown."""
    budget = get_session().settings.output_budget_chars
    try:
        page = await lookup_help(get_session(), topic, max_chars=budget)
    except (HelpTopicError, HelpNotFound) as error:
        raise ToolError(str(error)) from None
    except (StataNotFound, PystataShadowed) as error:
        raise ToolError(
            f"Stata was not found, and help files come from its installation.\n{error}"
        ) from None
    except OSError as error:
        raise ToolError(f"could not read a help file: {error}") from None
    text = f"Help for {page.topic} ({page.path})\n\n{page.markdown}"
    return ToolResult(
        content=[TextContent(type="text", text=text)],
        meta={"topic": page.topic, "path": str(page.path)},
    )


TOOLS = (stata_help,)
