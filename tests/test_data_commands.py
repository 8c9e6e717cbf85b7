from __future__ import annotations

import pytest

from stata_tools.data_commands import (
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


def test_list_pages_without_changing_the_data() -> None:
    code = list_command("make price", "foreign == 1", 50, 25)
    assert code.splitlines()[-1] == (
        "list make price if foreign == 1 in 51/`=min(_N, 75)', abbreviate(16)"
    )
    assert "preserve" not in code and "keep" not in code and "drop" not in code
    with pytest.raises(DataRequestError, match="count must be between 1 and 1000"):
        list_command(None, None, 0, 0)
    with pytest.raises(DataRequestError, match="cannot be negative"):
        list_command(None, None, -1, 5)


def test_summarize_command() -> None:
    assert summarize_command(None) == "summarize"
    assert summarize_command("price mpg") == "summarize price mpg"
