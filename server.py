"""Entry point for `fastmcp run server.py` and `fastmcp dev inspector server.py`."""

from stata_tools.mcp.server import mcp

__all__ = ["mcp"]

if __name__ == "__main__":
    from stata_tools.mcp.server import run_stdio

    run_stdio()
