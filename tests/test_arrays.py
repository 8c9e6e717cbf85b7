"""Array progress arithmetic and one task's log follower, without a cluster."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from stata_tools.run.dofile import split_commands
from stata_tools.run.progress import Tracker
from stata_tools.stata.arrays import ArrayProgress, TaskFollower


def test_progress_is_finished_tasks_plus_running_shares_and_always_rises() -> None:
    progress = ArrayProgress(total=10, started_at=0.0)
    values = [
        progress.value(0, []),
        progress.value(0, [0.5]),
        progress.value(0, [0.5]),  # nothing moved: a little creep
        progress.value(3, [0.25, 0.5]),
        progress.value(2, []),  # a task's share may drop when it ends: never backwards
        progress.value(10, []),  # all done but not reported finished: stays under total
    ]
    assert all(b > a for a, b in pairwise(values))
    assert values[1] == 0.5 and values[3] == 3.75 and values[-1] < 10
    assert progress.finish() == 10


def test_task_follower_reads_its_log_by_offset(tmp_path: Path) -> None:
    commands = split_commands("display 1\ndisplay 2\ndisplay 3\n")
    log = tmp_path / "job_task3.log"
    wrapper = f"do {tmp_path / 'job_task3.do'} 3"
    follower = TaskFollower(3, log, Tracker(commands, "job.do", 0.0, wrapper))
    assert follower.read(0.0) == ([], []) and follower.fraction == 0.0  # no log yet
    log.write_text(
        "\n  ___  ____  ____  ____  ____ \u00ae\nNotes:\n\n"
        f". {wrapper} \n\n. display 1\n1\n\n. displ",
        encoding="utf-8",
    )
    lines, events = follower.read(1.0)
    assert lines[0] == f". {wrapper} " and lines[-2:] == ["1", ""]
    assert [e.index for e in events if hasattr(e, "index")] == [1]
    with log.open("a", encoding="utf-8") as handle:
        handle.write("ay 2\n2\n\n")
    lines, events = follower.read(2.0)
    assert lines == [". display 2", "2", ""] and follower.tracker.index == 2
    assert 0.33 < follower.fraction < 0.67
