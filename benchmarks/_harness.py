"""Shared pieces: a stdio client on the real server, a log tailer, RSS sampling, percentiles."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

REPO = Path(__file__).resolve().parents[1]
FAKE_STATA = REPO / "tests" / "fake_stata"


def server_env(run_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_STATA_")}
    env.setdefault("STATA_PATH", str(FAKE_STATA))
    env.setdefault("STATA_TOOLS_ROOTS", tempfile.gettempdir())  # where the do-files are written
    env.update(STATA_TOOLS_RUN_DIR=str(run_dir), FASTMCP_LOG_LEVEL="WARNING", **extra)
    return env


async def _ignore(_message: object) -> None:
    return None


def stdio_client(
    env: dict[str, str], script: Path = REPO / "server.py", **kwargs: object
) -> Client:
    """A FastMCP client on `python server.py` over stdio; the server's stderr is dropped."""
    transport = StdioTransport(
        sys.executable, [str(script)], env=env, cwd=str(REPO), log_file=Path(os.devnull)
    )
    kwargs.setdefault("log_handler", _ignore)
    return Client(transport, **kwargs)  # type: ignore[arg-type]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p90={percentile(ms, 90):.1f} ms "
        f"p99={percentile(ms, 99):.1f} ms max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms"
    )


class LogTailer(threading.Thread):
    """Sees each new line of any run.log under a folder within about a millisecond of its write."""

    def __init__(self, run_dir: Path, on_line: Callable[[str, float], None]) -> None:
        super().__init__(daemon=True)
        self.run_dir = run_dir
        self.on_line = on_line
        self.stop = threading.Event()

    def run(self) -> None:
        offsets: dict[Path, int] = {}
        pending: dict[Path, bytes] = {}
        while not self.stop.is_set():
            for log in self.run_dir.glob("*/run.log"):
                try:
                    with log.open("rb") as handle:
                        handle.seek(offsets.get(log, 0))
                        data = handle.read()
                except OSError:
                    continue
                if not data:
                    continue
                now = time.perf_counter()
                offsets[log] = offsets.get(log, 0) + len(data)
                buffer = pending.get(log, b"") + data
                *lines, rest = buffer.split(b"\n")
                pending[log] = rest
                for line in lines:
                    self.on_line(line.decode("utf-8", "replace").rstrip("\r"), now)
            time.sleep(0.0005)


class RssSampler(threading.Thread):
    """Largest resident set size of a process, read from /proc every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self.stop.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.1)


def child_pids(parent: int) -> list[int]:
    """Direct children of a process (the stdio server under its transport)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == parent:
                found.append(int(status.parent.name))
    return found
