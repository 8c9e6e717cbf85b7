"""Out of memory and preemption produced for real, on test clusters of their own: memory
enforced by cgroups (task/cgroup: Slurm says OUT_OF_MEMORY) and by jobacct_gather's
OverMemoryKill (Slurm says FAILED; slurmstepd's lines in the job's output say why), and a job
preempted by one in a partition of a higher PriorityTier (PreemptMode=CANCEL)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from stata_tools import CommandStarted, RunRequest, RunStatus, Session, Settings
from stata_tools.stata.batch import UNFINISHED_RC

PREEMPTION = {"PreemptType": "preempt/partition_prio", "PreemptMode": "CANCEL"}
URGENT = "PartitionName=urgent Nodes={node} MaxTime=INFINITE State=UP PriorityTier=2\n"
MEMORY = {"SelectTypeParameters": "CR_Core_Memory", "DefMemPerCPU": "200"}
MODES = {
    "cgroup": (
        {
            **MEMORY,
            "TaskPlugin": "task/cgroup",
            "ProctrackType": "proctrack/cgroup",
            "JobAcctGatherType": "jobacct_gather/cgroup",
        },
        {"cgroup.conf": "CgroupPlugin=cgroup/v1\nConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n"},
    ),
    "jobacct": (
        {
            **MEMORY,
            "JobAcctGatherType": "jobacct_gather/linux",
            "JobAcctGatherParams": "OverMemoryKill",
            "JobAcctGatherFrequency": "task=1",
        },
        {},
    ),
}


@pytest.fixture(scope="module", params=sorted(MODES))
def limits_cluster(request: pytest.FixtureRequest) -> Iterator[object]:
    from slurm_cluster import start_cluster

    overrides, files = MODES[request.param]
    with start_cluster({**overrides, **PREEMPTION}, URGENT, files) as cluster:
        yield cluster


@pytest.fixture
def session(
    limits_cluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_stata_dir: Path
) -> Iterator[Session]:
    monkeypatch.setenv("SLURM_CONF", str(limits_cluster.conf))  # type: ignore[attr-defined]
    settings = dataclasses.replace(
        Settings.from_env(),
        stata_path=str(fake_stata_dir),
        run_dir=tmp_path / "runs",
        heartbeat_s=0.5,
        slurm_poll_s=1,
    )
    yield Session(settings)


async def test_a_job_over_its_memory_is_out_of_memory(session: Session, tmp_path: Path) -> None:
    do_file = tmp_path / "too_big.do"
    do_file.write_text(  # the fake's 300,000 observations take some 60 MB
        'display "filling memory"\nset obs 300000\ngenerate x = _n\ndisplay "never shown"\n',
        encoding="utf-8",
    )
    request = RunRequest(do_file=do_file, executor="slurm", slurm={"memory": "40M"})
    result = await session.execute(request)
    assert result.job["state"] == "out of memory"
    assert result.error.message == (
        "the job ran out of memory and was killed (ask for more with memory=)"
    )
    assert result.error.command == "generate x = _n" and result.error.source == "too_big.do"
    assert result.status is RunStatus.ERROR and result.rc == UNFINISHED_RC
    job_id = result.job["job_id"]
    assert any(
        note.startswith(f"Slurm job {job_id} on ")
        and "the job ran out of memory and was killed (ask for more with memory=)" in note
        for note in result.notes
    ), result.notes
    log = (tmp_path / "too_big.log").read_text(encoding="utf-8")
    assert "filling memory" in log and "never shown" not in log  # killed inside generate


async def test_a_preempted_job_is_preempted(session: Session, tmp_path: Path, limits_cluster):
    do_file = tmp_path / "low_priority.do"
    do_file.write_text('display "working"\nsleep 60000\n', encoding="utf-8")
    cpus = limits_cluster.cpus  # type: ignore[attr-defined]
    request = RunRequest(do_file=do_file, executor="slurm", slurm={"cpus": cpus})
    events: list[object] = []
    async with contextlib.aclosing(session.run(request)) as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, CommandStarted) and event.index == 2:
                limits_cluster.run(  # type: ignore[attr-defined]
                    "sbatch",
                    "-p",
                    "urgent",
                    f"-c{cpus}",
                    "--mem=10M",
                    "-o",
                    "/dev/null",
                    "--wrap",
                    "sleep 1",
                )
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.job["state"] == "preempted"
    assert result.rc == 1 and result.error.message == "--Break--"  # Slurm's SIGTERM: a break
    assert result.error.command == "sleep 60000" and result.error.source == "low_priority.do"
    assert result.status is RunStatus.ERROR
    job_id = result.job["job_id"]
    assert any(
        note.startswith(f"Slurm job {job_id} on ")
        and "preempted by the scheduler; submit it again (Slurm state PREEMPTED" in note
        for note in result.notes
    ), result.notes
    assert "working" in (tmp_path / "low_priority.log").read_text(encoding="utf-8")


async def test_an_array_task_over_its_memory_is_listed_out_of_memory(
    session: Session, tmp_path: Path
) -> None:
    do_file = tmp_path / "some_big.do"
    do_file.write_text(
        "display \"task `1'\"\nif `1' == 2 {\n    set obs 300000\n    generate x = _n\n}\n"
        'display "done"\n',
        encoding="utf-8",
    )
    request = RunRequest(do_file=do_file, executor="slurm", array="1-2", slurm={"memory": "40M"})
    result = await session.execute(request)
    assert result.status is RunStatus.ERROR
    states = {task["index"]: task["state"] for task in result.job["tasks"]}
    assert states == {1: "completed", 2: "out of memory"}  # slurm-<array>_2.out said so
    assert "1 of 2 array tasks completed" in result.notes
