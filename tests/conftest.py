"""Fixtures every test module may use: the real Stata corpus and the fake Stata installation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FAKE_STATA = REPO / "tests" / "fake_stata"
CORPUS = REPO.parent / "shared" / "stata-corpus"

# One Stata per process: every in-process test shares it. A STATA_PATH already set (a real Stata,
# another faithful fake) wins over ours.
os.environ.setdefault("STATA_PATH", str(FAKE_STATA))
os.environ.setdefault("STATA_TOOLS_RUN_DIR", tempfile.mkdtemp(prefix="stata-tools-runs-"))
os.environ.setdefault("STATA_TOOLS_HEARTBEAT_S", "1")
# Tests write their do-files and data under the temporary folder.
os.environ.setdefault("STATA_TOOLS_ROOTS", os.pathsep.join([tempfile.gettempdir(), str(REPO)]))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Real Stata logs written by other people (never edited)."""
    if not CORPUS.is_dir():
        pytest.fail(f"the Stata corpus is missing: expected it at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def fake_stata_dir() -> Path:
    """The fake Stata installation root, as STATA_PATH would name it."""
    return FAKE_STATA
