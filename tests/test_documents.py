from __future__ import annotations

from stata_tools.safety.documents import dyndoc_code, markstat_code


def test_dyndoc_keeps_the_code_of_dd_do_and_dd_display_on_their_own_lines() -> None:
    source = (
        "# Title\n<<dd_do>>\nsysuse auto\nshell ls\n<</dd_do>>\n"
        "Mean: <<dd_display: %4.2f r(mean)>>\n"
    )
    lines = dyndoc_code(source).split("\n")
    assert len(lines) == len(source.split("\n"))  # line numbers are the document's
    assert [line.strip() for line in lines[1:4]] == ["", "sysuse auto", "shell ls"]
    assert lines[5] == "display %4.2f r(mean)"
    assert lines[0].strip() == "" and lines[4].strip() == ""


def test_an_unclosed_dd_do_runs_to_the_end() -> None:
    assert dyndoc_code("<<dd_do>>\nerase x.dta").split("\n")[1].strip() == "erase x.dta"


def test_markstat_keeps_fenced_indented_and_inline_stata_and_opens_mata() -> None:
    source = (
        "Text\n"
        "```s\n"
        "sysuse auto\n"
        "```\n"
        "\n"
        "    regress price mpg\n"
        "The mean is `s r(mean)`.\n"
        "```m\n"
        'unlink("x")\n'
        "```\n"
        "```python\n"
        "print(1)\n"
        "```\n"
    )
    assert markstat_code(source).split("\n") == [
        "",
        "",
        "sysuse auto",
        "",
        "",
        "    regress price mpg",
        "display r(mean)",
        "mata",
        'unlink("x")',
        "end",
        "",
        "",
        "",
        "",
    ]
