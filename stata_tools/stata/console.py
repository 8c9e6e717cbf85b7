"""Find Stata's console binary for batch runs (`stata-mp -b do file.do`), as discovery.py
finds pystata: STATA_PATH first, then the usual folders, then PATH; saying what it tried.

Any Stata with a console binary will do, pystata or not (Stata 15 and 16 too).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from stata_tools.stata.discovery import (
    EDITIONS,
    OS,
    Edition,
    StataNotFound,
    _env_get,
    _os,
    _path_dirs,
    _resolved,
    _strip_quotes,
    candidate_roots,
    default_bases,
    parse_edition,
)
from stata_tools.stata.engine import StataInfo

__all__ = ["CONSOLE_NAMES", "ConsoleBinary", "batch_command", "find_console"]

# Relative to the installation root, per edition. Linux: the console binaries at the root
# (xstata-* are the GUI). macOS: inside the app bundle. Windows: the GUI executable, which
# runs batch jobs with /e.
CONSOLE_NAMES: Mapping[OS, Mapping[Edition, tuple[str, ...]]] = {
    "linux": {"mp": ("stata-mp",), "se": ("stata-se",), "be": ("stata",)},
    "darwin": {
        "mp": ("StataMP.app/Contents/MacOS/stata-mp", "stata-mp"),
        "se": ("StataSE.app/Contents/MacOS/stata-se", "stata-se"),
        "be": ("StataBE.app/Contents/MacOS/stata-be", "StataIC.app/Contents/MacOS/stata", "stata"),
    },
    "win32": {
        "mp": ("StataMP-64.exe",),
        "se": ("StataSE-64.exe",),
        "be": ("StataBE-64.exe", "StataIC-64.exe"),
    },
}
_HINT = (
    "Set STATA_PATH to the Stata folder that holds the console binary (stata-mp, stata-se or "
    "stata on Linux; StataMP-64.exe on Windows; StataMP.app on macOS), or put it on PATH, and "
    "STATA_EDITION to the edition your licence covers."
)


@dataclass(frozen=True, slots=True)
class ConsoleBinary:
    """A console Stata that can run do-files in batch mode."""

    path: Path
    edition: Edition
    source: str  # how it was found: "STATA_PATH", "default location …", "PATH"
    windows: bool = False  # batch flag /e rather than -b


def batch_command(binary: ConsoleBinary, do_file: str, args: Sequence[str] = ()) -> list[str]:
    """The argv of a batch run: `stata-mp -b do file.do args…` (`/e` on Windows)."""
    flag = "/e" if binary.windows else "-b"
    return [str(binary.path), flag, "do", do_file, *args]


def _executable(path: Path) -> bool:
    return path.is_file() and (sys.platform == "win32" or os.access(path, os.X_OK))


def _in_root(
    root: Path, system: OS, wanted: Edition | None, tried: list[str], label: str
) -> ConsoleBinary | None:
    editions = [wanted] if wanted else list(EDITIONS)
    for edition in editions:
        for name in CONSOLE_NAMES[system][edition]:
            candidate = root / name
            if _executable(candidate):
                return ConsoleBinary(candidate, edition, label, system == "win32")
    names = ", ".join(n for e in editions for n in CONSOLE_NAMES[system][e])
    tried.append(f"{label} {root}: none of {names} (executable) there")
    return None


def _given_binary(path: Path, system: OS, wanted: Edition | None) -> ConsoleBinary | None:
    for edition in [wanted] if wanted else list(EDITIONS):
        for name in CONSOLE_NAMES[system][edition]:
            if path.name == Path(name).name and _executable(path):
                return ConsoleBinary(path, edition, "STATA_PATH", system == "win32")
    return None


def find_console(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
    *,
    bases: Sequence[Path] | None = None,
) -> ConsoleBinary:
    """The console binary for STATA_EDITION (or the best edition found); StataNotFound, with
    every place tried, otherwise. An explicit STATA_PATH never falls back to a guess."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    system = _os(platform)
    raw_edition = (_env_get(env, "STATA_EDITION") or "").strip()
    wanted = parse_edition(raw_edition) if raw_edition else None
    tried: list[str] = []
    raw_path = _strip_quotes(_env_get(env, "STATA_PATH") or "")
    if raw_path:
        given = Path(os.path.expanduser(raw_path)).absolute()
        found = _given_binary(given, system, wanted) if given.is_file() else None
        if found is None:
            root = given.parent if given.is_file() else given
            for i, part in enumerate(given.parts):  # a path inside a macOS bundle
                if part.lower().endswith(".app"):
                    root = Path(*given.parts[:i])
                    break
            found = _in_root(root, system, wanted, tried, "STATA_PATH")
        if found is not None:
            return found
        raise StataNotFound(
            f"STATA_PATH={raw_path!r} has no Stata console binary for batch runs: "
            f"{tried[-1]}. " + _HINT,
            tried,
        )
    tried.append("STATA_PATH: not set")
    search = list(bases) if bases is not None else default_bases(platform, env, home)
    for root in candidate_roots(platform, env, home, bases=search):
        found = _in_root(root, system, wanted, tried, "default location")
        if found is not None:
            return found
    if not candidate_roots(platform, env, home, bases=search):
        tried.append(f"no Stata* folder in {', '.join(str(b) for b in search)}")
    dirs = _path_dirs(env, system)
    for edition in [wanted] if wanted else list(EDITIONS):
        for name in CONSOLE_NAMES[system][edition]:
            for folder in dirs:
                candidate = folder / Path(name).name
                if _executable(candidate):
                    return ConsoleBinary(_resolved(candidate), edition, "PATH", system == "win32")
    tried.append(f"PATH: no console Stata in {len(dirs)} folder(s)")
    lines = "\n".join(f"  - {entry}" for entry in tried)
    raise StataNotFound(
        f"No Stata console binary for batch runs was found.\nTried:\n{lines}\n" + _HINT, tried
    )


def console_info(console: ConsoleBinary) -> StataInfo:
    """What a batch executor reports as its Stata: the binary, its edition, no pystata."""
    return StataInfo(str(console.path), console.edition, "batch", "none")


def started(start: Callable[[], StataInfo]) -> Future[StataInfo]:
    """`start()`'s answer as a finished Future: the engine interface, for executors that start
    nothing until their first job."""
    future: Future[StataInfo] = Future()
    try:
        future.set_result(start())
    except Exception as error:
        future.set_exception(error)
    return future
