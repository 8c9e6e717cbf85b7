"""Reads between runs, on the fake Stata in this process: what they ask of Stata, and that
they leave the user's state as it was."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from stata_tools.stata.queries.codebook import CODEBOOK_FRAME, codebook_read, variable_catalog


@pytest.fixture(scope="module")
def stata(fake_stata_dir: Path) -> ModuleType:
    import stata_setup

    stata_setup.config(str(fake_stata_dir), "mp", splash=False)
    import pystata
    import pystata.stata

    return pystata


@pytest.fixture
def recorded(stata: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("FAKE_STATA_"):
            monkeypatch.delenv(key)
    stata.stata.run("clear all", quietly=True)
    stata.stata.run("sysuse auto", quietly=True)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("FAKE_STATA_RECORD", str(record))
    yield record
    monkeypatch.delenv("FAKE_STATA_RECORD")
    stata.stata.run("clear all", quietly=True)  # the in-process Stata is shared with other tests


def commands(record: Path) -> list[str]:
    events = [json.loads(line) for line in record.read_text().splitlines()]
    return [e["cmd"] for e in events if e["event"] == "run_start"]


def test_codebook_asks_stata_a_few_commands_a_variable(stata: ModuleType, recorded: Path) -> None:
    import sfi

    stata.stata.run("summarize mpg", quietly=True)
    stata.stata.run("capture error 110", quietly=True)  # as a failed capture leaves _rc
    before = stata.stata.get_return()
    read = codebook_read(stata, sfi, "rep78 make", 0, 50, True)
    assert commands(recorded)[2:] == [  # after the summarize and capture above
        "_return hold __st_codebook_r",
        "describe rep78 make, varlist",
        "summarize rep78, meanonly",
        f"frame put rep78, into({CODEBOOK_FRAME})",
        f"frame {CODEBOOK_FRAME}: contract rep78, nomiss freq(__st_n)",
        f"frame {CODEBOOK_FRAME}: count",
        f"frame drop {CODEBOOK_FRAME}",
        "count if missing(make)",
        f"frame put make, into({CODEBOOK_FRAME})",
        f"frame {CODEBOOK_FRAME}: contract make, nomiss freq(__st_n)",
        f"frame {CODEBOOK_FRAME}: count",
        f"frame drop {CODEBOOK_FRAME}",
        "_return restore __st_codebook_r",
        "capture error 110",
    ]
    assert stata.stata.get_return() == before
    assert sfi.Scalar.getValue("c(rc)") == 110
    rep78, make = read["variables"]
    assert (rep78["n_missing"], rep78["n_unique"], rep78["minimum"], rep78["maximum"]) == (
        5,
        5,
        1.0,
        5.0,
    )
    assert (make["type"], make["n_unique"], make["minimum"]) == ("str18", 74, None)
    assert read["sorted_by"] == ["foreign"] and read["selected"] == 2


def test_without_unique_counts_a_number_costs_one_summarize(
    stata: ModuleType, recorded: Path
) -> None:
    import sfi

    read = codebook_read(stata, sfi, "price foreign", 0, 50, False)
    assert commands(recorded)[2:4] == ["summarize price, meanonly", "summarize foreign, meanonly"]
    assert [v["n_unique"] for v in read["variables"]] == [None, None]
    assert read["value_labels"] == {"origin": {0.0: "Domestic", 1.0: "Foreign"}}


def test_a_refused_varlist_still_gives_r_back(stata: ModuleType, recorded: Path) -> None:
    import sfi

    stata.stata.run("count if foreign", quietly=True)
    read = codebook_read(stata, sfi, "nosuch", 0, 50, True)
    assert read["varlist_refused"].endswith("r(111);") and len(read["names"]) == 12
    assert stata.stata.get_return() == {"r(N)": 22.0}


def test_the_catalog_reads_through_sfi_alone(stata: ModuleType, recorded: Path) -> None:
    import sfi

    catalog = variable_catalog(stata, sfi, True)
    assert not recorded.exists() or commands(recorded) == []
    assert catalog["variables"][-1] == {
        "name": "foreign",
        "type": "byte",
        "label": "Car origin",
        "value_label": "origin",
    }
    assert catalog["value_labels"] == {"origin": {0.0: "Domestic", 1.0: "Foreign"}}


def test_a_variable_named_like_contract_s_count_is_counted_too(
    stata: ModuleType, recorded: Path
) -> None:
    import sfi

    stata.stata.run("generate _freq = rep78", quietly=True)
    stata.stata.run("generate __st_n = mpg", quietly=True)
    read = codebook_read(stata, sfi, "_freq __st_n", 0, 50, True)
    assert [(v["name"], v["n_unique"]) for v in read["variables"]] == [
        ("_freq", 5),
        ("__st_n", 21),
    ]
    assert f"frame {CODEBOOK_FRAME}: contract __st_n, nomiss freq(__st_m)" in commands(recorded)
    stata.stata.run("frames dir", quietly=True)
    assert stata.stata.get_return()["r(frames)"] == "default"  # no scratch frame is left
