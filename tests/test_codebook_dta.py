"""A .dta file's codebook without Stata: the page's columns only, a chunk of rows at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from stata_tools.inspection.codebook import CodebookError, render_codebook
from stata_tools.inspection.codebook_dta import dta_catalog, dta_codebook
from stata_tools.inspection.dta import DtaError


@pytest.fixture
def survey(tmp_path: Path) -> Path:
    """1,000 rows: an id, a labelled category with missing, a float with gaps, a string."""
    n = 1_000
    frame = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype="float64"),
            "region": [float(i % 4 + 1) if i % 10 else np.nan for i in range(n)],
            "income": [np.nan if i % 7 == 0 else 1000.0 + (i % 50) * 0.25 for i in range(n)],
            "empty": [np.nan] * n,
            "town": ["" if i % 5 == 0 else f"town {i % 3}" for i in range(n)],
        }
    )
    path = tmp_path / "survey.dta"
    pyreadstat.write_dta(
        frame,
        str(path),
        column_labels={"region": "Region of residence", "income": "Monthly income"},
        variable_value_labels={"region": {1: "North", 2: "South", 3: "East", 4: "West"}},
        variable_format={"income": "%9.2f"},
    )
    return path


@pytest.fixture
def chunks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each chunked read's arguments, recorded."""
    calls: list[dict[str, Any]] = []
    real = pyreadstat.read_file_in_chunks

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pyreadstat, "read_file_in_chunks", recording)
    return calls


def test_facts_of_every_variable(survey: Path) -> None:
    book = dta_codebook(survey)
    assert (book.n_obs, book.n_vars, book.selected) == (1_000, 5, 5)
    facts = {v.name: v for v in book.variables}
    assert (facts["id"].n_unique, facts["id"].n_missing) == (1_000, 0)
    assert (facts["id"].minimum, facts["id"].maximum) == (1.0, 1_000.0)
    assert (facts["region"].n_unique, facts["region"].n_missing) == (4, 100)
    assert facts["region"].label == "Region of residence"
    assert facts["income"].n_missing == 143  # i % 7 == 0 for i in 0..999
    assert (facts["income"].minimum, facts["income"].maximum) == (1000.0, 1012.25)
    assert facts["income"].format == "%9.2f"
    assert (facts["empty"].n_unique, facts["empty"].n_missing) == (0, 1_000)
    assert facts["empty"].minimum is None
    assert (facts["town"].n_unique, facts["town"].n_missing) == (3, 200)
    assert facts["town"].type.startswith("str")
    name = facts["region"].value_label
    assert name is not None and dict(book.value_labels[name]) == {
        1: "North",
        2: "South",
        3: "East",
        4: "West",
    }
    text = render_codebook(book)
    assert "  range: [1000, 1012.25]   unique values: 50   missing .: 143/1,000" in text


def test_only_the_page_is_read_a_chunk_at_a_time(survey: Path, chunks: list) -> None:
    book = dta_codebook(survey, "region-income", chunk_cells=500)
    assert [v.name for v in book.variables] == ["region", "income"]
    assert chunks[0]["usecols"] == ["region", "income"] and chunks[0]["chunksize"] == 250
    facts = {v.name: v for v in book.variables}
    assert facts["region"].n_unique == 4 and facts["income"].n_missing == 143  # over 4 chunks


def test_pages_and_no_unique_count(survey: Path) -> None:
    page = dta_codebook(survey, None, start=3, count=10, unique=False)
    assert [v.name for v in page.variables] == ["empty", "town"]
    assert [v.n_unique for v in page.variables] == [None, None]
    assert page.variables[1].n_missing == 200
    past = dta_codebook(survey, None, start=9)
    assert past.variables == () and past.selected == 5


def test_catalog_reads_names_labels_and_value_labels(survey: Path) -> None:
    entries, sets = dta_catalog(survey)
    assert [e.name for e in entries] == ["id", "region", "income", "empty", "town"]
    assert entries[2].label == "Monthly income" and dict(sets) == {}
    _, sets = dta_catalog(survey, value_labels=True)
    assert next(iter(sets.values()))[2] == "South"


def test_bad_files_and_varlists(survey: Path, tmp_path: Path) -> None:
    with pytest.raises(DtaError, match="no such file"):
        dta_codebook(tmp_path / "none.dta")
    text = tmp_path / "notes.dta"
    text.write_text("hello")
    with pytest.raises(DtaError, match=r"is not a Stata \.dta file"):
        dta_catalog(text)
    with pytest.raises(CodebookError, match="variable regoin not found; did you mean region"):
        dta_codebook(survey, "regoin")
    with pytest.raises(CodebookError, match="count must be between 1 and 500"):
        dta_codebook(survey, count=0)
