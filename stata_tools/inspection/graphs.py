"""Graph names and formats as the graph tools take them, checked before Stata sees them."""

from __future__ import annotations

import re

from stata_tools.run.graphs import FORMATS

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


class GraphRequestError(ValueError):
    """A graph name or format Stata would not accept; the message says which are."""


def graph_name(name: str) -> str:
    if not _NAME.match(name):
        raise GraphRequestError(
            f"{name!r} is not a Stata graph name (a letter or _, then letters, digits or _, "
            "at most 32); `list_graphs` shows the graphs in memory"
        )
    return name


def graph_format(value: str) -> str:
    fmt = value.lower().lstrip(".")
    if fmt not in FORMATS:
        raise GraphRequestError(f"format must be one of {', '.join(FORMATS)}, got {value!r}")
    return fmt
