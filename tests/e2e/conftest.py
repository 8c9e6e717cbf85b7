"""Fixtures the external-client tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
from sdk_client import install_node_client


@pytest.fixture(scope="module")
def node_client() -> Path:
    return install_node_client()
