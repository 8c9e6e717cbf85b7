"""The package's layers: every import points down (or sideways within a folder), never up."""

from __future__ import annotations

import ast
from pathlib import Path

import stata_tools

PACKAGE = Path(stata_tools.__file__).parent
# Lowest first. A module may import its own layer and those below it.
LAYERS = ("about", "run", "safety", "stata", "inspection", "mcp|cli", "__init__|__main__")


def layer_of(module: str) -> int:
    first = module.removeprefix("stata_tools.").split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if first in names.split("|"))


def imports_of(path: Path) -> set[str]:
    """Every stata_tools module a file imports, at the top, in a function or for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("stata_tools")
        ):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(names if node.module == "stata_tools" else [node.module])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stata_tools."))
    return found


def modules() -> dict[str, Path]:
    return {
        ".".join(("stata_tools", *p.relative_to(PACKAGE).with_suffix("").parts)): p
        for p in PACKAGE.rglob("*.py")
    }


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)  # StopIteration names a folder no layer holds


def test_no_import_points_up_a_layer() -> None:
    upward = {
        (name, target)
        for name, path in modules().items()
        for target in imports_of(path)
        if target != "stata_tools" and layer_of(target) > layer_of(name)
    }
    assert upward == set()


def test_mcp_and_cli_faces_sit_apart_from_the_library() -> None:
    """The MCP layer is a face: nothing below it may import FastMCP's server objects from it."""
    below = [n for n in modules() if layer_of(n) < layer_of("mcp")]
    assert not any(t.startswith("stata_tools.mcp") for n in below for t in imports_of(modules()[n]))


def test_the_public_api_is_the_one_documented() -> None:
    public = (
        "CheckError CheckReport CommandStarted ErrorRaised Finished Heartbeat Output Queued "
        "RunEvent RunRequest RunRequestError RunResult RunStatus Session Settings Snapshot "
        "Started StataError __version__ check_do_file render_check render_text"
    )
    assert sorted(stata_tools.__all__) == public.split()
    assert all(getattr(stata_tools, name) is not None for name in stata_tools.__all__)
