from __future__ import annotations

import time
from itertools import pairwise

import anyio

from stata_tools.mcp.reporting import Reporter
from stata_tools.run.events import Heartbeat, Output, Snapshot


def snap(progress: float, message: str = "m") -> Snapshot:
    return Snapshot(progress, 10, message, 0.0)


class Sink:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.progress: list[tuple[float, float, str]] = []
        self.batches: list[str] = []
        self.times: list[float] = []

    async def send_progress(self, progress: float, total: float, message: str) -> None:
        self.progress.append((progress, total, message))
        self.times.append(time.monotonic())
        await anyio.sleep(self.delay)

    async def send_lines(self, text: str) -> None:
        self.batches.append(text)
        await anyio.sleep(self.delay)


async def test_progress_is_rate_limited_strictly_increasing_and_ends_on_the_newest() -> None:
    sink = Sink()
    reporter = Reporter(sink.send_progress, sink.send_lines, progress_interval_s=0.05)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        for step in range(1, 201):
            reporter.update(Heartbeat(snap(step * 0.04, f"step {step}")))
            await anyio.sleep(0.001)
        await reporter.close()
    values = [p for p, _, _ in sink.progress]
    assert values == sorted(set(values))
    assert sink.progress[-1] == (8.0, 10.0, "step 200")
    assert len(values) < 200 / 2  # coalesced, not one per update
    gaps = [b - a for a, b in pairwise(sink.times)]
    assert min(gaps[:-1]) >= 0.045  # the last one is the flush at close, sent at once


async def test_log_lines_arrive_in_order_batched_at_most_ten_times_a_second() -> None:
    sink = Sink()
    reporter = Reporter(sink.send_progress, sink.send_lines, lines_interval_s=0.1)
    started = time.monotonic()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        for n in range(300):
            reporter.update(Output((f"line {n}",), snap(n * 0.01)))
            await anyio.sleep(0.002)
        await reporter.close()
    elapsed = time.monotonic() - started
    delivered = "\n".join(sink.batches).splitlines()
    assert delivered == [f"line {n}" for n in range(300)]
    assert len(sink.batches) <= elapsed / 0.1 + 2


async def test_a_slow_client_never_blocks_the_producer() -> None:
    sink = Sink(delay=0.3)
    reporter = Reporter(sink.send_progress, sink.send_lines)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        began = time.monotonic()
        for n in range(5000):
            reporter.update(Output((f"line {n}",), snap(n * 0.001)))
        spent = time.monotonic() - began
        await reporter.close()
    assert spent < 0.5
    assert sink.progress[-1][0] == 4.999
    assert "\n".join(sink.batches).splitlines()[-1] == "line 4999"


async def test_equal_progress_is_not_sent_twice() -> None:
    sink = Sink()
    reporter = Reporter(sink.send_progress)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        reporter.update(Heartbeat(snap(1.0, "a")))
        await anyio.sleep(0.1)
        reporter.update(Heartbeat(snap(1.0, "b")))
        await anyio.sleep(0.1)
        await reporter.close()
    assert sink.progress == [(1.0, 10.0, "a")]


async def test_a_run_over_within_the_quiet_start_sends_nothing() -> None:
    sink = Sink()
    reporter = Reporter(sink.send_progress, sink.send_lines, quiet_start_s=0.2)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        reporter.update(Output(("1",), snap(1.0)))
        await anyio.sleep(0.02)
        await reporter.close()
    assert sink.progress == [] and sink.batches == []  # the result says it all


async def test_after_the_quiet_start_the_newest_progress_and_every_line_go_out() -> None:
    sink = Sink()
    reporter = Reporter(sink.send_progress, sink.send_lines, quiet_start_s=0.1)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reporter.pump)
        began = time.monotonic()
        reporter.update(Output(("one",), snap(1.0)))
        await anyio.sleep(0.02)
        reporter.update(Output(("two",), snap(2.0)))
        await anyio.sleep(0.2)
        await reporter.close()
    assert sink.progress == [(2.0, 10.0, "m")]  # the newest when the quiet start ended
    assert sink.times[0] - began >= 0.1
    assert "\n".join(sink.batches).splitlines() == ["one", "two"]
