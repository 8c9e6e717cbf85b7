"""Find a Stata installation (17 or newer) and load the pystata that ships inside it.

Everything up to `find_installation` only looks at the file system it is given, so each OS layout
can be tested anywhere; `load_pystata` is the one function that changes process state.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

__all__ = [
    "EDITIONS",
    "EDITION_FILES",
    "Edition",
    "Installation",
    "InvalidStataEdition",
    "InvalidStataPath",
    "PystataShadowed",
    "StataInitError",
    "StataNotFound",
    "candidate_roots",
    "default_bases",
    "detect_edition",
    "find_installation",
    "load_pystata",
    "parse_edition",
]

Edition = Literal["mp", "se", "be"]
OS = Literal["linux", "darwin", "win32"]

EDITIONS: tuple[Edition, ...] = ("mp", "se", "be")  # best first

# Files (relative to the root) whose presence shows an edition is installed. The licence, not the
# files, decides what Stata will run: Linux installs every edition, hence STATA_EDITION.
EDITION_FILES: Mapping[OS, Mapping[Edition, tuple[str, ...]]] = {
    "linux": {
        "mp": ("libstata-mp.so", "stata-mp", "xstata-mp"),
        "se": ("libstata-se.so", "stata-se", "xstata-se"),
        "be": ("libstata.so", "libstata-be.so", "stata", "xstata"),
    },
    "darwin": {
        "mp": ("StataMP.app", "StataMP.app/Contents/MacOS/libstata-mp.dylib"),
        "se": ("StataSE.app", "StataSE.app/Contents/MacOS/libstata-se.dylib"),
        "be": ("StataBE.app", "StataBE.app/Contents/MacOS/libstata-be.dylib"),
    },
    "win32": {
        "mp": ("mp-64.dll", "StataMP-64.exe"),
        "se": ("se-64.dll", "StataSE-64.exe"),
        "be": ("be-64.dll", "StataBE-64.exe"),
    },
}

# Launchers looked up on PATH, best edition first, with the edition each one implies.
_PATH_BINARIES: Mapping[OS, tuple[tuple[str, Edition], ...]] = {
    "linux": (("stata-mp", "mp"), ("stata-se", "se"), ("stata", "be")),
    "darwin": (("stata-mp", "mp"), ("stata-se", "se"), ("stata", "be")),
    "win32": (("StataMP-64.exe", "mp"), ("StataSE-64.exe", "se"), ("StataBE-64.exe", "be")),
}

# A binary named in STATA_PATH says which edition the user means.
_BINARY_EDITION = re.compile(
    r"^(?:x?stata(?:-(?P<unix>mp|se|be))?|stata(?P<win>mp|se|be)-64\.exe|stata(?P<mac>mp|se|be)\.app)$",
    re.IGNORECASE,
)

_HINT = (
    "Set STATA_PATH to the Stata folder that holds utilities/ (for example {example}) and, if the "
    "edition your licence covers is not the best one installed, STATA_EDITION to mp, se or be."
)
_EXAMPLES: Mapping[OS, str] = {
    "linux": "/usr/local/stata18",
    "darwin": "/Applications/Stata",
    "win32": r"C:\Program Files\Stata18",
}


class StataNotFound(RuntimeError):
    """No usable installation; the message lists every place tried and how to set
    STATA_PATH / STATA_EDITION."""

    tried: tuple[str, ...]

    def __init__(self, message: str, tried: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.tried = tuple(tried)


class InvalidStataPath(StataNotFound):
    """STATA_PATH is set but unusable: an explicit choice must never fall back to a guess."""


class InvalidStataEdition(StataNotFound, ValueError):
    """STATA_EDITION is not mp, se or be; callers that handle StataNotFound report it too."""


class PystataShadowed(RuntimeError):
    """An unrelated `pystata` (the PyPI package) was imported instead of Stata's own."""


class StataInitError(RuntimeError):
    """Stata's own initialisation failed; the message says what to check."""

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Installation:
    """A Stata root that pystata can be loaded from, and the edition to initialise."""

    path: Path  # the installation root: holds utilities/pystata
    edition: Edition
    # How it was found: "STATA_PATH", "default location /usr/local/stata18", "PATH (stata-mp)".
    source: str


# --------------------------------------------------------------------------- pure-ish look-ups


def _os(platform: str) -> OS:
    """Fold sys.platform spellings (and friendly names) into the three layouts Stata ships."""
    p = platform.lower()
    if p.startswith(("win", "cygwin", "msys")):
        return "win32"
    if p in ("darwin", "macos", "mac", "osx"):
        return "darwin"
    return "linux"


def _env_get(env: Mapping[str, str], key: str) -> str | None:
    """Windows variable names are case-insensitive; a plain dict is not."""
    if key in env:
        return env[key]
    lower = key.lower()
    return next((v for k, v in env.items() if k.lower() == lower), None)


def default_bases(platform: str, env: Mapping[str, str], home: Path) -> list[Path]:
    """The folders whose `Stata*` children are likely installations, most likely first."""
    system = _os(platform)
    if system == "linux":
        return [Path("/usr/local"), Path("/opt"), home]
    if system == "darwin":
        return [Path("/Applications"), home / "Applications"]
    # A 32-bit Python sees the x86 folder as ProgramFiles; ProgramW6432 is the 64-bit one.
    bases: list[Path] = []
    for key in ("ProgramW6432", "ProgramFiles", "ProgramFiles(x86)"):
        value = _env_get(env, key)
        if value and Path(value) not in bases:
            bases.append(Path(value))
    return bases or [Path(r"C:\Program Files"), Path(r"C:\Program Files (x86)")]


def _version(name: str) -> float:
    """The release in a folder name; an unnumbered folder (macOS's default, or a symlink to the
    current release elsewhere) counts as the newest."""
    match = re.search(r"\d+(?:\.\d+)?", name)
    return float(match.group()) if match else float("inf")


def _children(base: Path, system: OS) -> list[Path]:
    """Folders in `base` named Stata*, in any case (stata18, StataNow19, Stata)."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        name = entry.name.lower()
        if not name.startswith("stata") or (system == "darwin" and name.endswith(".app")):
            continue
        if entry.is_dir():
            found.append(entry)
    return sorted(found, key=lambda p: p.name.lower())


def candidate_roots(
    platform: str, env: Mapping[str, str], home: Path, *, bases: Sequence[Path] | None = None
) -> list[Path]:
    """The usual install folders for that OS, most likely first (globs expanded, only existing
    dirs kept).

    `bases` replaces the OS's usual parent folders (/usr/local, /Applications, Program Files...).
    """
    system = _os(platform)
    search = list(bases) if bases is not None else default_bases(platform, env, home)
    ranked: list[tuple[float, int, Path]] = []
    seen: set[Path] = set()
    for order, base in enumerate(search):
        for child in _children(base, system):
            key = _resolved(child)
            if key in seen:
                continue
            seen.add(key)
            ranked.append((-_version(child.name), order, child))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [path for _, _, path in ranked]


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _has_files(root: Path, names: Iterable[str]) -> bool:
    return any((root / name).exists() for name in names)


def _editions_present(root: Path, system: OS) -> list[Edition]:
    return [ed for ed in EDITIONS if _has_files(root, EDITION_FILES[system][ed])]


def detect_edition(root: Path, platform: str) -> Edition | None:
    """The best edition the folder holds (mp > se > be) judged by its binaries/libraries."""
    present = _editions_present(root, _os(platform))
    return present[0] if present else None


def parse_edition(value: str) -> Edition:
    """STATA_EDITION as users write it (MP, se, ' Be ') → the edition pystata expects."""
    edition = value.strip().lower()
    if edition not in EDITIONS:
        raise InvalidStataEdition(
            f"STATA_EDITION={value!r} is not a Stata edition: use mp, se or be (any case), "
            "or unset it to detect the edition from the installation's files.",
            [f"STATA_EDITION={value!r}: not mp, se or be"],
        )
    return edition  # type: ignore[return-value]


def _normalise_root(path: Path) -> Path:
    """STATA_PATH may name the root, a binary in it, a macOS .app bundle (or a file inside one),
    or utilities/ itself; all of them mean the folder that holds utilities/."""
    parts = path.parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].lower().endswith(".app"):
            return Path(*parts[:i]) if i else path  # the folder holding the bundle
    if path.name == "pystata" and path.parent.name == "utilities":
        return path.parent.parent
    if path.name == "utilities" and path.is_dir():
        return path.parent
    if path.is_file():
        return path.parent
    return path


def _binary_edition(path: Path) -> Edition | None:
    """The edition a binary or bundle name implies (stata-se, xstata, StataMP-64.exe, ...)."""
    names = [part for part in path.parts if part.lower().endswith(".app")]
    if path.is_file():
        names.append(path.name)
    for name in reversed(names):
        match = _BINARY_EDITION.match(name)
        if match:
            return _edition_of(match)
    return None


def _edition_of(match: re.Match[str]) -> Edition:
    suffix = match.group("unix") or match.group("win") or match.group("mac")
    return parse_edition(suffix) if suffix else "be"


def _check_root(
    root: Path, system: OS, wanted: Edition | None, hint: Edition | None
) -> tuple[Edition | None, str]:
    """The edition to use at `root`, or None and the reason the folder cannot be used."""
    if not root.is_dir():
        return None, f"{root}: does not exist"
    if not (root / "utilities").is_dir():
        return None, f"{root}: no utilities/ folder, so not a Stata installation root"
    if not (root / "utilities" / "pystata").is_dir():
        return None, f"{root}: has utilities/ but no utilities/pystata (pystata needs Stata 17+)"
    present = _editions_present(root, system)
    if wanted is not None:
        if wanted in present:
            return wanted, ""
        files = ", ".join(EDITION_FILES[system][wanted])
        found = ", ".join(present) if present else "none"
        return None, (
            f"{root}: STATA_EDITION={wanted} but none of its files ({files}) are there "
            f"(editions found: {found})"
        )
    if hint is not None and hint in present:
        return hint, ""
    if present:
        return present[0], ""
    every = ", ".join(name for ed in EDITIONS for name in EDITION_FILES[system][ed])
    return None, f"{root}: no Stata binaries or libraries found (looked for {every})"


def _strip_quotes(value: str) -> str:
    """Windows users paste paths with quotes and a trailing backslash."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


def _from_stata_path(raw: str, system: OS, home: Path, wanted: Edition | None) -> Installation:
    value = _strip_quotes(raw)
    if value == "~" or value.startswith(("~/", "~\\")):
        value = str(home) + value[1:]
    given = Path(value).absolute()  # Stata's `cd` moves the process, so never keep it relative
    if not given.exists():
        raise InvalidStataPath(
            f"STATA_PATH={raw!r} does not exist. " + _HINT.format(example=_EXAMPLES[system]),
            [f"STATA_PATH {given}: does not exist"],
        )
    root = _normalise_root(given)
    edition, why = _check_root(root, system, wanted, _binary_edition(given))
    if edition is None:
        raise InvalidStataPath(
            f"STATA_PATH={raw!r} is not usable: {why}. " + _HINT.format(example=_EXAMPLES[system]),
            [f"STATA_PATH {why}"],
        )
    return Installation(root, edition, "STATA_PATH")


def _path_dirs(env: Mapping[str, str], system: OS) -> list[Path]:
    value = _env_get(env, "PATH") or ""
    sep = ";" if system == "win32" else ":"
    return [Path(_strip_quotes(d)) for d in value.split(sep) if d.strip()]


def find_installation(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
    *,
    bases: Sequence[Path] | None = None,
) -> Installation:
    """STATA_PATH/STATA_EDITION first, then the usual folders, then PATH; StataNotFound otherwise.

    `bases` replaces the usual parent folders, as in `candidate_roots`.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    system = _os(platform)

    raw_edition = (_env_get(env, "STATA_EDITION") or "").strip()
    wanted = parse_edition(raw_edition) if raw_edition else None

    raw_path = _env_get(env, "STATA_PATH") or ""
    if raw_path.strip():
        return _from_stata_path(raw_path, system, home, wanted)

    tried: list[str] = ["STATA_PATH: not set"]
    checked: set[Path] = set()
    search = list(bases) if bases is not None else default_bases(platform, env, home)
    sep = "\\" if system == "win32" else "/"
    pattern = "stata*" if system == "linux" else "Stata*"  # matched in any case
    for base in search:
        if not _children(base, system):
            tried.append(f"{base}{sep}{pattern}: no such folder")
    for root in candidate_roots(platform, env, home, bases=search):
        checked.add(_resolved(root))
        edition, why = _check_root(root, system, wanted, None)
        if edition is not None:
            return Installation(root, edition, f"default location {root}")
        tried.append(why)

    dirs = _path_dirs(env, system)
    names = [name for name, _ in _PATH_BINARIES[system]]
    hits = 0
    for name, implied in _PATH_BINARIES[system]:
        for folder in dirs:
            binary = folder / name
            if not binary.is_file():
                continue
            hits += 1
            root = _normalise_root(_resolved(binary))
            label = f"PATH ({name})"
            if _resolved(root) in checked:
                tried.append(f"{label} → {root}: already tried above")
                continue
            checked.add(_resolved(root))
            edition, why = _check_root(root, system, wanted, implied)
            if edition is not None:
                return Installation(root, edition, label)
            tried.append(f"{label} → {why}")
    if not hits:
        tried.append(f"PATH: none of {', '.join(names)} found in {len(dirs)} folder(s)")

    lines = "\n".join(f"  - {entry}" for entry in tried)
    raise StataNotFound(
        "No usable Stata installation (Stata 17 or newer, with utilities/pystata) was found.\n"
        f"Tried:\n{lines}\n" + _HINT.format(example=_EXAMPLES[system]),
        tried,
    )


# --------------------------------------------------------------------------- process state

_lock = threading.Lock()
_loaded: tuple[Path, ModuleType] | None = None


def _under(file: str | None, folder: Path) -> bool:
    return file is not None and _resolved(Path(file)).is_relative_to(folder)


def _evict_foreign_pystata(utilities: Path) -> None:
    """Forget any `pystata` imported from elsewhere, or `import pystata` would keep returning it."""
    for name in list(sys.modules):
        if name != "pystata" and not name.startswith("pystata."):
            continue
        module = sys.modules[name]
        if not _under(getattr(module, "__file__", None), utilities):
            del sys.modules[name]


def _shadowed(found: str | None, utilities: Path) -> PystataShadowed:
    return PystataShadowed(
        f"`import pystata` loads {found or 'a module with no file'} instead of Stata's own "
        f"pystata in {utilities}. That is usually the unrelated PyPI package of the same name: "
        "remove it with `pip uninstall pystata` (Stata's pystata is not installed with pip)."
    )


def _init_error(error: BaseException, installation: Installation) -> StataInitError:
    root, edition = installation.path, installation.edition
    if isinstance(error, FileNotFoundError):
        what = (
            f"Stata's {edition.upper()} shared library was not found under {root}: check that "
            "STATA_EDITION names an edition installed there and that STATA_PATH is the root."
        )
    elif isinstance(error, OSError):
        what = (
            f"Stata at {root} could not be set up: check that STATA_PATH is the folder holding "
            "utilities/ and that it is readable."
        )
    elif isinstance(error, ValueError):
        what = f"pystata rejected the edition {edition!r}: set STATA_EDITION to mp, se or be."
    else:
        what = (
            f"Stata's {edition.upper()} library at {root} failed to load or initialise: check that "
            "your licence covers this edition (set STATA_EDITION), that the licence is valid, and "
            "that your Stata supports this Python version (code -7100 means it does not)."
        )
    return StataInitError(f"{what} ({type(error).__name__}: {error})", error)


def _accepts_splash(function: object) -> bool:
    try:
        return "splash" in inspect.signature(function).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _initialise(installation: Installation, splash: bool) -> None:
    """stata_setup.config, falling back for pystata 0.1.0 (and stata_setup < 0.1.3), which have
    no `splash`."""
    import stata_setup

    try:
        stata_setup.config(str(installation.path), installation.edition, splash=splash)
    except TypeError as error:
        if "splash" not in str(error):
            raise
        config = importlib.import_module("pystata.config")
        if _accepts_splash(config.init):
            config.init(installation.edition, splash=splash)
        else:
            config.init(installation.edition)


def load_pystata(installation: Installation, *, splash: bool = False) -> ModuleType:
    """Initialise Stata through StataCorp's stata_setup and return the real `pystata` package."""
    global _loaded
    utilities = _resolved(installation.path / "utilities")
    with _lock:
        if _loaded is not None:
            done_in, module = _loaded
            if done_in == utilities:
                return module
            raise StataInitError(
                f"Stata from {done_in.parent} is already initialised in this process; pystata "
                f"cannot load a second Stata ({installation.path}). Use another process.",
                RuntimeError("one Stata per process"),
            )

        # stata_setup appends utilities/ to sys.path, so any other importable pystata would win.
        entry = str(utilities)
        sys.path[:] = [p for p in sys.path if p != entry]
        sys.path.insert(0, entry)
        importlib.invalidate_caches()
        _evict_foreign_pystata(utilities)
        spec = importlib.util.find_spec("pystata")
        origin = spec.origin if spec is not None else None
        if spec is None or not _under(origin, utilities):
            raise _shadowed(origin, utilities)

        try:
            _initialise(installation, splash)
        except (OSError, SystemError, ValueError) as error:
            raise _init_error(error, installation) from error

        module = sys.modules.get("pystata") or importlib.import_module("pystata")
        if not _under(getattr(module, "__file__", None), utilities):
            raise _shadowed(getattr(module, "__file__", None), utilities)
        _loaded = (utilities, module)
        return module
