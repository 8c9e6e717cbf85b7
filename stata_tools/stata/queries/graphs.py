"""The graphs in Stata's memory: their names, and one exported to a file."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from stata_tools.stata.engine import stata_quote


def graph_names(pystata: ModuleType, sfi: ModuleType) -> list[str]:
    """The graphs in Stata's memory."""
    pystata.stata.run("quietly graph dir, memory", echo=False, inline=False)
    return str(sfi.Macro.getGlobal("r(list)")).split()


def export_graph(pystata: ModuleType, sfi: ModuleType, name: str, path: Path, fmt: str) -> None:
    """Write one graph in memory to `path` (Stata's error as SystemError)."""
    command = f"graph export {stata_quote(str(path))}, name({name}) replace as({fmt})"
    pystata.stata.run(command, quietly=True, echo=False, inline=False)
