"""Run Stata do-files and code with live progress, from MCP clients, Python and the shell.

from stata_tools import Session, RunRequest

result = await Session().execute(RunRequest(do_file=Path("analysis.do")))
print(render_check(check_do_file("analysis.do")))  # before running: no Stata needed
"""

from __future__ import annotations

from stata_tools.about import __version__
from stata_tools.inspection.check import CheckError, CheckReport, check_do_file, render_check
from stata_tools.run.events import (
    CommandStarted,
    ErrorRaised,
    Finished,
    Heartbeat,
    Output,
    Queued,
    RunEvent,
    Snapshot,
    Started,
)
from stata_tools.run.results import RunResult, RunStatus, StataError, render_text
from stata_tools.stata.session import RunRequest, RunRequestError, Session
from stata_tools.stata.settings import Settings

__all__ = [
    "CheckError",
    "CheckReport",
    "CommandStarted",
    "ErrorRaised",
    "Finished",
    "Heartbeat",
    "Output",
    "Queued",
    "RunEvent",
    "RunRequest",
    "RunRequestError",
    "RunResult",
    "RunStatus",
    "Session",
    "Settings",
    "Snapshot",
    "Started",
    "StataError",
    "__version__",
    "check_do_file",
    "render_check",
    "render_text",
]
