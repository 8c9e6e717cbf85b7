"""The pure codebook: varlists expanded as Stata does, the two layouts, search patterns."""

from __future__ import annotations

import pytest

from stata_tools.inspection.codebook import (
    Codebook,
    CodebookError,
    VariableEntry,
    VariableFacts,
    check_page,
    check_varlist,
    codebook_from_read,
    expand_varlist,
    format_number,
    freeze_labels,
    render_codebook,
    render_search,
    search,
    stata_time,
)

AUTO = [
    "make",
    "price",
    "mpg",
    "rep78",
    "headroom",
    "trunk",
    "weight",
    "length",
    "turn",
    "displacement",
    "gear_ratio",
    "foreign",
]


@pytest.mark.parametrize(
    ("varlist", "expected"),
    [
        (None, AUTO),
        ("  ", AUTO),
        ("_all", AUTO),
        ("rep78 make", ["rep78", "make"]),
        ("t*", ["trunk", "turn"]),
        ("*t", ["weight", "displacement"]),
        ("?pg", ["mpg"]),
        ("mpg-headroom", ["mpg", "rep78", "headroom"]),
        ("mpg - rep", ["mpg", "rep78"]),
        ("disp", ["displacement"]),
        ("gear~", ["gear_ratio"]),
        ("make make m*", ["make", "mpg"]),
    ],
)
def test_varlists_expand_as_stata_does(varlist: str | None, expected: list[str]) -> None:
    assert expand_varlist(varlist, AUTO) == expected


@pytest.mark.parametrize(
    ("varlist", "message"),
    [
        ("nosuch", "variable nosuch not found"),
        ("Price", "variable Price not found; did you mean price"),
        ("wieght", "did you mean weight"),
        ("t", r"t is an ambiguous abbreviation \(trunk, turn\)"),
        ("t~", "t~ is an ambiguous abbreviation"),
        ("z*", "variable z\\* not found"),
        ("weight-mpg", "weight comes after mpg in the data"),
        ("price;shell", "is not a variable name or pattern"),
        ("`x'", "is not a variable name or pattern"),
    ],
)
def test_bad_varlists_say_what_is_wrong(varlist: str, message: str) -> None:
    with pytest.raises(CodebookError, match=message):
        expand_varlist(varlist, AUTO)


def test_no_variables_at_all() -> None:
    assert expand_varlist(None, []) == []
    with pytest.raises(CodebookError, match="no variables defined"):
        expand_varlist("x", [])


def test_checked_varlist_is_normalised_for_stata() -> None:
    assert check_varlist(" mpg  -  rep78   t* ") == "mpg-rep78 t*"
    assert check_varlist(None) == ""
    with pytest.raises(CodebookError, match="use wildcards"):
        check_varlist("x " * 10_001)


@pytest.mark.parametrize(
    ("start", "count", "message"),
    [(-1, 5, "cannot be negative"), (0, 0, "between 1 and 500"), (0, 501, "between 1 and 500")],
)
def test_page_is_checked(start: int, count: int, message: str) -> None:
    with pytest.raises(CodebookError, match=message):
        check_page(start, count)


def test_numbers_as_a_codebook_shows_them() -> None:
    assert format_number(15906.0, "int") == "15906"
    assert format_number(3.5799999237060547, "float") == "3.58"
    assert format_number(2.190000057220459, "double") == "2.190000057"
    assert format_number(-0.5) == "-0.5"
    assert format_number(float("nan")) == "."


def facts(name: str, vtype: str = "int", **kw: object) -> VariableFacts:
    base: dict[str, object] = {
        "format": "%8.0g",
        "label": "",
        "value_label": None,
        "n_missing": 0,
        "n_unique": 3,
        "minimum": 1.0,
        "maximum": 3.0,
    }
    return VariableFacts(name=name, type=vtype, **(base | kw))  # type: ignore[arg-type]


def book(*variables: VariableFacts, selected: int | None = None, start: int = 0) -> Codebook:
    return Codebook(
        source="mem",
        n_obs=10,
        n_vars=40,
        selected=len(variables) if selected is None else selected,
        start=start,
        variables=variables,
        value_labels=freeze_labels({"yn": {0: "No", 1: "Yes"}}),
    )


def test_detailed_layout_for_a_few_variables() -> None:
    text = render_codebook(
        book(
            facts("x", label="Answer", value_label="yn", n_missing=2, n_unique=2, maximum=1.0),
            facts("s", "str5", format="%5s", minimum=None, maximum=None, n_missing=1),
            facts("z", value_label="gone", minimum=None, maximum=None, n_missing=10, n_unique=0),
        )
    )
    assert text.splitlines() == [
        "mem: 10 observations, 40 variables",
        "",
        "x  Answer",
        "  type: numeric (int), format %8.0g, value label yn",
        "  range: [1, 1]   unique values: 2   missing .: 2/10",
        '  labels: 0 "No", 1 "Yes"',
        "",
        "s  (no variable label)",
        "  type: string (str5), format %5s",
        '  unique values: 3   missing "": 1/10',
        "",
        "z  (no variable label)",
        "  type: numeric (int), format %8.0g, value label gone (undefined)",
        "  range: (all missing)   unique values: 0   missing .: 10/10",
    ]


def test_compact_layout_above_twenty_variables_with_the_next_page() -> None:
    many = [facts(f"v{i}", n_unique=i, label=f"Item {i}") for i in range(21)]
    text = render_codebook(book(*many, selected=60, start=0)).splitlines()
    assert text[1] == "Variables 1-21 of the 60 asked for"
    assert text[3].split() == [
        "Variable",
        "Type",
        "Unique",
        "Missing",
        "Range",
        "Value",
        "label",
        "Label",
    ]
    assert text[4].split() == ["v0", "int", "0", "0", "[1,", "3]", "Item", "0"]
    assert text[-1] == "39 more: ask again with start=21"
    forced = render_codebook(book(facts("a"), facts("b", value_label="yn")), compact=True)
    assert forced.splitlines()[-2:] == ["Value labels:", '  yn: 0 "No", 1 "Yes"']


ENTRIES = (
    VariableEntry("inc_hh", "double", "Household income", None),
    VariableEntry("income_p", "double", "Personal income", None),
    VariableEntry("region", "byte", "Region of residence", "reg"),
    VariableEntry("q1_cinc", "byte", "", None),
)
SETS = freeze_labels({"reg": {1: "North", 2: "South", 3: "Inner city"}})


def names(pattern: str, labels: bool = False) -> list[str]:
    return [m.variable.name for m in search(ENTRIES, pattern, SETS if labels else None)]


def test_plain_text_is_found_anywhere_case_insensitively() -> None:
    assert names("INC") == ["inc_hh", "income_p", "q1_cinc"]
    assert names("household") == ["inc_hh"]
    assert names("north") == []
    assert names("north", labels=True) == ["region"]


def test_a_glob_matches_whole_names_and_label_words() -> None:
    assert names("inc*") == ["inc_hh", "income_p"]
    assert names("*inc") == ["q1_cinc"]
    assert names("in*", labels=True) == ["inc_hh", "income_p", "region"]
    where = search(ENTRIES, "in*", SETS)[2].where
    assert where == ('value label reg: 3 "Inner city"',)
    assert names("reg?on") == ["region"]


def test_search_text_counts_and_hints() -> None:
    matches = search(ENTRIES, "income", None)
    text = render_search(matches, "income", source="mem", searched=4, value_labels=False)
    assert text.splitlines()[0] == 'mem: 2 of 4 variables match "income" (names and labels)'
    assert text.splitlines()[3].split() == ["inc_hh", "double", "Household", "income", "label"]
    none = render_search([], "zzz", source="mem", searched=4, value_labels=False)
    assert "value_labels=true also searches" in none
    with pytest.raises(CodebookError, match="pattern is empty"):
        search(ENTRIES, " ", None)


def test_a_varlist_stata_refused_is_explained_from_the_names() -> None:
    refused = {"varlist_refused": "r(111);", "names": AUTO}
    with pytest.raises(CodebookError, match=r"^variable wieght not found; did you mean weight"):
        codebook_from_read(refused, "mem", "mpg wieght")
    # Python would accept it (varabbrev off in Stata, say): Stata's return code is still given
    with pytest.raises(CodebookError, match=r"^Stata refused the varlist 'disp' \(r\(111\)\)$"):
        codebook_from_read(refused, "mem", "disp")


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (0.0, "%td", "1960-01-01"),
        (21915.0, "%tdCCYY-NN-DD", "2020-01-01"),
        (-1.0, "%d", "1959-12-31"),
        (720.0, "%tm", "2020m1"),
        (159.0, "%tq", "1999q4"),
        (1_893_456_000_000.0, "%tc", "2020-01-01 00:00:00"),
        (2020.0, "%ty", "2020"),
        (5.0, "%9.0g", None),
        (5.0, "%-12s", None),
    ],
)
def test_dates_and_periods_of_a_range(value: float, fmt: str, shown: str | None) -> None:
    assert stata_time(value, fmt) == shown


def test_a_date_range_reads_as_dates() -> None:
    born = facts("born", "float", format="%td", minimum=0.0, maximum=21915.0)
    text = render_codebook(book(born))
    assert "  range: [0, 21915] = 1960-01-01 to 2020-01-01   unique values: 3" in text
