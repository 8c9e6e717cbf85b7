"""The slurm executor on a real single-node cluster (tests/slurm_cluster.py): submit, states,
the return code from the batch log, pending reason, cancel, time limit, arrays."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stata_tools.stata.batch import BatchExecution, batch_job
from stata_tools.stata.console import find_console
from stata_tools.stata.slurm.engine import SlurmCommands, SlurmEngine, SlurmJob, task_log
from stata_tools.stata.slurm.script import SlurmOptions, parse_array
from stata_tools.stata.slurm.states import JobPhase, JobState


@pytest.fixture
def engine(slurm_cluster, fake_stata_dir: Path) -> SlurmEngine:
    return SlurmEngine(lambda: find_console({"STATA_PATH": str(fake_stata_dir)}), poll_s=1)


def slurm_job(tmp_path: Path, name: str, source: str, **options) -> SlurmJob:
    do_file = tmp_path / f"{name}.do"
    do_file.write_text(source, encoding="utf-8")
    run_dir = tmp_path / f"run-{name}"
    run_dir.mkdir()
    base = batch_job(f"run-{name}", do_file, run_dir, None)
    array = options.pop("array", None)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return SlurmJob(
        **fields,
        options=SlurmOptions().merged(**options),
        array=parse_array(array) if array else None,
    )


def wait_for(check, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def test_a_job_runs_to_completion(engine: SlurmEngine, tmp_path: Path, slurm_cluster) -> None:
    job = slurm_job(tmp_path, "ok", 'display "on the cluster"\n')
    result = engine.execute(job).result(90)
    assert isinstance(result, BatchExecution)
    assert result.rc == 0 and result.state == "completed", result
    assert result.job_id and result.job_id.isdigit() and result.node == slurm_cluster.node
    assert "on the cluster" in job.log_path.read_text(encoding="utf-8")
    assert (job.run_dir / "job.sh").read_text().startswith("#!/bin/bash\n#SBATCH --job-name=")


def test_a_failing_do_file_is_failed_with_its_rc(engine: SlurmEngine, tmp_path: Path) -> None:
    job = slurm_job(tmp_path, "bad", "summarize nosuchvar\n")
    result = engine.execute(job).result(90)
    assert result.rc == 111 and result.state == "failed"  # type: ignore[union-attr]
    assert "Slurm state COMPLETED" in (result.detail or "")  # type: ignore[union-attr]


def test_pending_reason_and_place_then_cancel(engine: SlurmEngine, tmp_path: Path, slurm_cluster):
    blocker = slurm_job(tmp_path, "blocker", "sleep 60000\n", cpus=slurm_cluster.cpus)
    waiting = slurm_job(tmp_path, "waiting", "display 1\n", cpus=slurm_cluster.cpus)
    first = engine.execute(blocker)
    wait_for(lambda: "running on" in engine.describe(blocker))
    assert engine.describe(blocker).endswith(f"running on {slurm_cluster.node}")
    second = engine.execute(waiting)
    wait_for(lambda: "pending (" in engine.describe(waiting))
    text = engine.describe(waiting)
    assert text.startswith(f"job {engine.job_id(waiting)} pending (Resources)")
    assert text.endswith("1st in queue"), text
    assert engine.request_break(waiting) and not engine.request_break(waiting)
    result = second.result(60)
    assert result.state == "cancelled" and result.break_requested  # type: ignore[union-attr]
    wait_for(lambda: blocker.log_path.exists() and "sleep 60000" in blocker.log_path.read_text())
    engine.request_break(blocker)
    stopped = first.result(60)
    assert stopped.state == "cancelled" and stopped.rc == 1  # type: ignore[union-attr]
    assert "--Break--" in blocker.log_path.read_text(encoding="utf-8")  # Stata broke, then exited


def test_slurm_time_limit_is_timed_out(engine: SlurmEngine, tmp_path: Path) -> None:
    job = slurm_job(tmp_path, "long", "display 1\nsleep 600000\n", time_limit="1")
    result = engine.execute(job).result(150)
    assert result.state == "timed out" and result.rc == 1  # type: ignore[union-attr]
    assert "Slurm state TIMEOUT" in (result.detail or "")  # type: ignore[union-attr]


def test_an_array_with_one_failing_task(engine: SlurmEngine, tmp_path: Path) -> None:
    source = "display \"task `1'\"\nif `1' == 3 {\n    summarize nosuchvar\n}\n"
    job = slurm_job(tmp_path, "arr", source, array="1-4")
    result = engine.execute(job).result(120)
    assert isinstance(result, BatchExecution)
    assert result.state == "failed" and result.rc == 111
    assert [(t.index, t.state, t.rc) for t in result.tasks] == [
        (1, "completed", 0),
        (2, "completed", 0),
        (3, "failed", 111),
        (4, "completed", 0),
    ]
    failed = result.tasks[2]
    assert failed.message == "no variables defined"
    assert failed.log_path == str(task_log(job, 3)) and Path(failed.log_path).exists()
    assert "task 3" in Path(failed.log_path).read_text(encoding="utf-8")
    assert engine.states(job) == {} and JobPhase.COMPLETED.ended


class Forgetful(SlurmCommands):
    """The real commands on a cluster that purges ended jobs at once (MinJobAge passed) and
    keeps no accounting: once a job leaves squeue, nothing knows it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def scontrol(self, job_id: str) -> list[JobState]:
        self.asked.append("scontrol")
        return []

    def sacct(self, job_id: str) -> list[JobState]:
        self.asked.append("sacct")
        return []


@pytest.mark.parametrize(
    ("source", "rc", "state"),
    [('display "fine"\n', 0, "completed"), ("display 1\nsummarize nosuchvar\n", 111, "failed")],
)
def test_a_job_no_command_knows_any_more_ends_by_its_log(
    slurm_cluster, fake_stata_dir: Path, tmp_path: Path, source: str, rc: int, state: str
) -> None:
    commands = Forgetful()
    engine = SlurmEngine(
        lambda: find_console({"STATA_PATH": str(fake_stata_dir)}), poll_s=1, commands=commands
    )
    job = slurm_job(tmp_path, f"forgotten{rc}", source)
    result = engine.execute(job).result(90)
    assert (result.rc, result.state) == (rc, state)  # type: ignore[union-attr]
    assert "Slurm state UNKNOWN" in (result.detail or "")  # type: ignore[union-attr]
    assert {"scontrol", "sacct"} <= set(commands.asked)  # both asked before giving up on them
