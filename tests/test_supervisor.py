"""Supervision: breaks Stata ignores end the worker after the grace period; exits are named."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from platforms import posix_signals

from stata_tools import CommandStarted, RunRequest, RunStatus, Session, Settings
from stata_tools.stata.discovery import StataNotFound
from stata_tools.stata.supervisor import WorkerEngine, describe_exit

GRACE = 0.5


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A worker of its own that ignores breaks (the knob is set before it starts)."""
    monkeypatch.setenv("FAKE_STATA_IGNORE_BREAK", "1")
    settings = dataclasses.replace(
        Settings.from_env(), run_dir=tmp_path / "runs", break_grace_s=GRACE, heartbeat_s=5
    )
    session = Session(settings)
    yield session
    session.close()


@posix_signals
def test_signal_exits_read_as_what_happened() -> None:
    assert (
        describe_exit(-9)
        == "killed by signal 9 (SIGKILL: often the out-of-memory killer, or kill -9)"
    )
    assert describe_exit(-11) == "killed by signal 11 (SIGSEGV: a crash in Stata's native code)"


def test_exit_statuses_read_as_what_happened() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0xC0000005) == "exited with code 0xc0000005 (access violation)"
    assert "exit, STATA clear" in describe_exit(0)


async def test_cancel_run_on_a_stata_that_ignores_it_ends_the_session_after_the_grace(
    session: Session,
) -> None:
    sleeping = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, CommandStarted):
            sleeping.set()

    task = asyncio.create_task(session.execute(RunRequest(code="sleep 30000"), on_event=on_event))
    await asyncio.wait_for(sleeping.wait(), 10)
    cancelled_at = time.monotonic()
    assert session.cancel() is not None
    result = await asyncio.wait_for(task, 5)
    took = time.monotonic() - cancelled_at
    assert GRACE <= took < GRACE + 1.5  # counted from the cancel, not from a heartbeat 5 s on
    assert result.status is RunStatus.CANCELLED
    assert result.session_lost == (
        "Stata did not respond to the break within 0.5 s after the run was cancelled, so "
        "stata-tools ended its process"
    )
    assert any("The Stata session was ended" in n and "data in memory" in n for n in result.notes)
    assert [r.ended for r in session.status().restarts] == [True]


async def test_a_cancelled_call_whose_break_is_ignored_frees_the_session(session: Session) -> None:
    sleeping = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, CommandStarted):
            sleeping.set()

    task = asyncio.create_task(session.execute(RunRequest(code="sleep 30000"), on_event=on_event))
    await asyncio.wait_for(sleeping.wait(), 10)
    task.cancel()  # a client's notifications/cancelled
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.status().busy is False
    [restart] = session.status().restarts
    assert restart.cause.endswith("after the call was cancelled, so stata-tools ended its process")
    assert session.runs.summaries(limit=1)[0].status == "cancelled"


async def test_no_stata_is_reported_before_any_worker_runs(tmp_path: Path) -> None:
    session = Session(Settings(stata_path=str(tmp_path / "nowhere"), run_dir=tmp_path / "runs"))
    with pytest.raises(StataNotFound, match="nowhere"):
        await session.execute(RunRequest(code="display 1"))
    assert isinstance(session.engine, WorkerEngine)
    assert session.engine.pid is None and session.status().restarts == ()
    session.close()


def test_a_break_that_arrives_before_its_run_starts_stops_that_run(tmp_path: Path) -> None:
    """Cancel can reach the worker before the engine's thread takes the job: it must not be lost
    (the worker would then be ended after the grace period) nor hit the run before it."""
    from stata_tools.stata.engine import Job
    from stata_tools.stata.session import locate_stata

    settings = Settings.from_env()
    engine = WorkerEngine(lambda: locate_stata(settings), log_dir=tmp_path / "workers")

    def job(name: str, command: str) -> Job:
        folder = tmp_path / name
        folder.mkdir()
        return Job(name, command, folder / "run.log", "_st" + name, folder / "stdout.txt")

    try:
        engine.start().result(30)
        busy = engine.execute(job("first", "sleep 300"))
        queued = engine.execute(job("second", 'display "second ran"'))
        assert engine.request_break() is True  # for the second, still waiting its turn
        assert engine.request_break() is False  # once per run
        assert busy.result(10).rc == 0 and not busy.result().break_requested
        second = queued.result(10)
        assert second.rc == 1 and second.break_requested
        assert "second ran" not in (tmp_path / "second" / "stdout.txt").read_text()
    finally:
        engine.close()


async def test_a_query_the_worker_cannot_import_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "only_in_the_server.py").write_text(
        "def count(pystata, sfi):\n    return sfi.Data.getObsTotal()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # importable here, not in the worker
    import only_in_the_server  # type: ignore[import-not-found]

    from stata_tools.stata.protocol import RemoteError
    from stata_tools.stata.queries.graphs import graph_names

    session = Session(dataclasses.replace(Settings.from_env(), run_dir=tmp_path / "runs"))
    try:
        with pytest.raises(RemoteError, match="No module named 'only_in_the_server'"):
            await session.query(only_in_the_server.count)
        assert await session.query(graph_names) == []  # the same worker still answers
        assert session.status().restarts == ()
    finally:
        session.close()


def test_a_runs_stream_arrives_whole_before_its_end_and_matches_its_log(tmp_path: Path) -> None:
    """What pystata printed, forwarded by the worker: the log's text, error tail included."""
    from stata_tools.stata.engine import Job
    from stata_tools.stata.session import locate_stata

    settings = Settings.from_env()
    engine = WorkerEngine(lambda: locate_stata(settings), log_dir=tmp_path / "workers")
    do_file = tmp_path / "steps.do"
    do_file.write_text('display "one"\nforvalues i = 1/2 {\n    display `i\'\n}\nerror 459\n')
    folder = tmp_path / "run"
    folder.mkdir()
    job = Job("r1", f'do "{do_file}"', folder / "run.log", "_str1", folder / "stdout.txt")
    arrived: list[str] = []
    try:
        execution = engine.execute(job, arrived.append).result(30)
        streamed = "".join(arrived)  # all of it, by the time the future resolved
    finally:
        engine.close()
    assert execution.rc == 459
    assert streamed == job.log_path.read_text()
    assert streamed.endswith("end of do-file\nr(459);\n")
    assert (folder / "stdout.txt").read_text() == streamed  # the captured output, same text


def test_the_worker_leaves_the_terminals_ctrl_c_to_the_server_on_every_os() -> None:
    """A new process group on Windows (console Ctrl-C goes to the group), a new session on
    POSIX; never a preexec_fn, which would need fork."""
    import subprocess

    from stata_tools.stata.supervisor import _detached

    assert _detached("win32") == {"creationflags": 0x00000200}
    if hasattr(subprocess, "CREATE_NEW_PROCESS_GROUP"):  # Windows' own constant agrees
        assert subprocess.CREATE_NEW_PROCESS_GROUP == 0x00000200
    assert _detached("linux") == _detached("darwin") == {"start_new_session": True}
