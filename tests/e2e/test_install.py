"""Installed the way MCP servers are installed: `pipx install git+…` and `uvx --from git+…`, from a
clone of this repository's committed HEAD, then driven over stdio by the TypeScript SDK client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_client import call

from stata_tools.about import __version__

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent  # uv and pipx come with the dev tools
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def git_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A clone of HEAD in a folder with spaces: what `git+https://…` would fetch."""
    clone = tmp_path_factory.mktemp("clone") / "a clone with spaces"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    return f"git+{clone.as_uri()}"


def isolated(tmp_path: Path, fake_stata_dir: Path) -> dict[str, str]:
    """No venv on PATH, no project on sys.path: only what the install put in place."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if str(SCRIPTS) != p)
    env.update(
        STATA_PATH=str(fake_stata_dir),
        STATA_TOOLS_RUN_DIR=str(tmp_path / "runs"),
        STATA_TOOLS_ROOTS=str(tmp_path),
        HOME=str(tmp_path / "home"),
    )
    return env


def served(node_client: Path, command: list[str], env: dict[str, str], tmp_path: Path) -> None:
    """The installed server answers an independent client: version, a run, progress."""
    got = call(node_client, "run_code", {"code": "display 6*7"}, 120_000, env, ("--", *command))
    assert got["ok"] is True, got
    assert (got["server"]["name"], got["server"]["version"]) == ("stata-tools", __version__)
    assert got["text"].startswith("Stata ok · rc 0")
    assert ". display 6*7\n42" in got["text"]
    assert not (tmp_path / "runs").is_relative_to(REPO)


def test_pipx_install_from_git(
    git_url: str, node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    env = isolated(tmp_path, fake_stata_dir)
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"))
    pipx = [sys.executable, "-m", "pipx"]
    subprocess.run([*pipx, "install", "--python", sys.executable, git_url], env=env, check=True)
    script = tmp_path / "bin" / "stata-tools"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env)
    assert version.stdout == f"stata-tools {__version__}\n"
    served(node_client, [str(script), "serve"], env, tmp_path)


def test_uvx_from_git(
    git_url: str, node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    uvx = shutil.which("uvx", path=str(SCRIPTS))
    assert uvx, "uv comes with the dev tools (make e2e installs them)"
    env = isolated(tmp_path, fake_stata_dir)
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_PYTHON=sys.executable)
    command = [uvx, "--from", git_url, "stata-tools"]
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0, version.stderr[-2000:]
    assert version.stdout == f"stata-tools {__version__}\n"
    served(node_client, [*command, "serve"], env, tmp_path)


def test_the_claude_desktop_bundle_serves_as_the_host_runs_it(
    node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    subprocess.run(["make", "mcpb"], cwd=REPO, check=True, capture_output=True)
    unpacked = tmp_path / "extension"
    shutil.unpack_archive(REPO / "dist" / "stata-tools.mcpb", unpacked, format="zip")
    manifest = json.loads((unpacked / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    uv = shutil.which("uv", path=str(SCRIPTS))
    assert config["command"] == "uv" and uv
    args = [arg.replace("${__dirname}", str(unpacked)) for arg in config["args"]]
    env = isolated(tmp_path, fake_stata_dir)
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_PYTHON=sys.executable)
    served(node_client, [uv, *args], env, tmp_path)
