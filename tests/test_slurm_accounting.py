"""sacct for real: a test cluster with slurmdbd over a private MariaDB and MinJobAge=2, so that
ended jobs soon leave squeue and scontrol both. A server that comes back after that still gets
the job's end state, from sacct."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from stata_tools import CommandStarted, Finished, RunRequest, RunStatus, Session, Settings
from stata_tools.run.events import Started
from stata_tools.stata.slurm.engine import SlurmCommands


@pytest.fixture(scope="module")
def accounting_cluster() -> Iterator[object]:
    from slurm_cluster import start_cluster

    with start_cluster({"MinJobAge": "2"}, accounting=True) as cluster:
        yield cluster


@pytest.fixture
def make_session(
    accounting_cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_stata_dir: Path
):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLURM_CONF", str(accounting_cluster.conf))  # type: ignore[attr-defined]
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=0.5,
        slurm_poll_s=1,
    )
    return lambda: Session(settings)


async def leave_after_start(session: Session, do_file: Path) -> tuple[str, str]:
    run_id = ""
    request = RunRequest(do_file=do_file, executor="slurm")
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            if isinstance(event, Started):
                run_id = event.run_id
            if isinstance(event, CommandStarted) and event.index == 2:
                break
    record = session.resumable(run_id)
    assert record is not None
    return run_id, record.job_id


async def forgotten(job_id: str, commands: SlurmCommands, timeout_s: float = 60) -> None:
    """Until neither squeue nor scontrol knows the job (MinJobAge passed, slurmctld purged it)."""
    for _ in range(int(timeout_s / 0.5)):
        if not commands.squeue(job_id) and not commands.scontrol(job_id):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"slurmctld still knows job {job_id}")


async def finished(stream) -> object:  # type: ignore[no-untyped-def]
    async with contextlib.aclosing(stream) as events:
        async for event in events:
            if isinstance(event, Finished):
                return event.result
    raise AssertionError("no Finished event")


async def test_after_the_purge_sacct_gives_each_end_state(
    make_session, tmp_path: Path, accounting_cluster
) -> None:
    """Three jobs at once (the purge is waited for once): one sacct reads directly, one that
    failed in Stata and one cancelled, both while their server was away."""
    commands = SlurmCommands()
    plain = accounting_cluster.run(  # type: ignore[attr-defined]
        "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "exit 3"
    ).strip()
    failing = tmp_path / "while_away.do"
    failing.write_text("display 1\nsleep 800\nsummarize nosuchvar\n", encoding="utf-8")
    cancelled = tmp_path / "cancelled_away.do"
    cancelled.write_text("display 1\nsleep 60000\n", encoding="utf-8")
    failing_run, failing_job = await leave_after_start(make_session(), failing)
    cancelled_run, cancelled_job = await leave_after_start(make_session(), cancelled)
    accounting_cluster.run("scancel", cancelled_job)  # type: ignore[attr-defined]
    for job_id in (plain, failing_job, cancelled_job):
        await forgotten(job_id, commands)

    [state] = commands.sacct(plain)
    assert (state.job_id, state.state, state.exit_code) == (plain, "FAILED", 3)

    node = accounting_cluster.node  # type: ignore[attr-defined]
    result = await finished(make_session().resume(failing_run))
    assert result.status is RunStatus.ERROR and result.rc == 111  # the log's tail
    assert result.job["job_id"] == failing_job and result.job["state"] == "failed"
    # sacct's words: batch Stata exits 0 whatever the do-file did
    assert result.job["detail"] == f"Slurm state COMPLETED, exit code 0:0, node {node}"

    result = await finished(make_session().resume(cancelled_run))
    assert result.status is RunStatus.CANCELLED and result.job["state"] == "cancelled"
    assert result.job["detail"] == f"Slurm state CANCELLED, exit code 0:0, node {node}"
