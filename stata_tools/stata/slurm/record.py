"""The job record in a Slurm run's folder (`job.json`): what a restarted server needs to find
the job again and follow it — the job id, the do-file, the array, the options, the deadline."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stata_tools.stata.slurm.script import SlurmOptionError, SlurmOptions

__all__ = ["RECORD_FILE", "JobRecord", "load_record", "save_record"]

RECORD_FILE = "job.json"
_MAX_BYTES = 64 << 10


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A submitted Slurm job as its run folder keeps it."""

    run_id: str
    job_id: str
    do_file: str
    working_dir: str | None
    source: str
    submitted_at: float  # wall clock (time.time()) when sbatch answered
    array: str | None = None  # sbatch's --array text, for an array job
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # SlurmOptions, merged
    timeout_at: float | None = None  # wall clock: the run's own timeout, if it had one

    def slurm_options(self) -> SlurmOptions:
        """The options the job was submitted with (a record we cannot read gives the defaults)."""
        known = {f.name for f in dataclasses.fields(SlurmOptions)}
        given = {k: v for k, v in self.options.items() if k in known}
        if isinstance(given.get("extra"), list):
            given["extra"] = tuple(str(line) for line in given["extra"])
        try:
            return SlurmOptions(**given).validated()
        except (SlurmOptionError, TypeError):
            return SlurmOptions()


def save_record(run_dir: Path, record: JobRecord) -> None:
    """Write the record atomically: a server stopped mid-write leaves the old one or none."""
    path = run_dir / RECORD_FILE
    temp = path.with_name(f".{RECORD_FILE}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(dataclasses.asdict(record), indent=1), encoding="utf-8")
    os.replace(temp, path)


def load_record(run_dir: Path) -> JobRecord | None:
    """The folder's job record; None when there is none or it is not one of ours."""
    path = run_dir / RECORD_FILE
    data: object = None
    with contextlib.suppress(OSError, ValueError):
        if path.stat().st_size <= _MAX_BYTES:
            data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return None
    try:
        record = JobRecord(
            run_id=str(data["run_id"]),
            job_id=str(data["job_id"]),
            do_file=str(data["do_file"]),
            working_dir=None if data.get("working_dir") is None else str(data["working_dir"]),
            source=str(data.get("source") or data["do_file"]),
            submitted_at=float(data["submitted_at"]),
            array=None if data.get("array") is None else str(data["array"]),
            options=dict(data.get("options") or {}),
            timeout_at=None if data.get("timeout_at") is None else float(data["timeout_at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not record.job_id.isdigit() or record.run_id != run_dir.name:
        return None
    return record
