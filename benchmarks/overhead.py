"""What the server adds to a trivial command: `display 1` over stdio against pystata directly,
through the library, and over stdio, each with Stata in a worker and in the same process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import FAKE_STATA, REPO, server_env, stdio_client, summary_ms

DIRECT = """
import sys, time, stata_setup
stata_setup.config(sys.argv[1], "mp", splash=False)
from pystata import stata
stata.run("display 1", echo=False)
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    stata.run("display 1", echo=False)
    print("took", time.perf_counter() - started, file=sys.stderr)
"""


def direct_calls(count: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", DIRECT, os.environ.get("STATA_PATH", str(FAKE_STATA)), str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(line.split()[1]) for line in out.stderr.splitlines() if line.startswith("took ")]


LIBRARY = """
import asyncio, functools, sys, time
from pathlib import Path
from stata_tools import RunRequest, Session, Settings
from stata_tools.stata.engine import Engine
from stata_tools.stata.session import locate_stata

settings = Settings(stata_path=sys.argv[1], run_dir=Path(sys.argv[4]))
engine = None
if sys.argv[3] == "in-process":
    engine = Engine(functools.partial(locate_stata, settings), stdout_fallback=sys.stderr)

async def main():
    session = Session(settings, engine)
    await session.execute(RunRequest(code="display 1"))
    for _ in range(int(sys.argv[2])):
        started = time.perf_counter()
        await session.execute(RunRequest(code="display 1"))
        print("took", time.perf_counter() - started, file=sys.__stderr__)

asyncio.run(main())
"""


def library_calls(count: int, engine: str) -> list[float]:
    """`display 1` through Session (no MCP), with Stata in a worker or in the same process."""
    runs = tempfile.mkdtemp(prefix="bench-overhead-")
    stata = os.environ.get("STATA_PATH", str(FAKE_STATA))
    out = subprocess.run(
        [sys.executable, "-c", LIBRARY, stata, str(count), engine, runs],
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(line.split()[1]) for line in out.stderr.splitlines() if line.startswith("took ")]


DATA_READ = """
import asyncio, dataclasses, sys, time
from pathlib import Path
from stata_tools import RunRequest, Session, Settings

base = Settings(stata_path=sys.argv[1], run_dir=Path(sys.argv[3]))

async def main():
    flags = ("on", "off")
    sessions = {f: Session(dataclasses.replace(base, data_changes=f == "on")) for f in flags}
    for session in sessions.values():
        await session.execute(RunRequest(code=sys.argv[4]))
    for _ in range(int(sys.argv[2])):
        for flag, session in sessions.items():
            started = time.perf_counter()
            await session.execute(RunRequest(code="display 1"))
            print("took", flag, time.perf_counter() - started, file=sys.__stderr__)
    for session in sessions.values():
        session.close()

asyncio.run(main())
"""


AUTO = "sysuse auto, clear"
WIDE = "clear\nset obs 100\nforvalues i = 1/900 {\n    generate v`i' = `i'\n}"


def data_read_calls(count: int, setup: str = AUTO) -> dict[str, list[float]]:
    """`display 1` through Session with the data read before and after each run (the
    `data: …` line) and without it, in turns in two worker sessions holding the same data."""
    runs = tempfile.mkdtemp(prefix="bench-overhead-")
    stata = os.environ.get("STATA_PATH", str(FAKE_STATA))
    out = subprocess.run(
        [sys.executable, "-c", DATA_READ, stata, str(count), runs, setup],
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, list[float]] = {"on": [], "off": []}
    for line in out.stderr.splitlines():
        if line.startswith("took "):
            _, flag, value = line.split()
            times[flag].append(float(value))
    return times


IN_PROCESS = Path(__file__).with_name("in_process_server.py")
SERVERS = {
    "Stata in a worker process": REPO / "server.py",
    "Stata in the server process": IN_PROCESS,
    "bare FastMCP, a tool that does nothing (the floor)": Path(__file__).with_name(
        "bare_server.py"
    ),
}


async def served_calls(count: int) -> dict[str, list[float]]:
    """`display 1` round trips over stdio through each server, taken in turns so that both see
    the same machine load."""
    times: dict[str, list[float]] = {name: [] for name in SERVERS}
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, script in SERVERS.items():
            run_dir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
            clients[name] = await stack.enter_async_context(
                stdio_client(server_env(run_dir), script)
            )
            await clients[name].call_tool("run_code", {"code": "display 1"})  # Stata starts
        for _ in range(count):
            for name, client in clients.items():
                started = time.perf_counter()
                await client.call_tool("run_code", {"code": "display 1"})
                times[name].append(time.perf_counter() - started)
    return times


async def main(count: int = 100) -> None:
    print(f"## overhead: `display 1`, {count} calls")
    print(f"pystata directly: {summary_ms(direct_calls(count))}")
    for engine in ("worker", "in-process"):
        print(f"Session.execute, {engine} engine: {summary_ms(library_calls(count, engine))}")
    for label, setup in (("auto, 12 vars", AUTO), ("900 vars", WIDE)):
        read = data_read_calls(count, setup)
        for flag in ("on", "off"):
            print(f"Session.execute, worker, data read {flag} ({label}): {summary_ms(read[flag])}")
    for name, values in (await served_calls(count)).items():
        print(f"run_code over stdio MCP, {name}: {summary_ms(values)}")
