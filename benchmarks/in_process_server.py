"""The stdio server with Stata in its own process (the engine before the worker), for comparison.

`python benchmarks/in_process_server.py` serves exactly as `server.py` does, except that the
session drives an in-process Engine instead of a worker process.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stata_tools.mcp import context, server
from stata_tools.stata.engine import Engine
from stata_tools.stata.session import Session, locate_stata
from stata_tools.stata.settings import Settings

if __name__ == "__main__":
    settings = Settings.from_env()
    engine = Engine(functools.partial(locate_stata, settings), stdout_fallback=sys.stderr)
    context._session = Session(settings, engine)
    server.run_stdio()
