"""Two sessions at once: two 10 s runs, each in its own named session (its own Stata worker),
against one such run alone. Issue 11's target: both finish in at most 1.2× the time of one."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks._harness import FAKE_STATA
from stata_tools import RunRequest, Session, Settings

CODE = 'display "start"\nsleep 10000\ndisplay "end"'


def _session(run_dir: Path) -> Session:
    settings = Settings(stata_path=str(FAKE_STATA), run_dir=run_dir)
    return Session(dataclasses.replace(settings, heartbeat_s=5.0))


async def _timed(*sessions: Session) -> float:
    started = time.perf_counter()
    results = await asyncio.gather(*(s.execute(RunRequest(code=CODE)) for s in sessions))
    assert all(r.ok for r in results), [r.status for r in results]
    return time.perf_counter() - started


async def main() -> None:
    print("## parallel sessions: a 10 s run alone, then two in two sessions at once")
    root = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    first, second = _session(root / "a"), _session(root / "b")
    try:
        await asyncio.gather(first.start(), second.start())  # Stata's start-up is not the run
        alone = await _timed(first)
        both = await _timed(first, second)
    finally:
        first.close()
        second.close()
    print(f"one run alone:             {alone:.2f} s")
    print(f"two runs in two sessions:  {both:.2f} s ({both / alone:.2f}× one; target ≤ 1.20×)")
