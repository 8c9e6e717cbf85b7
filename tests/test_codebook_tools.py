"""codebook_data and search_variables through MCP: the auto data in memory, and a .dta file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from stata_tools.mcp.server import get_session, mcp
from stata_tools.safety.roots import Roots


@pytest.fixture
async def client():
    async with Client(mcp) as c:
        await c.call_tool("run_code", {"code": "clear all\nsysuse auto"})
        yield c


def texts(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


def by_name(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {v["name"]: v for v in result.meta["variables"]}


async def test_codebook_of_auto_in_memory_has_stata_s_facts(client: Client) -> None:
    result = await client.call_tool("codebook_data", {})
    assert result.meta["n_obs"] == 74 and result.meta["n_vars"] == 12
    assert result.meta["selected"] == 12 and result.meta["stop"] == 12
    facts = by_name(result)
    assert facts["rep78"] | {} == {
        "name": "rep78",
        "type": "int",
        "n_missing": 5,
        "n_unique": 5,
        "min": 1.0,
        "max": 5.0,
        "value_label": None,
    }
    assert facts["make"]["type"] == "str18" and facts["make"]["n_unique"] == 74
    assert facts["make"]["min"] is None and facts["make"]["n_missing"] == 0
    assert facts["price"]["min"] == 3291 and facts["price"]["max"] == 15906
    assert facts["mpg"]["n_unique"] == 21 and facts["weight"]["n_unique"] == 64
    assert facts["foreign"]["value_label"] == "origin" and facts["foreign"]["n_unique"] == 2
    # Stata's own `codebook, compact` of the auto data reports these Unique counts
    assert {name: f["n_unique"] for name, f in facts.items()} == {
        "make": 74,
        "price": 74,
        "mpg": 21,
        "rep78": 5,
        "headroom": 8,
        "trunk": 18,
        "weight": 64,
        "length": 47,
        "turn": 18,
        "displacement": 31,
        "gear_ratio": 36,
        "foreign": 2,
    }
    text = texts(result)
    assert text.splitlines()[0] == (
        "the data in memory: 74 observations, 12 variables, sorted by foreign"
    )
    assert "rep78  Repair record 1978" in text
    assert "  range: [1, 5]   unique values: 5   missing .: 5/74" in text
    assert "  type: string (str18), format %-18s" in text
    assert '  labels: 0 "Domestic", 1 "Foreign"' in text
    assert "  range: [2.19, 3.89]   unique values: 36   missing .: 0/74" in text  # float


async def test_codebook_leaves_data_sort_order_and_stored_results_alone(client: Client) -> None:
    await client.call_tool("run_code", {"code": "summarize price\nregress price mpg"})
    before_r = await client.call_tool("get_results", {"kind": "r"})
    before_e = await client.call_tool("get_results", {"kind": "e"})
    await client.call_tool("codebook_data", {"varlist": "make rep78 foreign"})
    assert (await client.call_tool("get_results", {"kind": "r"})).meta == before_r.meta
    assert (await client.call_tool("get_results", {"kind": "e"})).meta == before_e.meta
    after = texts(await client.call_tool("run_code", {"code": "describe\nframes dir"}))
    assert "Sorted by: foreign" in after
    assert "  default  74 x 12; 1978 automobile data" in after and "__st" not in after


async def test_varlists_page_and_compact(client: Client) -> None:
    picked = await client.call_tool("codebook_data", {"varlist": "t* rep78-headroom"})
    assert [v["name"] for v in picked.meta["variables"]] == ["trunk", "turn", "rep78", "headroom"]
    page = await client.call_tool("codebook_data", {"start": 10, "count": 5, "compact": True})
    assert [v["name"] for v in page.meta["variables"]] == ["gear_ratio", "foreign"]
    lines = texts(page).splitlines()
    assert lines[1] == "Variables 11-12 of the 12 asked for"
    header = lines[3]
    assert header.split() == [
        "Variable",
        "Type",
        "Unique",
        "Missing",
        "Range",
        "Value",
        "label",
        "Label",
    ]
    assert lines[5].split() == ["foreign", "byte", "2", "0", "[0,", "1]", "origin", "Car", "origin"]
    assert lines[-1] == '  origin: 0 "Domestic", 1 "Foreign"'
    first = await client.call_tool("codebook_data", {"count": 4})
    assert texts(first).splitlines()[-1] == "8 more: ask again with start=4"
    fast = await client.call_tool("codebook_data", {"varlist": "price make", "unique": False})
    assert [v["n_unique"] for v in fast.meta["variables"]] == [None, None]


async def test_codebook_arguments_are_checked(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"variable nosuch not found \(r\(111\)\)"):
        await client.call_tool("codebook_data", {"varlist": "nosuch"})
    with pytest.raises(
        ToolError, match=r"did you mean price\? Names are case-sensitive \(r\(111\)\)"
    ):
        await client.call_tool("codebook_data", {"varlist": "mpg Price"})
    with pytest.raises(
        ToolError, match=r"t is an ambiguous abbreviation \(trunk, turn\) \(r\(111\)\)"
    ):
        await client.call_tool("codebook_data", {"varlist": "t"})
    with pytest.raises(ToolError, match="is not a variable name or pattern"):
        await client.call_tool("codebook_data", {"varlist": "price; shell ls"})
    with pytest.raises(ToolError, match=r"start=12 is past the last of the 12 variables"):
        await client.call_tool("codebook_data", {"start": 12})
    with pytest.raises(ToolError):
        await client.call_tool("codebook_data", {"count": 0})
    with pytest.raises(ToolError, match="no such file"):
        await client.call_tool("codebook_data", {"path": str(tmp_path / "none.dta")})
    with pytest.raises(ToolError, match="path is empty"):
        await client.call_tool("search_variables", {"pattern": "x", "path": " "})
    with pytest.raises(ToolError, match="pattern is empty"):
        await client.call_tool("search_variables", {"pattern": "  "})
    still = await client.call_tool("codebook_data", {"varlist": "price"})
    assert still.meta["n_obs"] == 74  # the session and its data survive every refusal


async def test_search_names_labels_and_value_labels(client: Client) -> None:
    found = await client.call_tool("search_variables", {"pattern": "REP"})
    assert [m["name"] for m in found.meta["matches"]] == ["rep78"]
    assert found.meta["matches"][0]["where"] == ["name", "label"]
    glob = await client.call_tool("search_variables", {"pattern": "t*"})
    assert [m["name"] for m in glob.meta["matches"]] == ["trunk", "turn"]
    label_word = await client.call_tool("search_variables", {"pattern": "mile*"})
    assert label_word.meta["matches"] == [{"name": "mpg", "where": ["label"]}]
    nothing = await client.call_tool("search_variables", {"pattern": "domestic"})
    assert nothing.meta["matches"] == []
    assert "value_labels=true also searches" in texts(nothing)
    labelled = await client.call_tool(
        "search_variables", {"pattern": "domestic", "value_labels": True}
    )
    assert labelled.meta["matches"] == [
        {"name": "foreign", "where": ['value label origin: 0 "Domestic"']}
    ]
    assert texts(labelled).splitlines()[0] == (
        'the data in memory: 1 of 12 variables match "domestic" (names, labels and value labels)'
    )


@pytest.fixture
def survey(tmp_path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "id": [1.0, 2.0, 3.0, 4.0],
            "inc_hh": [1200.5, None, 800.0, 1200.5],
            "region": [1.0, 2.0, 2.0, None],
            "name": ["Ann", "", "Bo", "Ann"],
        }
    )
    path = tmp_path / "survey.dta"
    pyreadstat.write_dta(
        frame,
        str(path),
        column_labels={"inc_hh": "Household income", "region": "Region of residence"},
        variable_value_labels={"region": {1: "North", 2: "South"}},
    )
    return path


async def test_a_dta_file_without_stata(client: Client, survey: Path) -> None:
    result = await client.call_tool("codebook_data", {"path": str(survey)})
    assert result.meta["source"] == str(survey) and result.meta["n_obs"] == 4
    facts = by_name(result)
    assert (facts["inc_hh"]["n_missing"], facts["inc_hh"]["n_unique"]) == (1, 2)
    assert (facts["inc_hh"]["min"], facts["inc_hh"]["max"]) == (800.0, 1200.5)
    assert (facts["name"]["n_missing"], facts["name"]["n_unique"]) == (1, 2)
    assert facts["region"]["value_label"] is not None
    assert '1 "North", 2 "South"' in texts(result)
    found = await client.call_tool(
        "search_variables", {"pattern": "south", "path": str(survey), "value_labels": True}
    )
    assert [m["name"] for m in found.meta["matches"]] == ["region"]
    income = await client.call_tool("search_variables", {"pattern": "inc*", "path": str(survey)})
    assert income.meta["matches"] == [{"name": "inc_hh", "where": ["name", "label"]}]
    with pytest.raises(ToolError, match="variable regoin not found; did you mean region"):
        await client.call_tool("codebook_data", {"path": str(survey), "varlist": "regoin"})


async def test_dta_files_outside_the_roots_are_refused(
    client: Client, survey: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    session = get_session()
    roots = Roots((inside.resolve(),))
    monkeypatch.setattr(session, "settings", dataclasses.replace(session.settings, roots=roots))
    with pytest.raises(ToolError, match=r"\.dta file .* is outside the allowed roots"):
        await client.call_tool("codebook_data", {"path": str(survey)})
    with pytest.raises(ToolError, match=r"\.dta file .* is outside the allowed roots"):
        await client.call_tool("search_variables", {"pattern": "x", "path": str(survey)})
    moved = inside / "survey.dta"
    moved.write_bytes(survey.read_bytes())
    allowed = await client.call_tool("codebook_data", {"path": str(moved), "varlist": "id"})
    assert by_name(allowed)["id"]["n_unique"] == 4


async def test_missing_constant_and_undefined_labels_in_memory(client: Client) -> None:
    code = "\n".join(
        [
            "clear",
            "set obs 6",
            "generate gone = .",
            "generate three = 3",
            'generate str4 word = ""',
            'replace word = "ab" in 1/2',
            'replace word = "cd" in 3',
            "generate double half = _n / 2 if _n > 1",
            "label values three nolabel",
        ]
    )
    await client.call_tool("run_code", {"code": code})
    result = await client.call_tool("codebook_data", {})
    facts = by_name(result)
    assert (facts["gone"]["n_missing"], facts["gone"]["n_unique"], facts["gone"]["min"]) == (
        6,
        0,
        None,
    )
    assert (facts["three"]["n_unique"], facts["three"]["min"], facts["three"]["max"]) == (1, 3, 3)
    assert (facts["word"]["n_missing"], facts["word"]["n_unique"]) == (3, 2)
    assert (facts["half"]["n_missing"], facts["half"]["n_unique"]) == (1, 5)
    assert (facts["half"]["min"], facts["half"]["max"]) == (1.0, 3.0)
    text = texts(result)
    assert "  type: numeric (float), format %9.0g, value label nolabel (undefined)" in text
    assert "  range: (all missing)   unique values: 0   missing .: 6/6" in text
    await client.call_tool("run_code", {"code": "drop in 1/6"})
    none = await client.call_tool("codebook_data", {})
    assert none.meta["n_obs"] == 0 and none.meta["selected"] == 4
    empty = by_name(await client.call_tool("codebook_data", {"varlist": "word"}))
    assert empty["word"]["n_missing"] == 0 and empty["word"]["n_unique"] == 0


async def test_no_variables_at_all(client: Client) -> None:
    await client.call_tool("run_code", {"code": "clear"})
    result = await client.call_tool("codebook_data", {})
    assert texts(result).splitlines() == [
        "the data in memory: 0 observations, 0 variables",
        "(no variables)",
    ]
    found = await client.call_tool("search_variables", {"pattern": "x"})
    assert (found.meta["searched"], found.meta["matches"]) == (0, [])
