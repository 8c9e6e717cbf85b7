"""squeue, scontrol and sacct output mapped to job states and progress-message words."""

from __future__ import annotations

import pytest

from stata_tools.stata.slurm.states import (
    JobPhase,
    JobState,
    describe,
    ordinal,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    phase_of,
    queue_place,
)

SCONTROL = (
    "JobId=41 JobName=stata_job UserId=u(1000) GroupId=u(1000) MCS_label=N/A "
    "Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=TIMEOUT Reason=TimeLimit "
    "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 "
    "RunTime=00:01:02 TimeLimit=00:01:00 Partition=debug AllocNode:Sid=login1:123 "
    "ReqNodeList=(null) NodeList=node01 BatchHost=node01 NumNodes=1 NumCPUs=1 "
    "ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=100M,node=1,billing=1 Command=/tmp/job script.sh "
    "WorkDir=/home/u StdOut=/tmp/out-41.txt Power="
)


def test_scontrol_one_line() -> None:
    [state] = parse_scontrol(SCONTROL)
    assert state == JobState(
        "41", None, JobPhase.TIMED_OUT, "TIMEOUT", "TimeLimit", "node01", 0, 15
    )


def test_scontrol_array_tasks_and_pending_rest() -> None:
    text = "\n".join(
        [
            "JobId=51 ArrayJobId=50 ArrayTaskId=1 JobState=COMPLETED Reason=None ExitCode=0:0 "
            "NodeList=n1",
            "JobId=52 ArrayJobId=50 ArrayTaskId=2 JobState=OUT_OF_MEMORY Reason=OutOfMemory "
            "ExitCode=0:125 NodeList=n2",
            "JobId=50 ArrayJobId=50 ArrayTaskId=3-10 JobState=PENDING Reason=Resources "
            "ExitCode=0:0 NodeList=(null)",
        ]
    )
    states = parse_scontrol(text)
    assert [(s.job_id, s.task, s.phase) for s in states[:3]] == [
        ("50", 1, JobPhase.COMPLETED),
        ("50", 2, JobPhase.OUT_OF_MEMORY),
        ("50", 3, JobPhase.PENDING),
    ]
    assert [s.task for s in states[2:]] == list(range(3, 11))
    assert states[2].reason == "Resources"


def test_squeue_lines() -> None:
    text = (
        "60|PENDING|Priority||debug\n61_3|RUNNING|None|node07|debug\n"
        "62_[4-9]|PENDING|Resources||debug\n"
    )
    states = parse_squeue(text)
    assert states[0] == JobState("60", None, JobPhase.PENDING, "PENDING", "Priority", None)
    assert states[1] == JobState("61", 3, JobPhase.RUNNING, "RUNNING", None, "node07")
    assert [(s.job_id, s.task) for s in states[2:]] == [("62", i) for i in range(4, 10)]
    assert parse_squeue("63_[1-5:2,8%2]|PENDING|JobArrayTaskLimit||d")[-1].task == 8
    assert [s.task for s in parse_squeue("63_[1-5:2,8%2]|PENDING|JobArrayTaskLimit||d")] == [
        1,
        3,
        5,
        8,
    ]


def test_sacct_skips_steps_and_reads_cancelled_by() -> None:
    text = "\n".join(
        [
            "70|CANCELLED by 1000|0:15|node01|None",
            "70.batch|CANCELLED|0:15|node01|",
            "71_2|PREEMPTED|0:0|node02|None",
            "72|NODE_FAIL|1:0|node03|NodeDown",
        ]
    )
    states = parse_sacct(text)
    assert [(s.job_id, s.task, s.phase, s.state) for s in states] == [
        ("70", None, JobPhase.CANCELLED, "CANCELLED"),
        ("71", 2, JobPhase.PREEMPTED, "PREEMPTED"),
        ("72", None, JobPhase.FAILED, "NODE_FAIL"),
    ]
    assert states[2].exit_code == 1 and states[2].reason == "NodeDown"


@pytest.mark.parametrize(
    ("word", "phase"),
    [
        ("PENDING", JobPhase.PENDING),
        ("CONFIGURING", JobPhase.RUNNING),
        ("COMPLETING", JobPhase.RUNNING),
        ("COMPLETED", JobPhase.COMPLETED),
        ("FAILED", JobPhase.FAILED),
        ("TIMEOUT", JobPhase.TIMED_OUT),
        ("OUT_OF_MEMORY", JobPhase.OUT_OF_MEMORY),
        ("PREEMPTED", JobPhase.PREEMPTED),
        ("CANCELLED+", JobPhase.CANCELLED),
        ("WHATEVER", JobPhase.UNKNOWN),
    ],
)
def test_phases(word: str, phase: JobPhase) -> None:
    assert phase_of(word) is phase


def test_descriptions() -> None:
    pending = JobState("1", None, JobPhase.PENDING, "PENDING", "Resources")
    assert describe(pending, 3) == "pending (Resources), 3rd in queue"
    assert describe(pending) == "pending (Resources)"
    running = JobState("1", None, JobPhase.RUNNING, "RUNNING", None, "node01")
    assert describe(running) == "running on node01"
    assert describe(JobState("1", None, JobPhase.FAILED, "NODE_FAIL")) == "failed (node fail)"
    assert describe(JobState("1", None, JobPhase.OUT_OF_MEMORY, "OUT_OF_MEMORY")) == "out of memory"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_queue_place() -> None:
    assert queue_place(["9", "12_4", "12_5", "15"], "12") == 2
    assert queue_place(["9", "15"], "15") == 2
    assert queue_place(["9"], "12") is None
