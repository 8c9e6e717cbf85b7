from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from corpus import corpus_params
from recordings import commands_of, pairs, read_lines, rebuild, truth

from stata_tools.run.dofile import decode_source, split_commands
from stata_tools.run.events import CommandStarted, ErrorRaised
from stata_tools.run.logs.parse import LogParser
from stata_tools.run.progress import (
    Resolver,
    Script,
    Tracker,
    called_do_file,
    opens_nested_do,
    shorten,
)

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
    from stata_tools.run.timings import Timeline

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


# --------------------------------------------------------------------------------------------
# Shapes from real logs (../shared/stata-corpus/pairs), as short literal excerpts


def started_at(do_file: str, log: str, **kwargs: object) -> list[tuple[int, int]]:
    """(command index, log line number) of every CommandStarted."""
    tracker = Tracker(split_commands(do_file), "a.do", 0.0, **kwargs)  # type: ignore[arg-type]
    parser = LogParser()
    found = []
    for n, raw in enumerate(log.splitlines(), 1):
        for event in tracker.feed(parser.feed(raw), now=float(n)):
            if isinstance(event, CommandStarted):
                found.append((event.index, n))
    return found


# 06c_eth_sensanalysis_confirmedcovid_eth16: `if _rc==0{ … } else di …` at the top level; Stata
# echoes the body line by line, and its lines look like the commands that follow.
IF_DO = """\
stcox i.ethnicity_16 i.male age1 age2 age3 i.imd, strata(stp) nolog
if _rc==0{
estimates
estimates save ./output/model1_onsconfirmeddeath_eth16, replace
eststo model3

local hr "`hr' ./output/model1_onsconfirmeddeath_eth16 "
}
else di "WARNING MODEL1 DID NOT FIT (OUTCOME onsconfirmeddeath)"
estimates
estimates save ./output/model1_onsconfirmeddeath_eth16, replace
eststo model3
"""
IF_LOG = """\
. stcox i.ethnicity_16 i.male age1 age2 age3 i.imd, strata(stp) nolog

Stratified Cox regr. -- no ties

. if _rc==0{
. estimates

active results
. estimates save ./output/model1_onsconfirmeddeath_eth16, replace
file ./output/model1_onsconfirmeddeath_eth16.ster saved
. eststo model3
.\x20
. local hr "`hr' ./output/model1_onsconfirmeddeath_eth16 "
. }

. else di "WARNING MODEL1 DID NOT FIT (OUTCOME onsconfirmeddeath)"

. estimates

active results

. estimates save ./output/model1_onsconfirmeddeath_eth16, replace
file ./output/model1_onsconfirmeddeath_eth16.ster saved

. eststo model3
"""


def test_an_if_block_echoed_line_by_line_belongs_to_the_if_command() -> None:
    assert started_at(IF_DO, IF_LOG) == [(1, 1), (2, 5), (3, 18), (4, 22), (5, 25)]


def test_an_error_inside_a_top_level_if_block_names_the_if_command() -> None:
    log = IF_LOG.split(". eststo model3")[0] + ". eststo model3\nmodel3 invalid name\nr(198);\n"
    tracker, events = run_tracker(IF_DO, log)
    errors = [e for e in events if isinstance(e, ErrorRaised)]
    assert [(e.rc, e.message) for e in errors] == [(198, "model3 invalid name")]
    assert tracker.errors[0].command_index == 2


def test_an_unechoed_quietly_block_does_not_swallow_later_commands() -> None:
    # pystata's own shape for a quietly block: `. quietly {`, a blank line, nothing of the body
    do_file = "quietly {\nregress y x\n}\nregress y x\ndisplay 1\n"
    log = ". quietly {\n\n. regress y x\nout\n\n. display 1\n1\n"
    assert started_at(do_file, log) == [(1, 1), (2, 3), (3, 6)]


# 01_eth_cr_analysis_dataset: tab-expanded echo wrapped at 80 columns, first line short
ARB_DO = 'lab var ace_inhibitors\t\t\t\t\t\t\t"ACE in last 12 months"\n' + (
    'lab var arbs \t\t\t\t\t\t\t\t"ARB in last 12 months"\n'
    'lab var betablockers \t\t\t\t\t\t\t"Beta blocker in last 12 months"\n'
)
ARB_LOG = """\
. lab var ace_inhibitors                                          "ACE in last\x20
> 12 months"

. lab var arbs                                                            "ARB\x20
> in last 12 months"

. lab var betablockers                                            "Beta blocker
>  in last 12 months"
"""


def test_wrapped_tab_expanded_echoes_match_even_with_a_short_first_line() -> None:
    assert started_at(ARB_DO, ARB_LOG) == [(1, 1), (2, 5), (3, 7)]  # 2: only when joined


# 01_eth_cr_analysis_dataset: a `foreach … ///` list whose `{` is alone on the last line
BRACE_DO = """\
foreach var of varlist \tchronic_respiratory_disease ///
\t\t\t\t\t\tthiazide_diuretics ///
\t\t\t\t\t\t{
\tcapture confirm string variable `var'
\tformat `var'_date %td
}
format `var'_date %td
"""
BRACE_LOG = """\
. foreach var of varlist  chronic_respiratory_disease ///
>                                                 thiazide_diuretics ///
>                                                 {
  2.         capture confirm string variable `var'
  3.         format `var'_date %td
  4. }

. format `var'_date %td
"""


def test_a_block_whose_brace_is_on_a_continuation_line() -> None:
    assert started_at(BRACE_DO, BRACE_LOG) == [(1, 1), (2, 8)]


def test_the_place_is_found_again_after_a_run_of_unechoed_commands() -> None:
    # 06c: the do-file opened its own log after six commands; the log starts at the seventh
    do_file = "".join(f"display {n}\n" for n in range(1, 7)) + "cap file close t\ndisplay 8\n"
    log = ". \n. cap file close t\n\n. display 8\n8\n"
    assert started_at(do_file, log) == [(7, 3), (8, 4)]


def test_no_advance_on_body_lines_even_when_they_match_a_later_command() -> None:
    do_file = "if 1 {\n    display 1\n    display 2\n}\ndisplay 1\ndisplay 2\n"
    log = ". if 1 {\n.     display 1\n1\n.     display 2\n2\n. }\n\n. display 1\n1\n"
    assert started_at(do_file, log) == [(1, 1), (2, 8)]


def test_loop_body_lines_never_advance_the_count() -> None:
    do_file = "forvalues i = 1/2 {\n\n    display 9\n}\ndisplay 9\n"
    log = ". forvalues i = 1/2 {\n  2. \n.     display 9\n  3. }\n9\n9\n\n. display 9\n9\n"
    assert started_at(do_file, log) == [(1, 1), (2, 8)]


def test_an_echo_is_settled_by_the_next_line_or_after_a_quiet_second() -> None:
    do_file = "clear\n" * 5 + "regress y x\n"
    tracker = Tracker(split_commands(do_file), "a.do", 0.0)
    parser = LogParser()
    assert tracker.feed(parser.feed(". regress y x"), 1.0) == []  # beyond the next three
    tracker.heartbeat(1.5)
    assert tracker.index == 0
    tracker.heartbeat(2.5)
    assert tracker.index == 6


@pytest.mark.parametrize(
    ("lines", "errors"),
    [
        (["r; t=0.02 10:59:06"], []),
        (["--Break--", "r(1); t=519.16 10:59:06"], [(1, "--Break--")]),
        (["variable q not found", "r(111); t=0.00 10:59:06"], [(111, "variable q not found")]),
    ],
)
def test_rmsg_lines(lines: list[str], errors: list[tuple[int, str]]) -> None:
    _, events = run_tracker("sleep 10\n", "\n".join([". sleep 10", *lines]))
    assert [(e.rc, e.message) for e in events if isinstance(e, ErrorRaised)] == errors


def test_the_error_message_leaves_out_the_note_before_it() -> None:
    log = (
        ". save ./output/analysis_dataset.dta, replace\n"
        "(note: file ./output/analysis_dataset.dta not found)\n"
        "file ./output/analysis_dataset.dta could not be opened\n"
        "r(603);\n"
    )
    _, events = run_tracker("save ./output/analysis_dataset.dta, replace\n", log)
    errors = [(e.rc, e.message) for e in events if isinstance(e, ErrorRaised)]
    assert errors == [(603, "file ./output/analysis_dataset.dta could not be opened")]


@pytest.mark.parametrize("do_file", corpus_params("pairs/*.do"))
def test_a_recording_that_starts_mid_file_is_followed_from_its_first_echo(do_file: Path) -> None:
    """The pairs' logs begin after the do-file's own `log using`: the tracker must find its place
    and count every command the log echoes, never ahead of where the log is."""
    pair = next(p for p in pairs(do_file.parent) if p.do_file == do_file)
    log_lines = read_lines(pair.log)
    where = truth(log_lines, decode_source(do_file.read_bytes())[0])
    tracker = Tracker(commands_of(do_file), do_file.name, 0.0)
    parser = LogParser()
    started = set()
    for n, raw in enumerate(log_lines):
        for event in tracker.feed(parser.feed(raw), float(n)):
            if isinstance(event, CommandStarted):
                started.add(event.index)
        assert tracker.index <= where.command_at[n], (n, raw)
    assert started == set(where.echoed_at)


# --------------------------------------------------------------------------------------------
# Called do-files followed too

MASTER = 'display "start"\ndo 01_clean.do\ndisplay "end"\n'
CHILD = "clear\nset obs 10\nforvalues i = 1/2 {\n    display `i'\n}\ndisplay 9\n"
MASTER_LOG = """\
. display "start"
start

. do 01_clean.do

. clear

. set obs 10
Number of observations (_N) was 0, now 10.

. forvalues i = 1/2 {
  2.     display `i'
  3. }
1
2

. display 9
9

.\x20
end of do-file

. display "end"
end
"""


def scripts(**files: str) -> Resolver:
    def resolve(written: str, caller: str | None) -> Script | None:
        text = files.get(written.replace(".", "_"))
        return None if text is None else Script(written, tuple(split_commands(text)), written)

    return resolve


def follow(do_file: str, log: str, resolve: Resolver | None) -> list[tuple[str, float, object]]:
    """(message, progress, events) after each line."""
    tracker = Tracker(split_commands(do_file), "master.do", 0.0, resolve=resolve)
    parser = LogParser()
    seen = []
    for n, raw in enumerate(log.splitlines()):
        events = tracker.feed(parser.feed(raw), float(n))
        snapshot = tracker.heartbeat(float(n))
        seen.append((snapshot.message, snapshot.progress, events))
    return seen


def test_a_called_do_file_is_followed_inside_its_commands_slot() -> None:
    seen = follow(MASTER, MASTER_LOG, scripts(**{"01_clean_do": CHILD}))
    messages = [m for m, _, _ in seen]
    assert messages[5].startswith("master.do 2/3 › 01_clean.do 1/4 · 5.0s · clear")
    assert messages[8].startswith("master.do 2/3 › 01_clean.do 2/4 · 8.0s · set obs 10 · » Numb")
    assert messages[17].startswith("master.do 2/3 › 01_clean.do 4/4 · 17.0s · display 9 · » 9")
    assert messages[22].startswith('master.do 3/3 · 22.0s · display "end"')
    values = [p for _, p, _ in seen]
    assert all(b > a for a, b in pairwise(values))
    inside = values[4:21]  # the child's lines: within the `do` command's slot, moving with it
    assert inside[0] >= 1.05 and inside[-1] < 1.9
    assert inside[-1] - inside[0] > 0.6


def test_a_called_do_file_that_cannot_be_read_falls_back_to_waiting_for_its_end() -> None:
    seen = follow(MASTER, MASTER_LOG, scripts())
    assert seen[17][0].startswith("master.do 2/3 · 17.0s · do 01_clean.do")
    assert seen[22][0].startswith("master.do 3/3 ")


def test_an_error_in_a_called_do_file_names_the_child_and_its_line() -> None:
    log = MASTER_LOG.split(". forvalues")[0] + (
        ". forvalues i = 1/2 {\n  2.     display `i'\n  3. }\n"
        "nothing not found\nr(111);\nr(111);\n\nend of do-file\nr(111);\n"
    )
    tracker = Tracker(
        split_commands(MASTER), "master.do", 0.0, resolve=scripts(**{"01_clean_do": CHILD})
    )
    parser = LogParser()
    raised = [e for raw in log.splitlines() for e in tracker.feed(parser.feed(raw), 1.0)]
    errors = [e for e in raised if isinstance(e, ErrorRaised)]
    assert [(e.rc, e.message) for e in errors] == [(111, "nothing not found")]
    record = tracker.errors[0]
    assert (record.command_index, record.script) == (2, "01_clean.do")
    assert record.command is not None and record.command.first_line == 3


@pytest.mark.parametrize(
    ("prefix", "followed"),
    [("capture noisily ", True), ("noi ", True), ("quietly ", False), ("capture ", False)],
)
def test_prefixes_on_the_do_are_understood(prefix: str, followed: bool) -> None:
    master = MASTER.replace("do 01_clean.do", prefix + "do 01_clean.do")
    log = MASTER_LOG.replace(". do 01_clean.do", ". " + prefix + "do 01_clean.do")
    if not followed:  # nothing of the child reaches the log
        log = log.split(". clear")[0] + '. display "end"\nend\n'
    seen = follow(master, log, scripts(**{"01_clean_do": CHILD}))
    assert any("› 01_clean.do" in m for m, _, _ in seen) is followed
    assert seen[-1][0].startswith("master.do 3/3 ")


def test_the_innermost_two_levels_are_shown() -> None:
    master = "do a\n"
    child_a = "do b\ndisplay 2\n"
    child_b = "display 1\n"
    log = (
        ". do a\n\n. do b\n\n. display 1\n1\n\n. \nend of do-file\n\n"
        ". display 2\n2\n\n. \nend of do-file\n"
    )
    seen = follow(master, log, scripts(a_do=child_a, b_do=child_b))
    assert seen[5][0].startswith("a.do 1/2 › b.do 1/1 · ")
    assert seen[11][0].startswith("master.do 1/1 › a.do 2/2 · ")


def test_an_included_file_ends_at_the_next_command_of_its_caller() -> None:
    master = "include setup\ndisplay 2\n"
    log = ". include setup\n\n. display 1\n1\n\n. \n. display 2\n2\n"
    seen = follow(master, log, scripts(setup_do="display 1\n"))
    assert seen[3][0].startswith("master.do 1/2 › setup.do 1/1 · ")
    assert seen[7][0].startswith("master.do 2/2 · ")  # once its echo is complete


def test_an_include_that_cannot_be_read_does_not_stop_the_count() -> None:
    master = "include `setup'\ndisplay 2\n"
    log = ". include `setup'\n\n. display 2\n2\n\n. display 2\n"
    seen = follow(master, log, scripts())
    assert seen[2][0].startswith("master.do 2/2 · ")


@pytest.mark.parametrize(
    ("command", "called"),
    [
        ("do 01_clean", ("do", "01_clean.do")),
        ('cap noi do "my dir/clean.do" arg1', ("do", "my dir/clean.do")),
        ("include setup.doh", ("include", "setup.doh")),
        ("version 17: do x", ("do", "x.do")),
        ("do `file'", None),
        ("do $root/x.do", None),
        ("quietly do x", None),
        ("run x", None),
    ],
)
def test_which_do_file_a_command_calls(command: str, called: tuple[str, str] | None) -> None:
    assert called_do_file(command) == called


def test_an_echo_edited_after_its_first_line_still_names_its_command() -> None:
    # 20_eth_an_model_checks: the log was written by an earlier revision (`legend` vs `llegend`)
    do_file = (
        "display 1\n"
        "sts graph, by(x) ///\n    noorigin llegend(size(tiny) cols(3)) ///\n"
        "    xlabel(30 (10) 80)\ndisplay 2\n"
    )
    log = (
        ". display 1\n1\n\n"
        ". sts graph, by(x) ///\n>     noorigin legend(size(tiny)) ///\n"
        ">     xlabel(30 (10) 80)\n\n. display 2\n2\n"
    )
    assert started_at(do_file, log) == [(1, 1), (2, 7), (3, 8)]


@pytest.mark.parametrize("path", corpus_params("logs/*", "smcl/*"))
def test_every_real_log_is_followed_through_a_do_file_rebuilt_from_it(path: Path) -> None:
    """The corpus logs have no do-files: rebuilt from their own echoes, every command is counted
    at its echo (Mata, `/*** */` blocks, loops, wrapped echoes, nested do-files, CRLF, SMCL)."""
    log_lines = read_lines(path)
    rebuilt = rebuild(log_lines)
    commands = split_commands("\n".join(text for text, _ in rebuilt) + "\n")
    echoed_at = {c.index: rebuilt[c.first_line - 1][1] for c in commands}
    assert len(commands) >= 2 and None not in echoed_at.values()
    tracker = Tracker(commands, path.name, 0.0)
    parser = LogParser()
    started: dict[int, int] = {}
    for n, raw in enumerate(log_lines):
        for event in tracker.feed(parser.feed(raw), float(n)):
            if isinstance(event, CommandStarted):
                started[event.index] = n
        assert tracker.index == 0 or echoed_at[tracker.index] <= n  # never ahead of the log
    assert set(started) == set(echoed_at)


def test_an_edited_line_of_a_block_does_not_count_as_a_later_command() -> None:
    # the log's body line differs from the do-file's (edited since), and starts a later command
    do_file = (
        "if _rc==0{\nestimates save ./output/model1_onsdeath, replace\n}\n"
        "estimates save ./output/model2_onsdeath, replace\ndisplay 1\n"
    )
    log = (
        ". if _rc==0{\n. estimates save ./output/model2_onsdeath\nfile saved\n. }\n\n"
        ". estimates save ./output/model2_onsdeath, replace\nfile saved\n\n. display 1\n1\n"
    )
    assert started_at(do_file, log) == [(1, 1), (2, 6), (3, 9)]


def test_graphs_exported_by_a_called_do_file_are_the_runs() -> None:
    log = MASTER_LOG.replace(
        ". display 9\n9\n", ". display 9\n9\nfile a.png written in PNG format\n"
    )
    tracker = Tracker(
        split_commands(MASTER), "master.do", 0.0, resolve=scripts(**{"01_clean_do": CHILD})
    )
    parser = LogParser()
    for raw in log.splitlines():
        tracker.feed(parser.feed(raw), 1.0)
    assert tracker.exports == [("a.png", "png")]


def test_a_do_that_fails_before_its_file_runs_does_not_hold_the_count() -> None:
    master = 'capture noisily do 01_clean.do\ndisplay "end"\n'
    log = (
        ". capture noisily do 01_clean.do\nfile 01_clean.do not found\nr(601);\n\n"
        '. display "end"\nend\n'
    )
    tracker = Tracker(
        split_commands(master), "master.do", 0.0, resolve=scripts(**{"01_clean_do": CHILD})
    )
    parser = LogParser()
    for raw in log.splitlines():
        tracker.feed(parser.feed(raw), 1.0)
    assert tracker.index == 2 and "›" not in tracker.message(2.0)
    errors = [(e.rc, e.message, e.script, e.command_index) for e in tracker.errors]
    assert errors == [(601, "file 01_clean.do not found", "master.do", 1)]


def test_a_do_of_a_missing_file_we_cannot_read_does_not_hold_the_count_either() -> None:
    master = 'capture noisily do "$dir/01_clean.do"\ndisplay "end"\n'
    log = (
        '. capture noisily do "$dir/01_clean.do"\nfile /01_clean.do not found\nr(601);\n\n'
        '. display "end"\nend\n'
    )
    _, events = run_tracker(master, log)
    assert [e.index for e in events if isinstance(e, CommandStarted)] == [1, 2]


def test_shorten_keeps_one_line_and_marks_the_cut() -> None:
    assert shorten("a   b\n c", 10) == "a b c"
    assert shorten("abcdefghijkl", 5) == "abcd…"
