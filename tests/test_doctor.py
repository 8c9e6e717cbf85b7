"""`stata-tools doctor`: each check reports what it found and fails when it should."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import pytest

from stata_tools.cli.doctor import Check, diagnose, probe_server, sandbox_smoke
from stata_tools.cli.main import main
from stata_tools.safety import sandbox
from stata_tools.safety.roots import Roots
from stata_tools.stata.settings import Settings

# A stand-in server: answers every request, and prints a banner to stdout first, as a careless
# pystata set-up would.
LEAKY_SERVER = r"""
import json, sys
print("  ___  ____  ____  ____  ____ (R)", flush=True)
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    result = {"content": [{"type": "text", "text": "stata-tools doctor: 18 MP"}]}
    if message["method"] == "tools/call" and "hang" in sys.argv:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
"""


def env_with(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATA", "FAKE_STATA"))}
    env["STATA_TOOLS_RUN_DIR"] = os.environ["STATA_TOOLS_RUN_DIR"]
    env.update(changes)
    return env


def by_label(checks: list[Check]) -> dict[str, Check]:
    return {check.label: check for check in checks}


def test_a_healthy_setup_passes_every_check(fake_stata_dir: Path) -> None:
    checks = by_label(list(diagnose(env_with(STATA_PATH=str(fake_stata_dir)), timeout_s=60)))
    assert [label for label, check in checks.items() if check.ok is False] == []
    assert checks["Stata"].detail == f"MP at {fake_stata_dir} (found by STATA_PATH)"
    assert checks["Stata starts through pystata"].detail == "Stata 18 MP ran a command"
    assert checks["stdout carries only JSON-RPC"].ok is True
    assert checks["allowed roots"].detail == (
        f"{Path.cwd().resolve()} (the folder the server was started in: the default while "
        "STATA_TOOLS_ROOTS is unset)"
    )
    assert checks["command policy"].detail.startswith("refusing shell, erase")
    assert checks["install_package"].detail == "installs from ssc (STATA_TOOLS_INSTALL_SOURCES)"


def test_the_guard_holds_when_stata_writes_to_fd_1(fake_stata_dir: Path) -> None:
    env = env_with(STATA_PATH=str(fake_stata_dir), FAKE_STATA_RAW_FD1="1")
    checks = by_label(list(diagnose(env, timeout_s=60)))
    assert checks["stdout carries only JSON-RPC"].ok is True


def test_stray_stdout_is_caught(tmp_path: Path) -> None:
    script = tmp_path / "leaky.py"
    script.write_text(LEAKY_SERVER)
    probe = probe_server(env_with(), 10, [sys.executable, str(script)])
    assert probe.error is None
    assert probe.output == "Stata 18 MP ran a command"
    assert probe.stray_stdout.startswith(b"  ___  ____")


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    script = tmp_path / "leaky.py"
    script.write_text(LEAKY_SERVER)
    probe = probe_server(env_with(), 1, [sys.executable, str(script), "hang"])
    assert probe.error == "no answer to tools/call within 1 s"


def test_missing_stata_fails_and_lists_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "environ", env_with(STATA_PATH=str(tmp_path / "nowhere")))
    with pytest.raises(SystemExit) as exited:
        main(["doctor"])
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "✗ Stata:" in out and str(tmp_path / "nowhere") in out
    assert "problems found" in out


@pytest.mark.parametrize(
    ("setting", "label", "says"),
    [
        ({"STATA_TOOLS_HEARTBEAT_S": "soon"}, "settings", "is not a number"),
        ({"STATA_TOOLS_ALLOW": "shell,teleport"}, "settings", "teleport"),
    ],
)
def test_bad_settings_fail(setting: dict[str, str], label: str, says: str) -> None:
    checks = by_label(list(diagnose(env_with(STATA_PATH="/nowhere", **setting), timeout_s=5)))
    assert checks[label].ok is False
    assert says in checks[label].detail


_SANDBOX_MISSING = sandbox.seccomp_available() or sandbox.landlock_available()


@pytest.mark.skipif(
    _SANDBOX_MISSING is not None, reason=f"the OS sandbox is not available: {_SANDBOX_MISSING}"
)
def test_the_sandbox_smoke_test_passes_and_names_a_refused_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stata_dir: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "tmp").mkdir()  # a temporary folder of its own, not all of /tmp
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    settings = dataclasses.replace(
        Settings.from_env({"STATA_PATH": str(fake_stata_dir)}),
        run_dir=tmp_path / "runs",
        roots=Roots((root,)),
    )
    passed = by_label(list(sandbox_smoke(settings)))
    assert [c.ok for c in passed.values()] == [True, True, True, True]
    assert list(root.iterdir()) == []  # its files are removed afterwards

    real_spec = Settings.sandbox_spec

    def without_the_root(settings: Settings) -> sandbox.SandboxSpec | None:
        spec = real_spec(settings)
        assert spec is not None
        kept = tuple(w for w in spec.writable if w.path != str(root))
        return dataclasses.replace(spec, writable=kept)

    monkeypatch.setattr(Settings, "sandbox_spec", without_the_root)
    refused = by_label(list(sandbox_smoke(settings)))
    assert refused["sandbox: display"].ok is True
    assert refused["sandbox: sysuse"].ok is True
    save = refused["sandbox: save into a root"]
    assert save.ok is False
    assert save.detail.startswith("r(603)")
    assert f"refused to let Stata write {root}" in save.detail
    assert "STATA_TOOLS_SANDBOX_WRITABLE" in save.detail


def test_the_sandbox_line_says_what_is_in_force(fake_stata_dir: Path) -> None:
    env = env_with(STATA_PATH=str(fake_stata_dir), STATA_TOOLS_SANDBOX="off")
    checks = by_label(list(diagnose(env, timeout_s=60)))
    assert checks["OS sandbox"].ok is None
    assert "STATA_TOOLS_SANDBOX=off" in checks["OS sandbox"].detail
    assert not any(label.startswith("sandbox:") for label in checks)
