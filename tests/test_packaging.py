"""The manifests that install the server (Claude Code plugin, MCP registry, Claude Desktop bundle)
name the real entry point and the package's one version."""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

from stata_tools.about import HOMEPAGE, __version__

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCRIPT = "stata-tools"


def load(path: str) -> dict:
    return json.loads((REPO / path).read_text())


def test_the_console_script_is_the_cli_and_serves_by_default() -> None:
    target = PYPROJECT["project"]["scripts"][SCRIPT]
    module, _, function = target.partition(":")
    assert (module, function) == ("stata_tools.cli.main", "main")
    parser = importlib.import_module(module)._parser()
    assert parser.parse_args(["serve"]).handler.__name__ == "_serve"
    assert parser.parse_args([]).handler.__name__ == "_serve"  # `uvx stata-tools` serves


def test_the_version_has_one_source() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "stata_tools/about.py"
    assert __version__.count(".") == 2


def test_the_claude_code_plugin_runs_the_console_script() -> None:
    plugin = load(".claude-plugin/plugin.json")
    assert plugin["version"] == __version__
    (server,) = plugin["mcpServers"].values()
    assert server["command"] == "uvx"
    assert server["args"] == ["--from", f"git+{HOMEPAGE}", SCRIPT, "serve"]
    market = load(".claude-plugin/marketplace.json")
    assert [p["name"] for p in market["plugins"]] == [plugin["name"]]


def test_the_registry_entry_names_the_pypi_package_and_its_version() -> None:
    entry = load("server.json")
    assert entry["version"] == __version__
    assert len(entry["description"]) <= 100  # the registry's limit
    (package,) = entry["packages"]
    assert (package["registryType"], package["identifier"]) == (
        "pypi",
        PYPROJECT["project"]["name"],
    )
    assert package["version"] == __version__
    assert package["transport"] == {"type": "stdio"}
    assert [a["value"] for a in package["packageArguments"]] == ["serve"]
    assert f"mcp-name: {entry['name']}" in (REPO / "README.md").read_text()  # ownership marker


def test_the_desktop_bundle_runs_the_console_script_with_its_settings() -> None:
    manifest = load("packaging/mcpb/manifest.json")
    assert manifest["version"] == __version__
    server = manifest["server"]
    assert server["type"] == "uv"
    assert (REPO / server["entry_point"]).is_file()
    assert server["mcp_config"]["args"][-2:] == [SCRIPT, "serve"]
    env = server["mcp_config"]["env"]
    for value in env.values():
        assert value.removeprefix("${user_config.").removesuffix("}") in manifest["user_config"]
    assert set(env) == {"STATA_PATH", "STATA_TOOLS_ROOTS"}


def test_the_wheel_carries_its_type_marker_and_licence() -> None:
    assert (REPO / "stata_tools" / "py.typed").is_file()
    assert "Permission is hereby granted, free of charge" in (REPO / "LICENSE").read_text()
    assert PYPROJECT["project"]["urls"]["Homepage"] == HOMEPAGE
