"""The checks before a run: the policy follows called do-files, which must lie inside the roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stata_tools.safety import guard
from stata_tools.safety.guard import CommandRefused, check_run, policy_source, read_called
from stata_tools.safety.policy import Policy
from stata_tools.safety.roots import OutsideRoots, Roots


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project" / "sub").mkdir(parents=True)
    (tmp_path / "project" / "clean.do").write_text("display 1\n")
    (tmp_path / "project" / "sub" / "dirty.do").write_text("display 1\n\nshell ls\n")
    (tmp_path / "outside.do").write_text("display 2\n")
    return tmp_path / "project"


def roots_of(project: Path) -> Roots:
    return Roots((project.resolve(),))


def test_clean_code_passes(project: Path) -> None:
    check_run("do clean\ndo sub/dirty.do\n", None, Policy(frozenset({"shell"})), None, [project])
    check_run("do clean.do\n", "main.do", Policy(), roots_of(project), [project])


def test_a_called_do_file_is_read_and_checked(project: Path) -> None:
    with pytest.raises(CommandRefused) as refused:
        check_run('do "sub/dirty.do"\n', "main.do", Policy(), roots_of(project), [project])
    message = str(refused.value)
    assert "`shell` on line 3 of sub/dirty.do runs an operating-system command" in message
    assert "STATA_TOOLS_ALLOW=shell" in message


def test_the_calling_files_folder_is_searched_too(tmp_path: Path, project: Path) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    with pytest.raises(CommandRefused):
        check_run("run sub/dirty\n", None, Policy(), None, [elsewhere, project])


@pytest.mark.parametrize("call", ["do ../outside.do", 'do "{outside}"', "include {outside}"])
def test_a_called_do_file_outside_the_roots_is_refused(project: Path, call: str) -> None:
    code = call.format(outside=project.parent / "outside.do") + "\n"
    with pytest.raises(OutsideRoots) as refused:
        check_run(code, "main.do", Policy(), roots_of(project), [project])
    assert "main.do calls do-file" in str(refused.value)
    assert f"outside the allowed roots: {project.resolve()}" in str(refused.value)


def test_a_missing_called_file_is_left_to_stata(project: Path) -> None:
    check_run("do nothere.do\n", None, Policy(), roots_of(project), [project])


def test_read_called_looks_in_each_folder_in_order(tmp_path: Path, project: Path) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    called = read_called("sub/dirty.do", [elsewhere, project], None)
    assert called.path == project / "sub" / "dirty.do"
    assert called.text == "display 1\n\nshell ls\n" and called.encoding == "utf-8"
    assert called.tried == (elsewhere / "sub" / "dirty.do", project / "sub" / "dirty.do")
    missing = read_called("nothere.do", [project], roots_of(project))
    assert (missing.path, missing.text, missing.tried) == (None, None, (project / "nothere.do",))
    outside = read_called("../outside.do", [project], roots_of(project))
    assert outside.tried == () and outside.outside == (project / "../outside.do",)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_called_fifo_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "pipe.do")
    assert read_called("pipe.do", [project], roots_of(project)).path is None
    with pytest.raises(CommandRefused) as refused:  # what Stata would read from it is unknown
        check_run("do pipe.do\n", "main.do", Policy(), roots_of(project), [project])
    assert "`do pipe.do` on line 1 of main.do could not be checked: " in str(refused.value)
    assert "is a FIFO (named pipe), not a regular file" in str(refused.value)


def test_each_call_of_a_called_file_is_checked_with_its_own_arguments(project: Path) -> None:
    (project / "helper.do").write_text("display 1\n`1' ls\n")
    check_run("do helper.do display\n", "main.do", Policy(), roots_of(project), [project])
    with pytest.raises(CommandRefused) as refused:
        code = "do helper.do display\ndo helper.do shell\n"
        check_run(code, "main.do", Policy(), roots_of(project), [project])
    assert "`shell` (from a macro) on line 2 of helper.do" in str(refused.value)


def test_the_policy_sees_a_called_file_by_its_real_path(project: Path) -> None:
    source = policy_source(read_called("sub/../clean.do", [project], roots_of(project)))
    assert source is not None
    assert (source.text, source.path) == ("display 1\n", str((project / "clean.do").resolve()))
    assert policy_source(read_called("nothere.do", [project], roots_of(project))) is None


def test_a_called_file_too_large_to_check_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guard, "MAX_CALLED_BYTES", 1 << 20)
    (project / "big.do").write_text("display 1\n" * 110_000)  # 1.1 MB: more than is read
    called = read_called("big.do", [project], roots_of(project))
    assert called.text is None and called.unreadable[0].endswith("big.do: larger than 1 MB")
    with pytest.raises(CommandRefused) as refused:
        check_run("do big.do\n", "main.do", Policy(), roots_of(project), [project])
    assert "`do big.do` on line 1 of main.do could not be checked: " in str(refused.value)
    assert "larger than 1 MB" in str(refused.value)
