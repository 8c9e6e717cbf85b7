"""What Slurm says about a job: squeue, `scontrol show job -o` and sacct output parsed into
one state per job or array task. Pure: text in, values out."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "SQUEUE_FORMAT",
    "JobPhase",
    "JobState",
    "describe",
    "end_cause",
    "ordinal",
    "parse_sacct",
    "parse_scontrol",
    "parse_squeue",
    "phase_of",
    "queue_place",
    "task_range",
]

SQUEUE_FORMAT = "%i|%T|%r|%N|%P"  # job id, state, reason, nodes, partition
SACCT_FIELDS = "JobID,State,ExitCode,NodeList,Reason"


class JobPhase(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    OUT_OF_MEMORY = "out of memory"
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # no command knows the job any more

    @property
    def ended(self) -> bool:
        return self not in (JobPhase.PENDING, JobPhase.RUNNING)


_PHASES = {
    "PENDING": JobPhase.PENDING,
    "PD": JobPhase.PENDING,
    "REQUEUED": JobPhase.PENDING,
    "REQUEUE_HOLD": JobPhase.PENDING,
    "REQUEUE_FED": JobPhase.PENDING,
    "RESV_DEL_HOLD": JobPhase.PENDING,
    "SUSPENDED": JobPhase.RUNNING,
    "RUNNING": JobPhase.RUNNING,
    "R": JobPhase.RUNNING,
    "CONFIGURING": JobPhase.RUNNING,
    "CF": JobPhase.RUNNING,
    "COMPLETING": JobPhase.RUNNING,
    "CG": JobPhase.RUNNING,
    "STAGE_OUT": JobPhase.RUNNING,
    "RESIZING": JobPhase.RUNNING,
    "SIGNALING": JobPhase.RUNNING,
    "STOPPED": JobPhase.RUNNING,
    "COMPLETED": JobPhase.COMPLETED,
    "CD": JobPhase.COMPLETED,
    "FAILED": JobPhase.FAILED,
    "F": JobPhase.FAILED,
    "BOOT_FAIL": JobPhase.FAILED,
    "NODE_FAIL": JobPhase.FAILED,
    "NF": JobPhase.FAILED,
    "SPECIAL_EXIT": JobPhase.FAILED,
    "REVOKED": JobPhase.CANCELLED,
    "TIMEOUT": JobPhase.TIMED_OUT,
    "TO": JobPhase.TIMED_OUT,
    "DEADLINE": JobPhase.TIMED_OUT,
    "OUT_OF_MEMORY": JobPhase.OUT_OF_MEMORY,
    "OOM": JobPhase.OUT_OF_MEMORY,
    "PREEMPTED": JobPhase.PREEMPTED,
    "PR": JobPhase.PREEMPTED,
    "CANCELLED": JobPhase.CANCELLED,
    "CA": JobPhase.CANCELLED,
}
_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9:/_]*)=")
_TASK_ID = re.compile(r"^(\d+)(?:_(\d+))?(?:\.\S+)?$")
_TASK_RANGE = re.compile(r"^(\d+)_\[([0-9,\-:%]+)\]$")


@dataclass(frozen=True, slots=True)
class JobState:
    """One job or array task as Slurm reports it."""

    job_id: str  # the job (for an array: the array's job id)
    task: int | None  # the array task index, None for a plain job
    phase: JobPhase
    state: str  # Slurm's own word: PENDING, TIMEOUT, NODE_FAIL, …
    reason: str | None = None  # why it is pending (Resources, Priority, …) or ended
    node: str | None = None
    exit_code: int | None = None
    signal: int | None = None


def phase_of(state: str) -> JobPhase:
    """Slurm's state word (CANCELLED+, `CANCELLED by 0`) as a phase."""
    word = state.strip().split(" ")[0].rstrip("+").upper()
    return _PHASES.get(word, JobPhase.UNKNOWN)


def _ids(text: str) -> tuple[str, list[int | None]] | None:
    """The job and its task(s): `12`, `12_3`, or a pending array's rest `12_[4-10,12%2]`."""
    text = text.strip()
    match = _TASK_ID.match(text)
    if match:
        return match.group(1), [int(match.group(2)) if match.group(2) else None]
    ranged = _TASK_RANGE.match(text)
    if ranged:
        return ranged.group(1), list(task_range(ranged.group(2)))
    return None


def task_range(text: str) -> list[int]:
    """`4-10`, `3,5-7`, `1-9:2`, with an optional `%N` throttle: the task indices."""
    indices: list[int] = []
    for part in text.split("%")[0].split(","):
        low, _, rest = part.partition("-")
        high, _, step = rest.partition(":")
        if not low.isdigit() or (high and not high.isdigit()) or (step and not step.isdigit()):
            continue
        indices.extend(range(int(low), int(high or low) + 1, int(step or 1) or 1))
    return indices


def _none(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "None", "(null)", "n/a", "(None)", "None assigned") else value


def parse_squeue(text: str) -> list[JobState]:
    """`squeue -h -r -o '%i|%T|%r|%N|%P'` lines; a pending array's range line is skipped."""
    states = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        ids = _ids(parts[0])
        if ids is None:
            continue
        phase = phase_of(parts[1])
        reason = _none(parts[2])
        node = _none(parts[3]) if phase is not JobPhase.PENDING else None
        for task in ids[1]:
            states.append(JobState(ids[0], task, phase, parts[1].strip(), reason, node))
    return states


def _pairs(line: str) -> dict[str, str]:
    keys = list(_KEY.finditer(line))
    pairs = {}
    for i, match in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(line)
        pairs[match.group(1)] = line[match.end() : end].strip()
    return pairs


def _exit(text: str | None) -> tuple[int | None, int | None]:
    if not text or ":" not in text:
        return None, None
    code, _, sig = text.partition(":")
    try:
        return int(code), int(sig)
    except ValueError:
        return None, None


def parse_scontrol(text: str) -> list[JobState]:
    """`scontrol show job -o <id>`: one line of Key=Value pairs per job or array task."""
    states = []
    for line in text.splitlines():
        pairs = _pairs(line)
        if "JobState" not in pairs or "JobId" not in pairs:
            continue
        task_text = _none(pairs.get("ArrayTaskId"))
        job_id = _none(pairs.get("ArrayJobId")) or pairs["JobId"]
        tasks: list[int | None] = [None]
        if task_text:
            tasks = [int(task_text)] if task_text.isdigit() else list(task_range(task_text))
        code, sig = _exit(pairs.get("ExitCode"))
        phase = phase_of(pairs["JobState"])
        node = _none(pairs.get("NodeList")) if phase is not JobPhase.PENDING else None
        reason = _none(pairs.get("Reason"))
        for task in tasks:
            states.append(JobState(job_id, task, phase, pairs["JobState"], reason, node, code, sig))
    return states


def parse_sacct(text: str) -> list[JobState]:
    """`sacct -n -P -X -j <id> -o JobID,State,ExitCode,NodeList,Reason` lines (steps skipped)."""
    states = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4 or "." in parts[0]:
            continue
        ids = _ids(parts[0])
        if ids is None:
            continue
        code, sig = _exit(parts[2])
        phase = phase_of(parts[1])
        reason = _none(parts[4]) if len(parts) > 4 else None
        node = _none(parts[3]) if phase is not JobPhase.PENDING else None
        state = parts[1].strip().split(" ")[0].rstrip("+")
        for task in ids[1]:
            states.append(JobState(ids[0], task, phase, state, reason, node, code, sig))
    return states


# What slurmstepd writes into the job's output when it ends the job (Slurm 22.05, seen on the
# test cluster): memory enforced by jobacct_gather (OverMemoryKill) leaves the job FAILED, so
# only these lines say it ran out of memory; task/cgroup reports OUT_OF_MEMORY itself.
_OUT_OF_MEMORY = re.compile(
    r"Exceeded job memory limit|exceeded memory limit \(\d+ > \d+\)|oom-kill event",
    re.IGNORECASE,
)
_CANCELLED_DUE = re.compile(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+ DUE TO (\w[\w ]*?) \*\*\*")


def end_cause(output: str) -> JobPhase | None:
    """What ended the job, by slurmstepd's own lines in its output: out of memory, preempted,
    timed out; None when they say nothing more than the job's state."""
    if _OUT_OF_MEMORY.search(output):
        return JobPhase.OUT_OF_MEMORY
    match = _CANCELLED_DUE.search(output)
    if match:
        cause = match.group(1).upper()
        if cause == "PREEMPTION":
            return JobPhase.PREEMPTED
        if cause == "TIME LIMIT":
            return JobPhase.TIMED_OUT
    return None


def queue_place(pending_ids: Iterable[str], job: str) -> int | None:
    """1-based place of `job` among pending jobs listed best priority first (squeue --sort=-p)."""
    for place, item in enumerate(pending_ids, start=1):
        if item.strip().split("_")[0] == job:
            return place
    return None


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def describe(state: JobState, place: int | None = None) -> str:
    """The job state in a progress message: `pending (Resources), 3rd in queue`,
    `running on node01`, `out of memory`."""
    if state.phase is JobPhase.PENDING:
        text = "pending" + (f" ({state.reason})" if state.reason else "")
        return text + (f", {ordinal(place)} in queue" if place else "")
    if state.phase is JobPhase.RUNNING:
        word = {"COMPLETING": "finishing", "CONFIGURING": "starting", "SUSPENDED": "suspended"}
        verb = word.get(state.state.upper(), "running")
        return verb + (f" on {state.node}" if state.node else "")
    if state.phase is JobPhase.FAILED and state.state.upper() != "FAILED":
        return f"failed ({state.state.lower().replace('_', ' ')})"
    return state.phase.value
