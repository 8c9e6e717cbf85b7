"""Replication dots in both of Stata's shapes, text and SMCL, cut anywhere by the log's writes.

The shapes are real Stata's: `_dots.ado` 1.1.1 (StataCorp, 01jul2016) prints the header
`Title (` as res `N` as txt `)`, the ruler with a trailing blank and `" " %5.0f i` after every 50th
mark; `.` `s` ran, `x` `e` `n` `?` failed. The inline shape is copied from published Stata 18
output: `Bootstrap replications (50): .........10.........20.........30.........40......` wrapped in
a text log as `> ...50 done`, and with dots(10) `Bootstrap replications (100): .........100 done`.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stata_tools.run.logs.follow import LineDecoder
from stata_tools.run.logs.parse import Kind, LogParser
from stata_tools.run.replications import DotsReader, Replications, name_of, partial_text

RULER = "----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 "


def ruled_log(total: int, failures: dict[int, str] | None = None, title: str = "Bootstrap") -> str:
    """What `_dots` writes for `total` replications, failures marked at their replication."""
    failures = failures or {}
    out = [f"{title} replications ({total:,})", RULER]
    row = ""
    for i in range(1, total + 1):
        row += failures.get(i, ".")
        if i % 50 == 0:
            out.append(row + " " + f"{i:5d}")
            row = ""
    if row:
        out.append(row)
    return "\n".join(out) + "\n\nBootstrap results\n"


def inline_log(total: int, failures: dict[int, str] | None = None, width: int = 79) -> str:
    """Stata 18's shape: a count every 10 marks, ` done`, wrapped at the line size with `> `."""
    failures = failures or {}
    text = f"Bootstrap replications ({total:,}): "
    for i in range(1, total + 1):
        text += str(i) if i % 10 == 0 else failures.get(i, ".")
    text += " done"
    lines = [text[:width]]
    rest = text[width:]
    while rest:
        lines.append("> " + rest[: width - 2])
        rest = rest[width - 2 :]
    return "\n".join(lines) + "\n\nCost effectiveness analysis\n"


def read(text: str) -> tuple[DotsReader, list[Replications]]:
    reader = DotsReader()
    states = []
    for line in text.splitlines():
        if reader.feed(line):
            assert reader.state is not None
            states.append(reader.state)
    return reader, states


def test_ruled_lines_count_to_the_total_with_failures() -> None:
    reader, states = read(ruled_log(200, {10: "x", 17: "e", 120: "n"}))
    counts = [(s.done, s.failed, s.finished) for s in states]
    assert counts == [
        (0, 0, False),
        (50, 2, False),
        (100, 2, False),
        (150, 3, False),
        (200, 3, False),
        (200, 3, True),  # the next output line ends the loop
    ]
    assert reader.state == Replications("bootstrap", 200, 200, 3, finished=True)
    assert not reader.active
    assert reader.state.describe() == "bootstrap 200/200 (3 failed)"


def test_a_short_last_line_ends_the_loop_jackknife_62() -> None:
    log = (
        "(running mean on estimation sample)\n\nJackknife replications (62)\n"
        f"{RULER}\n" + "." * 50 + "    50\n" + "." * 12 + "\n\nSurvey: Mean estimation\n"
    )
    reader, states = read(log)
    assert [(s.done, s.finished) for s in states] == [
        (0, False),
        (50, False),
        (62, False),
        (62, True),
    ]
    assert reader.state == Replications("jackknife", 62, 62, 0, finished=True)


def test_smcl_header_ruler_and_red_marks_render_like_text() -> None:
    smcl = [
        "{smcl}",
        "{txt}Bootstrap replications ({res}1,000{txt})",
        "{txt}{hline 4}{c +}{hline 3} 1 {hline 3}{c +}{hline 3} 2 {hline 3}{c +}{hline 3} 3 "
        "{hline 3}{c +}{hline 3} 4 {hline 3}{c +}{hline 3} 5 ",
        "{err}x{txt}" + "." * 48 + "{err}?{txt}     50",
        "{txt}" + "." * 20,
    ]
    parser = LogParser()
    reader = DotsReader()
    for raw in smcl:
        reader.feed(parser.feed(raw).text)
    assert reader.state == Replications("bootstrap", 1000, 70, 2)
    assert reader.active
    assert reader.state.describe() == "bootstrap 70/1,000 (2 failed)"


def test_inline_shape_wrapped_with_continuations_reads_every_count() -> None:
    reader, states = read(inline_log(50))
    assert [s.done for s in states] == [46, 50]  # first line: 40 and six marks; then `...50 done`
    assert states[-1].finished
    reader, states = read(inline_log(1000, {3: "x", 15: "e", 999: "n"}))
    assert reader.state == Replications("bootstrap", 1000, 1000, 3, finished=True)
    dones = [s.done for s in states]
    assert dones == sorted(dones) and len(dones) > 10


@pytest.mark.parametrize("cut", ["100", "done"])
def test_a_count_or_done_cut_by_the_wrap_is_joined(cut: str) -> None:
    head = "Bootstrap replications (1,000): " + "".join(
        str(i) if i % 10 == 0 else "." for i in range(1, 100)
    )
    if cut == "100":
        lines = [head + "1", "> 00.........110"]
        expected = (110, False)
    else:
        lines = [head.replace("(1,000)", "(100)") + "100 do", "> ne"]
        expected = (100, True)
    reader = DotsReader()
    for line in lines:
        reader.feed(line)
    state = reader.state
    assert state is not None and (state.done, state.finished) == expected
    if cut == "100":
        reader.feed("")  # a blank line ends the inline dots; the held count is kept
        assert reader.state is not None and reader.state.done == 110 and not reader.active


def test_dots_every_ten_learns_the_unit_from_the_counts() -> None:
    reader = DotsReader()
    reader.partial("Bootstrap replications (100): .....")
    assert reader.state is not None and reader.state.done == 5  # one per mark until a count
    reader.feed("Bootstrap replications (100): .........100 done")
    assert reader.state == Replications("bootstrap", 100, 100, 0, finished=True)
    reader, _ = read(
        "Simulations (2,000)\n" + RULER + "\n" + "." * 50 + "   500\n" + "." * 50 + "  1000\n"
    )
    assert reader.state is not None and reader.state.name == "simulate"
    assert reader.state.done == 1000
    reader.partial("." * 10)
    assert reader.state.done == 1100  # ten marks of ten


def test_partial_lines_move_the_count_and_a_complete_line_settles_it() -> None:
    reader = DotsReader()
    for line in ruled_log(100).splitlines()[:3]:
        reader.feed(line)
    assert reader.state is not None and reader.state.done == 50
    for k in range(1, 6):
        assert reader.partial("." * k + "x" * (k == 5))
        assert reader.state.done == 50 + k + (k == 5)
    assert reader.state.failed == 1
    assert not reader.partial("....." + "x")  # the same partial line again: no change
    reader.feed("." * 50 + "   100")
    assert reader.state == Replications("bootstrap", 100, 100, 0)


def test_partial_header_of_the_inline_shape_starts_a_loop() -> None:
    reader = DotsReader()
    assert reader.partial("Bootstrap replications (1,000): ")
    assert reader.state == Replications("bootstrap", 1000, 0, 0)
    section = reader.section
    assert reader.partial("Bootstrap replications (1,000): .........10..")
    assert reader.state.done == 12
    reader.feed("Bootstrap replications (1,000): .........10..........20")
    assert reader.section == section  # the partial header announced this very loop
    assert reader.state.done == 20


@pytest.mark.parametrize("shape", ["ruled", "inline"])
@pytest.mark.parametrize("seed", range(6))
def test_any_chunking_of_the_log_gives_counts_that_only_grow(shape: str, seed: int) -> None:
    failures = {7: "x", 64: "e", 131: "n", 333: "?"}
    log = ruled_log(400, failures) if shape == "ruled" else inline_log(400, failures)
    data = log.replace("\n", "\r\n" if seed % 2 else "\n").encode()
    rng = random.Random(seed)
    decoder = LineDecoder()
    reader = DotsReader()
    seen: list[int] = []
    i = 0
    while i < len(data):
        step = rng.randint(1, 9)
        for line in decoder.feed(data[i : i + step]):
            reader.feed(line)
        reader.partial(decoder.peek())
        if reader.state is not None:
            seen.append(reader.state.done)
        i += step
    for line in decoder.flush():
        reader.feed(line)
    assert reader.state == Replications("bootstrap", 400, 400, 4, finished=True)
    assert seen == sorted(seen)
    assert len(set(seen)) > 30  # it moved within lines, not only at their ends


def test_ordinary_output_is_not_a_replication_loop() -> None:
    text = "\n".join(
        [
            "(1 missing value generated)",
            "Number of observations (_N) was 0, now 10.",
            "Results (3)",
            "note (2): something",
            "......",
            "Total (4): 12 done",
            "r(198);",
        ]
    )
    reader, states = read(text)
    assert states == [] and reader.state is None


def test_a_titled_dots_loop_needs_its_ruler() -> None:
    reader, _ = read("Placebo Test (1000)\n" + RULER + "\n" + "." * 50 + "    50\n")
    assert reader.state == Replications("Placebo Test", 1000, 50, 0)
    assert name_of("Two-Stage Cluster Bootstrap replications") == "bootstrap"
    assert name_of("Permutation replications") == "permute"
    reader, _ = read("Bootstrap replications (1000)\n\nBootstrap results\n")
    assert reader.state is None  # nodots: the header alone starts nothing


def test_a_break_glued_to_the_dots_ends_the_loop_unfinished() -> None:
    reader, _ = read(ruled_log(100).splitlines()[0] + "\n" + RULER + "\n.......--Break--\n")
    assert reader.state == Replications("bootstrap", 100, 0, 0)
    assert not reader.active


def test_partial_text_renders_smcl_and_drops_a_half_written_tag() -> None:
    assert partial_text("{txt}.....{er", smcl=True) == "....."
    assert partial_text("{txt}...{err}x{txt}..", smcl=True) == "...x.."
    assert partial_text("..{x\r", smcl=False) == "..{x"


def test_no_real_log_in_the_corpus_is_mistaken_for_replication_dots(corpus_dir: Path) -> None:
    """None of the corpus's logs runs a replication command: any loop found would be false."""
    paths = sorted([*corpus_dir.glob("*/*.log"), *corpus_dir.glob("*/*.smcl")])
    assert paths
    for path in paths:
        parser = LogParser()
        reader = DotsReader()
        for raw in path.read_bytes().decode("latin-1").splitlines():
            line = parser.feed(raw)
            if line.kind in (Kind.OUTPUT, Kind.ERROR):
                assert not reader.feed(line.text), (path.name, line.text)
            else:
                reader.stop()
        assert reader.state is None, path.name


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Jackknife replications", "jackknife"),
        ("Permutation replications", "permute"),
        ("Simulations", "simulate"),
        ("BRR replications", "brr"),
        ("Bootstrap replications", "bootstrap"),
    ],
)
@pytest.mark.parametrize("shape", ["ruled", "inline"])
def test_every_replication_command_is_named_in_both_shapes(
    title: str, name: str, shape: str
) -> None:
    if shape == "ruled":
        text = f"{title} (74)\n{RULER}\n" + "." * 50 + "    50\n" + "." * 24 + "\n\nresults\n"
    else:
        body = "".join(str(i) if i % 10 == 0 else "." for i in range(1, 75))
        text = f"{title} (74): {body} done\n\nresults\n"
    reader, _ = read(text)
    assert reader.state == Replications(name, 74, 74, 0, finished=True)


def test_a_loop_may_begin_on_the_line_that_ends_the_last_one() -> None:
    first = "Placebo (50)\n" + RULER + "\n" + "." * 50 + "    50\n"
    second = "Bootstrap replications (20): .........10.........20 done\n"
    reader, states = read(first + second)
    assert reader.state == Replications("bootstrap", 20, 20, 0, finished=True)
    assert reader.section == 2
    assert Replications("Placebo", 50, 50, 0) in states
