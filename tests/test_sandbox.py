"""The OS sandbox around Stata's worker: with the policy off, programs do not start and writes stay
inside the allowed places; with the sandbox off both happen (so the check can fail)."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stata_tools import RunRequest, RunStatus, Session, Settings
from stata_tools.safety import sandbox
from stata_tools.safety.policy import CATEGORIES, Policy
from stata_tools.safety.roots import Roots
from stata_tools.safety.sandbox import SandboxError, SandboxSpec, Writable
from stata_tools.stata.session import RunRefused
from stata_tools.stata.settings import SettingsError

_MISSING = sandbox.seccomp_available() or sandbox.landlock_available()
needs_kernel = pytest.mark.skipif(
    _MISSING is not None, reason=f"the OS sandbox is not available here: {_MISSING}"
)


@dataclasses.dataclass
class Place:
    root: Path
    outside: Path
    runs: Path


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
    """A root, a folder outside it, and a temporary folder of their own (not all of /tmp)."""
    for name in ("root", "outside", "tmp"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the worker's temporary folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return Place(tmp_path / "root", tmp_path / "outside", tmp_path / "runs")


def _session(place: Place, mode: str, lifts: frozenset[str] = frozenset()) -> Session:
    """The policy off (STATA_TOOLS_ALLOW=all), so only the sandbox stands in the way."""
    settings = dataclasses.replace(
        Settings.from_env({"STATA_TOOLS_ALLOW": "all", "STATA_TOOLS_SANDBOX": mode}),
        stata_path=os.environ["STATA_PATH"],
        run_dir=place.runs,
        roots=Roots((place.root,)),
        sandbox_lifts=lifts,
    )
    return Session(settings)


@pytest.fixture
def locked(place: Place) -> Iterator[Session]:
    session = _session(place, "auto")
    yield session
    session.close()


@pytest.fixture
def unlocked(place: Place) -> Iterator[Session]:
    session = _session(place, "off")
    yield session
    session.close()


def _shells(marker: Path) -> str:
    return "\n".join(
        [
            f'shell touch "{marker}-shell"',
            f'!touch "{marker}-bang"',
            'display "after"',
            f'winexec touch "{marker}-winexec"',
        ]
    )


def _write(path: Path) -> str:
    return f'file open fh using "{path}", write replace\nfile write fh "written" _n\nfile close fh'


# ---------------------------------------------------------------- through the worker


@needs_kernel
async def test_with_the_policy_off_shell_bang_and_winexec_leave_no_marker(
    locked: Session, place: Place
) -> None:
    result = await locked.execute(RunRequest(code=_shells(place.root / "marker")))
    time.sleep(0.3)  # winexec does not wait: give a started program the time to act
    assert sorted(p.name for p in place.root.iterdir()) == []
    assert "after" in result.output.text  # shell's exit status is ignored, as in Stata
    assert result.rc == 601  # winexec could not start its program
    note = next(n for n in result.notes if "stopped the shell commands" in n)
    assert "on line 1, 2, 4 from starting a program" in note
    assert "STATA_TOOLS_ALLOW=shell" in note


@needs_kernel
async def test_writing_outside_the_roots_fails_with_stata_error_and_a_note(
    locked: Session, place: Place
) -> None:
    target = place.outside / "out.txt"
    result = await locked.execute(RunRequest(code=_write(target)))
    assert result.status is RunStatus.ERROR
    assert result.rc == 603
    assert result.error is not None and "could not be opened" in result.error.message
    assert not target.exists()
    note = next(n for n in result.notes if "OS sandbox refused" in n)
    assert str(target) in note and str(place.root) in note
    assert sandbox.WRITABLE_ENV in note


@needs_kernel
async def test_writing_inside_a_root_works_and_adds_no_sandbox_note(
    locked: Session, place: Place
) -> None:
    target = place.root / "in.txt"
    result = await locked.execute(RunRequest(code=_write(target)))
    assert result.status is RunStatus.OK, result.output.text
    assert target.read_text() == "written\n"
    assert not any("OS sandbox" in n for n in result.notes)


@needs_kernel
async def test_a_file_stata_cannot_open_inside_a_root_is_not_blamed_on_the_sandbox(
    locked: Session, place: Place
) -> None:
    target = place.root / "no-such-folder" / "x.txt"
    result = await locked.execute(RunRequest(code=_write(target)))
    assert result.rc == 603
    assert not any("OS sandbox" in n for n in result.notes)


@needs_kernel
async def test_with_the_sandbox_off_both_the_program_and_the_outside_write_happen(
    unlocked: Session, place: Place
) -> None:
    marker = place.root / "marker"
    result = await unlocked.execute(RunRequest(code=_shells(marker)))
    assert result.status is RunStatus.OK
    assert not any("OS sandbox" in n for n in result.notes)
    target = place.outside / "out.txt"
    written = await unlocked.execute(RunRequest(code=_write(target)))
    assert written.status is RunStatus.OK
    assert target.read_text() == "written\n"
    deadline = time.monotonic() + 5
    while not Path(f"{marker}-winexec").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in place.root.iterdir()) == [
        "marker-bang",
        "marker-shell",
        "marker-winexec",
    ]


@needs_kernel
async def test_allowing_shell_by_name_lifts_only_the_program_filter(place: Place) -> None:
    session = _session(place, "auto", frozenset({"shell"}))
    try:
        await session.execute(RunRequest(code=f'shell touch "{place.root}/m"'))
        outside = await session.execute(RunRequest(code=_write(place.outside / "o.txt")))
    finally:
        session.close()
    assert (place.root / "m").exists()
    assert outside.rc == 603 and not (place.outside / "o.txt").exists()


@needs_kernel
async def test_the_run_folder_and_the_temporary_folder_stay_writable(
    locked: Session, place: Place
) -> None:
    temp = Path(tempfile.gettempdir()) / "scratch.txt"
    result = await locked.execute(RunRequest(code=_write(temp)))
    assert result.status is RunStatus.OK
    assert temp.read_text() == "written\n"
    assert Path(result.log_path).is_relative_to(place.runs)  # the log Stata wrote, followed


# ---------------------------------------------------------------- the spec, pure


def _settings(env: dict[str, str], root: Path, run_dir: Path) -> Settings:
    return dataclasses.replace(Settings.from_env(env), roots=Roots((root,)), run_dir=run_dir)


def test_the_spec_allows_the_roots_run_folder_temp_and_devices(tmp_path: Path) -> None:
    spec = _settings({}, tmp_path / "r", tmp_path / "runs").sandbox_spec()
    assert spec is not None and spec.mode == "auto" and spec.deny_exec and spec.limit_writes
    paths = [w.path for w in spec.writable]
    assert paths[:2] == [str(tmp_path / "r"), str(tmp_path / "runs")]
    assert tempfile.gettempdir() in paths
    assert "/dev/null" in paths
    assert not any(p.endswith("/ado") for p in paths)  # PLUS only when installs are allowed
    assert all(w.why for w in spec.writable)


def test_all_turns_the_policy_off_but_lifts_no_part_of_the_sandbox(tmp_path: Path) -> None:
    settings = _settings({"STATA_TOOLS_ALLOW": "all"}, tmp_path, tmp_path / "runs")
    assert settings.policy == Policy(frozenset(CATEGORIES))
    spec = settings.sandbox_spec()
    assert spec is not None and spec.deny_exec


def test_a_named_category_lifts_its_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    spec = _settings(
        {"STATA_TOOLS_ALLOW": "shell,install"}, tmp_path, tmp_path / "runs"
    ).sandbox_spec()
    assert spec is not None and not spec.deny_exec
    plus = next(w for w in spec.writable if w.path == str(tmp_path / "home" / "ado"))
    assert plus.create  # the worker makes it before locking: Landlock allows only what exists
    assert not (tmp_path / "home" / "ado").exists()  # building the spec writes nothing


def test_extra_writable_folders_and_stata_tmpdir_come_from_settings(tmp_path: Path) -> None:
    env = {
        "STATA_TOOLS_SANDBOX_WRITABLE": os.pathsep.join(["/srv/a", "/srv/b"]),
        "STATA_TMPDIR": "/scratch/stata",
    }
    spec = _settings(env, tmp_path, tmp_path / "runs").sandbox_spec()
    assert spec is not None
    paths = [w.path for w in spec.writable]
    assert {"/srv/a", "/srv/b", "/scratch/stata"} <= set(paths)


def test_without_roots_writes_are_not_limited(tmp_path: Path) -> None:
    spec = dataclasses.replace(Settings(), run_dir=tmp_path).sandbox_spec()
    assert spec is not None and not spec.limit_writes and spec.writable == ()
    assert not sandbox.protections(spec).write_limit


def test_off_locks_nothing(tmp_path: Path) -> None:
    spec = _settings({"STATA_TOOLS_SANDBOX": "off"}, tmp_path, tmp_path).sandbox_spec()
    state = sandbox.protections(spec)
    assert (state.exec_filter, state.write_limit) == (False, False)
    assert "STATA_TOOLS_SANDBOX=off" in state.describe()


def test_a_bad_sandbox_mode_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"STATA_TOOLS_SANDBOX='tight' is not one of auto"):
        Settings.from_env({"STATA_TOOLS_SANDBOX": "tight"})


def test_strict_refuses_where_a_lock_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_available", lambda: "this kernel has no Landlock")
    spec = SandboxSpec(mode="strict", writable=(Writable("/tmp", "t"),))
    with pytest.raises(SandboxError, match="STATA_TOOLS_SANDBOX=strict") as raised:
        sandbox.apply(spec)
    assert "no Landlock" in str(raised.value) and "STATA_TOOLS_SANDBOX=auto" in str(raised.value)
    auto = sandbox.protections(dataclasses.replace(spec, mode="auto"))
    assert not auto.write_limit and "not locked (this kernel has no Landlock)" in auto.describe()


def test_the_refusal_note_names_the_file_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_available", lambda: None)
    monkeypatch.setattr(sandbox, "seccomp_available", lambda: None)
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 7)
    spec = SandboxSpec(writable=(Writable("/data/project", "root"),))
    note = sandbox.refusal_note(spec, "file /etc/out.txt could not be opened")
    assert note is not None and "/etc/out.txt" in note and "/data/project" in note
    assert sandbox.refusal_note(spec, "file /data/project/x/y.txt could not be opened") is None
    relative = sandbox.refusal_note(spec, "file y.txt could not be opened", Path("/data/project"))
    assert relative is None
    assert sandbox.refusal_note(SandboxSpec(mode="off"), "file /etc/x could not be opened") is None


@needs_kernel
async def test_allowing_install_by_name_makes_plus_writable_and_only_then(
    place: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the server's and the worker's home
    target = home / "ado" / "mine.ado"

    async def write(lifts: frozenset[str]) -> int:
        session = _session(place, "auto", lifts)
        try:
            return (await session.execute(RunRequest(code=_write(target)))).rc
        finally:
            session.close()

    (home / "ado").mkdir()
    assert await write(frozenset()) == 603  # the folder is there, but not writable
    (home / "ado").rmdir()
    assert await write(frozenset({"install"})) == 0  # the worker made it, then allowed it
    assert target.read_text() == "written\n"


def test_on_macos_and_windows_the_sandbox_is_reported_unavailable_and_strict_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for platform in ("darwin", "win32"):
        sandbox.seccomp_available.cache_clear()
        sandbox.landlock_abi.cache_clear()
        monkeypatch.setattr(sys, "platform", platform)
        try:
            spec = _settings({}, tmp_path, tmp_path / "runs").sandbox_spec()
            state = sandbox.protections(spec)
            assert (state.exec_filter, state.write_limit) == (False, False)
            assert f"seccomp is Linux-only (this is {platform})" in state.describe()
            assert f"Landlock is Linux-only (this is {platform})" in state.describe()
            assert sandbox.apply(spec) == state  # auto: runs with the policy alone
            with pytest.raises(SandboxError, match="cannot be sandboxed here"):
                sandbox.apply(dataclasses.replace(spec, mode="strict"))
        finally:
            monkeypatch.undo()
            sandbox.seccomp_available.cache_clear()
            sandbox.landlock_abi.cache_clear()


# ---------------------------------------------------------------- install_package's worker


def test_the_install_spec_allows_plus_the_run_folder_and_temp_but_no_root(tmp_path: Path) -> None:
    settings = _settings({}, tmp_path / "root", tmp_path / "runs")
    spec = settings.install_spec(tmp_path / "plus")
    assert spec.limit_writes and spec.deny_exec and spec.mode == "auto"
    paths = [w.path for w in spec.writable]
    assert paths[:2] == [str(tmp_path / "plus"), str(tmp_path / "runs")]
    assert str(tmp_path / "root") not in paths
    assert set(paths[2:]) == {tempfile.gettempdir(), "/dev/null", "/dev/shm"}
    assert spec.writable[0].create  # a first install makes PLUS before the lock
    library = dataclasses.replace(Settings(), run_dir=tmp_path / "runs").install_spec(tmp_path)
    assert library.limit_writes  # no roots (library use) still limits an install's writes
    off = _settings({"STATA_TOOLS_SANDBOX": "off"}, tmp_path, tmp_path).install_spec(tmp_path)
    assert off.mode == "off"


@needs_kernel
async def test_an_install_worker_writes_plus_and_is_refused_everywhere_else(
    place: Place, tmp_path: Path
) -> None:
    from stata_tools.stata.packages import install_session

    plus = tmp_path / "home" / "ado" / "plus"  # not there yet: the worker makes it, then locks
    settings = _session(place, "auto").settings
    installer = install_session(settings, plus)
    try:
        in_root = await installer.execute(RunRequest(code=_write(place.root / "x.txt")))
        outside = await installer.execute(RunRequest(code=_write(place.outside / "x.txt")))
        with pytest.raises(RunRefused, match="shell"):  # its policy lets installs through only
            await installer.execute(RunRequest(code=f'shell touch "{plus}/marker"'))
    finally:
        installer.close()
    assert (in_root.rc, outside.rc) == (603, 603)  # a root the session may write: not here
    assert not (place.root / "x.txt").exists() and not (place.outside / "x.txt").exists()
    made = await _in(install_session(settings, plus), _write(plus / "x.ado"))
    assert made == 0 and (plus / "x.ado").read_text() == "written\n"


async def _in(session: Session, code: str) -> int:
    try:
        return (await session.execute(RunRequest(code=code))).rc
    finally:
        session.close()
