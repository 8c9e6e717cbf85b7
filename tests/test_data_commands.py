from __future__ import annotations

import pytest

from stata_tools.inspection.data_commands import (
    DataRequestError,
    condition,
    list_command,
    summarize_command,
    varlist,
)


def test_varlists_accept_names_wildcards_and_ranges() -> None:
    assert varlist("price  mpg m* rep? headroom-trunk _all") == (
        "price mpg m* rep? headroom-trunk _all"
    )
    assert varlist(None) == varlist("  ") == ""


@pytest.mark.parametrize("bad", ["price; shell ls", "`x'", "$G", "1abc", "a.b", "price,"])
def test_varlists_refuse_anything_else(bad: str) -> None:
    with pytest.raises(DataRequestError):
        varlist(bad)


@pytest.mark.parametrize("bad", ["x==1\nshell ls", "`=1'", "$G > 1", "x /* y */", "x // y"])
def test_conditions_refuse_lines_macros_and_comments(bad: str) -> None:
    with pytest.raises(DataRequestError, match="may not contain"):
        condition(bad)


def test_condition_drops_a_leading_if() -> None:
    assert condition('if make == "Honda Civic"') == 'make == "Honda Civic"'


def test_list_pages_over_the_data_without_changing_it() -> None:
    code = list_command("make price", None, 50, 25)
    assert code.splitlines()[-1] == "list make price in 51/`=min(_N, 75)', abbreviate(16)"
    with pytest.raises(DataRequestError, match="count must be between 1 and 1000"):
        list_command(None, None, 0, 0)
    with pytest.raises(DataRequestError, match="cannot be negative"):
        list_command(None, None, -1, 5)


def test_a_condition_pages_over_the_matching_rows_in_a_scratch_frame() -> None:
    lines = list_command(None, "foreign == 1", 10, 5).splitlines()
    assert lines[1] == "frame put _all if foreign == 1, into(__st_page)"
    assert lines[-2] == "frame __st_page: list in 11/`=min(r(N), 15)', abbreviate(16)"
    assert lines[-1] == "frame drop __st_page"
    assert not [line for line in lines if line.split()[0] in ("keep", "drop", "preserve")]


def test_summarize_command() -> None:
    assert summarize_command(None) == "summarize"
    assert summarize_command("price mpg") == "summarize price mpg"
