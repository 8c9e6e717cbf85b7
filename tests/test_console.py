"""Console-binary discovery for batch runs, per OS layout, and the batch argv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stata_tools.stata.console import ConsoleBinary, batch_command, find_console
from stata_tools.stata.discovery import StataNotFound


def binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_fake_installation_is_found_by_stata_path(fake_stata_dir: Path) -> None:
    found = find_console({"STATA_PATH": str(fake_stata_dir)}, "linux", Path("/nonexistent"))
    assert found.path == fake_stata_dir / "stata-mp" and found.edition == "mp"
    assert found.source == "STATA_PATH"


def test_edition_picks_its_binary(fake_stata_dir: Path) -> None:
    env = {"STATA_PATH": str(fake_stata_dir), "STATA_EDITION": "BE"}
    assert find_console(env, "linux", Path("/x")).path == fake_stata_dir / "stata"


def test_stata_path_naming_the_binary(fake_stata_dir: Path) -> None:
    env = {"STATA_PATH": str(fake_stata_dir / "stata-se")}
    found = find_console(env, "linux", Path("/x"))
    assert found.edition == "se" and found.path.name == "stata-se"


def test_explicit_path_without_binary_never_falls_back(tmp_path: Path) -> None:
    with pytest.raises(StataNotFound) as info:
        find_console({"STATA_PATH": str(tmp_path), "PATH": "/usr/bin"}, "linux", tmp_path)
    assert "stata-mp, stata-se, stata" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_default_location_before_path(tmp_path: Path) -> None:
    binary(tmp_path / "base" / "stata17" / "stata-se")
    binary(tmp_path / "bin" / "stata-mp")
    env = {"PATH": str(tmp_path / "bin")}
    found = find_console(env, "linux", tmp_path, bases=[tmp_path / "base"])
    assert found.path == tmp_path / "base" / "stata17" / "stata-se"
    assert found.source == "default location"


def test_path_lookup_and_what_was_tried(tmp_path: Path) -> None:
    binary(tmp_path / "bin" / "stata-mp")
    env = {"PATH": os.pathsep.join([str(tmp_path / "nothing"), str(tmp_path / "bin")])}
    found = find_console(env, "linux", tmp_path, bases=[tmp_path / "base"])
    assert found.path == tmp_path / "bin" / "stata-mp" and found.source == "PATH"
    with pytest.raises(StataNotFound) as info:
        find_console({"PATH": str(tmp_path / "nothing")}, "linux", tmp_path, bases=[tmp_path])
    assert "STATA_PATH: not set" in info.value.tried
    assert any(entry.startswith("PATH: no console Stata") for entry in info.value.tried)


def test_macos_bundle_console(tmp_path: Path) -> None:
    root = tmp_path / "Stata"
    binary(root / "StataSE.app" / "Contents" / "MacOS" / "stata-se")
    found = find_console({"STATA_PATH": str(root / "StataSE.app")}, "darwin", tmp_path)
    assert found.path == root / "StataSE.app" / "Contents" / "MacOS" / "stata-se"
    assert batch_command(found, "f.do")[1] == "-b"


def test_windows_executable_runs_with_e(tmp_path: Path) -> None:
    root = tmp_path / "Stata18"
    binary(root / "StataMP-64.exe")
    found = find_console({"STATA_PATH": str(root)}, "win32", tmp_path)
    assert found.windows and found.edition == "mp"
    assert batch_command(found, "f.do", ["3"]) == [
        str(root / "StataMP-64.exe"),
        "/e",
        "do",
        "f.do",
        "3",
    ]


def test_batch_argv() -> None:
    console = ConsoleBinary(Path("/s/stata-mp"), "mp", "PATH")
    assert batch_command(console, "job.do", ["7", "x"]) == [
        "/s/stata-mp",
        "-b",
        "do",
        "job.do",
        "7",
        "x",
    ]
