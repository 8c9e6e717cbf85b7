"""`stata-tools run | doctor` as a user types them, against the fake Stata."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from platforms import posix_signals

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


def test_run_prints_output_then_the_summary_last_and_exits_with_stata_rc(
    env: dict[str, str], tmp_path: Path
) -> None:
    do_file = tmp_path / "fails.do"
    do_file.write_text('display "fine"\ndisplay nosuchvar\n')
    done = cli("run", str(do_file), env=env)
    assert done.returncode == 111
    lines = done.stdout.splitlines()
    assert lines[0] == "--- output (10 lines) ---"
    assert lines[-1].startswith("Stata error · rc 111 · ")
    assert lines.count("fine") == 1  # the output once: no live tail left behind on stdout
    assert lines.index("fine") < lines.index("  Failing line 2 of fails.do: display nosuchvar")
    assert done.stdout.count("Stata error · rc 111") == 1


def test_return_codes_beyond_255_exit_255_and_the_last_line_names_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    do_file = tmp_path / "missing_child.do"
    do_file.write_text("do nosuchfile\n")
    done = cli("run", str(do_file), env=env)
    assert done.returncode == 255
    assert done.stdout.splitlines()[-1].startswith("Stata error · rc 601 · ")


def test_a_timeout_exits_124_and_says_it_timed_out(env: dict[str, str]) -> None:
    done = cli("run", "--code", "sleep 20000", "--timeout", "1", env=env)
    assert done.returncode == 124
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("Stata timed out · rc 1 · ")
    assert (
        "Note: timed out after 1.0s; Stata was sent a break and the session keeps its data" in lines
    )
    assert (
        "Stopped at line 1 of code: sleep 20000 (r(1) is Stata's answer to the break, not an "
        "error in the code)"
    ) in lines
    assert not any(line.startswith("Error r(1)") for line in lines)


def test_version_is_the_package_version() -> None:
    from stata_tools.about import __version__

    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout == f"stata-tools {__version__}\n"


def test_config_prints_a_client_entry_that_starts_this_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = {k: v for k, v in env.items() if not k.startswith("STATA_TOOLS_ROOTS")}
    done = cli("config", "--name", "st", env={**settings, "STATA_EDITION": "se"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    server = json.loads(done.stdout)["mcpServers"]["st"]
    assert server["command"] == sys.executable
    assert server["args"] == ["-m", "stata_tools", "serve"]
    assert server["env"]["STATA_PATH"] == env["STATA_PATH"]
    assert server["env"]["STATA_EDITION"] == "se"
    assert server["env"]["STATA_TOOLS_ROOTS"] == str(tmp_path.resolve())
    assert not any(key.startswith(("PATH", "HOME")) for key in server["env"])


def test_run_code_succeeds_with_exit_zero(env: dict[str, str]) -> None:
    done = cli("run", "--code", "display 6*7", env=env)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[1:3] == [". display 6*7", "42"]
    assert lines[-1].startswith("Stata ok · rc 0 · ")


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
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"✓ Stata: MP at {env['STATA_PATH']} (found by STATA_PATH)" in done.stdout
    assert "✓ Stata starts through pystata: Stata 18 MP ran a command" in done.stdout
    assert done.stdout.rstrip().endswith("all good")


def test_doctor_explains_a_wrong_stata_path(env: dict[str, str], tmp_path: Path) -> None:
    done = cli("doctor", env={**env, "STATA_PATH": str(tmp_path / "nostata")})
    assert done.returncode == 1
    assert "STATA_PATH" in done.stdout
    assert "does not exist" in done.stdout


def test_doctor_flags_a_root_that_does_not_exist(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no such project"
    roots = os.pathsep.join([str(tmp_path), str(missing)])
    done = cli("doctor", "--timeout", "60", env={**env, "STATA_TOOLS_ROOTS": roots})
    assert done.returncode == 1
    assert f"✗ allowed root: {missing} does not exist: fix STATA_TOOLS_ROOTS" in done.stdout


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


@posix_signals
def test_ctrl_c_stops_the_run_and_prints_the_log_path(env: dict[str, str], tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "stata_tools", "run", "--code", "sleep 20000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("*/run.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (log,) = tmp_path.glob("*/run.log")
    time.sleep(0.3)  # let Stata reach the sleep
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert f"stopped by Ctrl-C; the log so far: {log}" in err
    assert out == ""


def test_statas_native_writes_to_fd_1_go_to_the_runs_stdout_file_not_the_terminal(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = cli("run", "--code", 'display "via fd 1"', env={**env, "FAKE_STATA_RAW_FD1": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("via fd 1") == 2  # the echo and the output, once each
    assert done.stdout.splitlines()[-1].startswith("Stata ok · rc 0 · ")
    assert "via fd 1" not in done.stderr
    (captured,) = tmp_path.glob("*/stdout.txt")
    assert "via fd 1" in captured.read_text()


def test_run_with_the_batch_executor(env: dict[str, str], tmp_path: Path) -> None:
    do_file = tmp_path / "batched.do"
    do_file.write_text('display "from batch"\nsummarize nosuchvar\n')
    done = cli("run", str(do_file), "--executor", "batch", env=env)
    assert done.returncode == 111
    assert "from batch" in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1].startswith("Stata error · rc 111 · ")
    assert (tmp_path / "batched.log").is_file()  # batch Stata's own log, beside the do-file


def test_slurm_options_without_the_slurm_executor_are_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    do_file = tmp_path / "x.do"
    do_file.write_text("display 1\n")
    done = cli("run", str(do_file), "--executor", "batch", "--partition", "short", env=env)
    assert done.returncode == 2 and "need executor='slurm'" in done.stderr
