"""Last run's times: keys that survive edits, a bounded and forgiving history, time left, and
progress weighted by time that still strictly increases and ends at total."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from stata_tools.run.timings import (
    MAX_FILES,
    FileRecord,
    Timeline,
    command_keys,
    dump_history,
    expected_durations,
    format_left,
    parse_history,
    record_run,
)


def test_keys_follow_the_text_and_count_repeats() -> None:
    keys = command_keys(["use a", "save b,  replace", "save b, replace", "regress y x"])
    assert keys[1] != keys[2] and keys[1].split(":")[0] == keys[2].split(":")[0]
    assert [k.split(":")[1] for k in keys] == ["1", "1", "2", "1"]
    edited = command_keys(["use a", "save b, replace", "save b, replace", "regress y x z"])
    assert edited[:3] == keys[:3] and edited[3] != keys[3]  # only the edited command changes


def test_a_run_replaces_what_it_timed_keeps_the_rest_and_forgets_removed_commands() -> None:
    keys = command_keys(["a", "b", "c"])
    first = record_run({}, "/p/x.do", keys, {1: 1.0, 2: 2.0, 3: 30.0}, 33.5, "ok", now=100.0)
    assert first["/p/x.do"].commands == dict(zip(keys, [1.0, 2.0, 30.0], strict=True))
    # the next run stops at command 2 (an error): command 3 keeps its time
    again = record_run(first, "/p/x.do", keys, {1: 1.5}, 4.0, "error", now=200.0)
    assert list(again["/p/x.do"].commands.values()) == [1.5, 2.0, 30.0]
    assert (again["/p/x.do"].duration_s, again["/p/x.do"].status) == (4.0, "error")
    edited = command_keys(["a", "b", "c2"])
    third = record_run(again, "/p/x.do", edited, {}, 1.0, "ok", now=300.0)
    assert list(third["/p/x.do"].commands) == edited[:2]
    assert expected_durations(third["/p/x.do"], edited) == [1.5, 2.0, None]
    assert expected_durations(None, edited) == [None, None, None]


def test_the_history_is_bounded_to_the_newest_do_files() -> None:
    files: dict[str, FileRecord] = {}
    for n in range(MAX_FILES + 25):
        files = record_run(files, f"/d/{n}.do", ["k:1"], {1: 1.0}, 1.0, "ok", now=float(n))
    assert len(files) == MAX_FILES
    assert "/d/0.do" not in files and f"/d/{MAX_FILES + 24}.do" in files


def test_the_file_round_trips_and_anything_malformed_is_ignored() -> None:
    files = record_run({}, "/p/x.do", ["k:1", "k:2"], {1: 1.25, 2: 0.5}, 2.0, "ok", now=5.0)
    data = json.loads(json.dumps(dump_history(files)))
    assert parse_history(data) == files
    for bad in (None, [], "x", {"version": 99, "files": {}}, {"version": 1, "files": []}):
        assert parse_history(bad) == {}
    mixed = {
        "version": 1,
        "files": {
            "/ok.do": {"commands": {"a:1": 2.0, "b:1": "soon", "c:1": -1, "d:1": True}},
            "/bad.do": "not a record",
            "/odd.do": {"commands": [1, 2], "duration_s": "long", "status": 3},
        },
    }
    parsed = parse_history(mixed)
    assert parsed["/ok.do"].commands == {"a:1": 2.0}
    assert "/bad.do" not in parsed
    assert parsed["/odd.do"] == FileRecord({}, None, None, 0.0)


def test_without_times_progress_is_unchanged_and_nothing_is_left() -> None:
    timeline = Timeline([None, None])
    timeline.observe(1, 10.0)
    assert not timeline.weighted
    assert [timeline.place(p, 11.0) for p in (0.0, 0.5, 1.05, 2.0)] == [0.0, 0.5, 1.05, 2.0]
    assert timeline.left(11.0) is None


def test_progress_follows_last_runs_times_and_time_left_counts_down() -> None:
    timeline = Timeline([1.0, 98.0, 1.0])
    timeline.observe(1, 0.0)
    assert timeline.place(0.05, 0.0) == pytest.approx(3 * 0.05 / 100)
    assert timeline.left(0.0) == pytest.approx(100.0)
    timeline.observe(2, 1.0)
    start_two = timeline.place(1.05, 1.0)
    assert start_two == pytest.approx(3 * (1.0 + 0.05 * 98.0) / 100)
    # inside the long command, time moves progress even while the tracker's creep stands still
    told = 0.01 / 0.85
    halfway = timeline.place(1.06, 50.0)
    combined = (0.5 + 0.05 * told) / 1.05
    assert halfway == pytest.approx(3 * (1.0 + (0.05 + 0.85 * combined) * 98.0) / 100)
    assert timeline.left(50.0) == pytest.approx(49.0 + 1.0)
    assert format_left(timeline.left(50.0) or 0) == "~50s left"
    late = timeline.place(1.06, 500.0)  # it overran: progress waits below the slot's end
    assert late < 3 * (1.0 + 0.9 * 98.0) / 100 and timeline.left(500.0) == pytest.approx(1.0)
    timeline.observe(3, 99.0)
    assert timeline.place(2.05, 99.0) > late
    assert timeline.place(3.0, 100.0) == 3.0


def test_weighted_progress_strictly_increases_over_any_run() -> None:
    timeline = Timeline([0.0, 5.0, None, 120.0, 0.01])
    values = []
    now = 0.0
    raw = 0.0
    for index in range(1, 6):
        raw = index - 1 + 0.05
        for step in range(40):
            now += 0.5
            timeline.observe(index, now)
            values.append(timeline.place(raw + step * 0.02, now))
    values.append(timeline.place(5.0, now + 1))
    assert all(b > a for a, b in pairwise(values))
    assert values[-1] == 5.0 and values[-2] < 5.0


def test_observed_durations_give_skipped_commands_zero_and_the_last_only_if_completed() -> None:
    timeline = Timeline([None] * 4)
    timeline.observe(0, 0.0)
    timeline.observe(1, 1.0)
    timeline.observe(3, 4.0)  # command 2 was never echoed
    assert timeline.durations(10.0, completed=False) == {1: 3.0, 2: 0.0}
    assert timeline.durations(10.0, completed=True) == {1: 3.0, 2: 0.0, 3: 6.0}
    timeline.observe(2, 11.0)  # never backwards
    assert timeline.durations(12.0, completed=True)[3] == 8.0


def test_time_left_needs_half_the_commands_timed() -> None:
    timeline = Timeline([10.0, None, None])
    assert timeline.left(0.0) is None
    timeline = Timeline([10.0, 20.0, None])
    assert timeline.left(0.0) == pytest.approx(10.0 + 20.0 + 15.0)  # the median for the unknown


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "~1s left"), (44.6, "~45s left"), (480, "~8m left"), (3900, "~1h05m left")],
)
def test_format_left(seconds: float, text: str) -> None:
    assert format_left(seconds) == text
