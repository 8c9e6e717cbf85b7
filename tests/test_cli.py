"""`stata-tools run | doctor` as a user types them, against the fake Stata."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "stata_tools", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        timeout=60,
    )


@pytest.fixture
def env(fake_stata_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "STATA_PATH": str(fake_stata_dir), "STATA_TOOLS_RUN_DIR": str(tmp_path)}


def test_run_prints_the_result_and_exits_with_stata_rc(env: dict[str, str], tmp_path: Path) -> None:
    do_file = tmp_path / "fails.do"
    do_file.write_text('display "fine"\ndisplay nosuchvar\n')
    done = cli("run", str(do_file), env=env)
    assert done.returncode == 111
    assert done.stdout.splitlines()[0].startswith("Stata error · rc 111 · ")
    assert "Failing line 2 of fails.do: display nosuchvar" in done.stdout


def test_return_codes_beyond_255_exit_255(env: dict[str, str], tmp_path: Path) -> None:
    do_file = tmp_path / "missing_child.do"
    do_file.write_text("do nosuchfile\n")
    done = cli("run", str(do_file), env=env)
    assert done.returncode == 255
    assert done.stdout.splitlines()[0].startswith("Stata error · rc 601 · ")


def test_run_code_succeeds_with_exit_zero(env: dict[str, str]) -> None:
    done = cli("run", "--code", "display 6*7", env=env)
    assert done.returncode == 0
    assert done.stdout.rstrip().endswith(". display 6*7\n42")


def test_run_refuses_bad_input_with_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    done = cli("run", str(tmp_path / "missing.do"), env=env)
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    both = cli("run", "x.do", "--code", "display 1", env=env)
    assert both.returncode == 2


def test_check_exits_0_clean_1_with_problems_2_for_bad_usage(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "clean.do").write_text("display 1\ndisplay 2\n")
    (tmp_path / "broken.do").write_text("display 1\n}\ndo missing.do\n")
    env = {**env, "STATA_TOOLS_ROOTS": str(tmp_path)}
    clean = cli("check", "clean.do", env=env, cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("Checked clean.do without Stata: no problems found · 2 commands")
    broken = cli("check", str(tmp_path / "broken.do"), env=env)
    assert broken.returncode == 1
    assert "- broken.do line 2: `}` closes a block that was never opened" in broken.stdout
    assert "- broken.do line 3: `do missing.do`: file not found" in broken.stdout
    missing = cli("check", str(tmp_path / "nope.do"), env=env)
    assert missing.returncode == 2 and missing.stdout == ""
    assert "nope.do does not exist" in missing.stderr
    outside = cli("check", str(REPO / "README.md"), env=env)
    assert outside.returncode == 2 and "is outside the allowed roots" in outside.stderr
    assert cli("check", env=env).returncode == 2  # no file: argparse's usage error


def test_doctor_finds_and_starts_stata(env: dict[str, str]) -> None:
    done = cli("doctor", env=env)
    assert done.returncode == 0, done.stderr
    assert f"✓ Stata: MP at {env['STATA_PATH']} (found by STATA_PATH)" in done.stderr
    assert "✓ Stata starts through pystata: Stata 18 MP ran a command" in done.stderr
    assert done.stderr.rstrip().endswith("all good")
    assert done.stdout == ""


def test_doctor_explains_a_wrong_stata_path(env: dict[str, str], tmp_path: Path) -> None:
    done = cli("doctor", env={**env, "STATA_PATH": str(tmp_path / "nostata")})
    assert done.returncode == 1
    assert "STATA_PATH" in done.stderr
    assert "does not exist" in done.stderr


def test_serve_refuses_a_bad_setting_with_a_clear_message(env: dict[str, str]) -> None:
    done = cli("serve", env={**env, "STATA_TOOLS_HEARTBEAT_S": "often"})
    assert done.returncode == 2
    assert "STATA_TOOLS_HEARTBEAT_S='often' is not a number" in done.stderr


def test_serve_warns_when_the_only_root_is_the_filesystem_root(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stata_tools", "serve"],
        input="",
        capture_output=True,
        text=True,
        env={k: v for k, v in env.items() if k != "STATA_TOOLS_ROOTS"},
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "warning: / is an allowed root, so every path is" in done.stderr
    assert done.stdout == ""
