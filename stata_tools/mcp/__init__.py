"""The MCP face: the FastMCP server and its tools, HTTP, client roots, progress reports."""
