"""Fixtures every test module may use: the real Stata corpus and the fake Stata installation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from corpus import CORPUS, REQUIRED, corpus_present, require_corpus

REPO = Path(__file__).resolve().parents[1]
FAKE_STATA = REPO / "tests" / "fake_stata"

# One Stata per process: every in-process test shares it. A STATA_PATH already set (a real Stata,
# another faithful fake) wins over ours.
os.environ.setdefault("STATA_PATH", str(FAKE_STATA))
os.environ.setdefault("STATA_TOOLS_RUN_DIR", tempfile.mkdtemp(prefix="stata-tools-runs-"))
os.environ.setdefault("STATA_TOOLS_HEARTBEAT_S", "1")
# Tests write their do-files and data under the temporary folder.
os.environ.setdefault("STATA_TOOLS_ROOTS", os.pathsep.join([tempfile.gettempdir(), str(REPO)]))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(REQUIRED) and not corpus_present():
        raise pytest.UsageError(f"{REQUIRED} is set but the real-log corpus is missing at {CORPUS}")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Real Stata logs written by other people (never edited); skips when they are absent."""
    return require_corpus()


@pytest.fixture(scope="session")
def fake_stata_dir() -> Path:
    """The fake Stata installation root, as STATA_PATH would name it."""
    return FAKE_STATA


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node Slurm cluster (tests/slurm_cluster.py); skips where it cannot run.
    Its SLURM_CONF is in the environment while the tests run, as on a cluster's login node."""
    from slurm_cluster import start_cluster

    with start_cluster() as cluster:
        before = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(cluster.conf)
        try:
            yield cluster
        finally:
            if before is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = before
