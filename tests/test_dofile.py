"""The do-file lexer: which top-level commands Stata will echo, and exactly where each one sits."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stata_tools.run.dofile import (
    Command,
    DoFileError,
    decode_source,
    scan_commands,
    split_commands,
)

Row = tuple[int, int, str, str]  # (first_line, last_line, head, text)


def rows(source: str) -> list[Row]:
    return [(c.first_line, c.last_line, c.head, c.text) for c in split_commands(source)]


def physical_lines(source: str) -> list[str]:
    lines = re.split(r"\r\n|\r|\n", source) if source else []
    return lines[:-1] if lines and lines[-1] == "" else lines


# --- one rule at a time --------------------------------------------------------------------------

BASICS = [
    pytest.param(
        "sysuse auto\nregress price mpg\n",
        [(1, 1, "sysuse auto", "sysuse auto"), (2, 2, "regress price mpg", "regress price mpg")],
        id="one-command-per-line",
    ),
    pytest.param(
        "sysuse auto\r\n\r\nregress price mpg\r\n",
        [(1, 1, "sysuse auto", "sysuse auto"), (3, 3, "regress price mpg", "regress price mpg")],
        id="crlf",
    ),
    pytest.param(
        "sysuse auto\rregress price mpg",
        [(1, 1, "sysuse auto", "sysuse auto"), (2, 2, "regress price mpg", "regress price mpg")],
        id="old-mac-cr-and-no-final-newline",
    ),
    pytest.param(
        "\n   \n\t\n* note\n  *indented note\n// note\n/* note */\n   summarize   price  \n",
        [(8, 8, "summarize   price", "summarize price")],
        id="blank-and-comment-lines-are-not-commands",
    ),
    pytest.param(
        'display "a    b"   1\n',
        [(1, 1, 'display "a    b"   1', 'display "a    b" 1')],
        id="strings-keep-their-blanks",
    ),
]

LINE_COMMENTS = [
    pytest.param(
        "regress y x // fit\n", [(1, 1, "regress y x // fit", "regress y x")], id="trailing"
    ),
    pytest.param(
        "net from http://example.com/ado\n",
        [(1, 1, "net from http://example.com/ado", "net from http://example.com/ado")],
        id="needs-a-blank-before",
    ),
    pytest.param(
        "display 1 //no space after is still a comment\n",
        [(1, 1, "display 1 //no space after is still a comment", "display 1")],
        id="no-blank-needed-after",
    ),
    pytest.param(
        'display "a // b"\n', [(1, 1, 'display "a // b"', 'display "a // b"')], id="in-string"
    ),
    pytest.param(
        'display `"say "x // y""\' // real\n',
        [(1, 1, 'display `"say "x // y""\' // real', 'display `"say "x // y""\'')],
        id="in-compound-string",
    ),
    pytest.param(
        "display 1 // a /* is not opened here\ndisplay 2\n",
        [
            (1, 1, "display 1 // a /* is not opened here", "display 1"),
            (2, 2, "display 2", "display 2"),
        ],
        id="block-opener-inside-line-comment",
    ),
]

BLOCK_COMMENTS = [
    pytest.param(
        "use /* obtain the data */ census\n",
        [(1, 1, "use /* obtain the data */ census", "use census")],
        id="mid-line",
    ),
    pytest.param(
        "regress y x /* a note\n  that goes on */ , robust\n",
        [(1, 2, "regress y x /* a note", "regress y x , robust")],
        id="spanning-lines-continues-the-command",
    ),
    pytest.param(
        "/* outer /* inner */ still a comment */ display 1\n",
        [(1, 1, "/* outer /* inner */ still a comment */ display 1", "display 1")],
        id="nested",
    ),
    pytest.param(
        "/* a\n/* b */\ndisplay 0\n*/\ndisplay 1\n",
        [(5, 5, "display 1", "display 1")],
        id="nested-across-lines",
    ),
    pytest.param(
        "/***\n\\subsection{Results}\nWe reproduce $\\pi_2$.\n***/\n\nartbin, pr(0.1 0.05)\n",
        [(6, 6, "artbin, pr(0.1 0.05)", "artbin, pr(0.1 0.05)")],
        id="artbin-latex-block",
    ),
    pytest.param(
        'display "/* not a comment */"\n',
        [(1, 1, 'display "/* not a comment */"', 'display "/* not a comment */"')],
        id="in-string",
    ),
    pytest.param(
        "display 1\n/* never closed\ndisplay 2\n",
        [(1, 1, "display 1", "display 1")],
        id="unterminated-runs-to-end-of-file",
    ),
    pytest.param(
        "display 1 /* never closed\ndisplay 2\n",
        [(1, 2, "display 1 /* never closed", "display 1")],
        id="unterminated-after-a-command",
    ),
    pytest.param(
        "/* one */* two */ display 3\n",
        [(1, 1, "/* one */* two */ display 3", "display 3")],
        id="star-slash-star-closes-and-reopens",
    ),
]

STAR_AND_CONTINUATION = [
    pytest.param(
        "* note ///\ndisplay 1\ndisplay 2\n",
        [(3, 3, "display 2", "display 2")],
        id="star-comment-continued-swallows-the-next-line",
    ),
    pytest.param(
        "regress y x, ///\n    robust\n",
        [(1, 2, "regress y x, ///", "regress y x, robust")],
        id="triple-slash",
    ),
    pytest.param(
        "regress y x /// the model\n  , robust // done\n",
        [(1, 2, "regress y x /// the model", "regress y x , robust")],
        id="triple-slash-rest-is-comment",
    ),
    pytest.param(
        "ky_sim, nobs(400) /// \n\t\tmean_e($mean_e) /// \n\t\tclear\n\t\t\n",
        [(1, 3, "ky_sim, nobs(400) ///", "ky_sim, nobs(400) mean_e($mean_e) clear")],
        id="ky-example-options",
    ),
    pytest.param(
        '////////////\n///\n/// Kapteyn-Ypma = "KY"\n///\n\n/// SET UP\n\nglobal mean_e  12.283\n',
        [(8, 8, "global mean_e  12.283", "global mean_e 12.283")],
        id="ky-example-slash-banner",
    ),
    pytest.param(
        "/// a heading\nglobal x 1\n",
        [(1, 2, "/// a heading", "global x 1")],
        id="triple-slash-line-joins-the-next-command",
    ),
    pytest.param(
        "display 1 ///\n",
        [(1, 1, "display 1 ///", "display 1")],
        id="continued-at-end-of-file",
    ),
    pytest.param(
        'display "a /// b"\ndisplay 2\n',
        [(1, 1, 'display "a /// b"', 'display "a /// b"'), (2, 2, "display 2", "display 2")],
        id="triple-slash-in-string",
    ),
]

DELIMIT = [
    pytest.param(
        "#delimit ;\nregress y x\n  , robust;\nsummarize; describe;\n#delimit cr\ndisplay 1\n",
        [
            (2, 3, "regress y x", "regress y x , robust"),
            (4, 4, "summarize; describe;", "summarize"),
            (4, 4, "describe;", "describe"),
            (6, 6, "display 1", "display 1"),
        ],
        id="semicolons-end-commands",
    ),
    pytest.param(
        '#d ;\ndisplay "a;b";\n#delim cr\n',
        [(2, 2, 'display "a;b";', 'display "a;b"')],
        id="abbreviated-and-semicolon-in-string",
    ),
    pytest.param(
        "#delimit;\n* a comment ;\nregress y x // fit ;\n  , robust /* ; */;\n",
        [(3, 4, "regress y x // fit ;", "regress y x , robust")],
        id="comments-still-work",
    ),
    pytest.param(
        "#delimit ;\nlocal lvstk bullock mcow buffalo\n        chicken duck other;\n#delimit cr\n",
        [
            (
                2,
                3,
                "local lvstk bullock mcow buffalo",
                "local lvstk bullock mcow buffalo chicken duck other",
            )
        ],
        id="real-log-shape",
    ),
    pytest.param(
        "#delimit ;\nforeach v in a b {\n  display `v';\n};\n",
        [(2, 4, "foreach v in a b {", "foreach v in a b { display `v' }")],
        id="block-opens-without-semicolon",
    ),
    pytest.param(
        "#delimit ;\nforeach v in a b {;\n  display `v';\n}\n#delimit cr\ndisplay 2\n",
        [
            (2, 4, "foreach v in a b {;", "foreach v in a b { display `v' }"),
            (6, 6, "display 2", "display 2"),
        ],
        id="brace-semicolon-and-lone-close",
    ),
    pytest.param(
        "#delimit ;\ndisplay 1\n",
        [(2, 2, "display 1", "display 1")],
        id="unterminated-at-end-of-file",
    ),
    pytest.param(
        "#delimit ;\nregress y x\n#delimit cr\ndisplay 2\n",
        [(2, 2, "regress y x", "regress y x"), (4, 4, "display 2", "display 2")],
        id="directive-ends-an-open-command",
    ),
    pytest.param(
        "/*\n#delimit ;\n*/\ndisplay 1\ndisplay 2\n",
        [(4, 4, "display 1", "display 1"), (5, 5, "display 2", "display 2")],
        id="directive-inside-comment-is-ignored",
    ),
]

BLOCKS = [
    pytest.param(
        "forvalues i = 1/3 {\n    display `i'\n}\ndisplay 4\n",
        [
            (1, 3, "forvalues i = 1/3 {", "forvalues i = 1/3 { display `i' }"),
            (4, 4, "display 4", "display 4"),
        ],
        id="forvalues",
    ),
    pytest.param(
        "foreach f in a b {\n  do `f'.mata\n  while `i' < 3 {\n    local ++i\n    }\n  }\n",
        [
            (
                1,
                6,
                "foreach f in a b {",
                "foreach f in a b { do `f'.mata; while `i' < 3 { local ++i } }",
            )
        ],
        id="nested-with-indented-close",
    ),
    pytest.param(
        "if `x' {\n  display 1\n} else {\n  display 2\n}\ndisplay 3\n",
        [
            (1, 5, "if `x' {", "if `x' { display 1 } else { display 2 }"),
            (6, 6, "display 3", "display 3"),
        ],
        id="else-on-the-closing-line",
    ),
    pytest.param(
        "if `x' {\n  display 1\n}\n// why\nelse if `y' {\n  display 2\n}\nelse display 3\n",
        [(1, 8, "if `x' {", "if `x' { display 1 } else if `y' { display 2 } else display 3")],
        id="else-on-following-lines",
    ),
    pytest.param(
        "if `x' display 1\nelse display 2\n",
        [
            (1, 1, "if `x' display 1", "if `x' display 1"),
            (2, 2, "else display 2", "else display 2"),
        ],
        id="one-line-if-else-are-two-commands",
    ),
    pytest.param(
        "quietly {\n  regress y x\n}\nnoisily {\n  display 1\n}\ncapture {\n  drop z\n}\n"
        "capture noisily {\n  drop w\n}\n",
        [
            (1, 3, "quietly {", "quietly { regress y x }"),
            (4, 6, "noisily {", "noisily { display 1 }"),
            (7, 9, "capture {", "capture { drop z }"),
            (10, 12, "capture noisily {", "capture noisily { drop w }"),
        ],
        id="prefix-blocks",
    ),
    pytest.param(
        'if "`x\'" == "{" {\n  display "}"\n}\n',
        [(1, 3, 'if "`x\'" == "{" {', 'if "`x\'" == "{" { display "}" }')],
        id="braces-in-strings-do-not-count",
    ),
    pytest.param(
        "if ${debug} {\n  display ${x}\n}\n",
        [(1, 3, "if ${debug} {", "if ${debug} { display ${x} }")],
        id="global-macro-braces",
    ),
    pytest.param(
        "forvalues i = 1/2 {\n  * a comment { inside\n  /* { */\n  display `i' // {\n}\n",
        [(1, 5, "forvalues i = 1/2 {", "forvalues i = 1/2 { display `i' }")],
        id="braces-in-comments-do-not-count",
    ),
    pytest.param(
        "capture program drop hello\nprogram define hello, rclass\n  syntax [anything]\n"
        "  * a comment\n  if 1 {\nend\nprogram hi\n  display 1\nend\n",
        [
            (1, 1, "capture program drop hello", "capture program drop hello"),
            (
                2,
                6,
                "program define hello, rclass",
                "program define hello, rclass; syntax [anything]; if 1 { end",
            ),
            (7, 9, "program hi", "program hi; display 1; end"),
        ],
        id="program-define-ends-at-first-end",
    ),
    pytest.param(
        "mata:\n  real scalar f(real scalar x) {\n    *p = x\n    return(x)\n  }\nend\n"
        "mata: mata mlib index\nmata\nx = 1\nend\n",
        [
            (
                1,
                6,
                "mata:",
                "mata: real scalar f(real scalar x) { *p = x; return(x) }; end",
            ),
            (7, 7, "mata: mata mlib index", "mata: mata mlib index"),
            (8, 10, "mata", "mata x = 1; end"),
        ],
        id="mata",
    ),
    pytest.param(
        "python:\nimport sys\nx = 7 // 2  # floor /* not Stata */\nend\npython: print(1)\n",
        [
            (1, 4, "python:", "python: import sys; x = 7 // 2 # floor /* not Stata */; end"),
            (5, 5, "python: print(1)", "python: print(1)"),
        ],
        id="python",
    ),
    pytest.param(
        'input str10 name price\n"apple" 1\n"pear" 2\nend\nlist\n',
        [
            (1, 4, "input str10 name price", 'input str10 name price; "apple" 1; "pear" 2; end'),
            (5, 5, "list", "list"),
        ],
        id="input",
    ),
    pytest.param(
        'foreach f in a b {\n  mata:\n  x = "}"\n  }\n  end\n}\n',
        [(1, 6, "foreach f in a b {", 'foreach f in a b { mata: x = "}" }; end }')],
        id="mata-inside-a-loop-ignores-braces",
    ),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    BASICS + LINE_COMMENTS + BLOCK_COMMENTS + STAR_AND_CONTINUATION + DELIMIT + BLOCKS,
)
def test_split_commands(source: str, expected: list[Row]) -> None:
    assert rows(source) == expected


def test_command_fields() -> None:
    source = (
        "sysuse auto\r\nforeach v in price mpg {\r\n  summarize `v'\r\n}\r\n#delimit ;\nx 1; y 2;\n"
    )
    commands = split_commands(source)
    assert [c.index for c in commands] == [1, 2, 3, 4]
    assert [c.name for c in commands] == ["sysuse", "foreach", "x", "y"]
    assert [c.is_block for c in commands] == [False, True, False, False]
    assert [c.column for c in commands] == [0, 0, 0, 5]
    assert commands[1].lines == ("foreach v in price mpg {", "  summarize `v'", "}")
    assert commands[3].lines == ("x 1; y 2;",)
    assert commands[3].head == "y 2;"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("mata: x = 1", "mata"),
        ("capture noisily { display 1 }", "capture"),
        ("regress y x, robust", "regress"),
        ("by foreign: summarize", "by"),
        ("local x=1", "local"),
        ('"odd"', ""),
    ],
)
def test_name_is_the_command_word(text: str, name: str) -> None:
    assert Command(1, 1, 1, (text,), text, False).name == name


def test_column_is_zero_unless_text_precedes_the_command_on_its_line() -> None:
    commands = split_commands("#delimit ;\n    regress y x;\n/* c */ summarize; describe;\n")
    assert [(c.column, c.head) for c in commands] == [
        (0, "regress y x;"),
        (8, "summarize; describe;"),
        (19, "describe;"),
    ]


def test_long_unclosed_opener_is_shortened_in_the_message() -> None:
    with pytest.raises(DoFileError, match=r"^line 2: `program define x{44}…` is never closed"):
        split_commands("display 1\nprogram define " + "x" * 80 + "\n")


def test_head_of_a_command_built_without_lines_is_empty() -> None:
    assert Command(1, 1, 1, (), "x", False).head == ""


def test_empty_and_comment_only_sources_have_no_commands() -> None:
    assert split_commands("") == []
    assert split_commands("\n\r\n\r") == []
    assert split_commands("* only\n// comments\n/* here */\n#delimit ;\n#delimit cr\n") == []


def test_delimiter_resets_for_every_text() -> None:
    assert len(split_commands("#delimit ;\n")) == 0
    assert rows("display 1\ndisplay 2\n") == [
        (1, 1, "display 1", "display 1"),
        (2, 2, "display 2", "display 2"),
    ]


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        pytest.param("display 1\n}\n", 2, "never opened", id="stray-close"),
        pytest.param("foreach x in a {\n}\n}\n", 3, "never opened", id="one-close-too-many"),
        pytest.param("} else {\n", 1, "never opened", id="else-without-if"),
        pytest.param("display 1\nforeach x in a {\n  display 1\n", 2, "never closed", id="loop"),
        pytest.param(
            "forvalues i = 1/2 {\n  if 1 {\n    display 1\n}\n", 1, "never closed", id="nested"
        ),
        pytest.param("program define foo\n  display 1\n", 1, "`program define foo`", id="program"),
        pytest.param("\nmata:\nx = 1\n", 2, "never closed by `end`", id="mata"),
        pytest.param("python:\nprint(1)\n", 1, "never closed by `end`", id="python"),
        pytest.param("input x\n1\n", 1, "never closed by `end`", id="input"),
        pytest.param("#delimit ;\nwhile 1 {;\n  display 1;\n", 2, "never closed", id="delimit"),
    ],
)
def test_rejected_do_files_name_the_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(DoFileError) as caught:
        split_commands(source)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


# --- every problem, with its line (scan_commands) ------------------------------------------------


def problems(source: str) -> list[tuple[int, str, bool]]:
    return [(p.line, p.kind, p.fatal) for p in scan_commands(source)[1]]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("display 1\n/* never closed\ndisplay 2\n", [(2, "unclosed-comment", False)]),
        pytest.param("/* a */ x\n/* b /* nested */\ny\n", [(2, "unclosed-comment", False)]),
        pytest.param('display "abc\ndisplay 2\n', [(1, "unclosed-string", False)]),
        pytest.param('display `"a "b" c\n', [(1, "unclosed-string", False)]),
        pytest.param("* it's \"quoted\ndisplay 1\n", [], id="star-comment-strings-do-not-count"),
        pytest.param('display "a" // "b\n', [], id="line-comment-strings-do-not-count"),
        pytest.param("#delimit ;\ndisplay 1;\ndisplay\n  2\n", [(3, "open-statement", False)]),
        pytest.param("#delimit ;\ndisplay 1\n#delimit cr\n", [(2, "open-statement", False)]),
        pytest.param("#delimit ;\ndisplay 1;\n* a comment\n", [], id="open-comment-is-harmless"),
        pytest.param(
            "display 1\n}\ndisplay 2\n}\n", [(2, "stray-brace", True), (4, "stray-brace", True)]
        ),
        pytest.param(
            "foreach a in x {\n  if 1 {\n    display 1\n",
            [(2, "unclosed-brace", True), (1, "unclosed-brace", True)],
        ),
        pytest.param("program define p\n  display 1\n", [(1, "unclosed-end", True)]),
        pytest.param(
            "program define p\n  if 1 {\n    display 1\nend\ndisplay 2\n",
            [(2, "unclosed-brace", False)],
            id="brace-left-open-in-a-program-body",
        ),
        pytest.param(
            "program define p\n  display 1\n  }\nend\n",
            [(3, "stray-brace", False)],
            id="stray-brace-in-a-program-body",
        ),
    ],
)
def test_scan_commands_reports_each_problem_with_its_line(
    source: str, expected: list[tuple[int, str, bool]]
) -> None:
    assert problems(source) == expected


def test_scanning_goes_on_past_a_problem() -> None:
    source = "display 1\n}\nforeach x in a {\n  display `x'\n}\ndisplay \"open\n} else {\n  d\n}\n"
    commands, found = scan_commands(source)
    assert [(c.first_line, c.last_line) for c in commands] == [(1, 1), (3, 5), (6, 6), (7, 9)]
    assert [(p.line, p.kind) for p in found] == [
        (2, "stray-brace"),
        (6, "unclosed-string"),
        (7, "stray-brace"),
    ]
    assert found[0].message == "`}` closes a block that was never opened"


def test_problems_in_a_program_body_are_not_fatal() -> None:
    source = "program define p\n  if 1 {\nend\ndisplay 2\n"
    assert [c.head for c in split_commands(source)] == ["program define p", "display 2"]
    (problem,) = scan_commands(source)[1]
    assert problem.message == "`{` is never closed by a `}` before `end` on line 3"


def test_a_python_block_is_not_lexed_for_problems() -> None:
    assert problems('python:\nprint("it\'s")  # {\nend\n') == []


# --- a realistic do-file -------------------------------------------------------------------------

REALISTIC = """\
* analysis.do — a realistic do-file
version 18
clear all
set more off
capture log close _all

/*---------------------------------------
   Setup: globals and data
---------------------------------------*/
global root "C:/data"   // where the data live
use "$root/auto.dta", clear

capture program drop summarize_by
program define summarize_by, rclass
    syntax varlist [, by(varname)]
    * body comment
    foreach v of varlist `varlist' {
        summarize `v' if `by' == 1
    }
end

regress price mpg weight ///
    foreign, ///   options follow
    vce(robust)

forvalues i = 1/3 {
    quietly {
        generate x`i' = `i' * price /* scale */
    }
    if `i' == 2 {
        display "two"
    } else {
        display "not two: {`i'}"
    }
}

#delimit ;
twoway (scatter price mpg)
       (lfit price mpg),
       title("Price; mileage")   // a ; in a comment
       ;
summarize price; describe;
#delimit cr

mata:
    real scalar f(real scalar x) {
        return(x * 2)
    }
end

display "done" // finished
"""

REALISTIC_ROWS = [
    (2, 2, "version 18", "version 18"),
    (3, 3, "clear all", "clear all"),
    (4, 4, "set more off", "set more off"),
    (5, 5, "capture log close _all", "capture log close _all"),
    (10, 10, 'global root "C:/data"   // where the data live', 'global root "C:/data"'),
    (11, 11, 'use "$root/auto.dta", clear', 'use "$root/auto.dta", clear'),
    (13, 13, "capture program drop summarize_by", "capture program drop summarize_by"),
    (
        14,
        20,
        "program define summarize_by, rclass",
        "program define summarize_by, rclass; syntax varlist [, by(varname)]; "
        "foreach v of varlist `varlist' { summarize `v' if `by' == 1 }; end",
    ),
    (22, 24, "regress price mpg weight ///", "regress price mpg weight foreign, vce(robust)"),
    (
        26,
        35,
        "forvalues i = 1/3 {",
        "forvalues i = 1/3 { quietly { generate x`i' = `i' * price }; "
        'if `i\' == 2 { display "two" } else { display "not two: {`i\'}" } }',
    ),
    (
        38,
        41,
        "twoway (scatter price mpg)",
        'twoway (scatter price mpg) (lfit price mpg), title("Price; mileage")',
    ),
    (42, 42, "summarize price; describe;", "summarize price"),
    (42, 42, "describe;", "describe"),
    (45, 49, "mata:", "mata: real scalar f(real scalar x) { return(x * 2) }; end"),
    (51, 51, 'display "done" // finished', 'display "done"'),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_realistic_do_file(newline: str) -> None:
    source = REALISTIC.replace("\n", newline)
    commands = split_commands(source)
    assert [(c.first_line, c.last_line, c.head, c.text) for c in commands] == REALISTIC_ROWS
    assert [c.name for c in commands] == [
        "version", "clear", "set", "capture", "global", "use", "capture", "program", "regress",
        "forvalues", "twoway", "summarize", "describe", "mata", "display",
    ]  # fmt: skip
    assert [c.index for c in commands if c.is_block] == [8, 10, 14]
    assert commands[12].column == len("summarize price; ")
    assert commands[9].lines[-1] == "}" and commands[9].lines[0] == "forvalues i = 1/3 {"


# --- the heads are what real logs echo ------------------------------------------------------------

_ECHO = re.compile(r"(?:\. |> |\s+\d+\. )(.*)")


def echoed_source(log_lines: list[str]) -> list[str]:
    """Rebuild do-file source from a log's echoes: `. cmd`, `> more`, and `  2. body` lines."""
    return [m.group(1) for line in log_lines if (m := _ECHO.fullmatch(line))]


def test_heads_match_the_echoes_of_a_real_log(corpus_dir: Path) -> None:
    log = corpus_dir / "logs" / "tpcopeland__Stata-Tools__console_getting_started.log"
    source = "\n".join(echoed_source(log.read_text().splitlines()))
    heads = [c.head for c in split_commands(source)]
    assert heads == [
        "noisily pygrid, id(id) start(window_start) end(window_end) ///",
        "format person_years %9.3f",
        "noisily list id cohort period period_start period_stop person_years, ///",
        "noisily return list",
        "log close getting_started",
    ]
    assert split_commands(source)[0].text.endswith("axis(calendar) keep(cohort) noisily")


def test_loop_from_a_real_log_is_one_command(corpus_dir: Path) -> None:
    log = corpus_dir / "logs" / "labordynamicsinstitute__ssc-mirror__mcmclinear.log"
    lines = log.read_text().splitlines()
    before_nested_do = lines[: lines.index("  4.   }") + 1]
    commands = split_commands("\n".join(echoed_source(before_nested_do)))
    assert [(c.head, c.is_block, len(c.lines)) for c in commands] == [
        ("version 12.0", False, 1),
        ("mata: mata mlib create lmcmclinear, replace", False, 1),
        ("foreach f in mcmclinear_reg mcmclinear_mixed {", True, 4),
    ]


# --- decode_source --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        pytest.param('display "café"\n'.encode(), 'display "café"\n', "utf-8", id="utf-8"),
        pytest.param(b"\xef\xbb\xbfdisplay 1\r\n", "display 1\r\n", "utf-8-sig", id="utf-8-bom"),
        pytest.param(b'display "caf\xe9"', 'display "café"', "cp1252", id="cp1252-e-acute"),
        pytest.param(b"* it\x92s old\n", "* it\u2019s old\n", "cp1252", id="cp1252-quote"),
        pytest.param(b"x \xb3 \x81", "x \xb3 \x81", "latin-1", id="latin-1-when-cp1252-fails"),
        pytest.param(b"\xef\xbb\xbfcaf\xe9", "café", "cp1252", id="bom-then-not-utf-8"),
        pytest.param(b"", "", "utf-8", id="empty"),
    ],
)
def test_decode_source(data: bytes, text: str, encoding: str) -> None:
    assert decode_source(data) == (text, encoding)


def test_decoded_cp1252_file_splits() -> None:
    text, _ = decode_source(b'display "caf\xe9"\r\n* it\x92s\r\ndisplay 2\r\n')
    assert rows(text) == [
        (1, 1, 'display "café"', 'display "café"'),
        (3, 3, "display 2", "display 2"),
    ]


# --- properties ----------------------------------------------------------------------------------

FRAGMENTS = [
    "display 1", "x", " ", "\t", "{", "}", "} else {", "else {", "if 1 {", "foreach i in a {",
    "/*", "*/", "//", "///", "*", '"', '`"', "\"'", "`", "'", ";", "$", "#delimit ;",
    "#delimit cr", "#d;", "mata:", "mata", "python:", "end", "input x", "program define p",
    "capture program drop p", "quietly {", "é", "\u2028", "\x0c",
]  # fmt: skip
STATA_BLANKS = " \t\f\v"  # Unicode spaces are not blanks to Stata
NEWLINES = ["\n", "\r\n", "\r"]
stata_like = st.lists(st.sampled_from(FRAGMENTS + NEWLINES * 4), max_size=60).map("".join)
any_text = st.one_of(stata_like, st.text(max_size=200))


def check_invariants(source: str) -> list[Command]:
    lines = physical_lines(source)
    try:
        commands = split_commands(source)
    except DoFileError as error:
        assert error.line is None or 1 <= error.line <= len(lines)
        return []
    assert [c.index for c in commands] == list(range(1, len(commands) + 1))
    semicolons = "#d" in source
    for previous, command in itertools.pairwise(commands):
        assert previous.last_line <= command.first_line
        assert semicolons or previous.last_line < command.first_line
    for command in commands:
        assert 1 <= command.first_line <= command.last_line <= len(lines)
        assert command.lines == tuple(lines[command.first_line - 1 : command.last_line])
        assert command.text and command.text == command.text.strip(STATA_BLANKS)
        assert not command.text.startswith(("*", "}"))
        assert "\n" not in command.text and "\r" not in command.text
        assert command.head == command.lines[0][command.column :].strip()
    return commands


@settings(max_examples=500, deadline=None)
@given(any_text)
def test_any_text_gives_commands_or_a_do_file_error(source: str) -> None:
    check_invariants(source)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([f for f in FRAGMENTS if f != "\u2028"] + ["\n"] * 4)).map("".join))
def test_line_endings_do_not_change_the_commands(source: str) -> None:
    def shape(text: str) -> list[tuple[int, int, str, str, bool]] | str:
        try:
            return [
                (c.first_line, c.last_line, c.head, c.text, c.is_block)
                for c in split_commands(text)
            ]
        except DoFileError as error:
            return str(error)

    assert shape(source) == shape(source.replace("\n", "\r\n")) == shape(source.replace("\n", "\r"))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_decode_source_accepts_any_bytes(data: bytes) -> None:
    text, encoding = decode_source(data)
    assert isinstance(text, str)
    assert encoding in {"utf-8", "utf-8-sig", "cp1252", "latin-1"}
    assert text.encode("utf-8" if encoding.startswith("utf-8") else encoding) == data.removeprefix(
        b"\xef\xbb\xbf"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=100))
def test_utf8_text_round_trips(text: str) -> None:
    bom = text.startswith("\ufeff")
    expected = (text[1:], "utf-8-sig") if bom else (text, "utf-8")
    assert decode_source(text.encode("utf-8")) == expected


@settings(max_examples=500, deadline=None)
@given(any_text)
def test_scan_commands_never_raises_and_agrees_with_split_commands(source: str) -> None:
    commands, found = scan_commands(source)
    lines = physical_lines(source)
    assert all(1 <= problem.line <= max(len(lines), 1) for problem in found)
    try:
        assert split_commands(source) == commands
        assert not any(problem.fatal for problem in found)
    except DoFileError as error:
        first = next(problem for problem in found if problem.fatal)
        assert str(error) == f"line {first.line}: {first.message}"
