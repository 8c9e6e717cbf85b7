"""The MCP tools, a module for each thing a user does; each lists its tools in TOOLS."""
