"""The checks before a run: the policy follows called do-files, which must lie inside the roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from stata_tools.guard import CommandRefused, check_run
from stata_tools.policy import Policy
from stata_tools.roots import OutsideRoots, Roots


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
