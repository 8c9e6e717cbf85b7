"""Discovery against throwaway installations for each OS layout; pystata loading in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stata_tools.stata.discovery import (
    Installation,
    InvalidStataEdition,
    InvalidStataPath,
    StataNotFound,
    candidate_roots,
    default_bases,
    detect_edition,
    find_installation,
    parse_edition,
)

REPO = Path(__file__).resolve().parents[1]
DISCOVERY = REPO / "stata_tools" / "stata" / "discovery.py"

LINUX_FILES = {
    "mp": ["libstata-mp.so", "stata-mp"],
    "se": ["libstata-se.so", "stata-se"],
    "be": ["libstata.so", "stata"],
}
WINDOWS_FILES = {"mp": ["mp-64.dll", "StataMP-64.exe"], "se": ["se-64.dll"], "be": ["be-64.dll"]}


def touch(root: Path, *names: str) -> None:
    """Placeholder files; a trailing slash makes a folder (macOS .app bundles)."""
    for name in names:
        target = root / name
        if name.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("placeholder\n")


def install(root: Path, *files: str, pystata: bool = True) -> Path:
    """A minimal Stata 17+ root: utilities/pystata plus the given edition files."""
    (root / "utilities").mkdir(parents=True, exist_ok=True)
    if pystata:
        touch(root, "utilities/pystata/__init__.py", "utilities/pystata/config.py")
    touch(root, *files)
    return root


def linux_install(root: Path, *editions: str, pystata: bool = True) -> Path:
    return install(root, *[f for ed in editions for f in LINUX_FILES[ed]], pystata=pystata)


# --------------------------------------------------------------------------- detect_edition


@pytest.mark.parametrize(
    ("platform", "files", "expected"),
    [
        ("linux", ["libstata-mp.so"], "mp"),
        ("linux", ["stata-mp"], "mp"),
        ("linux", ["xstata-mp"], "mp"),
        ("linux", ["libstata-se.so"], "se"),
        ("linux", ["stata-se"], "se"),
        ("linux", ["libstata.so"], "be"),
        ("linux", ["libstata-be.so"], "be"),
        ("linux", ["stata"], "be"),
        ("linux", ["libstata.so", "libstata-se.so", "libstata-mp.so"], "mp"),
        ("linux", ["libstata.so", "stata-se"], "se"),
        ("linux", ["StataMP-64.exe", "mp-64.dll"], None),
        ("linux", [], None),
        ("darwin", ["StataMP.app/"], "mp"),
        ("darwin", ["StataSE.app/"], "se"),
        ("darwin", ["StataBE.app/"], "be"),
        ("darwin", ["StataBE.app/", "StataSE.app/"], "se"),
        ("darwin", ["StataMP.app/Contents/MacOS/libstata-mp.dylib"], "mp"),
        ("darwin", ["libstata-mp.so"], None),
        ("win32", ["mp-64.dll"], "mp"),
        ("win32", ["StataMP-64.exe"], "mp"),
        ("win32", ["se-64.dll"], "se"),
        ("win32", ["be-64.dll"], "be"),
        ("win32", ["be-64.dll", "se-64.dll"], "se"),
        ("win32", ["libstata-mp.so"], None),
        ("cygwin", ["se-64.dll"], "se"),
    ],
)
def test_detect_edition(tmp_path: Path, platform: str, files: list[str], expected: str) -> None:
    touch(tmp_path, *files)
    assert detect_edition(tmp_path, platform) == expected


@pytest.mark.parametrize(("value", "expected"), [("mp", "mp"), ("SE", "se"), (" Be ", "be")])
def test_parse_edition(value: str, expected: str) -> None:
    assert parse_edition(value) == expected


# --------------------------------------------------------------------------- candidate_roots


def test_default_bases_per_os(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_bases("linux", {}, home) == [Path("/usr/local"), Path("/opt"), home]
    assert default_bases("darwin", {}, home) == [Path("/Applications"), home / "Applications"]
    assert default_bases("win32", {}, home) == [
        Path(r"C:\Program Files"),
        Path(r"C:\Program Files (x86)"),
    ]
    env = {"PROGRAMFILES": "D:/PF", "ProgramW6432": "D:/PF", "ProgramFiles(x86)": "D:/PF86"}
    assert default_bases("win32", env, home) == [Path("D:/PF"), Path("D:/PF86")]


def test_candidate_roots_linux_newest_first(tmp_path: Path) -> None:
    usr_local, opt, home = tmp_path / "usr_local", tmp_path / "opt", tmp_path / "home"
    for folder in (
        usr_local / "stata17",
        usr_local / "stata18",
        usr_local / "StataNow19",
        usr_local / "lib",
        opt / "stata16",
        home / "stata18",
    ):
        folder.mkdir(parents=True)
    touch(usr_local, "stata-notes.txt")  # a file, not an installation
    roots = candidate_roots("linux", {}, home, bases=[usr_local, opt, home])
    assert roots == [
        usr_local / "StataNow19",
        usr_local / "stata18",
        home / "stata18",
        usr_local / "stata17",
        opt / "stata16",
    ]


def test_candidate_roots_linux_symlink_counted_once(tmp_path: Path) -> None:
    usr_local = tmp_path / "usr_local"
    (usr_local / "stata18").mkdir(parents=True)
    (usr_local / "stata").symlink_to(usr_local / "stata18")
    assert candidate_roots("linux", {}, tmp_path, bases=[usr_local]) == [usr_local / "stata"]


def test_candidate_roots_windows_from_program_files_env(tmp_path: Path) -> None:
    pf, pf86 = tmp_path / "Program Files", tmp_path / "Program Files (x86)"
    for folder in (pf / "Stata17", pf / "StataNow19", pf / "Microsoft", pf86 / "Stata18"):
        folder.mkdir(parents=True)
    env = {"ProgramFiles": str(pf), "ProgramW6432": str(pf), "ProgramFiles(x86)": str(pf86)}
    assert candidate_roots("win32", env, tmp_path / "home") == [
        pf / "StataNow19",
        pf86 / "Stata18",
        pf / "Stata17",
    ]


def test_candidate_roots_macos_unnumbered_first_and_no_bundles(tmp_path: Path) -> None:
    apps = tmp_path / "Applications"
    for name in ("Stata17", "StataNow", "Stata", "StataMP.app", "Safari.app"):
        (apps / name).mkdir(parents=True)
    assert candidate_roots("darwin", {}, tmp_path, bases=[apps]) == [
        apps / "Stata",
        apps / "StataNow",
        apps / "Stata17",
    ]


def test_candidate_roots_missing_bases(tmp_path: Path) -> None:
    assert candidate_roots("linux", {}, tmp_path, bases=[tmp_path / "nope"]) == []


# --------------------------------------------------------------------------- STATA_PATH


@pytest.mark.parametrize(
    "given",
    [
        "{root}",
        "{root}/",
        "{root}/stata-mp",
        "{root}/utilities",
        "{root}/utilities/pystata",
        '"{root}"',
        " '{root}' ",
        "~/stata18",
    ],
)
def test_stata_path_forms_linux(tmp_path: Path, given: str) -> None:
    root = linux_install(tmp_path / "stata18", "mp", "se", "be")
    env = {"STATA_PATH": given.format(root=root)}
    assert find_installation(env, "linux", tmp_path) == Installation(root, "mp", "STATA_PATH")


@pytest.mark.parametrize(("binary", "edition"), [("stata-se", "se"), ("stata", "be")])
def test_stata_path_binary_implies_edition(tmp_path: Path, binary: str, edition: str) -> None:
    root = linux_install(tmp_path / "stata18", "mp", "se", "be")
    found = find_installation({"STATA_PATH": str(root / binary)}, "linux", tmp_path)
    assert found == Installation(root, edition, "STATA_PATH")


@pytest.mark.parametrize(
    ("given", "edition"),
    [
        ("StataMP.app", "mp"),
        ("StataMP.app/Contents/MacOS/StataMP", "mp"),
        ("StataSE.app", "se"),
        ("", "mp"),
    ],
)
def test_stata_path_forms_macos(tmp_path: Path, given: str, edition: str) -> None:
    root = install(
        tmp_path / "Applications" / "Stata",
        "StataMP.app/Contents/MacOS/StataMP",
        "StataMP.app/Contents/MacOS/libstata-mp.dylib",
        "StataSE.app/Contents/MacOS/libstata-se.dylib",
    )
    env = {"STATA_PATH": str(root / given) if given else str(root)}
    assert find_installation(env, "darwin", tmp_path) == Installation(root, edition, "STATA_PATH")


def test_stata_path_windows_exe(tmp_path: Path) -> None:
    root = install(tmp_path / "Stata18", "StataMP-64.exe", "mp-64.dll", "se-64.dll")
    env = {"stata_path": str(root / "StataMP-64.exe")}
    assert find_installation(env, "win32", tmp_path) == Installation(root, "mp", "STATA_PATH")


@pytest.mark.parametrize(("value", "edition"), [("SE", "se"), (" be ", "be"), ("mp", "mp")])
def test_stata_edition_overrides_detection(tmp_path: Path, value: str, edition: str) -> None:
    root = linux_install(tmp_path / "stata18", "mp", "se", "be")
    env = {"STATA_PATH": str(root), "STATA_EDITION": value}
    assert find_installation(env, "linux", tmp_path) == Installation(root, edition, "STATA_PATH")


@pytest.mark.parametrize("stata_path", [True, False])
def test_invalid_stata_edition(tmp_path: Path, stata_path: bool) -> None:
    root = linux_install(tmp_path / "stata18", "mp")
    env = {"STATA_PATH": str(root) if stata_path else "", "STATA_EDITION": "ic"}
    with pytest.raises(InvalidStataEdition) as caught:
        find_installation(env, "linux", tmp_path, bases=[tmp_path])
    assert str(caught.value) == (
        "STATA_EDITION='ic' is not a Stata edition: use mp, se or be (any case), or unset it to "
        "detect the edition from the installation's files."
    )
    assert caught.value.tried == ("STATA_EDITION='ic': not mp, se or be",)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, StataNotFound)


def test_stata_path_missing_never_falls_back(tmp_path: Path) -> None:
    linux_install(tmp_path / "stata18", "mp")  # a usable installation that must not be used
    missing = tmp_path / "stata19"
    with pytest.raises(InvalidStataPath) as caught:
        find_installation({"STATA_PATH": str(missing)}, "linux", tmp_path, bases=[tmp_path])
    assert str(caught.value).startswith(
        f"STATA_PATH={str(missing)!r} does not exist. Set STATA_PATH"
    )
    assert caught.value.tried == (f"STATA_PATH {missing}: does not exist",)
    assert isinstance(caught.value, StataNotFound)


@pytest.mark.parametrize(
    ("layout", "env_edition", "reason"),
    [
        ("no-utilities", "", "no utilities/ folder, so not a Stata installation root"),
        ("no-pystata", "", "has utilities/ but no utilities/pystata (pystata needs Stata 17+)"),
        (
            "se-only",
            "mp",
            "STATA_EDITION=mp but none of its files (libstata-mp.so, stata-mp, xstata-mp) are "
            "there (editions found: se)",
        ),
        (
            "no-binaries",
            "",
            "no Stata binaries or libraries found (looked for libstata-mp.so, stata-mp, "
            "xstata-mp, libstata-se.so, stata-se, xstata-se, libstata.so, libstata-be.so, stata, "
            "xstata)",
        ),
    ],
)
def test_stata_path_unusable_says_why(
    tmp_path: Path, layout: str, env_edition: str, reason: str
) -> None:
    root = tmp_path / "stata18"
    if layout == "no-utilities":
        touch(root, "libstata-mp.so")
    elif layout == "no-pystata":
        linux_install(root, "mp", pystata=False)
    elif layout == "se-only":
        linux_install(root, "se")
    else:
        install(root)
    env = {"STATA_PATH": str(root), "STATA_EDITION": env_edition}
    with pytest.raises(InvalidStataPath) as caught:
        find_installation(env, "linux", tmp_path)
    assert str(caught.value).startswith(
        f"STATA_PATH={str(root)!r} is not usable: {root}: {reason}."
    )
    assert caught.value.tried == (f"STATA_PATH {root}: {reason}",)


def test_relative_stata_path_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = linux_install(tmp_path / "stata18", "se")
    monkeypatch.chdir(tmp_path)
    found = find_installation({"STATA_PATH": "stata18/stata-se"}, "linux", tmp_path)
    assert found == Installation(root, "se", "STATA_PATH")
    assert found.path.is_absolute()


def test_stata_path_from_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = linux_install(tmp_path / "stata18", "se")
    monkeypatch.setenv("STATA_PATH", str(root))
    monkeypatch.delenv("STATA_EDITION", raising=False)
    assert find_installation(platform="linux") == Installation(root, "se", "STATA_PATH")


# --------------------------------------------------------------------------- usual folders


def test_default_location_skips_folders_without_pystata(tmp_path: Path) -> None:
    usr_local = tmp_path / "usr_local"
    linux_install(usr_local / "stata18", "mp", pystata=False)  # Stata 16-style layout
    root = linux_install(usr_local / "stata17", "se")
    found = find_installation({}, "linux", tmp_path, bases=[usr_local])
    assert found == Installation(root, "se", f"default location {root}")


def test_default_location_respects_stata_edition(tmp_path: Path) -> None:
    usr_local = tmp_path / "usr_local"
    linux_install(usr_local / "stata18", "mp")
    root = linux_install(usr_local / "stata17", "mp", "be")
    found = find_installation({"STATA_EDITION": "BE"}, "linux", tmp_path, bases=[usr_local])
    assert found == Installation(root, "be", f"default location {root}")


def test_default_location_home_linux(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = linux_install(home / "stata18", "mp")
    found = find_installation({}, "linux", home, bases=[tmp_path / "usr_local", home])
    assert found == Installation(root, "mp", f"default location {root}")


def test_default_location_windows_program_files(tmp_path: Path) -> None:
    pf = tmp_path / "PF"
    install(pf / "Stata17", *WINDOWS_FILES["mp"])
    root = install(pf / "StataNow19", *WINDOWS_FILES["se"])
    found = find_installation({"ProgramFiles": str(pf)}, "win32", tmp_path)
    assert found == Installation(root, "se", f"default location {root}")


def test_default_location_macos_home_applications(tmp_path: Path) -> None:
    root = install(tmp_path / "Applications" / "StataNow", "StataBE.app/", "StataSE.app/")
    found = find_installation({}, "darwin", tmp_path, bases=[tmp_path / "Applications"])
    assert found == Installation(root, "se", f"default location {root}")


# --------------------------------------------------------------------------- PATH


def test_path_lookup_prefers_best_edition(tmp_path: Path) -> None:
    se_root = linux_install(tmp_path / "a" / "stata17", "se")
    mp_root = linux_install(tmp_path / "b" / "stata18", "mp")
    env = {"PATH": f"{se_root}:{mp_root}"}
    found = find_installation(env, "linux", tmp_path, bases=[])
    assert found == Installation(mp_root, "mp", "PATH (stata-mp)")


def test_path_lookup_follows_symlink_to_root(tmp_path: Path) -> None:
    root = linux_install(tmp_path / "stata18", "mp", "se")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stata-se").symlink_to(root / "stata-se")
    found = find_installation({"PATH": str(bin_dir)}, "linux", tmp_path, bases=[])
    assert found == Installation(root.resolve(), "se", "PATH (stata-se)")


def test_path_lookup_macos_symlink_into_bundle(tmp_path: Path) -> None:
    root = install(tmp_path / "Stata", "StataMP.app/Contents/MacOS/stata-mp")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stata-mp").symlink_to(root / "StataMP.app/Contents/MacOS/stata-mp")
    found = find_installation({"PATH": str(bin_dir)}, "darwin", tmp_path, bases=[])
    assert found == Installation(root.resolve(), "mp", "PATH (stata-mp)")


def test_path_lookup_windows(tmp_path: Path) -> None:
    root = install(tmp_path / "Stata18", "StataSE-64.exe", "se-64.dll")
    env = {"Path": f"{tmp_path / 'Windows'};{root}"}
    found = find_installation(env, "win32", tmp_path, bases=[])
    assert found == Installation(root.resolve(), "se", "PATH (StataSE-64.exe)")


# --------------------------------------------------------------------------- StataNotFound


def test_not_found_lists_every_place_tried(tmp_path: Path) -> None:
    usr_local, opt = tmp_path / "usr_local", tmp_path / "opt"
    old = linux_install(usr_local / "stata16", "mp", "be", pystata=False)
    empty = install(usr_local / "stata17")
    wrapper_dir = tmp_path / "wrappers"
    touch(wrapper_dir, "stata-mp")  # a wrapper script, not inside an installation
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stata").symlink_to(old / "stata")
    env = {"PATH": f"{wrapper_dir}:{bin_dir}"}
    with pytest.raises(StataNotFound) as caught:
        find_installation(env, "linux", tmp_path / "home", bases=[usr_local, opt])
    every = (
        "libstata-mp.so, stata-mp, xstata-mp, libstata-se.so, stata-se, xstata-se, "
        "libstata.so, libstata-be.so, stata, xstata"
    )
    tried = (
        "STATA_PATH: not set",
        f"{opt}/stata*: no such folder",
        f"{empty}: no Stata binaries or libraries found (looked for {every})",
        f"{old}: has utilities/ but no utilities/pystata (pystata needs Stata 17+)",
        f"PATH (stata-mp) → {wrapper_dir}: no utilities/ folder, so not a Stata installation root",
        f"PATH (stata) → {old.resolve()}: already tried above",
    )
    assert caught.value.tried == tried
    message = str(caught.value)
    assert message.startswith("No usable Stata installation (Stata 17 or newer")
    assert "\n".join(f"  - {entry}" for entry in tried) in message
    assert message.endswith(
        "Set STATA_PATH to the Stata folder that holds utilities/ (for example "
        "/usr/local/stata18) and, if the edition your licence covers is not the best one "
        "installed, STATA_EDITION to mp, se or be."
    )


def test_not_found_windows_nothing_anywhere(tmp_path: Path) -> None:
    pf = tmp_path / "PF"
    env = {"ProgramFiles": str(pf), "ProgramFiles(x86)": str(pf), "PATH": "C:\\Windows;C:\\bin"}
    with pytest.raises(StataNotFound) as caught:
        find_installation(env, "win32", tmp_path)
    assert caught.value.tried == (
        "STATA_PATH: not set",
        f"{pf}\\Stata*: no such folder",
        "PATH: none of StataMP-64.exe, StataSE-64.exe, StataBE-64.exe found in 2 folder(s)",
    )
    assert r"(for example C:\Program Files\Stata18)" in str(caught.value)


# --------------------------------------------------------------------------- load_pystata

CONFIG_WITH_SPLASH = """
import json, pathlib
stinitialized = False
def init(edition, splash=True):
    global stinitialized
    with (pathlib.Path(__file__).parent / "calls.jsonl").open("a") as f:
        f.write(json.dumps({"who": WHO, "edition": edition, "splash": splash}) + "\\n")
    stinitialized = True
"""
CONFIG_WITHOUT_SPLASH = """
import json, pathlib
stinitialized = False
def init(edition):
    global stinitialized
    with (pathlib.Path(__file__).parent / "calls.jsonl").open("a") as f:
        f.write(json.dumps({"who": WHO, "edition": edition, "splash": "absent"}) + "\\n")
    stinitialized = True
"""
CONFIG_RAISING = """
def init(edition, splash=True):
    raise {error}
"""


def write_pystata(package: Path, who: str, config: str) -> Path:
    """A pystata package whose init records each call in calls.jsonl next to it."""
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"WHO = {who!r}\nfrom pystata import config\n__version__ = '0.1.1'\n"
    )
    (package / "config.py").write_text(f"WHO = {who!r}\n" + textwrap.dedent(config))
    return package


def calls(package: Path) -> list[dict[str, object]]:
    log = package / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


RUNNER = """
import importlib.util, json, sys
from pathlib import Path
# Load the module by file so nothing else in the package runs (or imports pystata) first.
spec = importlib.util.spec_from_file_location("discovery_under_test", sys.argv[5])
discovery = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = discovery
spec.loader.exec_module(discovery)
Installation, load_pystata = discovery.Installation, discovery.load_pystata
root, edition, splash = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "splash"
exec(sys.argv[4])  # the test's prelude
try:
    module = load_pystata(Installation(root, edition, "test"), splash=splash)
    again = load_pystata(Installation(root, edition, "test"))
    out = {
        "file": module.__file__,
        "config": sys.modules["pystata.config"].__file__,
        "same": again is module,
        "path0": sys.path[0],
        "who": module.WHO,
    }
except Exception as error:
    cause = getattr(error, "cause", None)
    out = {
        "error": type(error).__name__,
        "message": str(error),
        "cause": type(cause).__name__ if cause else None,
        "chained": error.__cause__ is cause,
    }
print(json.dumps(out))
"""


def run_load(
    tmp_path: Path,
    root: Path,
    *,
    prelude: str = "",
    decoy_dir: Path | None = None,
    edition: str = "mp",
    splash: bool = False,
) -> dict[str, object]:
    """One Stata per process: each load_pystata scenario gets its own interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if decoy_dir is not None:
        env["PYTHONPATH"] = str(decoy_dir)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(root),
            edition,
            "splash" if splash else "quiet",
            textwrap.dedent(prelude),
            str(DISCOVERY),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def stata_with_pystata(tmp_path: Path, config: str = CONFIG_WITH_SPLASH) -> tuple[Path, Path]:
    root = install(tmp_path / "stata18", "libstata-mp.so", pystata=False)
    return root, write_pystata(root / "utilities" / "pystata", "real", config)


def decoy(tmp_path: Path) -> tuple[Path, Path]:
    """What `pip install pystata` leaves: an unrelated package that imports before utilities/."""
    site = tmp_path / "site-packages"
    return site, write_pystata(site / "pystata", "decoy", CONFIG_WITH_SPLASH)


def assert_real_loaded(result: dict[str, object], real: Path) -> None:
    real = real.resolve()
    assert result == {
        "file": str(real / "__init__.py"),
        "config": str(real / "config.py"),
        "same": True,
        "path0": str(real.parent),
        "who": "real",
    }


def test_load_ignores_decoy_earlier_on_path(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path)
    site, fake = decoy(tmp_path)
    check = "import pystata; assert pystata.WHO == 'decoy', pystata.__file__"
    probe = subprocess.run(
        [sys.executable, "-c", check],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr  # the decoy really would win a plain import
    result = run_load(tmp_path, root, decoy_dir=site)
    assert_real_loaded(result, real)
    assert calls(real) == [{"who": "real", "edition": "mp", "splash": False}]
    assert calls(fake) == []


def test_load_evicts_already_imported_decoy(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path)
    site, fake = decoy(tmp_path)
    prelude = """
    import pystata, pystata.config
    assert pystata.WHO == "decoy"
    """
    result = run_load(tmp_path, root, prelude=prelude, decoy_dir=site, splash=True)
    assert_real_loaded(result, real)
    assert calls(real) == [{"who": "real", "edition": "mp", "splash": True}]
    assert calls(fake) == []


def test_load_pystata_without_splash_parameter(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path, CONFIG_WITHOUT_SPLASH)
    result = run_load(tmp_path, root, edition="se")
    assert_real_loaded(result, real)
    assert calls(real) == [{"who": "real", "edition": "se", "splash": "absent"}]


def test_load_with_stata_setup_older_than_splash(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path)
    # stata_setup < 0.1.3 had config(path, edition): the splash choice must still reach init.
    prelude = """
    import os, stata_setup
    def config(path, edition):
        sys.path.append(os.path.join(path, "utilities"))
        from pystata import config
        config.init(edition)
    stata_setup.config = config
    """
    assert_real_loaded(run_load(tmp_path, root, prelude=prelude), real)
    assert calls(real) == [{"who": "real", "edition": "mp", "splash": False}]


def test_load_raises_shadowed_when_import_machinery_prefers_decoy(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path)
    _, fake = decoy(tmp_path)
    # A meta-path hook (as some installers add) that serves the decoy whatever sys.path says.
    prelude = f"""
    import importlib.abc, importlib.util
    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "pystata":
                return importlib.util.spec_from_file_location(
                    name, {str(fake / "__init__.py")!r},
                    submodule_search_locations=[{str(fake)!r}])
            return None
    sys.meta_path.insert(0, Hook())
    """
    result = run_load(tmp_path, root, prelude=prelude)
    assert result == {
        "error": "PystataShadowed",
        "message": (
            f"`import pystata` loads {fake / '__init__.py'} instead of Stata's own pystata in "
            f"{real.parent}. That is usually the unrelated PyPI package of the same name: remove "
            "it with `pip uninstall pystata` (Stata's pystata is not installed with pip)."
        ),
        "cause": None,
        "chained": True,
    }
    assert calls(fake) == []
    assert calls(real) == []


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (
            "FileNotFoundError('no libstata-mp.so')",
            "Stata's MP shared library was not found under {root}: check that STATA_EDITION",
        ),
        ("SystemError('failed to initialize Stata')", "Stata's MP library at {root} failed to"),
        ("ValueError('bad edition')", "pystata rejected the edition 'mp': set STATA_EDITION"),
        ("PermissionError('denied')", "Stata at {root} could not be set up: check that STATA_PATH"),
    ],
)
def test_load_wraps_init_errors(tmp_path: Path, error: str, start: str) -> None:
    root, _ = stata_with_pystata(tmp_path, CONFIG_RAISING.format(error=error))
    result = run_load(tmp_path, root)
    cause = error.split("(")[0]
    detail = error.split("'")[1]
    assert result["error"] == "StataInitError"
    assert result["cause"] == cause
    assert result["chained"] is True
    message = str(result["message"])
    assert message.startswith(start.format(root=root))
    assert message.endswith(f"({cause}: {detail})")


def test_load_refuses_a_second_installation(tmp_path: Path) -> None:
    root, real = stata_with_pystata(tmp_path)
    other = install(tmp_path / "stata19", "libstata-se.so", pystata=False)
    first = write_pystata(other / "utilities" / "pystata", "first", CONFIG_WITH_SPLASH)
    prelude = f'load_pystata(Installation(Path({str(other)!r}), "se", "test"))'
    result = run_load(tmp_path, root, prelude=prelude)
    assert result["error"] == "StataInitError"
    assert result["message"] == (
        f"Stata from {other.resolve()} is already initialised in this process; pystata cannot "
        f"load a second Stata ({root}). Use another process."
    )
    assert calls(real) == []
    assert calls(first) == [{"who": "first", "edition": "se", "splash": False}]
