"""The library API: Session runs, queues, cancels and times out against the shared fake Stata."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from platforms import fifos

from stata_tools import (
    CommandStarted,
    Finished,
    Output,
    Queued,
    RunRequest,
    RunStatus,
    Session,
    Settings,
    Started,
)
from stata_tools.stata.session import MAX_DO_FILE_BYTES, RunRequestError, prepare

_shared: Session | None = None


@pytest.fixture
def session() -> Session:
    """One Stata per process, so one session for every test here."""
    global _shared
    if _shared is None:
        from stata_tools.mcp.server import get_session

        _shared = get_session()  # the server's: both share the process's Stata
    return _shared


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("FAKE_STATA_RECORD", str(path))
    return path


@pytest.fixture
def recorded(record: Path) -> Iterator[Session]:
    """A session of its own: its worker starts after FAKE_STATA_RECORD is set, so it records."""
    session = Session(Settings.from_env())
    yield session
    session.close()


def breaks_in(record: Path) -> list[dict]:
    if not record.exists():
        return []
    events = [json.loads(line) for line in record.read_text().splitlines()]
    return [e for e in events if "break" in e.get("event", "")]


async def collect(session: Session, request: RunRequest) -> list[object]:
    events: list[object] = []
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            events.append(event)
    return events


async def test_events_run_from_started_to_finished(session: Session) -> None:
    events = await collect(session, RunRequest(code='display "a"\ndisplay "b"\ndisplay "c"'))
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Finished)
    started = [e.index for e in events if isinstance(e, CommandStarted)]
    assert started == [1, 2, 3]
    lines = [line for e in events if isinstance(e, Output) for line in e.lines]
    assert [line for line in lines if line in ("a", "b", "c")] == ["a", "b", "c"]
    values = [e.snapshot.progress for e in events]  # type: ignore[attr-defined]
    assert values == sorted(values)
    assert events[-1].snapshot.progress == 3  # type: ignore[attr-defined]
    assert events[-1].result.ok  # type: ignore[attr-defined]


async def test_concurrent_runs_queue_in_order_and_do_not_mix(session: Session) -> None:
    codes = [f'display "run {n} start"\nsleep 300\ndisplay "run {n} end"' for n in range(3)]
    runs = [asyncio.create_task(collect(session, RunRequest(code=code))) for code in codes]
    results = await asyncio.gather(*runs)
    for n, events in enumerate(results):
        text = events[-1].result.output.text  # type: ignore[attr-defined]
        assert f"run {n} start" in text and f"run {n} end" in text
        assert all(f"run {m} " not in text for m in range(3) if m != n)
    queued = [[e.position for e in events if isinstance(e, Queued)] for events in results]
    assert queued[0] == []
    assert queued[1] and set(queued[1]) == {1}
    assert queued[2] and queued[2][0] == 2


async def test_closing_the_stream_breaks_stata_once_and_keeps_the_session(
    recorded: Session, record: Path
) -> None:
    session = recorded
    await session.execute(RunRequest(code="global BEFORE 17"))
    started = time.monotonic()

    sleeping = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(session.run(RunRequest(code="sleep 60000"))) as stream:
            async for event in stream:
                if isinstance(event, CommandStarted):
                    sleeping.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(sleeping.wait(), 5)
    task.cancel()  # what a client's notifications/cancelled does to the tool coroutine
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5
    assert [e["event"] for e in breaks_in(record)] == ["set_break", "break_honoured"]
    after = await session.execute(RunRequest(code="display $BEFORE + 1"))
    assert after.ok
    assert "18" in after.output.text


async def test_timeout_breaks_and_reports_timed_out(recorded: Session, record: Path) -> None:
    session = recorded
    await session.execute(RunRequest(code="global KEPT 5"))
    started = time.monotonic()
    result = await session.execute(RunRequest(code="sleep 60000", timeout_s=1))
    assert time.monotonic() - started < 5
    assert result.status is RunStatus.TIMED_OUT
    assert result.rc == 1
    assert "timed out after 1.0s" in result.notes[0]
    assert [e["event"] for e in breaks_in(record)] == ["set_break", "break_honoured"]
    again = await session.execute(RunRequest(code="display $KEPT"))
    assert again.ok and "5" in again.output.text


async def test_cancel_stops_the_running_run_with_status_cancelled(session: Session) -> None:
    task = asyncio.create_task(session.execute(RunRequest(code='display "x"\nsleep 60000')))
    while session.status().current_run is None or session.engine.active is None:  # type: ignore
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    assert session.cancel() is not None
    result = await asyncio.wait_for(task, 5)
    assert result.status is RunStatus.CANCELLED
    assert result.error is not None and result.error.rc == 1
    assert session.cancel() is None


async def test_every_run_is_kept_with_its_result(session: Session) -> None:
    result = await session.execute(RunRequest(code='display "kept"'))
    summary = session.runs.summary(result.run_id)
    assert summary.status == "ok" and summary.rc == 0
    page = session.runs.read_log(result.run_id, grep="^kept$")
    assert page.lines_matched == 1


def test_prepare_rejects_what_stata_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(RunRequestError, match="exactly one of"):
        prepare(RunRequest())
    with pytest.raises(RunRequestError, match="`code` is empty"):
        prepare(RunRequest(code="   \n"))
    with pytest.raises(RunRequestError, match="timeout_s must be positive"):
        prepare(RunRequest(code="display 1", timeout_s=0))
    with pytest.raises(RunRequestError, match="expand as a macro"):
        prepare(RunRequest(do_file=tmp_path / "a$b.do"))
    assert prepare(RunRequest(code="display 1"), default_timeout_s=30).timeout_s == 30


def test_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "STATA_TOOLS_RUN_DIR": str(tmp_path),
            "STATA_TOOLS_HEARTBEAT_S": "2.5",
            "STATA_TOOLS_DEFAULT_TIMEOUT_S": "90",
        }
    )
    assert (settings.run_dir, settings.heartbeat_s, settings.default_timeout_s) == (
        tmp_path,
        2.5,
        90.0,
    )
    with pytest.raises(ValueError, match="STATA_TOOLS_HEARTBEAT_S='soon' is not a number"):
        Settings.from_env({"STATA_TOOLS_HEARTBEAT_S": "soon"})
    assert Settings.from_env({}).run_history is True
    assert Settings.from_env({"STATA_TOOLS_RUN_HISTORY": "off"}).run_history is False
    assert Settings.from_env({"STATA_TOOLS_RUN_HISTORY": " ON "}).run_history is True
    with pytest.raises(ValueError, match="STATA_TOOLS_RUN_HISTORY='maybe' is not a switch"):
        Settings.from_env({"STATA_TOOLS_RUN_HISTORY": "maybe"})


def test_a_query_before_any_run_sees_pystata_stata(fake_stata_dir: Path) -> None:
    # In a fresh process: `pystata.stata` is a submodule that only a run would otherwise import.
    script = (
        "import asyncio\n"
        "from stata_tools import Session\n"
        "from stata_tools.stata.settings import Settings\n"
        f"session = Session(Settings(stata_path={str(fake_stata_dir)!r}))\n"
        "from stata_tools.stata.queries.graphs import graph_names\n"
        "print(asyncio.run(session.query(graph_names)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"  # graph_names runs pystata.stata.run


@fifos
def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "analysis.do"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    started = time.monotonic()
    with pytest.raises(RunRequestError, match=r"is a FIFO \(named pipe\), not a regular file"):
        prepare(RunRequest(do_file=fifo))
    assert time.monotonic() - started < 5


def test_a_huge_file_is_refused_at_once(tmp_path: Path) -> None:
    huge = tmp_path / "huge.do"
    with huge.open("wb") as handle:
        handle.truncate(MAX_DO_FILE_BYTES + 1)
    with pytest.raises(RunRequestError, match="is over 16 MB: check that it is a do-file"):
        prepare(RunRequest(do_file=huge))


# --- replication dots through the whole path: fake Stata → log → follower → tracker ---------------

BOOTSTRAP_DO = """\
sysuse auto, clear
capture program drop slowmean
program define slowmean, rclass
    sleep 12
    summarize mpg
    return scalar m = r(mean)
end
{command}
display "after"
"""


@pytest.mark.parametrize(
    ("command", "name", "total"),
    [
        ("bootstrap m=r(m), reps(120) seed(3): slowmean", "bootstrap", 120),
        ("jackknife m=r(m): slowmean", "jackknife", 74),
    ],
)
@pytest.mark.parametrize("shape", ["inline", "ruled"])
async def test_a_replication_command_reports_its_replications_as_they_run(
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
    command: str,
    name: str,
    total: int,
) -> None:
    if shape == "ruled":
        monkeypatch.setenv("FAKE_STATA_DOTS", "ruled")
    do_file = tmp_path / "boot.do"
    do_file.write_text(BOOTSTRAP_DO.format(command=command))
    events = await collect(session, RunRequest(do_file=do_file))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.ok
    snapshots = [e.snapshot for e in events]  # type: ignore[attr-defined]
    counts = []
    for snap in snapshots:
        found = re.search(rf"· {name} (\d+)/{total}", snap.message)
        if found:
            assert snap.message.startswith("boot.do 4/5 · ")
            counts.append((int(found.group(1)), snap.progress))
    done = [n for n, _ in counts]
    assert (
        done == sorted(done) and done[-1] >= total - 20
    )  # the end may share the next echo's batch
    assert len(set(done)) >= 10  # moved many times, inside lines too, not by heartbeat only
    if shape == "ruled":  # complete lines end at 50, 100 and the total: others are partial lines
        assert set(done) - {0, 50, 100, total}
    moved = [p for _, p in counts]
    assert moved == sorted(moved) and moved[0] >= 3.05 and moved[-1] < 3.9
    values = [s.progress for s in snapshots]
    assert values == sorted(values) and values[-1] == 5


# --- time from the last run -----------------------------------------------------------------------

TIMED_DO = 'display "start"\nsleep 400\ndisplay "middle"\nsleep 800\ndisplay "end"\n'


async def test_a_second_run_shows_time_left_and_compares_with_the_last(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    do_file = tmp_path / "timed.do"
    do_file.write_text(TIMED_DO)
    first = await collect(session, RunRequest(do_file=do_file))
    first_result = first[-1].result  # type: ignore[attr-defined]
    assert first_result.ok and first_result.last_duration_s is None
    assert not any("left" in e.snapshot.message for e in first)  # type: ignore[attr-defined]
    history = json.loads((session.settings.run_dir / "timings.json").read_text())
    times = list(history["files"][str(do_file.resolve())]["commands"].values())
    assert len(times) == 5 and times[3] == pytest.approx(0.8, abs=0.3)

    second = await collect(session, RunRequest(do_file=do_file))
    result = second[-1].result  # type: ignore[attr-defined]
    messages = [e.snapshot.message for e in second]  # type: ignore[attr-defined]
    lefts = [float(m.split("~")[1].split("s left")[0]) for m in messages if "s left" in m]
    assert lefts and lefts[0] >= 1 and lefts == sorted(lefts, reverse=True)
    started = {e.index: e.snapshot.progress for e in second if isinstance(e, CommandStarted)}
    assert started[4] < 5 * 0.45 < started[5]  # weighted by time: the long sleep takes the most
    values = [e.snapshot.progress for e in second]  # type: ignore[attr-defined]
    assert all(b >= a for a, b in pairwise(values)) and values[-1] == 5
    assert result.last_duration_s == pytest.approx(first_result.duration_s, abs=1e-3)
    assert result.last_status == "ok"
    from stata_tools.run.results import headline

    took = headline(result).split(" · ")[2]
    assert took.startswith("took ") and "(last run " in took
    assert result.to_meta()["last_run"]["status"] == "ok"

    monkeypatch.setattr(
        session, "settings", dataclasses.replace(session.settings, run_history=False)
    )
    third = await collect(session, RunRequest(do_file=do_file))
    assert not any("left" in e.snapshot.message for e in third)  # type: ignore[attr-defined]
    assert third[-1].result.last_duration_s is None  # type: ignore[attr-defined]


async def test_a_corrupt_history_is_ignored_and_replaced(session: Session, tmp_path: Path) -> None:
    (session.settings.run_dir / "timings.json").write_text("{not json")
    do_file = tmp_path / "c.do"
    do_file.write_text('display "x"\n')
    result = await session.execute(RunRequest(do_file=do_file))
    assert result.ok and result.last_duration_s is None
    history = json.loads((session.settings.run_dir / "timings.json").read_text())
    assert list(history["files"]) == [str(do_file.resolve())]


CLEAN_DO = 'clear\nset obs 3\nsleep 150\ndisplay "cleaned"\nsleep 150\ndisplay "done"\n'


async def test_a_called_do_file_is_followed_through_the_fake(
    session: Session, tmp_path: Path
) -> None:
    (tmp_path / "01_clean.do").write_text(CLEAN_DO)
    master = tmp_path / "master.do"
    master.write_text('display "start"\ncapture noisily do 01_clean\ndisplay "end"\n')
    events = await collect(session, RunRequest(do_file=master, working_dir=tmp_path))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.ok and result.commands_done == 3
    snapshots = [e.snapshot for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    nested = [s.message for s in snapshots if "› 01_clean.do" in s.message]
    assert {m.split(" · ")[0] for m in nested} >= {
        f"master.do 2/3 › 01_clean.do {k}/6" for k in (3, 5)
    }
    assert any(m.endswith("· sleep 150 · » cleaned") for m in nested), nested
    inside = [s.progress for s in snapshots if "› 01_clean.do" in s.message]
    assert 1.05 <= inside[0] < inside[-1] < 1.9
    values = [s.progress for s in snapshots]
    assert values == sorted(values) and values[-1] == 3


async def test_an_error_in_a_called_do_file_names_its_file_and_line(
    session: Session, tmp_path: Path
) -> None:
    (tmp_path / "01_clean.do").write_text("clear\n\n* the failing line\ndisplay nosuchvar\n")
    master = tmp_path / "master.do"
    master.write_text('display "start"\ndo 01_clean\ndisplay "never"\n')
    events = await collect(session, RunRequest(do_file=master, working_dir=tmp_path))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.rc == 111 and result.error is not None
    assert (result.error.source, result.error.line) == ("01_clean.do", 4)
    assert result.error.command == "display nosuchvar"
    assert result.error.message == "nosuchvar not found"
    assert result.commands_done == 2


async def test_called_do_files_are_found_where_a_master_that_cds_finds_them(
    session: Session, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "code").mkdir(parents=True)
    (project / "code" / "01_clean.do").write_text('display "clean"\ndo code/02_merge.do\n')
    (project / "code" / "02_merge.do").write_text('display "merge"\nsleep 300\ndisplay "merged"\n')
    master = project / "master.do"
    master.write_text(f'cd "{project}"\ndo code/01_clean.do\ndisplay "end"\n')
    events = await collect(session, RunRequest(do_file=master, working_dir=tmp_path))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.ok
    messages = [e.snapshot.message for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    assert any(m.startswith("01_clean.do 2/2 › 02_merge.do 2/3 · ") for m in messages), messages


async def test_a_do_of_a_missing_file_under_capture_noisily_does_not_stop_the_count(
    session: Session, tmp_path: Path
) -> None:
    (tmp_path / "here.do").write_text('display "here"\n')
    master = tmp_path / "master.do"
    master.write_text(
        'capture noisily do missing\ncapture noisily do "`nothing\'here"\ndisplay "end"\n'
    )
    events = await collect(session, RunRequest(do_file=master, working_dir=tmp_path))
    assert events[-1].result.ok  # type: ignore[attr-defined]
    assert [e.index for e in events if isinstance(e, CommandStarted)] == [1, 2, 3]


# --- a full disk ----------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 320 KB tmpfs for the run folder, so Stata's log and the server both meet ENOSPC."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("a full disk is simulated on a tmpfs, and mounting one needs root here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


_FILL = 'forvalues i = 1/20000 {\ndisplay "line `i\' of output that fills the small disk"\n}'


async def test_a_full_disk_gives_a_result_with_the_output_so_far_and_the_session_goes_on(
    tiny_disk: Path,
) -> None:
    settings = dataclasses.replace(Settings.from_env(), run_dir=tiny_disk / "runs")
    session = Session(settings)
    try:
        result = await asyncio.wait_for(session.execute(RunRequest(code=_FILL)), 60)
        assert result.status is RunStatus.ERROR
        assert result.rc == 693  # Stata's file I/O error on write: its log could not grow
        shown = re.findall(r"line (\d+) of output", result.output.text)
        assert shown and 100 < int(shown[-1]) < 20000  # what was captured before it filled
        note = next(n for n in result.notes if "is full" in n)
        assert str(tiny_disk / "runs") in note and "STATA_TOOLS_RUN_DIR" in note
        with pytest.raises(RunRequestError, match=r"nothing was run: the run folder .* cannot be"):
            await session.execute(RunRequest(code="display 1"))
        for run in (tiny_disk / "runs").iterdir():  # space freed: the same session serves again
            if run.name != "workers":
                for file in run.iterdir():
                    file.unlink()
        again = await asyncio.wait_for(session.execute(RunRequest(code="display 6*7")), 60)
        assert again.status is RunStatus.OK and "42" in again.output.text
    finally:
        session.close()


async def test_a_result_that_cannot_be_saved_is_still_returned_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC simulated by monkeypatching the one write of result.json (no mount needed)."""
    settings = dataclasses.replace(Settings.from_env(), run_dir=tmp_path / "runs")
    session = Session(settings)
    real_write = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == "result.json":
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    try:
        result = await asyncio.wait_for(session.execute(RunRequest(code="display 6*7")), 60)
    finally:
        session.close()
    assert result.status is RunStatus.OK and "42" in result.output.text
    note = next(n for n in result.notes if "is full" in n)
    assert "No space left on device" in note and "was not saved" in note
