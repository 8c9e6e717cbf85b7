"""A 100 MB log (one million lines) followed by the server: its memory, and the run's slowdown."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import FAKE_STATA, RssSampler, child_pids, server_env, stdio_client

PAD = "x" * 80

DIRECT = """
import sys, time, stata_setup
stata_setup.config(sys.argv[1], "mp", splash=False)
from pystata import stata
started = time.perf_counter()
stata.run('log using "' + sys.argv[3] + '", text replace name(bench) nomsg', echo=False)
stata.run('do "' + sys.argv[2] + '"', echo=False)
stata.run("log close bench", echo=False)
print(time.perf_counter() - started)
"""


def write_do_file(folder: Path, lines: int) -> Path:
    do_file = folder / "big.do"
    do_file.write_text(f'forvalues i = 1/{lines} {{\n    display "line `i\' {PAD}"\n}}\n')
    return do_file


def run_direct(do_file: Path, log: Path) -> float:
    """The same do-file through pystata with no server and no client."""
    env = {**os.environ, "STATA_PATH": str(FAKE_STATA)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            DIRECT,
            os.environ.get("STATA_PATH", str(FAKE_STATA)),
            str(do_file),
            str(log),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


async def run_served(do_file: Path, run_dir: Path) -> tuple[float, int, int]:
    events = 0

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        nonlocal events
        events += 1

    async def on_log(message) -> None:  # type: ignore[no-untyped-def]
        nonlocal events
        events += 1

    client = stdio_client(server_env(run_dir), progress_handler=on_progress, log_handler=on_log)
    async with client:
        await client.call_tool("run_code", {"code": "display 0"})
        servers = child_pids(os.getpid())
        sampler = RssSampler(servers[-1]) if servers else None
        if sampler:
            sampler.start()
        started = time.perf_counter()
        await client.call_tool("run_do_file", {"path": str(do_file)}, timeout=3600)
        took = time.perf_counter() - started
        if sampler:
            sampler.stop.set()
    return took, (sampler.peak_kb if sampler else -1), events


async def main(lines: int | None = None) -> None:
    lines = lines or int(os.environ.get("BENCH_BIG_LINES", "1000000"))
    work = Path(tempfile.mkdtemp(prefix="bench-big-"))
    do_file = write_do_file(work, lines)
    print(f"## big log: {lines:,} lines of ~100 bytes through the server over stdio")
    direct = run_direct(do_file, work / "direct.log")
    size_mb = (work / "direct.log").stat().st_size / 1e6
    served, peak_kb, events = await run_served(do_file, work / "runs")
    print(f"log size: {size_mb:.1f} MB")
    print(f"without a client (pystata directly): {direct:.2f} s")
    print(f"through the server, followed live:   {served:.2f} s  ({served / direct:.2f}×)")
    print(f"server peak RSS: {peak_kb / 1024:.0f} MB; notifications received: {events:,}")
