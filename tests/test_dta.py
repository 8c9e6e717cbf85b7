"""read_dta / render_dta on .dta files written by pyreadstat: exact values, laziness, errors."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from stata_tools.inspection.dta import (
    MAX_COUNT,
    DtaError,
    DtaPage,
    DtaVariable,
    read_dta,
    render_dta,
)

LONG_MAKE = "Mercedes-Benz 300SD Turbodiesel Limited Edition Coupe Deluxe"  # 60 characters
BIG_N = 200_000


@pytest.fixture
def auto(tmp_path: Path) -> Path:
    """A small auto.dta: strings, doubles, a long, value labels, missing values, dates."""
    df = pd.DataFrame(
        {
            "make": ["AMC Concord", "AMC Pacer", "Buick Century", "", LONG_MAKE],
            "price": [4099.0, 4749.0, np.nan, 3799.0, 5000.5],
            "mpg": pd.array([22, 17, None, 20, 30], dtype="Int32"),
            "foreign": [0.0, 1.0, 1.0, np.nan, 0.0],
            "rep78": [3.0, 4.0, 9.0, 1.0, 2.0],
            "bought": [dt.date(2020, 1, 2), None, dt.date(1959, 12, 31), dt.date(1960, 1, 1), None],
            "seen": [dt.datetime(2021, 3, 4, 5, 6, 7), None, None, None, None],
            "month": [720.0, 725.0, 0.0, -1.0, np.nan],
        }
    )
    path = tmp_path / "auto.dta"
    pyreadstat.write_dta(
        df,
        path,
        file_label="1978 automobile data",
        column_labels={"make": "Make and model", "price": "Price", "foreign": "Car origin"},
        variable_value_labels={
            "foreign": {0: "Domestic", 1: "Foreign"},
            "rep78": {1: "Poor", 2: "Fair", 3: "Average", 4: "Good", 5: "Excellent"},
        },
        variable_format={"price": "%9.2fc", "month": "%tm"},
    )
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 observations: id = 1..N, x = id * 0.5, a string and a labelled group."""
    ids = np.arange(1, BIG_N + 1, dtype="int32")
    df = pd.DataFrame(
        {"id": ids, "x": ids * 0.5, "s": np.where(ids % 2 == 0, "even", "odd"), "g": ids % 3}
    )
    path = tmp_path_factory.mktemp("big") / "big.dta"
    pyreadstat.write_dta(df, path, variable_value_labels={"g": {0: "zero", 1: "one", 2: "two"}})
    return path


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], int]]:
    """Every pyreadstat.read_dta call: its keyword arguments and how many rows it returned."""
    calls: list[tuple[dict[str, Any], int]] = []
    real = pyreadstat.read_dta

    def recording(*args: Any, **kwargs: Any) -> Any:
        data, meta = real(*args, **kwargs)
        rows = len(next(iter(data.values()), ())) if isinstance(data, dict) else len(data)
        calls.append((kwargs, rows))
        return data, meta

    monkeypatch.setattr(pyreadstat, "read_dta", recording)
    return calls


def _error(path: Path, **kwargs: Any) -> str:
    with pytest.raises(DtaError) as info:
        read_dta(path, **kwargs)
    return str(info.value)


# --- describing ----------------------------------------------------------------------------


def test_header_counts_and_dataset_label(auto: Path) -> None:
    page = read_dta(auto)
    assert (page.path, page.n_obs, page.n_vars) == (str(auto), 5, 8)
    assert page.data_label == "1978 automobile data"
    assert page.columns == ("make", "price", "mpg", "foreign", "rep78", "bought", "seen", "month")
    assert (page.start, page.stop) == (0, 5)


def test_variables_describe_type_format_labels(auto: Path) -> None:
    page = read_dta(auto)
    by_name = {v.name: v for v in page.variables}
    make = by_name["make"]
    assert re.fullmatch(r"str\d+", make.type) and int(make.type[3:]) >= len(LONG_MAKE)
    assert (make.label, make.value_labels) == ("Make and model", None)
    assert by_name["price"] == DtaVariable("price", "double", "%9.2fc", "Price", None)
    assert by_name["mpg"] == DtaVariable("mpg", "long", "%12.0g", "", None)
    assert by_name["foreign"].label == "Car origin"
    assert by_name["foreign"].value_labels  # the writer names the set; a name must be there
    assert by_name["rep78"].value_labels not in (None, by_name["foreign"].value_labels)
    assert by_name["bought"].format == "%td"
    assert by_name["month"].format == "%tm"


def test_value_label_sets_returned_for_page_columns(auto: Path) -> None:
    page = read_dta(auto)
    foreign = next(v for v in page.variables if v.name == "foreign").value_labels
    rep78 = next(v for v in page.variables if v.name == "rep78").value_labels
    assert dict(page.value_labels[foreign]) == {0: "Domestic", 1: "Foreign"}
    assert dict(page.value_labels[rep78])[5] == "Excellent"
    assert set(page.value_labels) == {foreign, rep78}
    only_make = read_dta(auto, variables=["make"])
    assert dict(only_make.value_labels) == {}


def test_value_label_set_is_capped_but_fully_applied(tmp_path: Path) -> None:
    path = tmp_path / "codes.dta"
    df = pd.DataFrame({"code": [5.0, 149.0]})
    labels = {i: f"code number {i}" for i in range(150)}
    pyreadstat.write_dta(df, path, variable_value_labels={"code": labels})
    page = read_dta(path)
    (capped,) = page.value_labels.values()
    assert len(capped) == 100
    assert page.rows == (("code number 5",), ("code number 149",))


def test_count_zero_describes_without_reading_rows(auto: Path, spy: list) -> None:
    page = read_dta(auto, count=0)
    assert (page.rows, page.start, page.stop, page.n_obs) == ((), 0, 0, 5)
    assert [kwargs.get("metadataonly") for kwargs, _ in spy] == [True]
    assert "Rows: none (no rows asked for)" in render_dta(page)


def test_empty_dataset(tmp_path: Path) -> None:
    path = tmp_path / "empty.dta"
    pyreadstat.write_dta(pd.DataFrame({"a": pd.Series([], dtype="float64")}), path)
    page = read_dta(path)
    assert (page.n_obs, page.n_vars, page.rows, page.stop) == (0, 1, (), 0)
    assert "Rows: none (no observations)" in render_dta(page)


# --- rows ----------------------------------------------------------------------------------


def test_rows_apply_value_labels_dates_and_missing(auto: Path) -> None:
    page = read_dta(auto)
    assert page.rows == (
        ("AMC Concord", 4099.0, 22, "Domestic", "Average", dt.date(2020, 1, 2),
         dt.datetime(2021, 3, 4, 5, 6, 7), "2020m1"),
        ("AMC Pacer", 4749.0, 17, "Foreign", "Good", None, None, "2020m6"),
        ("Buick Century", None, None, "Foreign", 9.0, dt.date(1959, 12, 31), None, "1960m1"),
        ("", 3799.0, 20, None, "Poor", dt.date(1960, 1, 1), None, "1959m12"),
        (LONG_MAKE, 5000.5, 30, "Domestic", "Fair", None, None, None),
    )  # fmt: skip


def test_raw_values_without_value_labels(auto: Path) -> None:
    page = read_dta(auto, variables=["foreign", "rep78"], apply_value_labels=False)
    assert page.rows == ((0.0, 3.0), (1.0, 4.0), (1.0, 9.0), (None, 1.0), (0.0, 2.0))


def test_page_window_and_clipping_at_n(auto: Path) -> None:
    page = read_dta(auto, variables=["make"], start=2, count=2)
    assert (page.start, page.stop, page.rows) == (2, 4, (("Buick Century",), ("",)))
    tail = read_dta(auto, variables=["make"], start=3, count=20)
    assert (tail.start, tail.stop, len(tail.rows)) == (3, 5, 2)


def test_varlist_keeps_the_order_asked_and_accepts_a_string(auto: Path) -> None:
    page = read_dta(auto, variables=["foreign", "make", "foreign"], count=1)
    assert page.columns == ("foreign", "make")
    assert [v.name for v in page.variables] == ["foreign", "make"]
    assert page.rows == (("Domestic", "AMC Concord"),)
    assert read_dta(auto, variables="foreign make", count=1).rows == page.rows
    assert page.n_vars == 8


def test_stata_period_and_date_formats(tmp_path: Path) -> None:
    path = tmp_path / "periods.dta"
    df = pd.DataFrame({"q": [241.0], "w": [3121.0], "h": [121.0], "y": [1999.0], "d": [21000.0]})
    formats = {"q": "%tq", "w": "%tw", "h": "%th", "y": "%ty", "d": "%tdDD/NN/CCYY"}
    pyreadstat.write_dta(df, path, variable_format=formats)
    assert read_dta(path).rows == (("2020q2", "2020w2", "2020h2", 1999, dt.date(2017, 6, 30)),)


# --- laziness ------------------------------------------------------------------------------


def test_large_file_page_reads_only_metadata_and_the_page(big: Path, spy: list) -> None:
    page = read_dta(big, variables=["id", "g"], start=150_000, count=10)
    assert page.n_obs == BIG_N
    assert page.rows == tuple((i, ("zero", "one", "two")[i % 3]) for i in range(150_001, 150_011))
    (meta_kwargs, meta_rows), (page_kwargs, page_rows) = spy
    assert meta_kwargs["metadataonly"] is True and meta_rows == 0
    assert (page_kwargs["row_offset"], page_kwargs["row_limit"]) == (150_000, 10)
    assert page_kwargs["usecols"] == ["id", "g"]
    assert page_rows == 10


def test_large_file_last_page_and_render_row_numbers(big: Path, spy: list) -> None:
    page = read_dta(big, start=BIG_N - 3, count=20)
    assert (page.start, page.stop) == (BIG_N - 3, BIG_N)
    assert spy[1][0]["row_limit"] == 3 and spy[1][0].get("usecols") is None
    lines = render_dta(page).splitlines()
    assert lines[0] == f"{big}: 200,000 observations, 4 variables, label (none)"
    assert "Rows 199,998-200,000 of 200,000:" in lines
    last = lines[-1].split()
    assert last == ["200000.", "200000", "100000", "even", "two"]


# --- errors --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.dta") == f"no such file: {tmp_path / 'nope.dta'}"


def test_directory(tmp_path: Path) -> None:
    assert _error(tmp_path) == f"{tmp_path} is a directory, not a .dta file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_socket_or_device_named_dta_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dta"
    os.mkfifo(fifo)
    began = time.monotonic()
    assert _error(fifo) == (
        f"{fifo} is a FIFO (named pipe), not a regular file: only a regular .dta file can be read"
    )
    sock = tmp_path / "s.dta"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        assert "is a socket or device" in _error(sock)
    if Path("/dev/zero").exists():
        assert "/dev/zero is a socket or device" in _error(Path("/dev/zero"))
    assert time.monotonic() - began < 2  # refused, never waited on


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/fd is Linux's")
def test_the_file_read_is_the_one_checked_not_whatever_the_name_holds_later(
    auto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = pyreadstat.read_dta

    def recording(path: str, **kwargs: Any) -> Any:
        opened.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(pyreadstat, "read_dta", recording)
    page = read_dta(auto, count=2)
    assert page.path == str(auto) and len(page.rows) == 2
    assert len(opened) == 2  # metadata, then the page: both through the descriptor checked
    assert all(re.fullmatch(r"/proc/self/fd/\d+", path) for path in opened)


def test_text_file_renamed_dta(tmp_path: Path) -> None:
    path = tmp_path / "notes.dta"
    path.write_text("hello world, not data\n")
    assert _error(path) == f"{path} is not a Stata .dta file (it starts with 'hello world')"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "zero.dta"
    path.write_bytes(b"")
    assert _error(path) == f"{path} is not a Stata .dta file (it is empty)"


def test_truncated_file_is_reported_as_damaged(auto: Path) -> None:
    data = auto.read_bytes()
    auto.write_bytes(data[: len(data) // 2])
    message = _error(auto)
    assert message.startswith(f"cannot read {auto} (damaged, truncated or unsupported?): ")


def test_unknown_variable_suggests_close_matches(auto: Path) -> None:
    message = _error(auto, variables=["prce", "Make"])
    assert message == (
        "variables not found in auto.dta: prce (did you mean price?); Make (did you mean make?)."
        " Names are case-sensitive."
    )


def test_unknown_variable_without_match_lists_first_variables(auto: Path) -> None:
    message = _error(auto, variables=["make", "zzzz"])
    assert message == (
        "variable not found in auto.dta: zzzz. Names are case-sensitive. The file's variables:"
        " make, price, mpg, foreign, rep78, bought, seen, month."
    )


def test_unknown_variable_in_wide_file_lists_only_the_first_ten(tmp_path: Path) -> None:
    path = tmp_path / "wide.dta"
    pyreadstat.write_dta(pd.DataFrame({f"v{i}": [1.0] for i in range(30)}), path)
    message = _error(path, variables=["qqqq"])
    assert message.endswith(
        "The file's variables: v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, ... (30 in all)."
    )


def test_empty_varlist(auto: Path) -> None:
    assert "no variables named" in _error(auto, variables=[])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 5}, "start=5 is beyond the data: auto.dta has 5 observations"
         " (start is 0-based, so at most 4)"),
        ({"start": -1}, "start must be 0 or more (0 is the first observation), got -1"),
        ({"count": MAX_COUNT + 1}, f"count must be between 0 and {MAX_COUNT}, got {MAX_COUNT + 1}"),
        ({"count": -1}, f"count must be between 0 and {MAX_COUNT}, got -1"),
        ({"count": True}, "count must be an integer, got True"),
        ({"start": 1.5}, "start must be an integer, got 1.5"),
    ],
)  # fmt: skip
def test_bad_window(auto: Path, kwargs: dict[str, Any], message: str) -> None:
    assert _error(auto, **kwargs) == message


def test_dta_error_is_a_value_error() -> None:
    assert issubclass(DtaError, ValueError)


# --- rendering -----------------------------------------------------------------------------


def test_render_full_page(auto: Path) -> None:
    page = read_dta(auto)
    text = render_dta(page)
    lines = text.splitlines()
    assert lines[0] == f'{auto}: 5 observations, 8 variables, label "1978 automobile data"'
    assert "Variables:" in lines and "Rows 1-5 of 5:" in lines
    price = next(line for line in lines if line.startswith("price "))
    assert price.split() == ["price", "double", "%9.2fc", "Price"]
    origin = page.variables[3].value_labels
    assert f"{origin}: 0=Domestic, 1=Foreign" in lines
    rows = lines[lines.index("Rows 1-5 of 5:") + 1 :]
    assert rows[0].split() == [
        "make",
        "price",
        "mpg",
        "foreign",
        "rep78",
        "bought",
        "seen",
        "month",
    ]
    assert rows[1].split() == [
        "1.", "AMC", "Concord", "4,099.00", "22", "Domestic", "Average", "2020-01-02", "2021-03-04",
        "05:06:07", "2020m1",
    ]  # fmt: skip
    assert rows[3].split() == [
        "3.", "Buick", "Century", ".", ".", "Foreign", "9", "1959-12-31", ".", "1960m1",
    ]  # fmt: skip
    assert rows[4].split() == ["4.", "3,799.00", "20", ".", "Poor", "1960-01-01", ".", "1959m12"]
    long_cell = LONG_MAKE[:39] + "…"
    assert rows[5].startswith(f"5.  {long_cell}  ")
    assert LONG_MAKE not in text


def test_render_aligns_numbers_right_and_strings_left(auto: Path) -> None:
    text = render_dta(read_dta(auto, variables=["make", "mpg"], count=2))
    assert text.splitlines()[-3:] == [
        "    make         mpg",
        "1.  AMC Concord   22",
        "2.  AMC Pacer     17",
    ]


def test_render_page_row_numbers_are_one_based(auto: Path) -> None:
    text = render_dta(read_dta(auto, variables=["rep78"], start=3, count=2))
    assert text.splitlines()[-4:] == ["Rows 4-5 of 5:", "    rep78", "4.   Poor", "5.   Fair"]


def test_render_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "notes.dta"
    pyreadstat.write_dta(pd.DataFrame({"note": ["line one\nline two\tend"]}), path)
    assert render_dta(read_dta(path)).splitlines()[-1] == "1.  line one\\nline two\\tend"


def test_render_wide_and_long_page_within_budget(tmp_path: Path) -> None:
    path = tmp_path / "wide.dta"
    df = pd.DataFrame({f"var{i:03d}": np.arange(200, dtype="float64") * i for i in range(300)})
    pyreadstat.write_dta(df, path, column_labels={f"var{i:03d}": f"label {i}" for i in range(300)})
    page = read_dta(path, count=200)
    for budget in (1_000, 5_000, 20_000):
        text = render_dta(page, max_chars=budget)
        assert len(text) <= budget
        assert text.splitlines()[0] == f"{path}: 200 observations, 300 variables, label (none)"
        assert re.search(r"^\.\.\. [\d,]+ more variables not shown \(output budget\)$", text, re.M)
        assert re.search(r"^\.\.\. [\d,]+ more rows not shown \(output budget\)", text, re.M)
    header = next(line for line in text.splitlines() if line.startswith("Rows 1-200 of 200"))
    shown = int(re.search(r"showing (\d+) of 300 columns", header).group(1))
    table_lines = text.split(header + "\n", 1)[1].splitlines()
    assert len(table_lines[0].split()) == shown
    assert max(len(line) for line in table_lines) <= 240
    assert table_lines[1].split()[:3] == ["1.", "0", "0"]


def test_render_keeps_everything_when_it_fits(auto: Path) -> None:
    text = render_dta(read_dta(auto))
    assert "not shown" not in text and "showing" not in text
    assert render_dta(read_dta(auto), max_chars=len(text)) == text


def test_render_rejects_tiny_budget(auto: Path) -> None:
    with pytest.raises(ValueError, match="max_chars must be at least 200"):
        render_dta(read_dta(auto), max_chars=50)


def test_page_is_frozen(auto: Path) -> None:
    page = read_dta(auto, count=1)
    assert isinstance(page, DtaPage)
    with pytest.raises(AttributeError):
        page.start = 3  # type: ignore[misc]
