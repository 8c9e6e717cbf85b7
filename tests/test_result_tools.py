"""Results beyond text: graphs as images, stored results, data inspection, through MCP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from stata_tools.mcp import context
from stata_tools.mcp.server import get_session, mcp
from stata_tools.stata.session import Session
from stata_tools.stata.settings import Settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def client():
    async with Client(mcp) as c:
        await c.call_tool("run_code", {"code": "sysuse auto, clear\ngraph drop _all"})
        yield c


def texts(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


def images(result) -> list:  # type: ignore[no-untyped-def]
    return [block for block in result.content if block.type == "image"]


async def test_a_run_that_draws_two_graphs_returns_two_named_images(client: Client) -> None:
    result = await client.call_tool(
        "run_code", {"code": "scatter price mpg\nhistogram weight, name(weights, replace)"}
    )
    pictures = images(result)
    assert len(pictures) == 2
    assert all(p.mime_type == "image/png" for p in pictures)
    text = texts(result)
    assert "Graph: graph Graph → " in text and "Graph: graph weights → " in text
    names = [g["name"] for g in result.meta["graphs"]]
    assert names == ["Graph", "weights"]
    for graph in result.meta["graphs"]:
        assert Path(graph["path"]).read_bytes().startswith(PNG_SIGNATURE)


async def test_graphs_beyond_the_cap_are_counted_not_attached(client: Client) -> None:
    code = "\n".join(f"scatter price mpg, name(g{n}, replace)" for n in range(6))
    result = await client.call_tool("run_code", {"code": code})
    assert len(images(result)) == 4
    assert "the run drew 6 graphs; the last 4 are attached" in texts(result)


async def test_a_users_own_export_is_recognised_and_offered(client: Client, tmp_path: Path) -> None:
    target = tmp_path / "fig 1.png"
    result = await client.call_tool(
        "run_code", {"code": f'scatter price mpg\ngraph export "{target}", replace'}
    )
    exported = [g for g in result.meta["graphs"] if g["name"] is None]
    assert exported == [{"name": None, "path": str(target), "format": "png"}]
    assert len(images(result)) == 2


async def test_list_and_export_graphs(client: Client) -> None:
    await client.call_tool("run_code", {"code": "scatter price mpg, name(first, replace)"})
    listed = await client.call_tool("list_graphs", {})
    assert "first" in listed.meta["graphs"]
    png = await client.call_tool("export_graph", {"name": "first"})
    assert len(images(png)) == 1
    svg = await client.call_tool("export_graph", {"name": "first", "format": "svg"})
    assert Path(svg.meta["path"]).read_text().lstrip().startswith(("<?xml", "<svg"))
    with pytest.raises(ToolError, match="format must be one of png, svg, pdf"):
        await client.call_tool("export_graph", {"name": "first", "format": "gif"})
    with pytest.raises(ToolError, match="is not a Stata graph name"):
        await client.call_tool("export_graph", {"name": "../etc"})
    with pytest.raises(ToolError, match=r"r\(\d+\)"):
        await client.call_tool("export_graph", {"name": "nosuchgraph"})


async def test_estimation_results_come_back_labelled(client: Client) -> None:
    await client.call_tool("run_code", {"code": "regress price mpg weight"})
    result = await client.call_tool("get_results", {"kind": "e"})
    text = texts(result)
    assert result.meta["scalars"]["e(N)"] == 74
    assert result.meta["macros"]["e(cmd)"] == "regress"
    assert "matrix e(b) [1,3]:" in text
    assert text.split("matrix e(b) [1,3]:\n")[1].splitlines()[0].split() == [
        "mpg",
        "weight",
        "_cons",
    ]
    assert "-49.51222" in text


async def test_stored_results_are_never_read_during_a_run(client: Client) -> None:
    call = asyncio.create_task(client.call_tool("run_code", {"code": "sleep 1500"}))
    while get_session().engine.active is None:  # type: ignore[union-attr]
        await asyncio.sleep(0.02)
    with pytest.raises(ToolError, match="Stata is busy with run"):
        await client.call_tool("get_results", {"kind": "r"})
    await call


async def test_describe_summarize_and_list_read_the_data(client: Client) -> None:
    described = texts(await client.call_tool("describe_data", {}))
    assert "Observations:            74" in described
    assert "foreign         byte    %8.0g      origin     Car origin" in described
    assert not any(line.startswith(". ") for line in described.splitlines())
    summary = texts(await client.call_tool("summarize_data", {"varlist": "price mpg"}))
    assert summary.splitlines()[-2].split() == [
        "price",
        "|",
        "74",
        "6165.257",
        "2949.496",
        "3291",
        "15906",
    ]
    page = texts(await client.call_tool("list_data", {"varlist": "make price", "count": 3}))
    assert [line.split("|")[1].split()[:2] for line in page.splitlines() if ". |" in line] == [
        ["AMC", "Concord"],
        ["AMC", "Pacer"],
        ["AMC", "Spirit"],
    ]
    with pytest.raises(ToolError, match="not a variable name"):
        await client.call_tool("list_data", {"varlist": "price; shell ls"})
    with pytest.raises(ToolError, match="nosuchvar"):
        await client.call_tool("summarize_data", {"varlist": "nosuchvar"})


async def test_list_data_pages_over_the_rows_meeting_a_condition(client: Client) -> None:
    args = {"varlist": "make price foreign", "if_": "price > 12000", "count": 2}
    first = texts(await client.call_tool("list_data", args))
    second = texts(await client.call_tool("list_data", args | {"start": 2}))
    rows = [
        line.split("|")[1].split()[:2] for line in (first + second).splitlines() if ". |" in line
    ]
    assert rows == [
        ["Cad.", "Eldorado"],
        ["Cad.", "Seville"],
        ["Linc.", "Mark"],
        ["Linc.", "Versailles"],
    ]
    shape = texts(await client.call_tool("run_code", {"code": 'display _N " " c(frame)'}))
    assert "\n74 default" in shape  # the data in memory are untouched
    with pytest.raises(ToolError, match="condition"):
        await client.call_tool("list_data", {"if_": "price > 1 ; shell ls"})


def install_help(home: Path, corpus: Path, stem: str, folder: str) -> Path:
    target = home / folder / stem[0] / f"{stem}.sthlp"
    target.parent.mkdir(parents=True)
    target.write_bytes(next((corpus / "sthlp").glob(f"*__{stem}.sthlp")).read_bytes())
    return target


@pytest.fixture
async def home_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    """The server on a Stata started with HOME in tmp_path: Stata reads its folders (PLUS,
    PERSONAL) from HOME when it starts, so the session and its worker are new."""
    monkeypatch.setenv("HOME", str(tmp_path))
    fresh = Session(dataclasses.replace(get_session().settings, run_dir=tmp_path / "runs"))
    monkeypatch.setattr(context, "_session", fresh)
    try:
        async with Client(mcp) as c:
            await c.call_tool("run_code", {"code": "display 1"})
            yield c
    finally:
        fresh.close()


async def test_help_for_an_installed_command_comes_from_statas_ado_path(
    home_client: Client, tmp_path: Path, corpus_dir: Path
) -> None:
    client = home_client
    installed = install_help(tmp_path, corpus_dir, "winsor2", "ado/plus")
    result = await client.call_tool("stata_help", {"topic": "winsor2"})
    text = texts(result)
    assert text.splitlines()[0] == f"Help for winsor2 ({installed})"
    assert "# winsor2 — Winsorizing or Trimming variables" in text
    assert "`cuts(# #)` specifies the percentiles" in text
    assert (result.meta["topic"], result.meta["path"]) == ("winsor2", str(installed))


async def test_help_says_where_it_looked_and_checks_the_topic(
    home_client: Client, tmp_path: Path
) -> None:
    client = home_client
    with pytest.raises(ToolError) as missing:
        await client.call_tool("stata_help", {"topic": "nosuchcommand"})
    assert "no help file nosuchcommand.sthlp on Stata's ado-path" in str(missing.value)
    assert str(tmp_path / "ado" / "plus") in str(missing.value)
    assert 'install_package(name="nosuchcommand")' in str(missing.value)
    with pytest.raises(ToolError, match="invalid help topic"):
        await client.call_tool("stata_help", {"topic": "../../etc/passwd"})


async def test_help_before_stata_starts_uses_the_installations_folders(
    tmp_path: Path, corpus_dir: Path, fake_stata_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    installed = install_help(tmp_path, corpus_dir, "reghdfe", "ado/plus")
    settings = Settings(stata_path=str(fake_stata_dir), run_dir=tmp_path / "runs")
    monkeypatch.setattr(context, "_session", Session(settings))
    async with Client(mcp) as fresh:
        result = await fresh.call_tool("stata_help", {"topic": "reghdfe"})
        assert context._session is not None and not context._session.status().started
    assert texts(result).splitlines()[0] == f"Help for reghdfe ({installed})"


async def test_help_without_stata_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(stata_path=str(tmp_path / "no-stata-here"), run_dir=tmp_path / "runs")
    monkeypatch.setattr(context, "_session", Session(settings))
    async with Client(mcp) as fresh:
        with pytest.raises(ToolError, match="Stata was not found, and help files come from"):
            await fresh.call_tool("stata_help", {"topic": "regress"})
