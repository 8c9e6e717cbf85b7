"""What a run did to the data: the pure comparison, then through the library and MCP."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastmcp import Client

from stata_tools import RunRequest, RunStatus, Session, Settings
from stata_tools.mcp.server import get_session, mcp
from stata_tools.run.data_change import DataChange, DataState, describe_change
from stata_tools.run.results import render_text

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
LOADED = DataState(74, tuple(AUTO), ("foreign",), "/stata/ado/base/a/auto.dta", False)
EMPTY = DataState(0, ())


def test_rows_dropped_and_a_variable_added() -> None:
    after = dataclasses.replace(LOADED, obs=72, variables=(*AUTO, "lprice"), changed=True)
    line = describe_change(LOADED, after)
    assert line == "data: 74 → 72 obs (−2) · 12 → 13 vars (+lprice) · sorted by foreign"


def test_nothing_changed_says_nothing() -> None:
    assert describe_change(LOADED, LOADED) is None
    saved = dataclasses.replace(LOADED, changed=True)
    assert describe_change(saved, LOADED) is None  # `save, replace`: the data is the same


def test_variables_dropped_several_added_and_long_lists_shortened() -> None:
    after = dataclasses.replace(LOADED, variables=tuple(n for n in AUTO if n != "price"))
    assert describe_change(LOADED, after) == "data: 12 → 11 vars (−price) · sorted by foreign"
    after = dataclasses.replace(LOADED, variables=(*AUTO, "a", "b", "c"))
    assert describe_change(LOADED, after) == "data: 12 → 15 vars (+3: a, b, c) · sorted by foreign"
    many = tuple(f"v{n}" for n in range(1, 8))
    after = dataclasses.replace(LOADED, variables=(*AUTO[1:], *many), sorted_by=())
    assert describe_change(LOADED, after) == (
        "data: 12 → 18 vars (+7: v1, v2, v3, v4, v5, …; −make) · no longer sorted (was by foreign)"
    )
    renamed = dataclasses.replace(LOADED, variables=tuple(reversed(AUTO)))
    assert describe_change(LOADED, renamed) == "data: 12 vars (reordered) · sorted by foreign"


def test_a_new_dataset_a_clear_and_a_new_sort_order() -> None:
    assert describe_change(EMPTY, LOADED) == "data: new dataset auto.dta 74 obs · 12 vars"
    edited = dataclasses.replace(LOADED, obs=72, variables=(*AUTO, "lprice"), changed=True)
    assert describe_change(EMPTY, edited) == (
        "data: new dataset auto.dta 72 obs · 13 vars · changed since it was read"
    )
    made = DataState(10, ("x",), changed=True)
    assert describe_change(EMPTY, made) == "data: new dataset 10 obs · 1 var"
    dropped = dataclasses.replace(LOADED, obs=72, changed=True)
    assert describe_change(dropped, LOADED) == "data: new dataset auto.dta 74 obs · 12 vars"
    assert describe_change(LOADED, EMPTY) == "data: cleared (was 74 obs · 12 vars)"
    by_price = dataclasses.replace(LOADED, sorted_by=("price",), changed=True)
    assert describe_change(LOADED, by_price) == "data: sorted by price (was foreign)"
    replaced = dataclasses.replace(LOADED, changed=True)
    line = describe_change(LOADED, replaced)
    assert line == "data: values changed (74 obs · 12 vars) · sorted by foreign"
    other = dataclasses.replace(LOADED, frame="other", obs=0, variables=())
    assert (
        describe_change(LOADED, other)
        == "data: cleared (was 74 obs · 12 vars) · frame other (was default)"
    )


def test_meta_carries_before_after_and_the_names() -> None:
    after = dataclasses.replace(LOADED, obs=72, variables=(*AUTO[1:], "lprice"), changed=True)
    meta = DataChange(LOADED, after).to_meta()
    assert meta["before"]["obs"] == 74 and meta["after"]["obs"] == 72
    assert meta["before"]["vars"] == 12 and meta["after"]["changed"] is True
    assert meta["added"] == ["lprice"] and meta["dropped"] == ["make"]
    assert meta["after"]["sorted_by"] == ["foreign"]
    assert meta["line"].startswith("data: 74 → 72 obs (−2) · 12 vars (+lprice; −make)")


# --- through the library: Stata in its worker process ---------------------------------------


@pytest.fixture
def session() -> Session:
    return get_session()  # the process's session: its Stata runs in a worker process


async def test_a_run_that_drops_rows_and_adds_a_variable(session: Session) -> None:
    first = await session.execute(RunRequest(code="sysuse auto, clear"))
    assert first.data is not None
    assert first.data.line is not None and first.data.line.startswith("data: ")
    result = await session.execute(RunRequest(code="drop in 1/2\ngen lprice = ln(price)"))
    line = "data: 74 → 72 obs (−2) · 12 → 13 vars (+lprice) · sorted by foreign"
    assert result.data is not None and result.data.line == line
    text = render_text(result).splitlines()
    output = next(n for n, text_line in enumerate(text) if text_line.startswith("--- output"))
    assert text.index(line) == 1 and output == 2  # under the headline, above the output
    meta = result.to_meta()["data"]
    assert meta["before"]["obs"] == 74 and meta["after"]["obs"] == 72
    assert meta["after"]["filename"].endswith("auto.dta") and meta["added"] == ["lprice"]


async def test_a_run_that_changes_nothing_has_no_line(session: Session) -> None:
    await session.execute(RunRequest(code="sysuse auto, clear"))
    result = await session.execute(RunRequest(code="summarize price\ndisplay 1"))
    assert result.ok and result.data is None
    assert not any(line.startswith("data:") for line in render_text(result).splitlines())
    assert "data" not in result.to_meta()


async def test_a_failing_run_still_reports_what_it_changed(session: Session) -> None:
    await session.execute(RunRequest(code="sysuse auto, clear"))
    result = await session.execute(RunRequest(code="drop price\nsort mpg\nnosuchcommand"))
    assert result.status is RunStatus.ERROR and result.rc == 199
    assert result.data is not None
    assert result.data.line == "data: 12 → 11 vars (−price) · sorted by mpg (was foreign)"
    # our global for the sort order is gone again: nothing of ours is left in the session
    check = await session.execute(RunRequest(code='display "[${_st_sortedby}]"'))
    assert "[]" in check.output.text


async def test_the_setting_turns_the_read_off(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings.from_env(), data_changes=False, run_dir=tmp_path)
    quiet = Session(settings)
    try:
        result = await quiet.execute(RunRequest(code="sysuse auto, clear\ndrop in 1"))
        assert result.ok and result.data is None
    finally:
        quiet.close()


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).data_changes is True
    assert Settings.from_env({"STATA_TOOLS_DATA_CHANGES": "off"}).data_changes is False


# --- through MCP ----------------------------------------------------------------------------


async def test_run_code_over_mcp_says_what_changed_in_text_and_meta() -> None:
    async with Client(mcp) as client:
        await client.call_tool("run_code", {"code": "sysuse auto, clear"})
        result = await client.call_tool("run_code", {"code": "drop in 1/2\ngen lprice = ln(price)"})
        text = "\n".join(block.text for block in result.content if block.type == "text")
        line = "data: 74 → 72 obs (−2) · 12 → 13 vars (+lprice) · sorted by foreign"
        assert line in text.splitlines()
        assert result.meta["data"]["line"] == line
        assert result.meta["data"]["before"]["vars"] == 12
        assert result.meta["data"]["after"]["vars"] == 13
        same = await client.call_tool("run_code", {"code": "display 1"})
        same_text = "\n".join(block.text for block in same.content if block.type == "text")
        assert "data:" not in same_text and "data" not in same.meta
        failed = await client.call_tool(
            "run_code", {"code": "keep in 1/10\nerror 459"}, raise_on_error=False
        )
        failed_text = "\n".join(block.text for block in failed.content if block.type == "text")
        assert failed.is_error
        assert "data: 72 → 10 obs (−62) · sorted by foreign" in failed_text.splitlines()


async def test_a_batch_run_says_nothing_about_data(tmp_path: Path, fake_stata_dir: Path) -> None:
    settings = dataclasses.replace(
        Settings.from_env(), stata_path=str(fake_stata_dir), run_dir=tmp_path / "runs"
    )
    do_file = tmp_path / "load.do"
    do_file.write_text("sysuse auto, clear\ndrop in 1/2\n", encoding="utf-8")
    batch = Session(settings)
    try:
        result = await batch.execute(RunRequest(do_file=do_file, executor="batch"))
    finally:
        batch.close()
    assert result.ok and result.job is not None and result.data is None  # no session's data
    assert "data" not in result.to_meta()
    assert not any(line.startswith("data:") for line in render_text(result).splitlines())
