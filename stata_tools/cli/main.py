"""`stata-tools serve | run FILE.do | check FILE.do | doctor | config`: the command line.

Exit codes of `run`: 0 when the run succeeded; Stata's return code when it is 1-255; 255 for a
return code above 255 (Stata's own go up to 9999; the last line names it); 124 when the run
timed out; 130 when Ctrl-C stopped it; 2 when the request was refused before Stata ran.
`check`: 0 clean, 1 problems the run would hit, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from stata_tools.about import __version__
from stata_tools.inspection.check import CheckError, check_do_file, render_check
from stata_tools.run.events import CommandStarted, Finished, Output, Queued, RunEvent, Started
from stata_tools.run.results import RunResult, RunStatus, render_summary_last
from stata_tools.safety.roots import ROOTS_ENV, OutsideRoots
from stata_tools.stata.discovery import StataNotFound
from stata_tools.stata.session import RunRequest, RunRequestError, Session
from stata_tools.stata.settings import Settings, SettingsError
from stata_tools.stata.slurm.engine import SlurmError

if TYPE_CHECKING:
    from rich.console import RenderableType

TAIL_LINES = 8
EXIT_REFUSED = 2
EXIT_RC_ABOVE_255 = 255
EXIT_TIMED_OUT = 124
EXIT_INTERRUPTED = 130
_CONFIG_PREFIXES = ("STATA_PATH", "STATA_EDITION", "STATA_TOOLS_")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    sys.exit(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stata-tools", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"stata-tools {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address; off loopback a bearer token is required "
        "(STATA_TOOLS_TOKEN, or one generated and printed to stderr)",
    )
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (serves /mcp)")
    serve.set_defaults(handler=_serve)
    run = commands.add_parser("run", help="run a do-file (or --code) with live progress")
    run.add_argument("file", nargs="?", help="the .do file")
    run.add_argument("--code", help="Stata commands to run instead of a file")
    run.add_argument("--working-dir", help="directory to cd into first")
    run.add_argument("--timeout", type=float, help="stop the run after this many seconds")
    run.add_argument(
        "--executor",
        choices=["session", "batch", "slurm"],
        default="session",
        help="session: Stata through pystata (default); batch: a local `stata -b` process; "
        "slurm: that command submitted with sbatch",
    )
    run.add_argument("--array", help="slurm: a job array (1-100); each task's index is `1'")
    for name, what in (
        ("partition", "Slurm partition"),
        ("time-limit", "Slurm time limit (2:00:00)"),
        ("cpus", "CPUs per task"),
        ("memory", "memory per node (16G)"),
        ("account", "Slurm account"),
    ):
        run.add_argument(f"--{name}", type=int if name == "cpus" else str, help=what)
    run.add_argument(
        "--sbatch", action="append", default=[], help="an extra #SBATCH option (repeatable)"
    )
    run.set_defaults(handler=_run)
    check = commands.add_parser(
        "check",
        help="check a do-file without Stata (exit 0: clean, 1: problems the run would hit, 2: "
        "bad usage)",
    )
    check.add_argument("file", help="the .do file")
    check.add_argument("--working-dir", help="where relative paths start, as for run")
    check.add_argument(
        "--from-command", type=int, default=1, help="list commands one by one from this one"
    )
    check.set_defaults(handler=_check)
    doctor = commands.add_parser(
        "doctor", help="check Stata, pystata, the stdout guard, roots and policy (exit 1: problems)"
    )
    doctor.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to allow Stata to start (180)"
    )
    doctor.set_defaults(handler=_doctor)
    config = commands.add_parser(
        "config",
        help="print the mcpServers JSON that starts this server with the current STATA_* settings",
    )
    config.add_argument("--name", default="stata", help="the server's name in the JSON (stata)")
    config.set_defaults(handler=_config)
    parser.set_defaults(handler=_serve, transport="stdio", host="127.0.0.1", port=8000)
    return parser


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"stata-tools: {error}", file=sys.stderr)
        return EXIT_REFUSED
    for root in settings.roots.paths if settings.roots else ():
        if root.parent == root:  # a launcher started us in /: the default root allows everything
            print(
                f"stata-tools: warning: {root} is an allowed root, so every path is; set "
                f"{ROOTS_ENV} to your project folders",
                file=sys.stderr,
            )
    if args.transport == "http":
        from stata_tools.mcp.http import run_http

        run_http(args.host, args.port)
    else:
        from stata_tools.mcp.server import run_stdio

        run_stdio()
    return 0


def exit_code(result: RunResult) -> int:
    """The process exit code for a finished run (the table in this module's docstring)."""
    if result.status is RunStatus.TIMED_OUT:
        return EXIT_TIMED_OUT
    if result.status is RunStatus.CANCELLED:
        return EXIT_INTERRUPTED
    return result.rc if 0 <= result.rc <= 255 else EXIT_RC_ABOVE_255


def _slurm_args(args: argparse.Namespace) -> dict[str, object] | None:
    """The per-call Slurm options given on the command line (checked by the session)."""
    given = {
        "partition": args.partition,
        "time_limit": args.time_limit,
        "cpus": args.cpus,
        "memory": args.memory,
        "account": args.account,
        "extra": args.sbatch or None,
    }
    given = {key: value for key, value in given.items() if value is not None}
    return given or None


def _run(args: argparse.Namespace) -> int:
    console = Console(file=sys.stderr)  # stdout carries the result alone
    if (args.file is None) == (args.code is None):
        console.print("[red]give a do-file or --code, not both or neither[/red]", soft_wrap=True)
        return EXIT_REFUSED
    request = RunRequest(
        code=args.code,
        do_file=Path(args.file) if args.file else None,
        working_dir=Path(args.working_dir) if args.working_dir else None,
        timeout_s=args.timeout,
        executor=args.executor,
        array=args.array,
        slurm=_slurm_args(args),
    )
    watch = _RunView(console)
    try:
        session = Session(Settings.from_env())
        result = asyncio.run(watch.run(session, request))
    except (RunRequestError, StataNotFound, SettingsError, SlurmError) as error:
        console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        where = f"; the log so far: {watch.log_path}" if watch.log_path else ""
        console.print(f"[yellow]stopped by Ctrl-C{escape(where)}[/yellow]", soft_wrap=True)
        return EXIT_INTERRUPTED
    print(render_summary_last(result), flush=True)
    return exit_code(result)


class _RunView:
    """A progress bar, the current command and a tail of the log on stderr, gone once it ends."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        self.console = console
        self.log_path: str | None = None
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("waiting for Stata", total=None)
        self.current = Text("")
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    async def run(self, session: Session, request: RunRequest) -> RunResult:
        from rich.live import Live

        with Live(
            self._view(), console=self.console, refresh_per_second=10, transient=True
        ) as live:

            def on_event(event: RunEvent) -> None:
                self._update(event)
                live.update(self._view())

            return await session.execute(request, on_event)

    def _view(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        return Group(self.progress, self.current, Text("\n".join(self.tail), style="dim"))

    def _update(self, event: RunEvent) -> None:
        snapshot = event.snapshot
        self.progress.update(self.task, completed=snapshot.progress, total=snapshot.total or None)
        if snapshot.message:
            self.current.plain = snapshot.message  # what an MCP client shows: k/N, command, output
        if isinstance(event, Queued):
            self.progress.update(self.task, description=f"queued: {event.position} ahead")
        elif isinstance(event, Started):
            self.log_path = event.log_path
            self.progress.update(self.task, description="running")
        elif isinstance(event, CommandStarted):
            self.progress.update(self.task, description=f"{event.index}/{event.total}")
        elif isinstance(event, Output):
            self.tail.extend(line for line in event.lines if line.strip())
        elif isinstance(event, Finished):
            self.progress.update(self.task, description=event.result.status.value)


def _check(args: argparse.Namespace) -> int:
    try:
        report = check_do_file(args.file, args.working_dir, settings=Settings.from_env())
    except (CheckError, OutsideRoots, SettingsError) as error:
        print(f"stata-tools check: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(render_check(report, from_command=args.from_command))
    return 0 if report.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    from stata_tools.cli.doctor import diagnose

    console = Console()  # the report is what the user asked for: stdout
    marks = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]![/yellow]"}
    failed = False
    for check in diagnose(timeout_s=args.timeout):
        failed |= check.ok is False
        detail = escape(check.detail).replace("\n", "\n    ")
        console.print(f"{marks[check.ok]} {escape(check.label)}: {detail}", soft_wrap=True)
    console.print("[red]problems found[/red]" if failed else "[green]all good[/green]")
    return 1 if failed else 0


def client_config(name: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    """The `mcpServers` entry that starts this installation's server with these settings."""
    settings = {k: v for k, v in sorted(env.items()) if k.startswith(_CONFIG_PREFIXES)}
    settings.setdefault(ROOTS_ENV, str(cwd.resolve()))  # a client may start us in /
    server = {"command": sys.executable, "args": ["-m", "stata_tools", "serve"], "env": settings}
    return {"mcpServers": {name: server}}


def _config(args: argparse.Namespace) -> int:
    print(json.dumps(client_config(args.name, dict(os.environ), Path.cwd()), indent=2))
    return 0


if __name__ == "__main__":
    main()
