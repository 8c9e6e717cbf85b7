"""Control: cancel, timeouts, queued calls, users' own logs and the faults Stata can throw at us."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client

from stata_tools import RunRequest, RunStatus, Session, Started
from stata_tools.mcp.server import get_session, mcp


class Progress:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.messages.append(message or "")


@pytest.fixture
async def client():
    async with Client(mcp) as c:
        yield c


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


async def wait_until(condition, timeout: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def idle() -> bool:
    return get_session().engine.active is None  # type: ignore[union-attr]


def running() -> bool:
    return get_session().engine.active is not None  # type: ignore[union-attr]


async def test_client_cancel_breaks_stata_and_the_session_keeps_its_globals(client: Client) -> None:
    await client.call_tool("run_code", {"code": "global SURVIVOR 41"})
    progress = Progress()
    call = asyncio.create_task(
        client.call_tool("run_code", {"code": "sleep 60000"}, progress_handler=progress)
    )
    await wait_until(lambda: any("1/1" in m for m in progress.messages))
    cancelled_at = time.monotonic()
    call.cancel()  # the SDK sends notifications/cancelled
    with pytest.raises(asyncio.CancelledError):
        await call
    await wait_until(idle, timeout=2)
    assert time.monotonic() - cancelled_at < 2
    assert get_session().runs.summaries(limit=1)[0].status == "cancelled"
    after = await client.call_tool("run_code", {"code": "display $SURVIVOR + 1"})
    assert "\n42" in text_of(after)


async def test_cancel_run_tool_ends_the_run_with_status_cancelled(client: Client) -> None:
    call = asyncio.create_task(
        client.call_tool(
            "run_code", {"code": 'display "partial"\nsleep 60000'}, raise_on_error=False
        )
    )
    await wait_until(running)
    await asyncio.sleep(0.3)
    answer = await client.call_tool("cancel_run", {})
    assert text_of(answer).startswith("Sent a break to run ")
    result = await asyncio.wait_for(call, 5)
    text = text_of(result)
    assert result.is_error is True
    assert text.startswith("Stata cancelled · rc 1 · ")
    assert "partial" in text
    assert result.meta["status"] == "cancelled"
    nothing = await client.call_tool("cancel_run", {})
    assert text_of(nothing) == "No run is active: nothing to cancel."


async def test_timeout_returns_timed_out_quickly_with_partial_output(client: Client) -> None:
    started = time.monotonic()
    result = await client.call_tool(
        "run_code",
        {"code": 'display "before the wait"\nsleep 60000', "timeout_s": 2},
        raise_on_error=False,
    )
    assert time.monotonic() - started < 5
    text = text_of(result)
    assert text.startswith("Stata timed out · rc 1 · ")
    assert "Note: timed out after 2.0s; Stata was sent a break" in text
    assert "before the wait" in text


async def test_five_concurrent_calls_return_five_unmixed_outputs(client: Client) -> None:
    codes = [
        f'display "call {n} begins"\nsleep {100 + 50 * n}\ndisplay "call {n} ends"'
        for n in range(5)
    ]
    results = await asyncio.gather(*(client.call_tool("run_code", {"code": c}) for c in codes))
    run_ids = set()
    for n, result in enumerate(results):
        text = text_of(result)
        assert f"call {n} begins" in text and f"call {n} ends" in text
        assert not any(f"call {m} " in text for m in range(5) if m != n)
        run_ids.add(result.meta["run_id"])
    assert len(run_ids) == 5


async def test_cancelling_a_queued_call_leaves_the_running_one_alone(client: Client) -> None:
    first = asyncio.create_task(
        client.call_tool("run_code", {"code": 'sleep 800\ndisplay "first done"'})
    )
    await wait_until(running)
    queued_progress = Progress()
    second = asyncio.create_task(
        client.call_tool(
            "run_code", {"code": 'display "second ran"'}, progress_handler=queued_progress
        )
    )
    await wait_until(lambda: any("waiting for Stata" in m for m in queued_progress.messages))
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    result = await first
    assert result.meta["status"] == "ok"
    assert "first done" in text_of(result)
    recent = get_session().runs.summaries(limit=3)
    assert all("second ran" not in get_session().runs.read_log(r.run_id).text for r in recent)


async def test_runs_are_listed_and_their_logs_readable(client: Client) -> None:
    result = await client.call_tool(
        "run_code", {"code": 'forvalues i = 1/30 {\n    display "row `i\'"\n}'}
    )
    run_id = result.meta["run_id"]
    listing = json.loads((await client.read_resource("stata://runs"))[0].text)
    assert listing["runs"][0]["run_id"] == run_id
    assert listing["runs"][0]["status"] == "ok"
    log = (await client.read_resource(f"stata://runs/{run_id}/log"))[0].text
    assert "row 30" in log
    tail = text_of(await client.call_tool("read_log", {"run_id": run_id, "tail_lines": 4}))
    assert "row 30" in tail.splitlines()
    assert "row 28" not in tail
    found = text_of(await client.call_tool("read_log", {"run_id": run_id, "grep": r"^row 1\d$"}))
    assert found.splitlines()[0].startswith("10 lines match")
    page = await client.call_tool("read_log", {"run_id": run_id, "max_bytes": 40})
    assert page.meta["next_offset"] <= 40 and page.meta["size"] > 40
    with pytest.raises(Exception, match="no kept run has id"):
        await client.call_tool("read_log", {"run_id": "20200101-000000-abcdef"})


async def test_users_own_logs_keep_working_and_streaming(client: Client, tmp_path: Path) -> None:
    mine = tmp_path / "mine.log"
    do_file = tmp_path / "ownlog.do"
    do_file.write_text(
        "capture log close\n"
        f'log using "{mine}", replace text\n'
        'display "inside my log"\n'
        "log close\n"
        'display "after my log"\n'
    )
    result = await client.call_tool("run_do_file", {"path": str(do_file)})
    text = text_of(result)
    assert "inside my log" in text and "after my log" in text
    assert "Note:" not in text
    assert "inside my log" in mine.read_text()
    assert "after my log" not in mine.read_text()


async def test_log_close_all_is_stated_and_the_output_stays_complete(
    client: Client, tmp_path: Path
) -> None:
    do_file = tmp_path / "closeall.do"
    do_file.write_text('display "before"\nlog close _all\ndisplay "after every log closed"\n')
    text = text_of(await client.call_tool("run_do_file", {"path": str(do_file)}))
    assert "Note: the code closed every log (`log close _all`)" in text
    assert "before" in text and "after every log closed" in text


@pytest.fixture
def private_session() -> Iterator[Session]:
    """A session with short grace periods and a Stata worker of its own, started at its first
    run: fake knobs set before then reach it."""
    settings = dataclasses.replace(get_session().settings, break_grace_s=0.5, heartbeat_s=0.5)
    session = Session(settings)
    yield session
    session.close()


async def test_a_break_stata_ignores_ends_the_session_after_the_grace_period(
    private_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATA_IGNORE_BREAK", "1")
    await private_session.execute(RunRequest(code="global LOST 1"))
    started = time.monotonic()
    result = await private_session.execute(RunRequest(code="sleep 20000", timeout_s=0.5))
    assert time.monotonic() - started < 2.5
    assert result.status is RunStatus.TIMED_OUT
    assert result.session_lost is not None
    assert "did not respond to the break within 0.5 s" in result.session_lost
    assert any("The session was lost: data in memory" in n for n in result.notes)
    assert private_session.status().busy is False
    assert [r.ended for r in private_session.status().restarts] == [True]
    monkeypatch.delenv("FAKE_STATA_IGNORE_BREAK")
    after = await private_session.execute(RunRequest(code='display "served after: $LOST"'))
    assert after.ok and "served after: \n" in after.output.text + "\n"  # the global is gone
    assert "this is a fresh Stata session" in after.notes[0]


async def test_an_empty_break_message_still_reads_as_cancelled(
    private_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATA_EMPTY_BREAK_MESSAGE", "1")
    task = asyncio.create_task(private_session.execute(RunRequest(code="sleep 20000")))
    await wait_until(lambda: private_session.engine.active is not None)  # type: ignore[union-attr]
    private_session.cancel()
    result = await asyncio.wait_for(task, 5)
    assert result.status is RunStatus.CANCELLED
    assert result.rc == 1


async def test_a_log_deleted_mid_run_falls_back_to_what_stata_printed(
    private_session: Session,
) -> None:
    code = 'display "first"\nsleep 400\ndisplay "second"'
    events = []
    async with contextlib.aclosing(private_session.run(RunRequest(code=code))) as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, Started):
                await asyncio.sleep(0.2)
                Path(event.log_path).unlink()
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.ok
    assert "the run's log file was deleted while Stata ran" in result.notes[0]
    assert "first" in result.output.text and "second" in result.output.text


async def test_the_lost_tail_race_loses_nothing(
    private_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_STATA_LOSE_TAIL", "1")
    do_file = tmp_path / "tail.do"
    do_file.write_text('display "head"\nlog close _all\ndisplay "the very last words"\n')
    result = await private_session.execute(RunRequest(do_file=do_file))
    assert "the very last words" in result.output.text  # only in the tail pystata dropped


async def test_a_50_mb_output_stays_within_the_budget(private_session: Session) -> None:
    code = "forvalues i = 1/500000 {\n    display \"line `i' " + "x" * 90 + '"\n}'
    result = await private_session.execute(RunRequest(code=code))
    assert result.ok
    output = result.output
    assert output.total_chars > 50_000_000
    assert output.omitted_lines > 500_000
    assert len(output.text) < private_session.settings.output_budget_chars + 500
    assert "line 1 " in output.text and "line 500000 " in output.text
