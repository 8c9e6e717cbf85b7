"""Tests for stata_tools.run.logs.parse: every real corpus log, hand-checked counts, each Kind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus import corpus_params, require_corpus
from hypothesis import given
from hypothesis import strategies as st

from stata_tools.run.logs.parse import Kind, LogLine, LogParser, parse_lines, smcl_to_text

K = Kind
CORPUS_FILES = corpus_params("logs/*", "smcl/*")
PAIR_LOGS = corpus_params("pairs/*.log")


# Line shapes a text log is made of, to shuffle into logs the corpus does not hold.
LINE_SHAPES = [
    "",
    "-" * 79,
    "      name:  <unnamed>",
    "       log:  /tmp/x.log",
    "  log type:  text",
    " opened on:  1 Dec 2026, 10:00:00",
    " closed on:  1 Dec 2026, 10:00:09",
    ". display 1",
    ". forvalues i = 1/3 {",
    "  2.     display `i'",
    "  3. }",
    "> continued",
    ">",
    "> --Break--",
    "r(111);",
    "--Break--",
    "end of do-file",
    "------------------------------------------------- mata (type end to exit) -----",
    ": x = 1",
    ": end",
    "line of output",
    "1",
    "(1978 automobile data)",
    "variable price not found",
    "file a.png written in PNG format",
    "end",
    ". program define hello",
    "  1.     display 1",
    "  2. end",
    "      7,857  total observations",
    "  --Break--",
    "   ",
    ". if _rc==0{",
    ".         use x, clear",
    "r; t=0.02 10:59:06",
    "....--Break--",
]


def corpus_lines(name: str) -> list[str]:
    """A corpus file split on "\\n" only: CRLF lines keep their "\\r" for the parser to strip."""
    path = next(p for p in require_corpus().glob("*/*") if p.name.endswith(name))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def kinds(lines: list[str]) -> list[Kind]:
    return [line.kind for line in parse_lines(lines)]


def of_kind(parsed: list[LogLine], kind: Kind) -> list[LogLine]:
    return [line for line in parsed if line.kind is kind]


# --------------------------------------------------------------------------------------------
# The whole corpus


def test_corpus_is_present() -> None:
    corpus = require_corpus()
    assert len([*corpus.glob("logs/*"), *corpus.glob("smcl/*")]) == 11


@pytest.mark.parametrize("path", CORPUS_FILES + PAIR_LOGS)
def test_every_corpus_file_parses(path: Path) -> None:
    lines = corpus_lines(path.name)
    parser = LogParser()
    parsed = [parser.feed(line) for line in lines]
    assert len(parsed) == len(lines)
    assert parser.smcl == lines[0].startswith("{smcl}")
    for line, got in zip(lines, parsed, strict=True):
        assert got.raw == line.rstrip("\r")
        assert not got.text.endswith("\r")
        if got.kind is K.ECHO:
            assert not got.text.startswith("{")
        if got.kind is K.RETURN_CODE:
            assert got.text == f"r({got.rc});"
        else:
            assert got.rc is None
        if got.number is not None:
            assert got.kind is K.LOOP_ECHO
        if parser.smcl:
            assert "{txt}" not in got.text and "{com}" not in got.text


def test_smcl_is_sniffed_from_content_not_the_file_name() -> None:
    parser = LogParser()
    parsed = [parser.feed(line) for line in corpus_lines("merge_how_to.do")]
    assert parser.smcl
    assert parsed[0] == LogLine(K.HEADER, "", "{smcl}")
    # A text log whose name ends in .smcl would still be text: only the first line decides.
    text_parser = LogParser()
    assert text_parser.feed("{txt}hello").text == "{txt}hello"
    assert not text_parser.smcl


def test_mcmclinear_counts_nested_do_and_mata() -> None:
    # Checked by hand: grep -c '^\. ' = 17, '^$' = 17, '^> ' = 345 of which one ("> ry;lxtabond2")
    # wraps output, '^: ' = 17, two mata sessions each with an opening and a closing rule.
    parsed = parse_lines(corpus_lines("mcmclinear.log"))
    assert Counter(line.kind for line in parsed) == {
        K.HEADER: 5,
        K.FOOTER: 5,
        K.ECHO: 17,
        K.BLANK: 17,
        K.LOOP_ECHO: 3,
        K.MATA: 17 + 344 + 4,
        K.END_OF_DO: 2,
        K.OUTPUT: 6,
    }
    loop = of_kind(parsed, K.LOOP_ECHO)
    assert [(line.number, line.text) for line in loop] == [
        (2, "  do `f'.mata"),
        (3, "  mata: mata mlib add lmcmclinear `f'()"),
        (4, "  }"),
    ]
    assert parsed[22].kind is K.MATA and "mata (type end to exit)" in parsed[22].text
    assert (parsed[147].kind, parsed[147].text) == (K.MATA, "end")
    assert parsed[148].kind is K.MATA and set(parsed[148].text) == {"-"}
    assert parsed[410] == LogLine(K.OUTPUT, "> ry;lxtabond2", "> ry;lxtabond2")


def test_master_log_has_ten_end_of_do_markers() -> None:
    parsed = parse_lines(corpus_lines("Master_Log.smcl"))
    ends = [i for i, line in enumerate(parsed) if line.kind is K.END_OF_DO]
    assert len(ends) == 10
    assert parsed[ends[0]].raw == "{txt}end of do-file"
    assert of_kind(parsed, K.RETURN_CODE) == []
    assert of_kind(parsed, K.ERROR) == []


def test_artbin_test_ltfu_failed_assertion_then_footer() -> None:
    parsed = parse_lines(corpus_lines("artbin_test_ltfu.log"))
    (rc,) = of_kind(parsed, K.RETURN_CODE)
    assert (rc.rc, rc.text, rc.raw) == (9, "r(9);", "r(9);")
    i = parsed.index(rc)
    assert parsed[i - 1] == LogLine(K.OUTPUT, "assertion is false", "assertion is false")
    assert [line.kind for line in parsed[i:]] == [
        K.RETURN_CODE,
        K.BLANK,
        K.END_OF_DO,
        *[K.FOOTER] * 5,
    ]
    assert parsed[-2].text == " closed on:  14 Nov 2023, 18:43:07"


def test_running_reproducibility_errors_and_return_codes() -> None:
    parsed = parse_lines(corpus_lines("Running_reporducibility_log.smcl"))
    assert [line.rc for line in of_kind(parsed, K.RETURN_CODE)] == [
        602, 601, 601, 111, 111, 111, 111, 111, 111, 602, 601, 602,
    ]  # fmt: skip
    errors = [line.text for line in of_kind(parsed, K.ERROR)]
    assert errors[:3] == ["file AtusCPS_2014_.dta", "already exists", "file ATUS-SUM.do"]
    assert "variable state_id not found" in errors
    assert "(error in option by())" in errors
    assert len(errors) == 18


def test_merge_how_to_do_is_smcl_with_three_kinds_of_error() -> None:
    parsed = parse_lines(corpus_lines("merge_how_to.do"))
    assert [line.rc for line in of_kind(parsed, K.RETURN_CODE)] == [111, 602, 4, 111, 111]
    assert [line.text for line in of_kind(parsed, K.ERROR)] == [
        "variable gestfips not found",
        r"file C:\Users\oalevesq\Downloads\County_cohort_trends.dta updated.dta",
        "already exists",
        "no; dataset in memory has changed since last saved",
        "variable gestfips not found",
        "variable _merge not found",
    ]
    # {err}{p 0 4 2} and {p_end} print nothing.
    assert parsed[34] == LogLine(K.BLANK, "", "{err}{p 0 4 2}")
    assert parsed[37] == LogLine(K.BLANK, "", "{p_end}")
    assert parsed[7].kind is K.ECHO
    assert parsed[7].text == r'use "C:\Users\oalevesq\Downloads\merged_data.dta"'
    # The footer ends with the rule, then "{smcl}" and "{txt}{sf}{ul off}".
    assert [line.kind for line in parsed[-7:]] == [K.FOOTER] * 7
    assert [line.raw for line in parsed[-2:]] == ["{smcl}", "{txt}{sf}{ul off}"]


def test_umbrella_auto_old_header_without_name_and_list_rows_are_output() -> None:
    parsed = parse_lines(corpus_lines("umbrella_auto.log"))
    assert [line.text for line in parsed[:4]] == [
        "-" * 100,
        r"       log:  C:\MyDocs\STATISTICS\OBrien84Multivariate\ado\auto.log",
        "  log type:  text",
        " opened on:  10 Apr 2008, 11:57:19",
    ]
    assert [line.kind for line in parsed[:5]] == [K.HEADER] * 4 + [K.BLANK]
    assert [line.kind for line in parsed[-4:]] == [K.FOOTER] * 4
    assert parsed[-1].text == "-" * 97
    numbered_rows = [
        line for line in parsed if line.raw.lstrip()[:1].isdigit() and ". " in line.raw
    ]
    assert len(numbered_rows) > 200
    assert {line.kind for line in numbered_rows} == {K.OUTPUT}
    assert of_kind(parsed, K.LOOP_ECHO) == []


def test_ky_example_wrapped_log_path_in_header_and_footer() -> None:
    parsed = parse_lines(corpus_lines("ky_example.log"))
    header = of_kind(parsed, K.HEADER)
    assert [line.text for line in header[2:4]] == [
        r"       log:  D:\home\stephenj\MYProjects\DWP_SDP\kyado\Clean_Ados\ky_example.lo",
        "g",
    ]
    assert header[3].raw == "> g"
    assert len(header) == 6
    footer = of_kind(parsed, K.FOOTER)
    assert len(footer) == 6
    assert footer[2].text == "g"
    # "/////" comment lines are echoed with "> " continuations.
    assert parsed[9].kind is K.ECHO and parsed[9].text.startswith("/////")
    assert parsed[10] == LogLine(K.CONTINUATION, "///", "> ///")


def test_console_getting_started_is_a_headerless_named_log() -> None:
    parsed = parse_lines(corpus_lines("console_getting_started.log"))
    assert {K.HEADER, K.FOOTER}.isdisjoint(line.kind for line in parsed)
    assert parsed[0].kind is K.BLANK
    assert parsed[1] == LogLine(K.ECHO, "", ". ")
    assert parsed[4] == LogLine(
        K.ECHO,
        "noisily pygrid, id(id) start(window_start) end(window_end) ///",
        ". noisily pygrid, id(id) start(window_start) end(window_end) ///",
    )
    assert parsed[5] == LogLine(
        K.CONTINUATION,
        "    axis(calendar) keep(cohort) noisily",
        ">     axis(calendar) keep(cohort) noisily",
    )
    assert parsed[-1] == LogLine(K.ECHO, "log close getting_started", ". log close getting_started")


def test_artbin_errortest_headerless_crlf_wrapped_output_stays_output() -> None:
    parsed = parse_lines(corpus_lines("artbin_errortest_8.log"))
    assert {K.HEADER, K.FOOTER, K.RETURN_CODE}.isdisjoint(line.kind for line in parsed)
    wrapped = [line for line in parsed if line.raw == "> ored."]
    assert len(wrapped) == 13
    assert {line.kind for line in wrapped} == {K.OUTPUT}


def test_cs_egranger_smcl_tables_render() -> None:
    parsed = parse_lines(corpus_lines("cs_egranger.smcl"))
    assert not any("{" in line.text for line in parsed if line.kind is not K.OUTPUT)
    tables = [line.text for line in parsed if "{c |}" in line.raw]
    assert tables and all("|" in text and "{" not in text for text in tables)


# --------------------------------------------------------------------------------------------
# Each kind, table-driven: (lines fed to one parser, expected (kind, text) of the LAST line)

MATA = "--- mata (type end to exit) ---"
MATA_RULE = "-" * 49 + " mata (type end to exit) -----"

CASES: list[tuple[str, list[str], tuple[Kind, str]]] = [
    ("echo", [". regress y x"], (K.ECHO, "regress y x")),
    ("empty echo", [". "], (K.ECHO, "")),
    ("echo keeps indentation", [".     gen x = 1"], (K.ECHO, "    gen x = 1")),
    ("dot alone is a missing value", ["."], (K.OUTPUT, ".")),
    ("continuation", [". reg y x ///", ">     , robust"], (K.CONTINUATION, "    , robust")),
    ("continuation chain", [". /*", "> one", "> */"], (K.CONTINUATION, "*/")),
    ("wrapped output", ["lmatabase;lsmwoodbu", "> ry"], (K.OUTPUT, "> ry")),
    ("return code", ["r(111);"], (K.RETURN_CODE, "r(111);")),
    ("return code trailing space", ["r(198);  "], (K.RETURN_CODE, "r(198);")),
    ("not a return code", ["r(111); more"], (K.OUTPUT, "r(111); more")),
    ("break", ["--Break--"], (K.BREAK, "--Break--")),
    ("end of do-file", ["end of do-file"], (K.END_OF_DO, "end of do-file")),
    ("blank", ["x", ""], (K.BLANK, "")),
    ("spaces are blank", ["x", "   "], (K.BLANK, "   ")),
    ("output", ["(74 observations)"], (K.OUTPUT, "(74 observations)")),
    ("mid-file rule is output", ["x", "-" * 78], (K.OUTPUT, "-" * 78)),
    ("text logs cannot tell errors", ["variable x not found"], (K.OUTPUT, "variable x not found")),
    ("header rule", ["-" * 79], (K.HEADER, "-" * 79)),
    ("header name", ["-" * 79, "      name:  _mcp"], (K.HEADER, "      name:  _mcp")),
    ("old header", ["-" * 79, "       log:  /a.log"], (K.HEADER, "       log:  /a.log")),
    ("log wrap", ["-" * 79, "       log:  /a/b.lo", "> g"], (K.HEADER, "g")),
    (
        "opened on",
        ["-" * 79, "      name:  x", "       log:  /a", "  log type:  text", " opened on:  1 Jan"],
        (K.HEADER, " opened on:  1 Jan"),
    ),
    ("footer name", [". log close", "      name:  x"], (K.FOOTER, "      name:  x")),
    (
        "footer rule",
        [". log close", "       log:  /a", "  log type:  text", " closed on:  1 Jan", "-" * 79],
        (K.FOOTER, "-" * 79),
    ),
    (
        "user log using mid-run prints a header",
        ["-" * 79, " opened on:  x", "", ". log using other, text", "      name:  <unnamed>"],
        (K.HEADER, "      name:  <unnamed>"),
    ),
    (
        "label after other output",
        ["x", ". describe", "y", "      name:  z"],
        (K.FOOTER, "      name:  z"),
    ),
    ("label needs 10-wide field", ["x", "   name:  z"], (K.OUTPUT, "   name:  z")),
    ("mata rule", [MATA_RULE], (K.MATA, MATA_RULE)),
    ("mata prompt", [MATA, ": x = 1"], (K.MATA, "x = 1")),
    ("mata continuation", [MATA, ": f(", ">   y)"], (K.MATA, "  y)")),
    ("mata output", [MATA, ": x", "  1"], (K.OUTPUT, "  1")),
    ("mata end rule", [MATA, ": end", "-" * 79], (K.MATA, "-" * 79)),
    ("after mata", [MATA, ": end", "-" * 79, ": x"], (K.OUTPUT, ": x")),
    ("mata error code", [MATA, ": y", "r(3499);"], (K.RETURN_CODE, "r(3499);")),
    ("mata left by a Stata echo", [MATA, ". di 1"], (K.ECHO, "di 1")),
    ("prompt outside mata", [": x"], (K.OUTPUT, ": x")),
    ("loop echo", [". forvalues i = 1/2 {", "  2. di `i'"], (K.LOOP_ECHO, "di `i'")),
    ("smcl error", ["{smcl}", "{err}variable x not found"], (K.ERROR, "variable x not found")),
    ("smcl text is output", ["{smcl}", "{txt}(74 obs)"], (K.OUTPUT, "(74 obs)")),
]


@pytest.mark.parametrize(("lines", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_kind_of_last_line(lines: list[str], expected: tuple[Kind, str]) -> None:
    last = parse_lines(lines)[-1]
    assert (last.kind, last.text) == expected
    assert last.raw == lines[-1]


def test_return_code_carries_rc_and_strips_cr() -> None:
    assert parse_lines(["r(601);\r"]) == [LogLine(K.RETURN_CODE, "r(601);", "r(601);", rc=601)]


def test_crlf_and_bom_are_stripped() -> None:
    parsed = parse_lines(["\ufeff" + "-" * 79 + "\r\n", "      name:  x\r\n", ". di 1\r"])
    assert [(line.kind, line.raw) for line in parsed] == [
        (K.HEADER, "-" * 79),
        (K.HEADER, "      name:  x"),
        (K.ECHO, ". di 1"),
    ]


def test_break_shape() -> None:
    lines = ["--Break--", "--Break--", "r(1);", "", "end of do-file", "--Break--", "r(1);"]
    assert kinds(lines) == [
        K.BREAK,
        K.BREAK,
        K.RETURN_CODE,
        K.BLANK,
        K.END_OF_DO,
        K.BREAK,
        K.RETURN_CODE,
    ]


# --------------------------------------------------------------------------------------------
# Block echoes


def test_foreach_body_is_numbered_until_the_closing_brace() -> None:
    lines = [
        ". foreach v in a b {",
        "  2.     if 1 {",
        "  3.         di `v'",
        "  4.     }",
        "  5.     else {",
        "  6.         di 0",
        "  7.     } // done",
        "  8. }",
        "a",
        "  9. not an echo",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed] == [K.ECHO] + [K.LOOP_ECHO] * 7 + [K.OUTPUT] * 2
    assert [line.number for line in parsed[1:8]] == [2, 3, 4, 5, 6, 7, 8]
    assert parsed[7].text == "}"


def test_else_on_the_closing_line_keeps_the_block_open() -> None:
    lines = [". if 1 {", "  2. di 1", "  3. } else {", "  4. di 2", "  5. }", "1"]
    assert kinds(lines) == [K.ECHO, *[K.LOOP_ECHO] * 4, K.OUTPUT]


def test_list_rows_outside_a_block_are_output() -> None:
    lines = [". list foreign", "", "     +----------+", "  1. | Domestic |", "  2. | Domestic |"]
    assert kinds(lines)[3:] == [K.OUTPUT, K.OUTPUT]


def test_list_rows_after_a_finished_loop_are_output() -> None:
    lines = [". forvalues i = 1/2 {", "  2. list in `i'", "  3. }", "  1. | x |", "  2. | y |"]
    assert kinds(lines) == [K.ECHO, K.LOOP_ECHO, K.LOOP_ECHO, K.OUTPUT, K.OUTPUT]


def test_numbering_must_count_up() -> None:
    lines = [". foreach x in a {", "  3. di 1", "  2. di 1"]
    assert kinds(lines) == [K.ECHO, K.OUTPUT, K.OUTPUT]


def test_quietly_block_body_is_not_echoed() -> None:
    lines = [". quietly {", "", "  2. | row |"]
    assert kinds(lines) == [K.ECHO, K.BLANK, K.OUTPUT]


def test_program_define_body_ends_at_end() -> None:
    lines = [
        ". program define hello",
        "  1.     if 1 {",
        "  2.         di 1",
        "  3.     }",
        "  4. end",
        "  5. x",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed] == [K.ECHO, *[K.LOOP_ECHO] * 4, K.OUTPUT]
    assert parsed[4].text == "end"


@pytest.mark.parametrize(
    "command",
    ["program hello", "pr de hello", "capture program define hello", "qui: program hello, rclass"],
)
def test_program_spellings_open_a_block(command: str) -> None:
    assert kinds([f". {command}", "  1. end"]) == [K.ECHO, K.LOOP_ECHO]


@pytest.mark.parametrize("command", ["program drop hello", "program dir", "probit y x", "di 1"])
def test_other_commands_do_not_open_a_block(command: str) -> None:
    assert kinds([f". {command}", "  1. end"]) == [K.ECHO, K.OUTPUT]


def test_input_rows_follow_the_varname_header() -> None:
    lines = [
        ". input str10 name x",
        "",
        "           name          x",
        '  1. "apple" 1',
        '  2. "pear" 2',
        "  3. end",
        "",
        ". list",
        "  1. | apple |",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed] == [
        K.ECHO,
        K.BLANK,
        K.OUTPUT,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.BLANK,
        K.ECHO,
        K.OUTPUT,
    ]
    assert [line.number for line in parsed[3:6]] == [1, 2, 3]
    assert parsed[3].text == '"apple" 1'


def test_input_appending_starts_at_any_row_number() -> None:
    assert kinds([". input", " 75. 12", " 76. end"]) == [K.ECHO, K.LOOP_ECHO, K.LOOP_ECHO]


def test_long_loop_line_wraps_with_continuations() -> None:
    lines = [". foreach v of varlist a b c {", "  2. di `v' ///", ">    + 1", ">    + 2", "  3. }"]
    assert kinds(lines) == [
        K.ECHO,
        K.LOOP_ECHO,
        K.CONTINUATION,
        K.CONTINUATION,
        K.LOOP_ECHO,
    ]


def test_an_error_ends_the_block_echo() -> None:
    lines = [". foreach v in a {", "  2. di", "r(198);", "  3. }"]
    assert kinds(lines) == [K.ECHO, K.LOOP_ECHO, K.RETURN_CODE, K.OUTPUT]


# --------------------------------------------------------------------------------------------
# SMCL


def test_smcl_loop_echo_and_escaped_braces() -> None:
    lines = [
        "{smcl}",
        "{com}. foreach v of varlist price mpg {c -(}",
        "{txt}  2{com}.   quietly summarize `v'",
        "{txt}  3{com}. {c )-}",
        "",
    ]
    parsed = parse_lines(lines)
    assert [(line.kind, line.text, line.number) for line in parsed] == [
        (K.HEADER, "", None),
        (K.ECHO, "foreach v of varlist price mpg {", None),
        (K.LOOP_ECHO, "  quietly summarize `v'", 2),
        (K.LOOP_ECHO, "}", 3),
        (K.BLANK, "", None),
    ]


def test_smcl_styles_carry_across_lines() -> None:
    lines = [
        "{smcl}",
        "{com}. save x",
        "{err}{p 0 4 2}",
        "file {bf:{err}x.dta}",
        "already exists",
        "{p_end}",
        "{txt}{search r(602), local:r(602);}",
        "{com}. ",
        ". di 1",
        "{res}1",
    ]
    assert [(line.kind, line.text) for line in parse_lines(lines)] == [
        (K.HEADER, ""),
        (K.ECHO, "save x"),
        (K.BLANK, ""),
        (K.ERROR, "file x.dta"),
        (K.ERROR, "already exists"),
        (K.BLANK, ""),
        (K.RETURN_CODE, "r(602);"),
        (K.ECHO, ""),
        (K.ECHO, "di 1"),
        (K.OUTPUT, "1"),
    ]


def test_smcl_dot_lines_in_result_style_are_output() -> None:
    parsed = parse_lines(["{smcl}", '{com}. display ". hello"', "{res}. hello"])
    assert [line.kind for line in parsed] == [K.HEADER, K.ECHO, K.OUTPUT]


def test_smcl_header_renders_before_matching() -> None:
    lines = [
        "{smcl}",
        "{com}{sf}{ul off}{txt}{.-}",
        "      name:  {res}<unnamed>",
        "       {txt}log:  {res}C:\\x.smcl",
        "  {txt}log type:  {res}smcl",
        " {txt}opened on:  {res} 1 Dec 2025, 15:13:29",
        "",
        "{com}. sysuse auto",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed] == [K.HEADER] * 6 + [K.BLANK, K.ECHO]
    assert parsed[3].text == "       log:  C:\\x.smcl"
    assert parsed[1].text == "-" * 79


@pytest.mark.parametrize(
    ("smcl", "text"),
    [
        ("{txt}plain {res}result{err} error{inp} in{com} cmd", "plain result error in cmd"),
        ("{sf}{ul off}{bf}bold{rm}{it}x{ul on}y", "boldxy"),
        ("{hline 5}", "-----"),
        ("ab{hline}", "ab" + "-" * 77),
        ("{.-}", "-" * 79),
        ("{c |}{c +}{c -}{c TT}{c BT}{c BLC}{char |}", "|+-+++|"),
        ("{c -(}x{c )-} {c S|}y {c 'g}z'", "{x} $y `z'"),
        ("{col 5}Result{col 12}N", "    Result N"),
        ("abcdef{col 3}g", "abcdefg"),
        ("a{space 3}b{space}c", "a   b c"),
        ("{bf:x}{it:y}{hilite:outreg2}{hi:z}", "xyoutreg2z"),
        ("{bf:{err}C:\\a b.dta}", "C:\\a b.dta"),
        ("{p 0 4 2}text{p_end}{p}", "text"),
        ("{search r(111), local:r(111);}", "r(111);"),
        ("{help regress}/{help regress:the manual}", "regress/the manual"),
        ('{browse "https://x.org":site}', "site"),
        ("{res:12}{txt:/}{err:3}", "12/3"),
        ("{dup 3:ab}", "ababab"),
        ("[{ralign 4:7}]", "[   7]"),
        ("{unknown directive}", "{unknown directive}"),
        ("foreach x in a b {", "foreach x in a b {"),
        ("a } b", "a } b"),
        ("", ""),
    ],
)
def test_smcl_to_text(smcl: str, text: str) -> None:
    assert smcl_to_text(smcl) == text


def test_hostile_smcl_numbers_are_capped_not_fatal() -> None:
    # found by `make fuzz`: superscript digits pass str.isdigit() but not int()
    assert smcl_to_text("{col ³}x") == "x"
    assert smcl_to_text("{hline ²}") == "-" * 79
    assert len(smcl_to_text("{hline 300000000}")) == 1000
    assert len(smcl_to_text("{dup 20000:{dup 20000:ab}}")) < 10_000


@pytest.mark.parametrize("path", CORPUS_FILES + PAIR_LOGS)
def test_the_plain_output_shortcut_agrees_with_the_full_classification(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = corpus_lines(path.name)
    fast = parse_lines(lines)
    monkeypatch.setattr(LogParser, "shortcut", False)  # never take it
    full = parse_lines(lines)
    assert fast == full


@given(st.lists(st.sampled_from(LINE_SHAPES), max_size=40))
def test_the_shortcut_agrees_on_generated_logs(lines: list[str]) -> None:
    fast = parse_lines(lines)
    LogParser.shortcut = False  # type: ignore[misc]
    try:
        full = parse_lines(lines)
    finally:
        LogParser.shortcut = True  # type: ignore[misc]
    assert fast == full


# --------------------------------------------------------------------------------------------
# Shapes from real logs (pairs/: do-files with the log Stata wrote running them)

# 20_eth_an_model_checks.log: after a blank or comment-only body line, Stata echoes the next
# lines as `.         cmd` with no number; numbering resumes after the next command.
UNNUMBERED_BODY = [
    ". foreach i of global outcomes {",
    '  2.         di "`i\'"',
    "  3.         ",
    ".         use ./output/analysis_dataset_STSET_`i'.dta, clear",
    "  4.         drop if carehome==1",
    "  5. ",
    ". /* Quietly run models, perform test and store results in local macro==========*/",
    ". ",
    ". stcox i.eth5 ",
    "  6. estat phtest, detail",
    "  7. ",
    ". sts graph, by(eth5)                                             ///",
    ">                         failure yscale(range(0, 0.012))                                 ///",
    ">                         xlabel(30 (10) 80)      graphregion(color(white))",
    "  8. ",
    '. file write tablecontent ("`i\'") _tab  ("`univar_p\'") _n',
    "  9. } //end outcomes",
    "tested",
    "(1,189 observations deleted)",
]


def test_unnumbered_body_echoes_after_a_blank_line_stay_in_the_body() -> None:
    parsed = parse_lines(UNNUMBERED_BODY)
    body = parsed[1:17]
    assert all(line.kind in (K.LOOP_ECHO, K.CONTINUATION) for line in body)
    assert [line.number for line in body if line.kind is K.LOOP_ECHO] == [
        *(2, 3, None, 4, 5, None, None, None, 6, 7, None),
        *(8, None, 9),
    ]
    assert [line.kind for line in parsed[17:]] == [K.OUTPUT, K.OUTPUT]


def test_an_unnumbered_line_is_only_allowed_after_an_empty_body_line() -> None:
    lines = [". foreach v in a {", "  2.     di 1", ". di 2", "  3. }"]
    assert kinds(lines) == [K.ECHO, K.LOOP_ECHO, K.ECHO, K.OUTPUT]


def test_an_unnumbered_comment_spanning_continuations_stays_empty() -> None:
    # 01_eth_cr_analysis_dataset.log: a `/* */` comment over three echoed lines, then the command
    lines = [
        ". foreach var of varlist a b {",
        "  2.                                                 ",
        ".         /* date ranges are applied in python, so presence of date indicates p",
        "> resence of ",
        ">           disease in the correct time frame */ ",
        '.         local newvar =  substr("`var\'", 1, length("`var\'") - 5)',
        "  3.         gen `newvar' = (`var'!=. )",
        "  4.         ",
        ". }",
        "",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed] == [
        K.ECHO,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.CONTINUATION,
        K.CONTINUATION,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.LOOP_ECHO,
        K.BLANK,
    ]
    assert parsed[8].number is None and parsed[8].text == "}"


def test_a_brace_that_arrives_on_a_continuation_line_opens_the_block() -> None:
    # 01_eth_cr_analysis_dataset.log: `foreach var of varlist a ///` … `{` alone on its line
    lines = [
        ". foreach var of varlist   chronic_respiratory_disease ///",
        ">                                                 thiazide_diuretics ///       ",
        ">                                    ",
        ">                                                 {",
        "  2.                                                         ",
        ".                 capture confirm string variable `var'",
        "  3.                 if _rc!=0 {",
        "  4.                         cap assert `var'==.",
        "  5.                 }",
        "  6.         ",
        ".                 else {",
        "  7.                                 replace `var' = `var' + \"-15\"",
        "  8.                 }",
        "  9. }",
        "variable chronic_respiratory_disease was str7 now str10",
    ]
    parsed = parse_lines(lines)
    assert [line.kind for line in parsed[4:14]] == [K.LOOP_ECHO] * 10
    assert parsed[14].kind is K.OUTPUT


def test_a_brace_on_a_continuation_inside_a_comment_opens_nothing() -> None:
    # 01_eth_cr_analysis_dataset.log: commented-out code echoed as one `/*` comment
    lines = [
        ". /*distribution of outcome dates",
        "> foreach i of global outcomes {",
        ">         histogram `i'_date, discrete width(15) frequency ytitle(`i') xtitle(D",
        "> ate) scheme(meta) ",
        "> }",
        "> */",
        ". /* LABEL VARIABLES===========================================================",
        "> =*/",
        '. label var  hh_size "# people in household"',
        "  2. not an echo",
    ]
    assert kinds(lines) == [K.ECHO, *[K.CONTINUATION] * 5, K.ECHO, K.CONTINUATION, K.ECHO, K.OUTPUT]


def test_a_continuation_brace_after_a_line_comment_is_seen() -> None:
    lines = [". foreach v in a b // the list ///", "> c {", "  2. di `v'", "  3. }"]
    assert kinds(lines) == [K.ECHO, K.CONTINUATION, K.LOOP_ECHO, K.LOOP_ECHO]


@pytest.mark.parametrize(
    ("line", "kind", "rc"),
    [
        ("r; t=0.02 10:59:06", K.TIMING, None),
        ("r; t=519.16  9:05:01", K.TIMING, None),
        ("r(1); t=519.16 10:59:06", K.RETURN_CODE, 1),
        ("r(111); t=0.00 10:59:06", K.RETURN_CODE, 111),
        ("r; not a timing", K.OUTPUT, None),
    ],
)
def test_rmsg_lines(line: str, kind: Kind, rc: int | None) -> None:
    parsed = parse_lines([". regress y x", line])[-1]
    assert (parsed.kind, parsed.rc) == (kind, rc)
    if kind is K.RETURN_CODE:
        assert parsed.text == f"r({rc});"


@pytest.mark.parametrize(
    "line",
    ["..................................................--Break--", ".........10....x--Break--"],
)
def test_break_glued_to_progress_dots(line: str) -> None:
    assert parse_lines([". bootstrap: mean x", line, "r(1);"])[1].kind is K.BREAK


def test_break_inside_other_text_is_output() -> None:
    assert parse_lines([". di 1", "not --Break--"])[1].kind is K.OUTPUT


# 01b_eth_cr_stset_sgss: the do-file opens its own log; what our log shows around it.
USER_LOG = [
    ". cap log close",
    "",
    ". log using ./logs/01b_eth_cr_stset_sgss, replace t",
    "-------------------------------------------------------------------------------",
    "      name:  <unnamed>",
    "       log:  /workspace/logs/01b_eth_cr_stset_sgss.log",
    "  log type:  text",
    " opened on:  10 Jan 2021, 10:57:21",
    "",
    ". ",
    '. global outcomes "tested positivetest"',
    "",
    ". * Close log file ",
    ". log close",
    "      name:  <unnamed>",
    "       log:  /workspace/logs/01b_eth_cr_stset_sgss.log",
    "  log type:  text",
    " closed on:  10 Jan 2021, 10:57:21",
    "-------------------------------------------------------------------------------",
    "",
    ". ",
    "end of do-file",
]


def test_a_users_own_log_header_and_footer_mid_run() -> None:
    parsed = parse_lines(USER_LOG)
    assert [line.kind for line in parsed[3:8]] == [K.HEADER] * 5
    assert [line.kind for line in parsed[14:19]] == [K.FOOTER] * 5
    assert not [line for line in parsed if line.kind is K.OUTPUT]


def test_a_header_printed_after_other_output_is_still_a_header() -> None:
    # `log using` inside a loop: the header comes after the body echo, not right after `. `
    lines = [
        ". forvalues i = 1/2 {",
        "  2. log using x`i', text replace",
        "  3. log close",
        "  4. }",
        "-" * 79,
        "      name:  <unnamed>",
        "       log:  /tmp/x1.log",
        "  log type:  text",
        " opened on:  10 Jan 2021, 10:57:21",
        "      name:  <unnamed>",
        "       log:  /tmp/x1.log",
        "  log type:  text",
        " closed on:  10 Jan 2021, 10:57:21",
        "-" * 79,
    ]
    assert kinds(lines)[5:] == [K.HEADER] * 4 + [K.FOOTER] * 5


def test_pair_logs_keep_every_loop_body_in_its_block(corpus_dir: Path) -> None:
    """In the real pairs no line of a loop body is read as a top-level echo or output: every
    `. ` line between a loop's echo and its closing `N. }` is a body line."""
    name = "opensafely__ethnicity-covid-research__20_eth_an_model_checks.log"
    lines = (corpus_dir / "pairs" / name).read_text(encoding="utf-8").split("\n")
    parsed = parse_lines(lines)
    start = next(i for i, line in enumerate(parsed) if line.text.startswith("foreach i of"))
    end = next(i for i, line in enumerate(parsed) if line.raw.startswith(" 26. }"))
    assert {line.kind for line in parsed[start + 1 : end + 1]} == {K.LOOP_ECHO, K.CONTINUATION}
    unnumbered = [
        line for line in parsed[start:end] if line.kind is K.LOOP_ECHO and not line.number
    ]
    assert len(unnumbered) == 16
    assert parsed[end + 1].kind is K.OUTPUT and parsed[end + 1].text == "tested"
