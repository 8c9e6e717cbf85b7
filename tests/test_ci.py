"""The CI workflow for GitHub's runners: every OS and Python the project supports runs the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML (a dependency of fastmcp's) is not installed")
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_suite_runs_on_linux_macos_and_windows_with_both_pythons() -> None:
    test = _workflow()["jobs"]["test"]
    matrix = test["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert set(matrix["python"]) == {"3.11", "3.13"}
    assert test["strategy"]["fail-fast"] is False  # one OS failing must not hide another's result
    runs = {step.get("name", ""): step for step in test["steps"] if "run" in step}
    posix = next(step for step in runs.values() if step.get("if") == "runner.os != 'Windows'")
    windows = next(step for step in runs.values() if step.get("if") == "runner.os == 'Windows'")
    assert posix["run"].startswith("make test")
    assert '-e ".[dev]"' in windows["run"] and "-m pytest -q" in windows["run"]


def test_the_windows_steps_do_what_make_test_does() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert '-e ".[dev]"' in makefile  # the dev extras, as the Windows step installs them
    assert "$(BIN)/python -m pytest -q\n" in makefile


def test_lint_runs_once() -> None:
    lint = _workflow()["jobs"]["lint"]
    assert lint["runs-on"] == "ubuntu-latest"
    assert any(step.get("run", "").startswith("make lint") for step in lint["steps"])


def test_the_workflow_triggers_on_push_and_pull_requests() -> None:
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
