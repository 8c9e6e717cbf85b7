"""squeue, scontrol and sacct output mapped to job states and progress-message words."""

from __future__ import annotations

import pytest

from stata_tools.stata.slurm.states import (
    JobPhase,
    JobState,
    describe,
    end_cause,
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


# Recorded on the test cluster (Slurm 22.05.8, Debian bookworm), 2026-12-04: what scontrol and
# slurmstepd said about a job killed for memory and one preempted. Only the fields we read are
# kept of the long scontrol lines.
REAL_OOM_CGROUP = (
    "JobId=1 JobName=oom.sh UserId=root(0) GroupId=root(0) JobState=OUT_OF_MEMORY "
    "Reason=OutOfMemory Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:125 RunTime=00:00:00 Partition=debug NodeList=vm BatchHost=vm"
)
REAL_OOM_CGROUP_OUT = (
    "/tmp/stata-tools-slurm-p19wg7pm/spool/job00001/slurm_script: line 2: 24243 Killed"
    "                  python3 -c 'import time; x=[float(i) for i in range(20_000_000)]'\n"
    "slurmstepd-vm: error: Detected 1 oom-kill event(s) in StepId=1.batch. Some of your "
    "processes may have been killed by the cgroup out-of-memory handler.\n"
)
REAL_OOM_JOBACCT = (  # JobAcctGatherParams=OverMemoryKill: FAILED, the output says why
    "JobId=1 JobName=oom.sh UserId=root(0) GroupId=root(0) JobState=FAILED "
    "Reason=JobLaunchFailure Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:9 RunTime=00:00:01 Partition=debug NodeList=vm BatchHost=vm"
)
REAL_OOM_JOBACCT_OUT = (
    "slurmstepd-vm: error: StepId=1.batch exceeded memory limit (328638464 > 104857600), "
    "being killed\n"
    "slurmstepd-vm: error: Exceeded job memory limit\n"
    "slurmstepd-vm: error: *** JOB 1 ON vm CANCELLED AT 2026-12-04T04:24:03 ***\n"
)
REAL_PREEMPTED = (  # PreemptType=preempt/partition_prio, PreemptMode=CANCEL
    "JobId=2 JobName=long.sh UserId=root(0) GroupId=root(0) JobState=PREEMPTED Reason=None "
    "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=143:0 "
    "RunTime=00:00:01 Partition=debug NodeList=vm BatchHost=vm"
)
REAL_PREEMPTED_OUT = (
    "slurmstepd-vm: error: *** JOB 2 ON vm CANCELLED AT 2026-12-04T04:24:05 DUE TO PREEMPTION "
    "***\ngot TERM\n"
)
REAL_REQUEUED = (  # PreemptMode=REQUEUE: back in the queue, held until its BeginTime
    "JobId=1 JobName=long.sh JobState=PENDING Reason=BeginTime Dependency=(null) Requeue=1 "
    "Restarts=1 BatchFlag=1 ExitCode=0:0 Partition=debug NodeList=(null)"
)


def test_real_end_states_of_the_test_cluster() -> None:
    [oom] = parse_scontrol(REAL_OOM_CGROUP)
    assert (oom.phase, oom.reason, oom.exit_code, oom.signal) == (
        JobPhase.OUT_OF_MEMORY,
        "OutOfMemory",
        0,
        125,
    )
    assert describe(oom) == "out of memory"
    [killed] = parse_scontrol(REAL_OOM_JOBACCT)
    assert killed.phase is JobPhase.FAILED and killed.signal == 9  # the state alone: failed
    [preempted] = parse_scontrol(REAL_PREEMPTED)
    assert preempted.phase is JobPhase.PREEMPTED and preempted.exit_code == 143
    assert describe(preempted) == "preempted"
    [requeued] = parse_scontrol(REAL_REQUEUED)
    assert describe(requeued) == "pending (BeginTime)"


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        (REAL_OOM_CGROUP_OUT, JobPhase.OUT_OF_MEMORY),
        (REAL_OOM_JOBACCT_OUT, JobPhase.OUT_OF_MEMORY),
        (REAL_PREEMPTED_OUT, JobPhase.PREEMPTED),
        (
            "slurmstepd: error: *** JOB 9 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME "
            "LIMIT ***\n",
            JobPhase.TIMED_OUT,
        ),
        ("slurmstepd-vm: error: *** JOB 3 ON vm CANCELLED AT 2026-12-04T04:24:03 ***\n", None),
        ("", None),
    ],
)
def test_end_cause_from_slurmstepd_lines(output: str, cause: JobPhase | None) -> None:
    assert end_cause(output) is cause


# sacct on the test cluster with slurmdbd (test_slurm_accounting.py), 2026-12-04: a job that
# exited 3, a job cancelled while it waited, an array, and a job's steps without -X.
REAL_SACCT = (
    "1|FAILED|3:0|vm|None\n"
    "3|CANCELLED by 0|0:0|None assigned|None\n"
    "2_1|COMPLETED|0:0|vm|None\n"
    "2_2|COMPLETED|0:0|vm|None\n"
    "1.batch|FAILED|3:0|vm|\n"
)


def test_real_sacct_lines() -> None:
    states = parse_sacct(REAL_SACCT)
    assert [(s.job_id, s.task, s.phase, s.exit_code, s.node) for s in states] == [
        ("1", None, JobPhase.FAILED, 3, "vm"),
        ("3", None, JobPhase.CANCELLED, 0, None),  # never placed: no node
        ("2", 1, JobPhase.COMPLETED, 0, "vm"),
        ("2", 2, JobPhase.COMPLETED, 0, "vm"),
    ]
    assert states[1].state == "CANCELLED" and states[0].reason is None
