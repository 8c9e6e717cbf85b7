from __future__ import annotations

from itertools import pairwise

import pytest

from stata_tools.dofile import split_commands
from stata_tools.events import CommandStarted, ErrorRaised
from stata_tools.logs.parse import LogParser
from stata_tools.progress import Tracker, format_elapsed, opens_nested_do, shorten

DO_FILE = """\
* setup
clear
set obs 10
forvalues i = 1/2 {
    display "pass `i'"
}
do child.do
display "back in parent"
regress y x, ///
    robust
"""

# The log Stata writes for DO_FILE: loop bodies echoed once and numbered, a nested do-file with its
# own echoes and `end of do-file`, output lines that look like echoes, a wrapped `///` command.
LOG = """\
. * setup
. clear

. set obs 10
Number of observations (_N) was 0, now 10.

. forvalues i = 1/2 {
  2.     display "pass `i'"
  3. }
pass 1
pass 2

. do child.do

. clear

. display ". regress y x, robust"
. regress y x, robust

.
end of do-file

. display "back in parent"
back in parent

. regress y x, ///
>     robust
no observations
r(2000);

end of do-file
r(2000);
"""


def run_tracker(do_file: str, log: str, **kwargs: object) -> tuple[Tracker, list[object]]:
    tracker = Tracker(split_commands(do_file), "a.do", 0.0, **kwargs)  # type: ignore[arg-type]
    parser = LogParser()
    events: list[object] = []
    for n, raw in enumerate(log.splitlines()):
        events.extend(tracker.feed(parser.feed(raw), now=float(n)))
    return tracker, events


def test_commands_advance_in_order_and_nested_echoes_do_not_count() -> None:
    tracker, events = run_tracker(DO_FILE, LOG)
    started = [(e.index, e.command, e.line) for e in events if isinstance(e, CommandStarted)]
    assert started == [
        (1, "clear", 2),
        (2, "set obs 10", 3),
        (3, "forvalues i = 1/2 {", 4),
        (4, "do child.do", 7),
        (5, 'display "back in parent"', 8),
        (6, "regress y x, ///", 9),
    ]
    assert tracker.total == 6


def test_progress_strictly_increases_and_stays_in_the_command_slot() -> None:
    _, events = run_tracker(DO_FILE, LOG)
    values = [e.snapshot.progress for e in events]  # type: ignore[attr-defined]
    assert values == sorted(values)
    started = [e for e in events if isinstance(e, CommandStarted)]
    assert [e.snapshot.progress for e in started] == pytest.approx(
        [0.05, 1.05, 2.05, 3.05, 4.05, 5.05]
    )


def test_the_first_error_is_recorded_once_with_its_message_and_command() -> None:
    tracker, events = run_tracker(DO_FILE, LOG)
    errors = [e for e in events if isinstance(e, ErrorRaised)]
    assert [(e.rc, e.message) for e in errors] == [(2000, "no observations")]
    assert tracker.errors[0].command_index == 6


def test_heartbeats_creep_without_reaching_the_next_command() -> None:
    tracker = Tracker(split_commands("sleep 1000\nsleep 1000\n"), "code", 0.0)
    parser = LogParser()
    tracker.feed(parser.feed(". sleep 1000"), 1.0)
    values = [tracker.heartbeat(2.0 + n).progress for n in range(5000)]
    assert all(b > a for a, b in pairwise(values))
    assert values[0] > 0.05 and values[-1] < 0.9
    tracker.feed(parser.feed(". sleep 1000"), 5000.0)
    assert tracker.snapshot(5000.0).progress == pytest.approx(1.05)
    assert tracker.finish(5001.0).progress == 2.0


def test_heartbeats_before_the_first_echo_stay_below_the_first_slot() -> None:
    tracker = Tracker(split_commands("display 1\n"), "code", 0.0)
    values = [tracker.heartbeat(float(n)).progress for n in range(1, 100)]
    assert values[0] > 0 and values[-1] < 0.05


def test_the_wrapper_command_echo_is_ignored() -> None:
    do_file = 'do "/tmp/x.do"\n'  # the user's own first command looks like ours
    _, events = run_tracker(
        do_file, '. do "/tmp/run/code.do"\n. do "/tmp/x.do"\n', wrapper='do "/tmp/run/code.do"'
    )
    assert [e.index for e in events if isinstance(e, CommandStarted)] == [1]


def test_a_long_echo_wrapped_by_stata_still_matches() -> None:
    long = "regress " + " ".join(f"var{n}" for n in range(40))
    log = f". {long[:78]}\n> {long[78:]}\n"
    _, events = run_tracker(long + "\n", log)
    assert [e.index for e in events if isinstance(e, CommandStarted)] == [1]


def test_message_names_file_position_command_elapsed_and_newest_output() -> None:
    tracker, _ = run_tracker(DO_FILE, LOG.split(". regress y x, ///")[0])
    message = tracker.message(now=75.0)
    assert message == 'a.do 5/6 · 1m15s · display "back in parent" · » back in parent'
    tracker.feed(LogParser().feed("x" * 500), 76.0)
    assert len(tracker.message(now=76.0)) <= 200


@pytest.mark.parametrize(
    ("command", "nested"),
    [
        ("do child.do", True),
        ("include setup", True),
        ("quietly do child", False),
        ("capture do child", False),
        ("capture noisily do child", True),
        ("qui noi do x", True),
        ("version 17: do x", True),
        ("run child", False),
        ("display 1", False),
    ],
)
def test_which_commands_open_a_nested_do_file_echo(command: str, nested: bool) -> None:
    assert opens_nested_do(command) is nested


def test_formatting_helpers() -> None:
    assert [format_elapsed(s) for s in (4.24, 65, 3725)] == ["4.2s", "1m05s", "1h02m"]
    assert shorten("a   b\n c", 10) == "a b c"
    assert shorten("abcdefghijkl", 5) == "abcd…"


def test_graph_exports_are_collected_even_when_stata_wraps_the_message() -> None:
    log = (
        ". graph export a.png\n"
        "file a.png written in PNG format\n"
        ". graph export x.svg\n"
        "(file /a/very/long/folder/name/that/stata/wraps/at/the/linesize/of/eighty/cha\n"
        "> racters/fig 1.svg saved as SVG format)\n"
        "file that is not an export message\n"
    )
    tracker, _ = run_tracker("graph export a.png\ngraph export x.svg\n", log)
    assert tracker.exports == [
        ("a.png", "png"),
        (
            "/a/very/long/folder/name/that/stata/wraps/at/the/linesize/of/eighty/"
            "characters/fig 1.svg",
            "svg",
        ),
    ]


# --- replication dots inside a command's slot (replications.py does the reading) -----------------

BOOT_DO = "sysuse auto\nbootstrap, reps(1000): regress mpg weight\ndisplay 1\n"


def _boot_tracker() -> tuple[Tracker, LogParser]:
    tracker = Tracker(split_commands(BOOT_DO), "b.do", 0.0)
    parser = LogParser()
    for n, raw in enumerate([". sysuse auto", "(1978 automobile data)", ""]):
        tracker.feed(parser.feed(raw), float(n))
    tracker.feed(parser.feed(". bootstrap, reps(1000): regress mpg weight"), 3.0)
    return tracker, parser


def test_replication_dots_move_progress_inside_the_slot_and_name_the_count() -> None:
    tracker, parser = _boot_tracker()
    for raw in ["(running regress on estimation sample)", ""]:
        tracker.feed(parser.feed(raw), 4.0)
        tracker.heartbeat(4.0)  # the session ticks once per batch
    tracker.feed(parser.feed("Bootstrap replications (1,000)"), 5.0)
    tracker.feed(parser.feed("----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 "), 5.0)
    values = [tracker.snapshot(5.0).progress]
    row = ""
    for i in range(1, 151):
        row += "x" if i in (3, 77) else "."
        moved = tracker.partial(row, smcl=False, now=5.0 + i)
        assert moved is not None
        values.append(moved.progress)
        values.append(tracker.heartbeat(5.0 + i).progress)
        if i % 50 == 0:
            tracker.feed(parser.feed(row + f" {i:5d}"), 5.0 + i)
            values.append(tracker.snapshot(5.0 + i).progress)
            row = ""
    assert all(b > a for a, b in pairwise(values[::3]))  # every replication moves it
    assert values == sorted(values)
    assert 1.05 < values[0] < values[-1] < 1.9
    share = (values[-1] - values[0]) / (1.9 - values[0])
    assert share == pytest.approx(0.15, abs=0.002)
    message = tracker.message(200.0)
    assert message.endswith(
        "· bootstrap, reps(1000): regress mpg weight · bootstrap 150/1,000 (2 failed)"
    )
    assert message.startswith("b.do 2/3 · ")


def test_heartbeats_during_dots_never_reach_the_next_replication() -> None:
    tracker, parser = _boot_tracker()
    tracker.feed(parser.feed("Bootstrap replications (1,000): .........10"), 5.0)
    at_ten = tracker.snapshot(5.0).progress
    beats = [tracker.heartbeat(6.0 + n).progress for n in range(500)]
    assert all(b > a for a, b in pairwise(beats))
    snapshot = tracker.partial("> .", smcl=False, now=600.0)  # the wrapped line's next mark
    assert snapshot is not None
    eleven = snapshot.progress
    assert at_ten < beats[-1] < eleven


def test_dots_of_an_earlier_command_do_not_show_in_the_next_one() -> None:
    tracker, parser = _boot_tracker()
    tracker.feed(parser.feed("Bootstrap replications (50): " + "." * 9 + "10"), 5.0)
    assert "bootstrap 10/50" in tracker.message(5.0)
    tracker.feed(parser.feed(""), 6.0)
    tracker.feed(parser.feed(". display 1"), 7.0)
    tracker.feed(parser.feed("1"), 7.0)
    assert tracker.message(7.0).endswith("· display 1 · » 1")
    assert tracker.snapshot(7.0).progress == pytest.approx(2.05)


def test_a_timeline_weights_progress_and_the_message_says_the_time_left() -> None:
    from stata_tools.timings import Timeline

    do_file = "display 1\nsleep 1000\ndisplay 2\n"
    tracker = Tracker(split_commands(do_file), "t.do", 0.0, timeline=Timeline([0.1, 600, 0.1]))
    parser = LogParser()
    tracker.feed(parser.feed(". display 1"), 1.0)
    assert tracker.message(1.0).startswith("t.do 1/3 · 1.0s · ~10m left · display 1")
    events = tracker.feed(parser.feed(". sleep 1000"), 2.0)
    start = events[0].snapshot.progress  # type: ignore[union-attr]
    assert start == pytest.approx(3 * (0.2 + 0.05 * 600) / 600.4, rel=1e-4)  # 0.1 s floored
    beats = [tracker.heartbeat(2.0 + 30 * n) for n in range(1, 21)]
    assert all(b.progress > a.progress for a, b in pairwise(beats))
    assert beats[9].message.split(" · ")[2] == "~5m left"  # 300 s into a 600 s command
    assert 1.3 < beats[9].progress < 1.6  # time, not the heartbeat creep, moves it
    assert tracker.finish(700.0).progress == 3.0
