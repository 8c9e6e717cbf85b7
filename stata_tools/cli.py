"""`stata-tools serve | run FILE.do | check FILE.do | doctor`: the command line over the same
session and events."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from stata_tools.check import CheckError, check_do_file, render_check
from stata_tools.doctor import diagnose
from stata_tools.events import CommandStarted, Finished, Output, RunEvent
from stata_tools.results import RunResult, render_text
from stata_tools.roots import ROOTS_ENV, OutsideRoots
from stata_tools.settings import Settings, SettingsError
from stata_tools.stata.discovery import StataNotFound
from stata_tools.stata.session import RunRequest, RunRequestError, Session

TAIL_LINES = 8


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    sys.exit(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stata-tools", description=__doc__)
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
    parser.set_defaults(handler=_serve, transport="stdio", host="127.0.0.1", port=8000)
    return parser


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"stata-tools: {error}", file=sys.stderr)
        return 2
    for root in settings.roots.paths if settings.roots else ():
        if root.parent == root:  # a launcher started us in /: the default root allows everything
            print(
                f"stata-tools: warning: {root} is an allowed root, so every path is; set "
                f"{ROOTS_ENV} to your project folders",
                file=sys.stderr,
            )
    if args.transport == "http":
        from stata_tools.http import run_http

        run_http(args.host, args.port)
    else:
        from stata_tools.server import run_stdio

        run_stdio()
    return 0


def _run(args: argparse.Namespace) -> int:
    console = Console(file=sys.stderr)  # pystata swaps sys.stderr while Stata runs
    if (args.file is None) == (args.code is None):
        console.print("[red]give a do-file or --code, not both or neither[/red]", soft_wrap=True)
        return 2
    request = RunRequest(
        code=args.code,
        do_file=Path(args.file) if args.file else None,
        working_dir=Path(args.working_dir) if args.working_dir else None,
        timeout_s=args.timeout,
    )
    try:
        session = Session(Settings.from_env())
        result = asyncio.run(_run_with_progress(session, request, console))
    except (RunRequestError, StataNotFound, SettingsError) as error:
        console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/yellow]", soft_wrap=True)
        return 130
    print(render_text(result))
    return result.rc if 0 <= result.rc < 256 else 255


async def _run_with_progress(session: Session, request: RunRequest, console: Console) -> RunResult:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("starting Stata", total=None)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    current = Text("")

    def on_event(event: RunEvent) -> None:
        snapshot = event.snapshot
        progress.update(task, completed=snapshot.progress, total=snapshot.total)
        if isinstance(event, CommandStarted):
            progress.update(task, description=f"{event.index}/{event.total}")
            current.plain = f"» {event.command}"
        elif isinstance(event, Output):
            tail.extend(line for line in event.lines if line.strip())
        elif isinstance(event, Finished):
            progress.update(task, description=event.result.status.value)
        live.update(Group(progress, current, Text("\n".join(tail), style="dim")))

    with Live(Group(progress), console=console, refresh_per_second=10, transient=True) as live:
        return await session.execute(request, on_event)


def _check(args: argparse.Namespace) -> int:
    try:
        report = check_do_file(args.file, args.working_dir, settings=Settings.from_env())
    except (CheckError, OutsideRoots, SettingsError) as error:
        print(f"stata-tools check: {error}", file=sys.stderr)
        return 2
    print(render_check(report, from_command=args.from_command))
    return 0 if report.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    console = Console(file=sys.stderr)
    marks = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]![/yellow]"}
    failed = False
    for check in diagnose(timeout_s=args.timeout):
        failed |= check.ok is False
        detail = escape(check.detail).replace("\n", "\n    ")
        console.print(f"{marks[check.ok]} {escape(check.label)}: {detail}", soft_wrap=True)
    console.print("[red]problems found[/red]" if failed else "[green]all good[/green]")
    return 1 if failed else 0


if __name__ == "__main__":
    main()
