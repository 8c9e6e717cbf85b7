"""read_data_file through MCP (FastMCP's in-memory client): text, meta, errors, allowed roots."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from stata_tools.mcp.server import get_session, mcp
from stata_tools.safety.roots import Roots


@pytest.fixture
async def client():
    async with Client(mcp) as c:
        yield c


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


async def test_the_tool_is_listed_with_its_arguments(client: Client) -> None:
    tools = {tool.name: tool for tool in await client.list_tools()}
    tool = tools["read_data_file"]
    schema = tool.input_schema
    assert schema["required"] == ["path"]
    assert set(schema["properties"]) == {
        "path", "variables", "start", "count", "sheet", "value_labels",
    }  # fmt: skip
    assert schema["properties"]["count"]["maximum"] == 1000
    assert ".parquet" in tool.description and ".sav" in tool.description
    assert tool.output_schema is None


async def test_a_csv_page_through_mcp(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_bytes("town,pop\nMünster,316403\nKöln,1084831\nBonn,\n".encode("cp1252"))
    result = await client.call_tool("read_data_file", {"path": str(path), "start": 1, "count": 2})
    text = text_of(result)
    assert text.splitlines()[:2] == [
        f"{path}: 3 observations, 2 variables, label (none)",
        "Format: CSV (Windows-1252, comma-separated)",
    ]
    assert text.splitlines()[-3:] == ["    town      pop", "2.  Köln  1084831", "3.  Bonn        ."]
    assert {k: v for k, v in result.meta.items() if "/" not in k} == {
        "path": str(path),
        "format": "CSV (Windows-1252, comma-separated)",
        "n_obs": 3,
        "n_vars": 2,
        "start": 1,
        "stop": 3,
        "columns": ["town", "pop"],
    }


async def test_spss_labels_and_raw_codes_through_mcp(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "s.sav"
    frame = pd.DataFrame({"q1": [1.0, 2.0, 5.0], "name": ["Ana", "Bob", "Çelik"]})
    pyreadstat.write_sav(
        frame, str(path), variable_value_labels={"q1": {1: "Agree", 2: "Disagree"}}
    )
    labelled = text_of(await client.call_tool("read_data_file", {"path": str(path)}))
    assert labelled.splitlines()[-3:] == [
        "1.     Agree  Ana",
        "2.  Disagree  Bob",
        "3.      5.00  Çelik",
    ]
    assert "Value labels:" in labelled and "1=Agree, 2=Disagree" in labelled
    raw = await client.call_tool(
        "read_data_file", {"path": str(path), "variables": "q1", "value_labels": False}
    )
    assert text_of(raw).splitlines()[-3:] == ["1.  1.00", "2.  2.00", "3.  5.00"]


async def test_an_excel_sheet_and_a_parquet_file_through_mcp(
    client: Client, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    book.active.title = "first"
    sheet = book.create_sheet("prices")
    sheet.append(["item", "date", "eur"])
    sheet.append(["Brötchen", dt.datetime(2025, 1, 31), 0.45])
    xlsx = tmp_path / "p.xlsx"
    book.save(xlsx)
    result = await client.call_tool("read_data_file", {"path": str(xlsx), "sheet": "prices"})
    assert result.meta["format"] == "Excel .xlsx, sheet 'prices'"
    assert text_of(result).splitlines()[-1].split() == ["1.", "Brötchen", "2025-01-31", "0.45"]
    by_position = await client.call_tool("read_data_file", {"path": str(xlsx), "sheet": 2})
    assert by_position.meta["format"] == "Excel .xlsx, sheet 'prices'"
    with pytest.raises(
        ToolError, match=r"no sheet 'nope' in p\.xlsx: its sheets are 'first', 'prices'"
    ):
        await client.call_tool("read_data_file", {"path": str(xlsx), "sheet": "nope"})

    parquet = tmp_path / "big.parquet"
    pq.write_table(pa.table({"n": list(range(100_000))}), parquet, row_group_size=1000)
    page = await client.call_tool(
        "read_data_file", {"path": str(parquet), "start": 99_998, "count": 5}
    )
    assert (page.meta["n_obs"], page.meta["start"], page.meta["stop"]) == (100_000, 99_998, 100_000)
    assert text_of(page).splitlines()[-2:] == [" 99999.  99998", "100000.  99999"]


async def test_bad_input_is_a_clear_tool_error_and_the_server_serves_on(
    client: Client, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="no such file: "):
        await client.call_tool("read_data_file", {"path": str(tmp_path / "none.csv")})
    junk = tmp_path / "data.json"
    junk.write_text("{}")
    with pytest.raises(ToolError, match=r"has extension '\.json': data files read are \.dta"):
        await client.call_tool("read_data_file", {"path": str(junk)})
    fake = tmp_path / "fake.parquet"
    fake.write_text("id,x\n1,2\n")
    with pytest.raises(ToolError, match=r"is not a Parquet file \(it starts with 'id,x"):
        await client.call_tool("read_data_file", {"path": str(fake)})
    with pytest.raises(ToolError, match="sheet= is for Excel workbooks"):
        await client.call_tool("read_data_file", {"path": str(fake), "sheet": "1"})
    with pytest.raises(ToolError):
        await client.call_tool("read_data_file", {"path": str(fake), "count": 5000})
    ok = tmp_path / "ok.csv"
    ok.write_text("a\n1\n")
    result = await client.call_tool("read_data_file", {"path": str(ok)})
    assert result.meta["n_obs"] == 1


async def test_read_dta_file_is_unchanged_beside_it(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "cars.dta"
    pyreadstat.write_dta(
        pd.DataFrame({"foreign": [0, 1]}),
        str(path),
        variable_value_labels={"foreign": {0: "Domestic", 1: "Foreign"}},
    )
    old = await client.call_tool("read_dta_file", {"path": str(path)})
    new = await client.call_tool("read_data_file", {"path": str(path)})
    assert text_of(old) == text_of(new)
    assert "Format:" not in text_of(new)  # a .dta page reads as it always has
    assert text_of(new).splitlines()[-2:] == ["1.  Domestic", "2.   Foreign"]


async def test_files_outside_the_roots_are_refused(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, secret = tmp_path / "project", tmp_path / "secret"
    project.mkdir()
    secret.mkdir()
    (secret / "x.csv").write_text("a\n1\n")
    (project / "in.csv").write_text("a\n2\n")
    (project / "link.csv").symlink_to(secret / "x.csv")
    session = get_session()
    roots = Roots((project.resolve(),))
    monkeypatch.setattr(session, "settings", dataclasses.replace(session.settings, roots=roots))
    for path in (secret / "x.csv", project / ".." / "secret" / "x.csv", project / "link.csv"):
        with pytest.raises(ToolError, match=r"data file .* is outside the allowed roots: "):
            await client.call_tool("read_data_file", {"path": str(path)})
    inside = await client.call_tool("read_data_file", {"path": str(project / "in.csv")})
    assert inside.meta["path"] == str((project / "in.csv").resolve())
    async with Client(mcp, roots=[secret.as_uri()]) as announcing:
        allowed = await announcing.call_tool("read_data_file", {"path": str(secret / "x.csv")})
    assert text_of(allowed).splitlines()[-1] == "1.  1"
