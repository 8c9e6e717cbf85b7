"""read_data_file on real files of each format written here: values, labels, laziness, errors."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
import xlwt

from stata_tools.inspection.datafiles import (
    EXTENSIONS,
    DataFileError,
    DataVariable,
    delimited,
    read_data_file,
    render_page,
)
from stata_tools.inspection.datafiles.parquet import row_groups_for
from stata_tools.inspection.datafiles.xlsx_rows import sheet_rows

SAS_FIXTURE = Path(__file__).parent / "data" / "cars.sas7bdat"
BIG_N = 300_000


def _error(path: Path, **kwargs: Any) -> str:
    with pytest.raises(DataFileError) as info:
        read_data_file(path, **kwargs)
    return str(info.value)


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [v.name for v in page.variables]


# --- SPSS ----------------------------------------------------------------------------------


@pytest.fixture
def survey_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1.0, 2.0, 3.0, 4.0],
            "city": ["Zürich", "São Paulo", "", "Kraków"],
            "income": [52000.5, np.nan, 31000.0, 1234567.25],
            "sex": [1.0, 2.0, 2.0, np.nan],
            "born": [dt.date(1980, 5, 17), None, dt.date(1959, 12, 31), dt.date(2001, 1, 1)],
        }
    )


def _write_sav(frame: pd.DataFrame, path: Path, **kwargs: Any) -> Path:
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label="Household survey 2024",
        column_labels={"city": "City of residence", "income": "Yearly income (€)"},
        variable_value_labels={"sex": {1: "Männlich", 2: "Weiblich"}},
        variable_format={"income": "COMMA12.2"},
        **kwargs,
    )
    return path


def test_sav_describes_labels_formats_and_applies_value_labels(
    tmp_path: Path, survey_frame: pd.DataFrame
) -> None:
    path = _write_sav(survey_frame, tmp_path / "survey.sav")
    page = read_data_file(path)
    assert (page.n_obs, page.n_vars, page.kind) == (4, 5, "SPSS .sav")
    assert page.data_label == "Household survey 2024"
    by_name = {v.name: v for v in page.variables}
    assert by_name["income"] == DataVariable(
        "income", "numeric", "COMMA12.2", "Yearly income (€)", None
    )
    assert by_name["city"].type.startswith("str") and by_name["city"].label == "City of residence"
    sex_set = by_name["sex"].value_labels
    assert sex_set and dict(page.value_labels[sex_set]) == {1.0: "Männlich", 2.0: "Weiblich"}
    assert page.rows == (
        (1.0, "Zürich", 52000.5, "Männlich", dt.date(1980, 5, 17)),
        (2.0, "São Paulo", None, "Weiblich", None),
        (3.0, "", 31000.0, "Weiblich", dt.date(1959, 12, 31)),
        (4.0, "Kraków", 1234567.25, None, dt.date(2001, 1, 1)),
    )
    raw = read_data_file(path, variables="sex", apply_value_labels=False)
    assert raw.rows == ((1.0,), (2.0,), (2.0,), (None,))


def test_sav_renders_spss_formats_and_dates(tmp_path: Path, survey_frame: pd.DataFrame) -> None:
    path = _write_sav(survey_frame, tmp_path / "survey.sav")
    lines = render_page(
        read_data_file(path, variables=["id", "income", "sex", "born"])
    ).splitlines()
    assert lines[0] == f'{path}: 4 observations, 5 variables, label "Household survey 2024"'
    assert lines[1] == "Format: SPSS .sav"
    # id has pyreadstat's default F8.2, income COMMA12.2: both shown as SPSS shows them
    assert lines[-4].split() == ["1.", "1.00", "52,000.50", "Männlich", "1980-05-17"]
    assert lines[-1].split() == ["4.", "4.00", "1,234,567.25", ".", "2001-01-01"]


def test_zsav_is_read_as_compressed_spss(tmp_path: Path, survey_frame: pd.DataFrame) -> None:
    path = _write_sav(survey_frame, tmp_path / "survey.zsav", compress=True)
    assert path.read_bytes()[:4] == b"$FL3"
    page = read_data_file(path, variables="city", start=1, count=2)
    assert (page.kind, page.n_obs, page.rows) == ("SPSS .zsav", 4, (("São Paulo",), ("",)))


def test_sav_pages_with_row_offset_and_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 50_000
    frame = pd.DataFrame({"i": np.arange(n, dtype="float64"), "s": ["ab"] * n})
    path = tmp_path / "big.sav"
    pyreadstat.write_sav(frame, str(path))
    calls: list[dict[str, Any]] = []
    real = pyreadstat.read_sav

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pyreadstat, "read_sav", recording)
    page = read_data_file(path, variables=["i"], start=40_000, count=3)
    assert page.rows == ((40_000.0,), (40_001.0,), (40_002.0,))
    assert calls[0]["metadataonly"] is True
    assert (calls[1]["row_offset"], calls[1]["row_limit"], calls[1]["usecols"]) == (
        40_000,
        3,
        ["i"],
    )


# --- SAS -----------------------------------------------------------------------------------


def test_sas7bdat_written_by_readstat(tmp_path: Path) -> None:
    page = read_data_file(SAS_FIXTURE, start=3, count=4)
    assert (page.n_obs, page.n_vars, page.data_label) == (50, 4, "Cars for SAS")
    assert _names(page) == ["id", "make", "price", "rep78"]
    assert page.variables[1].label == "Make and model"
    assert page.variables[3].format == "rep780."  # a user format: its labels are in a catalog
    assert page.rows == (
        (4.0, "Car 4", 1042.0, 2.0),
        (5.0, "Citroën 5", 1052.5, 3.0),
        (6.0, "Car 6", 1063.0, 1.0),
        (7.0, "Car 7", None, 2.0),
    )
    assert any(".sas7bcat catalog" in note for note in page.notes)


# --- CSV and TSV ---------------------------------------------------------------------------


def test_csv_header_types_missing_quotes_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        'name,age,note,score\n"Müller, Jörg",41,"says ""hi""\nthen leaves",3.5\n'
        "Åsa,,plain,\nZoë,29,,-1e3\n",
        encoding="utf-8",
    )
    page = read_data_file(path)
    assert (page.n_obs, page.n_vars, page.kind) == (3, 4, "CSV (UTF-8, comma-separated)")
    assert [(v.name, v.type) for v in page.variables] == [
        ("name", "string"), ("age", "numeric"), ("note", "string"), ("score", "numeric"),
    ]  # fmt: skip
    assert page.rows == (
        ("Müller, Jörg", 41, 'says "hi"\nthen leaves', 3.5),
        ("Åsa", None, "plain", None),
        ("Zoë", 29, None, -1000.0),
    )
    text = render_page(page)
    assert "2.  Åsa" in text and 'says "hi"\\nthen leaves' in text


def test_semicolon_csv_tsv_and_txt(tmp_path: Path) -> None:
    semi = tmp_path / "eu.csv"
    semi.write_text("a;b\n1;x,y\n", encoding="utf-8")
    page = read_data_file(semi)
    assert (page.kind, page.rows) == ("CSV (UTF-8, semicolon-separated)", ((1, "x,y"),))
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb c\n1\t2,5\n", encoding="utf-8")
    page = read_data_file(tsv)
    assert (page.kind, page.columns, page.rows) == (
        "TSV (UTF-8, tab-separated)",
        ("a", "b c"),
        ((1, "2,5"),),
    )
    txt = tmp_path / "export.txt"
    txt.write_text("x|y\n1|2\n", encoding="utf-8")
    assert read_data_file(txt).rows == ((1, 2),)


def test_non_utf8_csv_falls_back_to_cp1252_then_latin1_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes("name,price\nCafé crème,€5\n".encode("cp1252"))
    page = read_data_file(path)
    assert page.rows == (("Café crème", "€5"),)
    assert page.kind == "CSV (Windows-1252, comma-separated)"
    assert "not UTF-8: decoded as Windows-1252" in page.notes
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a\n\x81x\xe9\n")  # 0x81 is undefined in cp1252
    page = read_data_file(latin)
    assert page.kind == "CSV (latin-1, comma-separated)" and page.rows == (("\x81xé",),)


def test_non_utf8_past_the_sample_is_read_again_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    body = b"".join(b"%d,plain\n" % i for i in range(20_000))  # > 64 KB of ASCII first
    path.write_bytes(b"n,s\n" + body + b"20000,na\xefve\n")
    page = read_data_file(path, start=20_000, count=5)
    assert page.rows == ((20_000, "naïve"),) and page.n_obs == 20_001
    assert "Windows-1252" in page.kind


def test_bom_utf16_and_header_only(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfid,x\n1,2\n")
    assert read_data_file(bom).columns == ("id", "x")
    wide = tmp_path / "excel-unicode.txt"
    wide.write_bytes("a\tb\n1\tŁódź\n".encode("utf-16"))
    page = read_data_file(wide)
    assert page.rows == ((1, "Łódź"),) and page.kind.startswith("CSV (UTF-16, tab")
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    page = read_data_file(header)
    assert (page.n_obs, page.rows, page.columns) == (0, (), ("a", "b"))
    assert "Rows: none (no observations)" in render_page(page)


def test_empty_and_repeated_header_names_get_positions(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("x,,x\n1,2,3\n")
    page = read_data_file(path)
    assert page.columns == ("x", "v2", "v3") and page.rows == ((1, 2, 3),)
    assert any("replaced (v1, v2" in note for note in page.notes)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bigcsv") / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("id,x,label\n")
        out.writelines(f"{i},{i * 0.5},row number {i} of many\n" for i in range(1, BIG_N + 1))
    return path


def test_large_csv_page_streams_in_small_memory(big_csv: Path) -> None:
    size = big_csv.stat().st_size
    assert size > 9_000_000
    tracemalloc.start()
    try:
        page = read_data_file(big_csv, variables="id label", start=150_000, count=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page.rows == tuple((i, f"row number {i} of many") for i in range(150_001, 150_011))
    assert page.n_obs == BIG_N  # small enough to count by streaming
    assert peak < 2_000_000, f"reading a page held {peak:,} bytes of a {size:,}-byte file"


def test_large_csv_beyond_the_count_limit_says_unknown(
    big_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delimited, "COUNT_LIMIT_BYTES", 1_000_000)
    page = read_data_file(big_csv, count=3)
    assert (page.n_obs, page.at_least, page.stop) == (None, 4, 3)
    text = render_page(page)
    assert (
        text.splitlines()[0]
        == f"{big_csv}: observations unknown (at least 4), 3 variables, label (none)"
    )
    assert "Rows 1-3 of at least 4:" in text
    assert any("were not counted" in note for note in page.notes)
    last = read_data_file(big_csv, start=BIG_N - 2, count=5)
    assert last.n_obs == BIG_N and len(last.rows) == 2  # the end was reached: known


def test_count_zero_describes_without_rows(tmp_path: Path, big_csv: Path) -> None:
    page = read_data_file(big_csv, count=0)
    assert (page.n_obs, page.rows, page.columns) == (BIG_N, (), ("id", "x", "label"))
    assert "Rows: none (no rows asked for)" in render_page(page)
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), parquet)
    assert (read_data_file(parquet, count=0).n_obs, read_data_file(parquet, count=0).rows) == (
        3,
        (),
    )
    book = openpyxl.Workbook()
    for i in range(5):
        book.active.append([f"h{i}" if i == 0 else i])
    xlsx = tmp_path / "b.xlsx"
    book.save(xlsx)
    page = read_data_file(xlsx, count=0)
    assert (page.n_obs, page.rows, page.columns) == (4, (), ("h0",))


def test_csv_start_beyond_the_data(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a\n1\n2\n")
    assert _error(path, start=2) == (
        "start=2 is beyond the data: s.csv has 2 observations (start is 0-based, so at most 1)"
    )


def test_csv_that_is_binary_or_another_format(tmp_path: Path) -> None:
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"a,b\n\x00\x01\x02\n")
    assert "is not a text file (it holds NUL bytes)" in _error(nul)
    book = tmp_path / "book.xlsx"
    openpyxl.Workbook().save(book)
    renamed = tmp_path / "book.csv"
    renamed.write_bytes(book.read_bytes())
    assert _error(renamed) == (
        f"{renamed} is not a CSV file (it is an Excel .xlsx file: rename it .xlsx)"
    )
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert _error(empty) == f"{empty} is not a CSV file (it is empty)"


def test_a_csv_with_a_huge_cell_is_an_error_not_a_load(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_bytes(b"a\n" + b'"' + b"x" * 2_000_000 + b'"\n')
    assert "field larger than field limit" in _error(path)


# --- Parquet -------------------------------------------------------------------------------


def test_parquet_types_categories_dates_and_missing(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, None], dtype="Int64"),
            "name": ["Ærø", None, "Đà Nẵng"],
            "x": [1.25, np.nan, 3.0],
            "region": pd.Categorical(["Nord", "Süd", "Nord"]),
            "day": [dt.date(2024, 2, 29), dt.date(1900, 1, 1), None],
            "at": pd.to_datetime(["2024-01-02 03:04:05", None, "1999-12-31 23:59:59"]),
        }
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    page = read_data_file(path)
    assert (page.n_obs, page.n_vars) == (3, 6)
    assert page.kind == "Parquet (1 row groups)"
    types = {v.name: v.type for v in page.variables}
    assert types == {
        "id": "int64", "name": "string", "x": "double", "region": "category (string)",
        "day": "date32[day]", "at": "timestamp[us]",
    }  # fmt: skip
    assert page.rows == (
        (1, "Ærø", 1.25, "Nord", dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5)),
        (2, None, None, "Süd", dt.date(1900, 1, 1), None),
        (None, "Đà Nẵng", 3.0, "Nord", None, dt.datetime(1999, 12, 31, 23, 59, 59)),
    )
    lines = render_page(page).splitlines()
    assert lines[-2].split() == ["2.", "2", ".", ".", "Süd", "1900-01-01", "."]


def test_row_groups_for_a_page() -> None:
    sizes = [10, 10, 10]
    assert row_groups_for(sizes, 0, 5) == ([0], 0)
    assert row_groups_for(sizes, 10, 20) == ([1], 0)
    assert row_groups_for(sizes, 8, 13) == ([0, 1], 8)
    assert row_groups_for(sizes, 29, 30) == ([2], 9)


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bigpq") / "big.parquet"
    ids = np.arange(1, BIG_N + 1, dtype="int64")
    table = pa.table({"id": ids, "x": ids * 0.5, "s": pa.array(np.where(ids % 2, "odd", "even"))})
    pq.write_table(table, path, row_group_size=10_000)
    return path


def test_large_parquet_reads_only_the_row_groups_of_the_page(
    big_parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []
    decoded: list[int] = []
    real = pq.ParquetFile.iter_batches

    def recording(self: pq.ParquetFile, **kwargs: Any) -> Any:
        asked.append(kwargs)
        for batch in real(self, **kwargs):
            decoded.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", recording)
    page = read_data_file(big_parquet, variables=["id", "s"], start=155_000, count=10)
    assert page.n_obs == BIG_N and page.kind == "Parquet (30 row groups)"
    assert page.rows == tuple((i, "odd" if i % 2 else "even") for i in range(155_001, 155_011))
    assert asked == [
        {"batch_size": 65_536, "row_groups": [15], "columns": ["id", "s"], "use_threads": False}
    ]
    assert sum(decoded) <= 10_000  # one row group of the 30, not the file
    across = read_data_file(big_parquet, variables="id", start=19_995, count=10)
    assert asked[-1]["row_groups"] == [1, 2]
    assert across.rows == tuple((i,) for i in range(19_996, 20_006))


def test_parquet_last_page_and_start_beyond(big_parquet: Path) -> None:
    page = read_data_file(big_parquet, start=BIG_N - 2, count=20)
    assert page.rows == ((BIG_N - 1, (BIG_N - 1) * 0.5, "odd"), (BIG_N, BIG_N * 0.5, "even"))
    assert "beyond the data: big.parquet has 300,000 observations" in _error(
        big_parquet, start=BIG_N
    )


def test_truncated_parquet_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert _error(path).startswith(f"cannot read {path} (damaged or truncated?): ")


# --- Excel ---------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["nothing here"])
    data = book.create_sheet("Données")
    data.append(["id", "ville", "when", "amount", None])
    data.append([1, "Genève", dt.datetime(2024, 3, 1), 10.5])
    data.append([2, None, dt.datetime(2024, 3, 2, 13, 30), None])
    data.append([3, "Łódź", None, 7])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_xlsx_sheet_by_name_and_position(workbook: Path) -> None:
    page = read_data_file(workbook, sheet="Données")
    assert (page.n_obs, page.n_vars, page.columns) == (3, 4, ("id", "ville", "when", "amount"))
    assert page.kind == "Excel .xlsx, sheet 'Données'"
    assert page.rows == (
        (1, "Genève", dt.date(2024, 3, 1), 10.5),
        (2, None, dt.datetime(2024, 3, 2, 13, 30), None),
        (3, "Łódź", None, 7),
    )
    assert [v.type for v in page.variables] == ["numeric", "string", "date", "numeric"]
    assert read_data_file(workbook, sheet="2", start=2).rows == page.rows[2:]
    assert read_data_file(workbook, sheet="données").columns == page.columns
    default = read_data_file(workbook)
    assert default.kind == "Excel .xlsx, sheet 'Notes'" and default.columns == ("nothing here",)
    assert "sheets: Notes, Données (ask for one with sheet=)" in default.notes


def test_xlsx_unknown_sheet_lists_the_sheets(workbook: Path) -> None:
    assert _error(workbook, sheet="Data") == (
        "no sheet 'Data' in book.xlsx: its sheets are 'Notes', 'Données' (a name, or a"
        " position counting from 1)"
    )
    assert "sheet must be a sheet's name" in _error(workbook, sheet=" ")


@pytest.fixture(scope="module")
def big_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60,000 rows, written as Excel does (the sheet states its size), few distinct strings:
    openpyxl holds the shared-strings table whole, so the rows are what a page's memory shows."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "big"
    sheet.append(["id", "x", "text"])
    for i in range(1, 60_001):
        sheet.append([i, i * 0.25, f"group {i % 10} with some text to make it longer"])
    sheet.append([])
    sheet.append(["after a gap"])
    path = tmp_path_factory.mktemp("bigxlsx") / "big.xlsx"
    book.save(path)
    return path


def test_large_xlsx_page_is_streamed(big_xlsx: Path) -> None:
    tracemalloc.start()
    try:
        page = read_data_file(big_xlsx, start=59_990, count=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page.n_obs == 60_002
    assert page.rows == tuple(
        (i, i * 0.25, f"group {i % 10} with some text to make it longer")
        for i in range(59_991, 59_996)
    )
    # openpyxl's own iter_rows keeps every skipped row's element (about 100 bytes each): 6 MB
    assert peak < 1_500_000, f"a page of a 60,000-row sheet held {peak:,} bytes"


def test_xlsx_rows_streamed_match_openpyxl_iter_rows(big_xlsx: Path) -> None:
    book = openpyxl.load_workbook(big_xlsx, read_only=True, data_only=True)
    try:
        ws = book["big"]
        ours = list(sheet_rows(ws))
        theirs = [tuple(v for v in row) for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    assert len(ours) == 60_003
    assert ours[-1] == ("after a gap",) and ours[-2] == ()
    trimmed = [tuple(row[: len(mine)]) for row, mine in zip(theirs, ours, strict=True)]
    assert ours == trimmed
    tail = read_data_file(big_xlsx, start=60_000, count=5)
    assert tail.rows == ((None, None, None), ("after a gap", None, None))


def test_xlsx_falls_back_to_iter_rows_without_openpyxl_internals(
    big_xlsx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl.worksheet._reader as reader

    monkeypatch.delattr(reader, "WorkSheetParser")
    page = read_data_file(big_xlsx, start=59_998, count=2)
    assert page.rows == (
        (59_999, 59_999 * 0.25, "group 9 with some text to make it longer"),
        (60_000, 15_000.0, "group 0 with some text to make it longer"),
    )


def test_damaged_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"junk" * 100)
    assert _error(path).startswith(f"cannot read {path} (damaged, encrypted or not an .xlsx")


def test_xls_written_by_xlwt(tmp_path: Path) -> None:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Tabelle")
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for col, name in enumerate(["id", "Straße", "seit"]):
        sheet.write(0, col, name)
    sheet.write(1, 0, 1)
    sheet.write(1, 1, "Hauptstraße")
    sheet.write(1, 2, dt.datetime(2019, 7, 1), dates)
    sheet.write(2, 0, 2.5)
    path = tmp_path / "old.xls"
    book.save(str(path))
    page = read_data_file(path)
    assert (page.n_obs, page.columns, page.kind) == (
        2,
        ("id", "Straße", "seit"),
        "Excel .xls, sheet 'Tabelle'",
    )
    assert page.rows == ((1, "Hauptstraße", dt.date(2019, 7, 1)), (2.5, None, None))
    assert "no sheet 'x' in old.xls" in _error(path, sheet="x")


# --- errors common to every format ---------------------------------------------------------


def test_every_format_is_listed_and_an_unknown_extension_refused(tmp_path: Path) -> None:
    assert set(EXTENSIONS) >= {
        ".dta", ".csv", ".tsv", ".xlsx", ".xls", ".sav", ".zsav", ".sas7bdat", ".parquet",
    }  # fmt: skip
    path = tmp_path / "data.json"
    path.write_text("{}")
    assert _error(path).startswith("data.json has extension '.json': data files read are .dta, ")
    assert "has no extension" in _error(tmp_path / "README")


@pytest.mark.parametrize("ext", [".dta", ".sav", ".zsav", ".sas7bdat", ".parquet", ".xlsx", ".xls"])
def test_empty_binary_files(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"zero{ext}"
    path.write_bytes(b"")
    assert _error(path).endswith(" file (it is empty)")


def test_a_file_of_another_format_is_named(tmp_path: Path) -> None:
    source = tmp_path / "real.parquet"
    pq.write_table(pa.table({"a": [1]}), source)
    wrong = tmp_path / "looks.sav"
    wrong.write_bytes(source.read_bytes())
    assert _error(wrong) == (
        f"{wrong} is not an SPSS .sav file (it is a Parquet file: rename it .parquet)"
    )
    text = tmp_path / "notes.sas7bdat"
    text.write_text("hello world, not data")
    assert _error(text) == f"{text} is not a SAS .sas7bdat file (it starts with 'hello world')"


def test_missing_directory_fifo_and_device(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.csv") == f"no such file: {tmp_path / 'nope.csv'}"
    folder = tmp_path / "folder.parquet"
    folder.mkdir()
    assert _error(folder) == f"{folder} is a directory, not a .parquet file"
    if not hasattr(os, "mkfifo"):
        return
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    began = time.monotonic()
    assert _error(fifo) == (
        f"{fifo} is a FIFO (named pipe), not a regular file: only a regular .csv file can be read"
    )
    assert time.monotonic() - began < 2


def test_bad_requests(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("price,mpg\n1,2\n")
    assert _error(path, variables=["Price"]) == (
        "variable not found in a.csv: Price (did you mean price?). Names are case-sensitive."
    )
    assert _error(path, sheet="1") == "sheet= is for Excel workbooks; a.csv is a CSV file"
    sav = tmp_path / "a.sav"
    pyreadstat.write_sav(pd.DataFrame({"q": [1.0]}), str(sav))
    assert _error(sav, sheet="1") == "sheet= is for Excel workbooks; a.sav is an SPSS .sav file"
    assert _error(path, count=1001) == "count must be between 0 and 1000, got 1001"
    assert _error(path, start=-1).startswith("start must be 0 or more")


def test_a_missing_reader_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    message = _error(path)
    assert message.startswith("reading .parquet files needs the Python package pyarrow")
    assert message.endswith("`pip install pyarrow`")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    book = tmp_path / "b.xlsx"
    book.write_bytes(b"PK\x03\x04rest")
    assert "`pip install openpyxl`" in _error(book)


def test_the_server_starts_without_the_optional_readers() -> None:
    code = (
        "import sys\n"
        "for name in ('pyarrow', 'pyarrow.parquet', 'openpyxl', 'xlrd'):\n"
        "    sys.modules[name] = None\n"
        "import stata_tools.mcp.server\n"
        "from stata_tools.inspection.datafiles import read_data_file\n"
        "print('served')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"
