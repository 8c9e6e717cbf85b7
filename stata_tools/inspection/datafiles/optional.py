"""Readers that are default dependencies yet may be missing (no wheel for the platform)."""

from __future__ import annotations

import importlib
from types import ModuleType

from stata_tools.inspection.datafiles.page import DataFileError

__all__ = ["require"]


def require(module: str, package: str, files: str) -> ModuleType:
    """`module`, imported now (so the server starts without it); DataFileError naming the
    package to install when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DataFileError(
            f"reading {files} files needs the Python package {package}, which is not installed"
            f" ({exc}): install it where stata-tools runs, e.g. `pip install {package}`"
        ) from None
