"""The real-log corpus in ../shared/stata-corpus: a developer checkout and CI have it, a fresh
clone does not; there its tests skip with one reason (CI makes that an error)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "stata-corpus"
REQUIRED = "STATA_TOOLS_REQUIRE_CORPUS"  # set by .ci/run: a missing corpus fails the run
ABSENT = (
    "needs the real Stata logs in ../shared/stata-corpus beside the checkout "
    "(a developer checkout and CI have them; a fresh clone does not)"
)


def corpus_present() -> bool:
    return CORPUS.is_dir()


def require_corpus() -> Path:
    """The corpus folder, or skip the calling test (fail it when CI requires the corpus)."""
    if corpus_present():
        return CORPUS
    if os.environ.get(REQUIRED):
        pytest.fail(f"{REQUIRED} is set but the corpus is missing at {CORPUS}")
    pytest.skip(ABSENT)


def corpus_params(*patterns: str) -> list:
    """Corpus files matching the patterns, as parameters; without the corpus, one skipped."""
    if not corpus_present():
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=ABSENT))]
    files = sorted(p for pattern in patterns for p in CORPUS.glob(pattern))
    return [pytest.param(p, id=p.name) for p in files]
