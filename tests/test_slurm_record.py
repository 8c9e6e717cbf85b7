"""The job record a Slurm run's folder keeps for a restarted server: written atomically, read
back as written, and anything that is not one of ours read as no record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stata_tools.stata.slurm.record import RECORD_FILE, JobRecord, load_record, save_record
from stata_tools.stata.slurm.script import SlurmOptions

RUN_ID = "20261204-041944-21b001"


def record(**changes: object) -> JobRecord:
    fields: dict[str, object] = {
        "run_id": RUN_ID,
        "job_id": "4242",
        "do_file": "/proj/sim.do",
        "working_dir": None,
        "source": "/proj/sim.do",
        "submitted_at": 1_796_000_000.5,
        "array": "1-10%2",
        "options": {"partition": "long", "cpus": 4, "extra": ["--qos=long"]},
        "timeout_at": 1_796_003_600.5,
    }
    fields.update(changes)
    return JobRecord(**fields)  # type: ignore[arg-type]


def test_a_record_reads_back_as_written(tmp_path: Path) -> None:
    folder = tmp_path / RUN_ID
    folder.mkdir()
    save_record(folder, record())
    assert load_record(folder) == record()
    assert [p.name for p in folder.iterdir()] == [RECORD_FILE]  # no temporary file left
    options = load_record(folder).slurm_options()  # type: ignore[union-attr]
    assert options == SlurmOptions(partition="long", cpus=4, extra=("--qos=long",))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"run_id": RUN_ID}),  # no job id
        json.dumps({"run_id": RUN_ID, "job_id": "7", "do_file": "/a.do", "submitted_at": "x"}),
    ],
)
def test_what_is_not_a_record_reads_as_none(tmp_path: Path, text: str) -> None:
    folder = tmp_path / RUN_ID
    folder.mkdir()
    (folder / RECORD_FILE).write_text(text, encoding="utf-8")
    assert load_record(folder) is None


def test_a_record_of_another_folder_or_a_bad_job_id_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / RUN_ID
    folder.mkdir()
    save_record(folder, record(run_id="20261204-000000-000000"))
    assert load_record(folder) is None
    save_record(folder, record(job_id="12;scancel -u root"))
    assert load_record(folder) is None
    assert load_record(tmp_path / "missing") is None


def test_options_it_cannot_use_fall_back_to_the_defaults() -> None:
    assert record(options={"cpus": "many"}).slurm_options() == SlurmOptions()
    assert record(options={"memory": "4G", "unknown": 1}).slurm_options() == SlurmOptions(
        memory="4G"
    )
