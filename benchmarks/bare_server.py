"""A FastMCP server with one tool that does nothing, over stdio: the floor under every round trip.

What `display 1` through stata-tools costs beyond this is ours (the session, the worker, the
log); this much is FastMCP's and the MCP SDK's own request handling, JSON-RPC and the pipe.
"""

from __future__ import annotations

from fastmcp import FastMCP

mcp = FastMCP("bare")


@mcp.tool(output_schema=None)
async def run_code(code: str) -> str:
    """Answer at once, running nothing."""
    return "ok"


if __name__ == "__main__":
    mcp.run(transport="stdio", show_banner=False)
