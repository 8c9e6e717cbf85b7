"""Session with executor="slurm" on a real single-node cluster: submitted, followed to the end
through the batch log, job states in the progress message, cancel, timeout, detach."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
from itertools import pairwise
from pathlib import Path

import pytest

from stata_tools import CommandStarted, Finished, RunRequest, RunStatus, Session, Settings
from stata_tools.run.events import Heartbeat, Started
from stata_tools.stata.session import RunRequestError
from stata_tools.stata.slurm.engine import SlurmError


def make_session(tmp_path: Path, fake_stata_dir: Path, **changes) -> Session:
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=0.5,
        slurm_poll_s=1,
        **changes,
    )
    return Session(settings)


@pytest.fixture
def session(slurm_cluster, tmp_path: Path, fake_stata_dir: Path) -> Session:
    return make_session(tmp_path, fake_stata_dir)


def squeue_ids(cluster) -> list[str]:
    return cluster.run("squeue", "-h", "-o", "%i").split()


async def test_a_job_is_followed_to_the_end(session: Session, tmp_path: Path, slurm_cluster):
    do_file = tmp_path / "cluster job.do"
    do_file.write_text(
        "".join(f'display "step {i}"\nsleep 700\n' for i in range(1, 5)), encoding="utf-8"
    )
    events: list[object] = []
    async with contextlib.aclosing(session.run(RunRequest(do_file=do_file, executor="slurm"))) as s:
        async for event in s:
            events.append(event)
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    progress = [e.snapshot.progress for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    assert all(b > a for a, b in pairwise(progress)) and progress[-1] == 8
    started = [e for e in events if isinstance(e, CommandStarted)]
    assert [e.index for e in started] == list(range(1, 9))
    running = f"running on {slurm_cluster.node} · cluster job.do "
    assert any(running in e.snapshot.message for e in started)
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.OK and result.rc == 0
    assert result.job["executor"] == "slurm" and result.job["state"] == "completed"
    assert result.job["node"] == slurm_cluster.node and result.job["job_id"].isdigit()
    assert result.log_path == str(tmp_path / "cluster job.log")


async def test_pending_reason_then_cancel(tmp_path: Path, fake_stata_dir: Path, slurm_cluster):
    session = make_session(tmp_path, fake_stata_dir, slurm_cancel_on_disconnect=True)
    blocker = tmp_path / "blocker.do"
    blocker.write_text("sleep 60000\n", encoding="utf-8")
    waiting = tmp_path / "waiting.do"
    waiting.write_text("display 1\n", encoding="utf-8")
    whole_node = {"cpus": slurm_cluster.cpus}
    first = session.run(RunRequest(do_file=blocker, executor="slurm", slurm=whole_node))
    second = session.run(RunRequest(do_file=waiting, executor="slurm", slurm=whole_node))
    messages: list[str] = []
    async with contextlib.aclosing(first) as one, contextlib.aclosing(second) as two:
        async for event in one:
            if isinstance(event, CommandStarted):
                break  # the blocker runs: the node is full
        async for event in two:
            if isinstance(event, Heartbeat):
                messages.append(event.snapshot.message)
                if "pending (Resources)" in event.snapshot.message:
                    break
    assert any("pending (Resources), 1st in queue · waiting.do 0/1" in m for m in messages)
    for _ in range(50):  # both closed with cancel-on-disconnect: scancel'd
        if not squeue_ids(slurm_cluster):
            break
        await asyncio.sleep(0.2)
    assert squeue_ids(slurm_cluster) == []
    assert "--Break--" in (tmp_path / "blocker.log").read_text(encoding="utf-8")


async def test_a_client_that_leaves_does_not_cancel(
    session: Session, tmp_path: Path, slurm_cluster
):
    do_file = tmp_path / "outlives.do"
    do_file.write_text("display 1\nsleep 4000\ndisplay 2\n", encoding="utf-8")
    run_id = None
    async with contextlib.aclosing(session.run(RunRequest(do_file=do_file, executor="slurm"))) as s:
        async for event in s:
            if isinstance(event, Started):
                run_id = event.run_id
            if isinstance(event, CommandStarted) and event.index == 2:
                break
    assert squeue_ids(slurm_cluster), "the job was cancelled when its client left"
    saved = json.loads((session.runs.folder(run_id) / "result.json").read_text())  # type: ignore[arg-type]
    assert saved["status"] == "detached" and saved["job"]["job_id"] in squeue_ids(slurm_cluster)
    for _ in range(100):
        if not squeue_ids(slurm_cluster):
            break
        await asyncio.sleep(0.2)
    assert (
        (tmp_path / "outlives.log").read_text(encoding="utf-8").rstrip().endswith("end of do-file")
    )


async def test_timeout_cancels_the_job(session: Session, tmp_path: Path, slurm_cluster) -> None:
    do_file = tmp_path / "too_long.do"
    do_file.write_text("display 1\nsleep 60000\n", encoding="utf-8")
    result = await session.execute(RunRequest(do_file=do_file, executor="slurm", timeout_s=4))
    assert result.status is RunStatus.TIMED_OUT and result.rc == 1
    assert result.job["state"] == "cancelled"
    assert squeue_ids(slurm_cluster) == []


async def test_an_array_of_ten_with_one_failing(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "grid.do"
    # Each task sleeps long enough that a poll (under load too) sees some task running mid-file.
    do_file.write_text(
        "display \"task `1'\"\nsleep 1500\nif `1' == 7 {\n    summarize nosuchvar\n}\n"
        'display "done `1\'"\n',
        encoding="utf-8",
    )
    request = RunRequest(do_file=do_file, executor="slurm", array="1-10")
    events: list[object] = []
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            events.append(event)
    progress = [e.snapshot.progress for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    assert all(b > a for a, b in pairwise(progress)) and progress[-1] == 10
    totals = {e.snapshot.total for e in events if hasattr(e, "snapshot")}  # type: ignore[attr-defined]
    assert totals == {10}
    messages = [e.snapshot.message for e in events if hasattr(e, "snapshot")]  # type: ignore[attr-defined]
    assert any(re.search(r"^array job \d+: .* · grid\.do \d+/10 tasks", m) for m in messages)
    assert any(re.search(r" · task \d+ \d/4 ", m) for m in messages), messages
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.ERROR and result.rc == 111
    assert result.error.message == "no variables defined" and "task 7" in result.error.source
    tasks = result.job["tasks"]
    assert [t["index"] for t in tasks] == list(range(1, 11))
    assert [t["index"] for t in tasks if t["state"] != "completed"] == [7]
    failed = tasks[6]
    assert failed["rc"] == 111 and failed["log_path"] == str(tmp_path / "grid_task7.log")
    assert "9 of 10 array tasks completed" in result.notes
    assert any(
        n.startswith("task 7 failed r(111): no variables defined (log ") for n in result.notes
    )
    assert "done 10" in (tmp_path / "grid_task10.log").read_text(encoding="utf-8")


async def test_sbatch_refusing_the_job_is_a_clear_error(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "nowhere.do"
    do_file.write_text("display 1\n", encoding="utf-8")
    request = RunRequest(do_file=do_file, executor="slurm", slurm={"partition": "nosuch"})
    with pytest.raises(SlurmError, match=r"sbatch --parsable failed: .*[Ii]nvalid partition"):
        await session.execute(request)


async def test_cancel_run_scancels_the_job(session: Session, tmp_path: Path, slurm_cluster):
    do_file = tmp_path / "cancel_me.do"
    do_file.write_text("display 1\nsleep 60000\n", encoding="utf-8")
    events: list[object] = []
    async with contextlib.aclosing(session.run(RunRequest(do_file=do_file, executor="slurm"))) as s:
        async for event in s:
            events.append(event)
            if isinstance(event, CommandStarted) and event.index == 2:
                assert session.cancel(events[0].run_id) == events[0].run_id  # type: ignore[attr-defined]
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.CANCELLED and result.rc == 1
    assert result.job["state"] == "cancelled"
    assert any(n.startswith(f"Slurm job {result.job['job_id']} on ") for n in result.notes)
    assert squeue_ids(slurm_cluster) == []


async def leave_after(session: Session, request: RunRequest, index: int) -> str:
    """Start the run, wait for command `index`, then go away (the job is left to run)."""
    run_id = ""
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            if isinstance(event, Started):
                run_id = event.run_id
            if isinstance(event, CommandStarted) and event.index == index:
                break
    return run_id


async def test_a_restarted_server_follows_its_job_to_the_end(
    tmp_path: Path, fake_stata_dir: Path, slurm_cluster
) -> None:
    do_file = tmp_path / "restart me.do"
    do_file.write_text(
        "".join(f'display "step {i}"\nsleep 600\n' for i in range(1, 6)), encoding="utf-8"
    )
    first = make_session(tmp_path, fake_stata_dir)
    run_id = await leave_after(first, RunRequest(do_file=do_file, executor="slurm"), 2)
    record = first.resumable(run_id)
    assert record is not None and record.job_id in squeue_ids(slurm_cluster)
    assert record.do_file == str(do_file) and record.array is None
    del first  # the server goes away; a new one opens the same run folder
    await asyncio.sleep(0.5)
    second = make_session(tmp_path, fake_stata_dir)
    assert second.resumable(run_id) == record
    since_submission = time.time() - record.submitted_at
    events = []
    async with contextlib.aclosing(second.resume(run_id)) as stream:
        async for event in stream:
            events.append(event)
    assert isinstance(events[0], Started) and events[0].run_id == run_id
    snapshots = [e.snapshot for e in events if hasattr(e, "snapshot")]
    assert all(b.progress >= a.progress for a, b in pairwise(snapshots))
    assert snapshots[-1].progress == 10 and {s.total for s in snapshots} == {10}
    assert snapshots[0].elapsed_s >= since_submission  # from the submission, not the restart
    assert any(
        f"job {record.job_id} running on {slurm_cluster.node} · restart me.do " in s.message
        for s in snapshots
    )
    result = events[-1].result
    assert result.status is RunStatus.OK and result.rc == 0 and result.commands_done == 10
    assert result.job["job_id"] == record.job_id and result.job["state"] == "completed"
    assert result.duration_s >= 3.0  # five sleeps of 0.6 s, from the submission
    saved = json.loads((second.runs.folder(run_id) / "result.json").read_text())
    assert saved["status"] == "ok" and saved["job"]["job_id"] == record.job_id
    assert second.resumable(run_id) is None  # ended: nothing more to follow


async def test_a_job_that_ended_while_the_server_was_away_gives_its_result(
    tmp_path: Path, fake_stata_dir: Path, slurm_cluster
) -> None:
    do_file = tmp_path / "ends_alone.do"
    do_file.write_text("display 1\nsleep 1500\nsummarize nosuchvar\n", encoding="utf-8")
    first = make_session(tmp_path, fake_stata_dir)
    run_id = await leave_after(first, RunRequest(do_file=do_file, executor="slurm"), 2)
    for _ in range(100):
        if not squeue_ids(slurm_cluster):
            break
        await asyncio.sleep(0.2)
    assert squeue_ids(slurm_cluster) == []  # gone from squeue: scontrol still knows it
    second = make_session(tmp_path, fake_stata_dir)
    result = await anext_finished(second.resume(run_id))
    assert result.status is RunStatus.ERROR and result.rc == 111
    assert result.error.message == "no variables defined"
    assert result.job["state"] == "failed" and result.commands_done == 3  # it failed at 3


async def anext_finished(stream) -> object:  # type: ignore[no-untyped-def]
    async with contextlib.aclosing(stream) as events:
        async for event in events:
            if isinstance(event, Finished):
                return event.result
    raise AssertionError("no Finished event")


async def test_a_restarted_server_cancels_its_job(
    tmp_path: Path, fake_stata_dir: Path, slurm_cluster
) -> None:
    do_file = tmp_path / "cancel_later.do"
    do_file.write_text("display 1\nsleep 60000\n", encoding="utf-8")
    first = make_session(tmp_path, fake_stata_dir)
    run_id = await leave_after(first, RunRequest(do_file=do_file, executor="slurm"), 2)
    job_id = first.resumable(run_id).job_id  # type: ignore[union-attr]
    second = make_session(tmp_path, fake_stata_dir)
    stream = second.resume(run_id)
    assert second.cancel(run_id) == run_id  # before the job is followed: scancel'd once it is
    result = await anext_finished(stream)
    assert result.status is RunStatus.CANCELLED and result.rc == 1
    assert result.job["state"] == "cancelled" and result.job["job_id"] == job_id
    assert job_id not in squeue_ids(slurm_cluster)
    assert "--Break--" in (tmp_path / "cancel_later.log").read_text(encoding="utf-8")


async def test_a_restarted_server_follows_an_array(
    tmp_path: Path, fake_stata_dir: Path, slurm_cluster
) -> None:
    do_file = tmp_path / "sweep.do"
    do_file.write_text('display "task `1\'"\nsleep 1500\ndisplay "done `1\'"\n', encoding="utf-8")
    first = make_session(tmp_path, fake_stata_dir)
    request = RunRequest(do_file=do_file, executor="slurm", array="1-3")
    run_id = ""
    async with contextlib.aclosing(first.run(request)) as stream:
        async for event in stream:
            if isinstance(event, Started):
                run_id = event.run_id
            if hasattr(event, "snapshot") and "running" in event.snapshot.message:
                break
    assert first.resumable(run_id).array == "1-3"  # type: ignore[union-attr]
    second = make_session(tmp_path, fake_stata_dir)
    result = await anext_finished(second.resume(run_id))
    assert result.status is RunStatus.OK and result.rc == 0
    assert [t["state"] for t in result.job["tasks"]] == ["completed"] * 3
    with pytest.raises(RunRequestError, match="has no Slurm job to follow"):
        second.resume(run_id)
