"""Latency from Stata writing a log line to the client receiving the notification with it."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from benchmarks._harness import LogTailer, server_env, stdio_client, summary_ms

TICK = re.compile(r"tick (\d+)\b")


async def measure(lines: int = 200, interval_ms: int = 50) -> dict[str, list[float]]:
    """Run a do-file that prints `lines` lines, one every `interval_ms`, and time each one."""
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    run_dir = work / "runs"
    run_dir.mkdir()
    do_file = work / "ticks.do"
    do_file.write_text(
        f'forvalues i = 1/{lines} {{\n    display "tick `i\'"\n    sleep {interval_ms}\n}}\n'
    )
    written: dict[int, float] = {}
    via_log: dict[int, float] = {}
    via_progress: dict[int, float] = {}

    def on_line(line: str, at: float) -> None:
        match = TICK.fullmatch(line.strip())
        if match:
            written.setdefault(int(match.group(1)), at)

    async def on_log(message) -> None:  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        for number in TICK.findall(message.data["msg"]):
            via_log.setdefault(int(number), now)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        now = time.perf_counter()
        for number in TICK.findall(message or ""):
            via_progress.setdefault(int(number), now)

    tailer = LogTailer(run_dir, on_line)
    tailer.start()
    client = stdio_client(server_env(run_dir), log_handler=on_log, progress_handler=on_progress)
    async with client:
        await client.call_tool("run_code", {"code": "display 0"})  # Stata starts outside the timing
        await client.call_tool("run_do_file", {"path": str(do_file)})
    tailer.stop.set()
    return {
        "log notification": [via_log[n] - written[n] for n in via_log if n in written],
        "progress message": [via_progress[n] - written[n] for n in via_progress if n in written],
    }


async def main() -> None:
    print("## latency: log line written → client notification (20 lines/s, stdio)")
    figures = await measure()
    for channel, values in figures.items():
        print(f"{channel:>17}: {summary_ms(values)}")
