"""The fake console binaries run do-files in batch mode as real batch Stata does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def batch(fake_stata_dir: Path, folder: Path, *args: str, binary: str = "stata-mp", **env: str):
    return subprocess.run(
        [str(fake_stata_dir / binary), *args],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
    )


def test_layout_has_the_console_binaries_at_the_root(fake_stata_dir: Path) -> None:
    for name in ("stata-mp", "stata-se", "stata"):
        path = fake_stata_dir / name
        assert path.is_file() and os.access(path, os.X_OK), name


def test_batch_log_has_banner_notes_echo_and_body(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "job.do").write_text('display "arg: `1\'"\ndisplay 1+1\n', encoding="utf-8")
    done = batch(fake_stata_dir, tmp_path, "-b", "do", "job.do", "7")
    assert done.returncode == 0 and done.stdout == b""
    text = (tmp_path / "job.log").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "" and lines[1] == "  ___  ____  ____  ____  ____ \u00ae"
    assert "MP\u2014Parallel Edition" in lines[3]
    assert "      1. Stata is running in batch mode." in lines
    body = text[text.index(". do job.do 7 \n") :]
    assert body.splitlines() == [
        ". do job.do 7 ",
        "",
        '. display "arg: `1\'"',
        "arg: 7",
        "",
        ". display 1+1",
        "2",
        "",
        ". ",
        "end of do-file",
    ]


def test_licence_lines_are_placeholders(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a.do").write_text("display 1\n", encoding="utf-8")
    batch(fake_stata_dir, tmp_path, "-b", "do", "a.do", binary="stata-se")
    text = (tmp_path / "a.log").read_text(encoding="utf-8")
    assert "Serial number: 000000000000" in text and "SE\u2014Standard Edition" in text


def test_stata_15_banner(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a.do").write_text("display 1\n", encoding="utf-8")
    batch(fake_stata_dir, tmp_path, "-b", "do", "a.do", FAKE_STATA_BATCH_VERSION="15.1")
    lines = (tmp_path / "a.log").read_text(encoding="utf-8").splitlines()
    assert lines[1] == "  ___  ____  ____  ____  ____ (R)"
    assert "15.1   Copyright 1985-2017 StataCorp LLC" in lines[3]
    assert "      1.  Stata is running in batch mode." in lines
    assert all(line.isascii() for line in lines)


def test_failing_do_file_exits_zero_and_logs_the_code(fake_stata_dir: Path, tmp_path: Path):
    source = 'display "before"\nsummarize nosuchvar\ndisplay "after"\n'
    (tmp_path / "bad.do").write_text(source, encoding="utf-8")
    done = batch(fake_stata_dir, tmp_path, "-b", "do", "bad.do")
    assert done.returncode == 0
    text = (tmp_path / "bad.log").read_text(encoding="utf-8")
    assert text.endswith("no variables defined\nr(111);\n\nend of do-file\nr(111);\n")
    assert "after" not in text


def test_bare_file_name_runs_as_quoted_do(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "hello.do").write_text("display 21+21\n", encoding="utf-8")
    batch(fake_stata_dir, tmp_path, "-b", "hello.do", binary="stata")
    text = (tmp_path / "hello.log").read_text(encoding="utf-8")
    assert '\n. do "hello.do" \n' in text and "\n42\n" in text
    assert "BE\u2014Basic Edition" in text


def test_missing_do_file_logs_601_without_end_of_do_file(fake_stata_dir: Path, tmp_path: Path):
    batch(fake_stata_dir, tmp_path, "-b", "do", "nothere.do")
    text = (tmp_path / "nothere.log").read_text(encoding="utf-8")
    assert text.endswith(". do nothere.do \nfile nothere.do not found\nr(601);\n")


def test_profile_do_runs_first(fake_stata_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "profile.do").write_text('global greeting "hi"\n', encoding="utf-8")
    (tmp_path / "a.do").write_text('display "$greeting"\n', encoding="utf-8")
    batch(fake_stata_dir, tmp_path, "-b", "do", "a.do")
    text = (tmp_path / "a.log").read_text(encoding="utf-8")
    assert f"\nRunning {tmp_path / 'profile.do'} ...\n\n. do a.do \n" in text
    assert '. display "$greeting"\nhi\n' in text


def test_without_batch_flag_it_refuses(fake_stata_dir: Path, tmp_path: Path) -> None:
    done = batch(fake_stata_dir, tmp_path, "do", "a.do")
    assert done.returncode != 0 and b"batch mode only" in done.stderr
    assert not (tmp_path / "a.log").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_breaks_the_run_then_exits(fake_stata_dir: Path, tmp_path: Path, signum: int):
    (tmp_path / "slow.do").write_text('display "a"\nsleep 20000\ndisplay "b"\n', encoding="utf-8")
    process = subprocess.Popen(
        [str(fake_stata_dir / "stata-mp"), "-b", "do", "slow.do"], cwd=tmp_path
    )
    log = tmp_path / "slow.log"
    deadline = time.monotonic() + 20
    while ". sleep 20000" not in (log.read_text("utf-8") if log.exists() else ""):
        assert time.monotonic() < deadline, "the batch run never reached its sleep"
        time.sleep(0.05)
    began = time.monotonic()
    process.send_signal(signum)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - began < 5
    text = log.read_text(encoding="utf-8")
    assert "--Break--\nr(1);\n" in text and text.rstrip().endswith("r(1);")
    assert "\nb\n" not in text
