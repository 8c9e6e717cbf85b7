"""Allowed roots: inside is allowed, outside is refused, and links or `..` cannot escape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stata_tools.safety.roots import ROOTS_ENV, OutsideRoots, Roots, file_uri_path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "project" / "code").mkdir(parents=True)
    (tmp_path / "project" / "code" / "a.do").write_text("display 1\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.do").write_text("display 2\n")
    (tmp_path / "projectile").mkdir()
    return tmp_path


def test_default_root_is_the_working_directory(layout: Path) -> None:
    assert Roots.from_env({}, cwd=layout / "project").paths == ((layout / "project").resolve(),)


def test_roots_come_from_the_environment(layout: Path) -> None:
    value = os.pathsep.join(
        [str(layout / "project"), "", str(layout / "secret"), str(layout / "project")]
    )
    roots = Roots.from_env({ROOTS_ENV: value}, cwd=Path("/"))
    assert roots.paths == ((layout / "project").resolve(), (layout / "secret").resolve())


def test_inside_is_allowed_and_resolved(layout: Path) -> None:
    roots = Roots(((layout / "project").resolve(),))
    inside = layout / "project" / "code" / "a.do"
    assert roots.check(inside, "do-file") == inside.resolve()
    assert roots.check(layout / "project", "working directory") == (layout / "project").resolve()
    assert roots.check(layout / "project" / "new" / "file.dta", ".dta file").name == "file.dta"


@pytest.mark.parametrize(
    "escape",
    [
        "secret/key.do",
        "project/../secret/key.do",
        "project/code/../../secret/key.do",
        "projectile",  # a sibling whose name starts like the root's
        "/etc/passwd",
    ],
)
def test_outside_is_refused_with_the_roots_named(layout: Path, escape: str) -> None:
    roots = Roots(((layout / "project").resolve(),))
    with pytest.raises(OutsideRoots) as refused:
        roots.check(layout / escape, "do-file")
    message = str(refused.value)
    assert message.startswith("do-file ")
    assert f"outside the allowed roots: {(layout / 'project').resolve()}" in message
    assert ROOTS_ENV in message


def test_symlinks_cannot_escape(layout: Path) -> None:
    project = layout / "project"
    (project / "link.do").symlink_to(layout / "secret" / "key.do")
    (project / "door").symlink_to(layout / "secret", target_is_directory=True)
    roots = Roots((project.resolve(),))
    for path in (project / "link.do", project / "door" / "key.do", project / "door"):
        with pytest.raises(OutsideRoots, match="resolves to"):
            roots.check(path, "path")


def test_a_symlink_pointing_inside_is_fine(layout: Path) -> None:
    project = layout / "project"
    (layout / "secret" / "back").symlink_to(project / "code", target_is_directory=True)
    roots = Roots((project.resolve(),))
    assert (
        roots.check(layout / "secret" / "back" / "a.do", "do-file")
        == (project / "code" / "a.do").resolve()
    )


def test_client_roots_add_file_uris_only(layout: Path) -> None:
    roots = Roots(((layout / "project").resolve(),)).with_uris(
        [(layout / "secret").as_uri(), "https://example.com/x", "file:///tmp/with%20space"]
    )
    assert roots.paths[1] == (layout / "secret").resolve()
    assert Path("/tmp/with space").resolve() in roots.paths
    assert len(roots.paths) == 3
    assert roots.check(layout / "secret" / "key.do", "do-file").name == "key.do"


def test_a_refusal_says_the_default_root_is_where_the_server_started(layout: Path) -> None:
    project = (layout / "project").resolve()
    roots = Roots.from_env({}, cwd=project)
    with pytest.raises(OutsideRoots) as refused:
        roots.check(layout / "secret" / "key.do", "do-file")
    message = str(refused.value)
    assert (
        f"outside the allowed roots: {project} (the folder the server was started in: the "
        f"default while {ROOTS_ENV} is unset)."
    ) in message
    secret = (layout / "secret").resolve()
    assert f"`claude mcp add stata -e {ROOTS_ENV}={secret} -- …`" in message
    assert "Claude Code announces its project folder" in message


def test_each_root_says_where_it_came_from(layout: Path) -> None:
    project, secret = (layout / "project").resolve(), (layout / "secret").resolve()
    roots = Roots.from_env({ROOTS_ENV: str(project)}).with_uris([secret.as_uri(), project.as_uri()])
    assert roots.paths == (project, secret)
    assert roots.describe() == f"{project} ({ROOTS_ENV}), {secret} (announced by the client)"


@pytest.mark.parametrize(
    ("uri", "windows", "path"),
    [
        ("file:///C:/work/project", True, "C:/work/project"),
        ("file:///c%3A/Users/me/My%20Project", True, "c:/Users/me/My Project"),  # VS Code's form
        ("file://localhost/D:/data", True, "D:/data"),
        ("file://server/share/study", True, "//server/share/study"),  # a UNC share
        ("file:///home/me/project", False, "/home/me/project"),
        ("file:///C:/work", False, "/C:/work"),  # on POSIX a folder named C: at the root
        ("file://server/share", False, "//server/share"),
        ("https://example.com/x", True, None),
    ],
)
def test_file_uris_name_the_path_this_os_spells(uri: str, windows: bool, path: str | None) -> None:
    assert file_uri_path(uri, windows=windows) == path
