"""Graphs: the files a run's graphs were exported to, and the exports a do-file wrote itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("png", "svg", "pdf")
# Stata 17: "file g.png written in PNG format"; Stata 18+: "file g.png saved as PNG format";
# either may be wrapped in parentheses.
_EXPORTED = re.compile(
    r"^\(?file (?P<path>.+?) (?:written in|saved as) (?P<format>[A-Za-z]+) format\)?\s*$"
)


@dataclass(frozen=True, slots=True)
class GraphFile:
    """A graph as a file: its Stata name (or None for a user's own export), path and format."""

    name: str | None
    path: str
    format: str


def exported_file(line: str) -> tuple[str, str] | None:
    """The (path, format) a `graph export` message names, if the line is one."""
    match = _EXPORTED.match(line.strip())
    if match is None:
        return None
    return match["path"].strip('"'), match["format"].lower()


def export_path(folder: Path, index: int, name: str, fmt: str = "png") -> Path:
    """Where a run's graph goes: numbered, so two graphs never overwrite each other."""
    return folder / f"graph-{index}-{name}.{fmt}"
