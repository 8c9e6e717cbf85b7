"""Background runs through the MCP tools: start, status, wait, cancel, and a client that leaves."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from stdio_peer import StdioPeer

from stata_tools.mcp import context, server
from stata_tools.mcp.server import get_session, mcp
from stata_tools.run.events import Snapshot
from stata_tools.stata.background import (
    BackgroundRun,
    BackgroundRuns,
    Phase,
    describe_background,
    describe_kept,
)
from stata_tools.stata.runs import RunSummary
from stata_tools.stata.session import RunRequest, RunRequestError

STEPS = 'display "step one"\nsleep 700\ndisplay "step two"\nsleep 700\ndisplay "the end"'


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


@pytest.fixture
async def background(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BackgroundRuns]:
    runs = BackgroundRuns()
    monkeypatch.setattr(context, "_background", runs)
    yield runs
    await runs.stop_all()


@pytest.fixture
async def client(background: BackgroundRuns) -> AsyncIterator[Client]:
    async with Client(mcp) as c:
        await c.call_tool("run_code", {"code": "display 1"})  # Stata up: timings are the run's
        yield c


def test_a_queued_run_is_described_with_what_to_do_next() -> None:
    run = BackgroundRun(
        run_id="20261204-010203-000001",
        session="models",
        client="local",
        source="/work/a.do",
        started_at=100.0,
        snapshot=Snapshot(0.0, 7, "waiting for Stata: 1 run(s) ahead of a.do", 3.0),
    )
    text, meta = describe_background(run, now=104.5)
    assert text.splitlines() == [
        "Run 20261204-010203-000001 in session models: queued · 4.5s · /work/a.do",
        "Progress: waiting for Stata: 1 run(s) ahead of a.do",
        "Still going: wait_run(run_id='20261204-010203-000001') for the result, cancel_run "
        "to stop.",
    ]
    assert meta["done"] is False and meta["total"] == 7 and meta["elapsed_s"] == 4.5
    run.phase, run.failure = Phase.DONE, "cancelled before it started"
    text, meta = describe_background(run, now=200.0)
    assert text.startswith("Run 20261204-010203-000001 in session models: did not run: cancelled")
    assert meta["done"] is True and meta["failure"] == "cancelled before it started"


def test_a_kept_run_is_described_from_its_folder() -> None:
    done = RunSummary("20261204-010203-000002", "error", 111, "/w/b.do", 75.0, 10)
    assert describe_kept(done) == (
        "Run 20261204-010203-000002: error · rc 111 · 1m15s · /w/b.do",
        {"run_id": "20261204-010203-000002", "status": "error", "done": True},
    )
    going = RunSummary("20261204-010203-000003", "running or interrupted", None, None, None, 0)
    text, meta = describe_kept(going)
    assert text == "Run 20261204-010203-000003: running or interrupted · source unknown"
    assert meta["done"] is False


async def test_the_library_runs_in_the_background_and_checks_the_request_first() -> None:
    runs = BackgroundRuns()
    session = get_session()
    with pytest.raises(RunRequestError, match="`code` is empty"):
        runs.start(session, RunRequest(code="  "), name="main", client="local")
    run = runs.start(session, RunRequest(code='display "lib"'), name="main", client="local")
    assert runs.get(run.run_id) is run and run.phase is Phase.QUEUED
    assert await runs.wait(run, 20) is True
    assert run.result is not None and run.result.run_id == run.run_id
    assert run.result.ok and "lib" in run.result.output.text


async def start(client: Client, code: str, expect_session: str = "main", **more: object) -> str:
    began = time.monotonic()
    started = await client.call_tool("run_code", {"code": code, "background": True, **more})
    assert time.monotonic() - began < 1.0, "background=true must return at once"
    assert started.is_error is False
    assert started.meta["background"] is True and started.meta["session"] == expect_session
    run_id = started.meta["run_id"]
    assert text_of(started).startswith(
        f"Started run {run_id} in session {expect_session} in the background"
    )
    assert f"wait_run(run_id='{run_id}'" in text_of(started)
    return str(run_id)


async def test_a_background_run_reports_progress_then_its_full_result(client: Client) -> None:
    run_id = await start(client, STEPS)
    await asyncio.sleep(0.5)
    status = await client.call_tool("run_status", {"run_id": run_id})
    text = text_of(status)
    assert text.startswith(f"Run {run_id} in session main: running · ")
    assert status.meta["done"] is False and status.meta["total"] == 5
    assert 1 <= status.meta["progress"] < 5
    assert "Still going: wait_run" in text
    assert "--- last 15 log lines ---" in text and "step one" in text
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    waited = await client.call_tool(
        "wait_run", {"run_id": run_id, "timeout_s": 20}, progress_handler=on_progress
    )
    assert text_of(waited).startswith("Stata ok · rc 0 · ")
    assert f"run {run_id}" in text_of(waited).splitlines()[0]
    assert "the end" in text_of(waited)
    assert waited.meta["status"] == "ok" and waited.meta["commands_done"] == 5
    assert waited.is_error is False
    assert progress and progress[-1][1] == 5
    assert any(value > 1 for value, _, _ in progress)
    after = await client.call_tool("run_status", {"run_id": run_id})  # kept after it ended
    assert text_of(after).startswith(f"Run {run_id} in session main: ok · rc 0 · ")
    assert after.meta["done"] is True


async def test_a_wait_that_ends_first_says_so_and_the_run_goes_on(client: Client) -> None:
    run_id = await start(client, "sleep 1500\ndisplay 42")
    began = time.monotonic()
    waited = await client.call_tool("wait_run", {"run_id": run_id, "timeout_s": 0.3})
    assert 0.3 <= time.monotonic() - began < 1.2
    text = text_of(waited)
    assert text.startswith("The wait ended after 0.3 s before the run did; it goes on.\n")
    assert waited.meta["done"] is False and waited.is_error is False
    final = await client.call_tool("wait_run", {"run_id": run_id, "timeout_s": 20})
    assert final.meta["status"] == "ok" and "\n42" in text_of(final)


async def test_cancel_run_by_id_breaks_a_background_run(client: Client) -> None:
    run_id = await start(client, 'display "before"\nsleep 60000')
    await asyncio.sleep(0.5)
    answer = await client.call_tool("cancel_run", {"run_id": run_id})
    assert text_of(answer).startswith(f"Sent a break to run {run_id} in session main; its result")
    assert answer.meta["cancelled"] is True
    waited = await client.call_tool(
        "wait_run", {"run_id": run_id, "timeout_s": 10}, raise_on_error=False
    )
    assert text_of(waited).startswith("Stata cancelled · rc 1 · ")
    assert waited.is_error is True and "before" in text_of(waited)
    again = await client.call_tool("cancel_run", {"run_id": run_id})
    assert text_of(again) == f"Run {run_id} is not running (cancelled): nothing to cancel."


async def test_a_queued_background_run_has_an_id_and_can_be_dropped(client: Client) -> None:
    first = await start(client, "sleep 1500")
    second = await start(client, 'display "never"')
    status = await client.call_tool("run_status", {"run_id": second})
    assert text_of(status).startswith(f"Run {second} in session main: queued · ")
    dropped = await client.call_tool("cancel_run", {"run_id": second})
    assert text_of(dropped) == (
        f"Run {second} was waiting in session main; it was dropped before it began."
    )
    waited = await client.call_tool(
        "wait_run", {"run_id": second, "timeout_s": 5}, raise_on_error=False
    )
    assert waited.is_error is True
    assert "did not run: cancelled before it started" in text_of(waited)
    done = await client.call_tool("wait_run", {"run_id": first, "timeout_s": 20})
    assert done.meta["status"] == "ok"


async def test_bad_input_fails_at_once_not_in_the_background(client: Client) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await client.call_tool(
            "run_do_file", {"path": "/tmp/no-such-file-here.do", "background": True}
        )
    with pytest.raises(ToolError, match="no kept run has id 'nope'"):
        await client.call_tool("run_status", {"run_id": "nope"})
    with pytest.raises(ToolError, match="no kept run has id 'nope'"):
        await client.call_tool("wait_run", {"run_id": "nope"})
    with pytest.raises(ToolError, match="no kept run has id 'nope'"):
        await client.call_tool("cancel_run", {"run_id": "nope"})


def test_a_background_run_over_stdio_then_wait(fake_stata_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
    }
    peer = StdioPeer(env)
    try:
        peer.initialize()
        call = {"name": "run_code", "arguments": {"code": STEPS, "background": True}}
        began = time.monotonic()
        started = peer.request("tools/call", call)["result"]
        assert time.monotonic() - began < 5  # Stata's start is not waited for either
        run_id = started["_meta"]["run_id"]
        status = peer.request("tools/call", {"name": "run_status", "arguments": {"run_id": run_id}})
        assert status["result"]["content"][0]["text"].startswith(f"Run {run_id} in session main: ")
        wait = {"name": "wait_run", "arguments": {"run_id": run_id, "timeout_s": 30}}
        waited = peer.request("tools/call", {**wait, "_meta": {"progressToken": "w"}})["result"]
        assert waited["content"][0]["text"].startswith("Stata ok · rc 0 · ")
        assert "the end" in waited["content"][0]["text"]
        notes = [m for m in peer.messages if m.get("method") == "notifications/progress"]
        assert any(n["params"]["progressToken"] == "w" for n in notes)
    finally:
        peer.proc.kill()
        peer.proc.wait(5)


async def test_closing_a_session_stops_its_background_runs(client: Client) -> None:
    running = await start(client, "sleep 60000", session="temp", expect_session="temp")
    queued = await start(client, 'display "never"', session="temp", expect_session="temp")
    await asyncio.sleep(0.3)
    await client.call_tool("close_session", {"session": "temp"})
    for run_id in (running, queued):
        waited = await client.call_tool(
            "wait_run", {"run_id": run_id, "timeout_s": 5}, raise_on_error=False
        )
        assert "did not run: its session was closed" in text_of(waited), text_of(waited)
    assert "temp" not in server.get_registry().names("local")
