"""Session with executor="batch": a local `stata -b` process per do-file, followed through the
same follower and tracker as a session run; results from the batch log's tail."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from itertools import pairwise
from pathlib import Path

import pytest

from stata_tools import CommandStarted, Finished, RunRequest, RunStatus, Session, Settings
from stata_tools.run.events import Heartbeat, Output, Started
from stata_tools.stata.session import RunRequestError, prepare


@pytest.fixture
def session(tmp_path: Path, fake_stata_dir: Path) -> Session:
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=0.5,
        break_grace_s=3,
    )
    return Session(settings)


async def collect(session: Session, request: RunRequest) -> list[object]:
    events: list[object] = []
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            events.append(event)
    return events


def progress_of(events: list[object]) -> list[float]:
    return [e.snapshot.progress for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]


async def test_a_batch_run_is_followed_to_the_end(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "steps.do"
    do_file.write_text(
        'display "one"\nsleep 300\ndisplay "two"\nsleep 300\ndisplay "three"\n', encoding="utf-8"
    )
    events = await collect(session, RunRequest(do_file=do_file, executor="batch"))
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    started = [e for e in events if isinstance(e, CommandStarted)]
    assert [e.index for e in started] == [1, 2, 3, 4, 5]
    progress = progress_of(events)
    assert all(b > a for a, b in pairwise(progress)) and progress[-1] == 5
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.OK and result.rc == 0 and result.commands_done == 5
    assert result.log_path == str(tmp_path / "steps.log")
    assert result.job["executor"] == "batch" and result.job["state"] == "completed"
    page = session.runs.read_log(result.run_id, tail_lines=2)  # read_log finds the batch log
    assert page.text.splitlines()[-1] == "end of do-file"
    lines = [line for e in events if isinstance(e, Output) for line in e.lines]
    assert "three" in lines and not any("Stata is running in batch mode" in x for x in lines)
    assert any(
        re.match(r"batch pid \d+ · steps\.do [1-5]/5 · ", e.snapshot.message) for e in started
    )


async def test_a_failing_batch_run_reports_stata_error(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "bad.do"
    do_file.write_text("display 1\nsummarize nosuchvar\ndisplay 2\n", encoding="utf-8")
    result = await session.execute(RunRequest(do_file=do_file, executor="batch"))
    assert result.status is RunStatus.ERROR and result.rc == 111
    assert result.error is not None and result.error.message == "no variables defined"
    assert result.error.line == 2 and result.commands_done == 2


async def test_two_batch_runs_in_parallel(session: Session, tmp_path: Path) -> None:
    for name in ("left", "right"):
        (tmp_path / f"{name}.do").write_text(f'display "{name}"\nsleep 1500\n', encoding="utf-8")
    loop = asyncio.get_running_loop()
    began = loop.time()
    results = await asyncio.gather(
        *(
            session.execute(RunRequest(do_file=tmp_path / f"{n}.do", executor="batch"))
            for n in ("left", "right")
        )
    )
    assert [r.status for r in results] == [RunStatus.OK, RunStatus.OK]
    assert loop.time() - began < 2.9  # side by side, not queued behind one another
    assert {Path(r.log_path).name for r in results} == {"left.log", "right.log"}


async def test_timeout_stops_the_batch_process(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "slow.do"
    do_file.write_text("display 1\nsleep 60000\ndisplay 2\n", encoding="utf-8")
    events = await collect(session, RunRequest(do_file=do_file, executor="batch", timeout_s=1.5))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.TIMED_OUT and result.rc == 1
    assert any(isinstance(e, Heartbeat) for e in events)
    assert "--Break--" in Path(result.log_path).read_text(encoding="utf-8")


async def test_closing_the_stream_stops_the_batch_process(session: Session, tmp_path: Path):
    do_file = tmp_path / "left_alone.do"
    do_file.write_text("display 1\nsleep 60000\n", encoding="utf-8")
    async with contextlib.aclosing(session.run(RunRequest(do_file=do_file, executor="batch"))) as s:
        async for event in s:
            if isinstance(event, CommandStarted) and event.index == 2:
                break
    assert session.batch_engine is not None and session.batch_engine.active is None
    assert "--Break--" in (tmp_path / "left_alone.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"code": "display 1", "executor": "batch"}, "runs do-files"),
        ({"executor": "cloud"}, "not one of session, batch, slurm"),
        ({"executor": "batch", "array": "1-3"}, "array need executor='slurm'"),
        ({"executor": "session", "slurm": {"cpus": 2}}, "Slurm options need executor='slurm'"),
        ({"executor": "slurm", "array": "3-1"}, "runs backwards"),
        ({"executor": "slurm", "slurm": {"memory": "lots"}}, "memory 'lots'"),
    ],
)
def test_prepare_checks_the_executor(tmp_path: Path, request_args: dict, message: str) -> None:
    do_file = tmp_path / "x.do"
    do_file.write_text("display 1\n", encoding="utf-8")
    args = {"do_file": do_file, **request_args}
    if "code" in args:
        del args["do_file"]
    with pytest.raises(RunRequestError, match=message):
        prepare(RunRequest(**args))


async def test_cancel_by_run_id_stops_that_batch_run(session: Session, tmp_path: Path) -> None:
    for name in ("keep", "stop"):
        (tmp_path / f"{name}.do").write_text("display 1\nsleep 3000\ndisplay 2\n", encoding="utf-8")
    runs = {}

    async def run(name: str):
        request = RunRequest(do_file=tmp_path / f"{name}.do", executor="batch")
        async for event in session.run(request):
            if isinstance(event, Started):
                runs[name] = event.run_id
            if isinstance(event, Finished):
                return event.result
        return None

    tasks = {name: asyncio.create_task(run(name)) for name in ("keep", "stop")}
    while len(runs) < 2 or not (tmp_path / "stop.log").exists():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert session.cancel("no-such-run") is None
    assert session.cancel(runs["stop"]) == runs["stop"]
    stopped, kept = await tasks["stop"], await tasks["keep"]
    assert stopped.status is RunStatus.CANCELLED and stopped.rc == 1
    assert kept.status is RunStatus.OK
