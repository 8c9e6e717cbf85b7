"""What the server adds to a trivial command: `display 1` over stdio against pystata directly."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import FAKE_STATA, server_env, stdio_client, summary_ms

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


IN_PROCESS = Path(__file__).with_name("in_process_server.py")


async def served_calls(count: int, script: Path | None = None) -> list[float]:
    """`display 1` round trips over stdio: through the worker, or the in-process engine."""
    run_dir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    times = []
    client = (
        stdio_client(server_env(run_dir), script) if script else stdio_client(server_env(run_dir))
    )
    async with client:
        await client.call_tool("run_code", {"code": "display 1"})
        for _ in range(count):
            started = time.perf_counter()
            await client.call_tool("run_code", {"code": "display 1"})
            times.append(time.perf_counter() - started)
    return times


async def main(count: int = 50) -> None:
    print(f"## overhead: `display 1`, {count} calls")
    print(f"pystata directly: {summary_ms(direct_calls(count))}")
    worker = await served_calls(count)
    print(f"run_code over stdio MCP, Stata in a worker process: {summary_ms(worker)}")
    in_process = await served_calls(count, IN_PROCESS)
    print(f"run_code over stdio MCP, Stata in the server process: {summary_ms(in_process)}")
