"""Find a topic's help file on Stata's ado-path, the way `help` does, and render it as Markdown.

A started Stata tells us its ado-path (`c(adopath)`, `c(sysdir_*)`); before it starts, or while it
is busy, Stata's documented default folders for the platform stand in for it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import anyio

from stata_tools.run.dofile import decode_source
from stata_tools.stata.session import Session, SessionBusy

__all__ = [
    "DEFAULT_ADOPATH",
    "HelpNotFound",
    "HelpPage",
    "HelpTopicError",
    "adopath_dirs",
    "default_sysdirs",
    "find_help_file",
    "help_topic",
    "lookup_help",
    "read_help",
    "stata_adopath",
]

DEFAULT_ADOPATH = "BASE;SITE;.;PERSONAL;PLUS;OLDPLACE"
SYSDIR_WORDS = ("stata", "base", "site", "plus", "personal", "oldplace")
MAX_HELP_BYTES = 4 << 20  # the largest official help files are a few hundred kB

_TOPIC = re.compile(r"[a-z_][a-z0-9_]*")
_MAX_TOPIC = 64


class HelpTopicError(ValueError):
    """The topic cannot name a help file; the message says what Stata allows."""


class HelpNotFound(LookupError):
    """No help file for the topic on the ado-path; the message lists the folders tried."""


@dataclass(frozen=True, slots=True)
class HelpPage:
    """A help file found and rendered."""

    topic: str
    path: Path
    markdown: str


def help_topic(topic: str) -> str:
    """The name `help` looks for: lower case, words joined by `_` ("regress postestimation")."""
    name = "_".join(topic.lower().split())
    if not name:
        raise HelpTopicError("the help topic is empty: pass a command name such as `regress`")
    if len(name) > _MAX_TOPIC or not _TOPIC.fullmatch(name):
        raise HelpTopicError(
            f"invalid help topic {topic!r}: use letters, digits and underscores, "
            f"starting with a letter or underscore, at most {_MAX_TOPIC} characters"
        )
    return name


def find_help_file(name: str, dirs: Sequence[Path]) -> Path | None:
    """Stata's lookup: `<dir>/<first letter>/<name>.sthlp`, then `<dir>/<name>.sthlp`, for each
    dir in order; then the same for the old `.hlp`."""
    for suffix in (".sthlp", ".hlp"):
        for directory in dirs:
            for candidate in (
                directory / name[0] / f"{name}{suffix}",
                directory / f"{name}{suffix}",
            ):
                try:
                    if candidate.is_file():
                        return candidate
                except OSError:
                    continue
    return None


def adopath_dirs(adopath: str, sysdirs: Mapping[str, str], cwd: Path) -> list[Path]:
    """`c(adopath)`'s entries as folders: codewords through `c(sysdir_*)`, the rest as paths."""
    dirs: list[Path] = []
    for entry in adopath.split(";"):
        entry = entry.strip().strip('"')
        if not entry:
            continue
        is_codeword = entry.isupper() and entry.lower() in SYSDIR_WORDS
        text = sysdirs.get(entry.lower(), "") if is_codeword else entry
        if not text:
            continue
        path = Path(os.path.expanduser(text))
        path = path if path.is_absolute() else cwd / path
        if path not in dirs:
            dirs.append(path)
    return dirs


def default_sysdirs(root: Path, home: Path, platform: str = sys.platform) -> dict[str, str]:
    """Stata's default system folders ([P] sysdir), for when Stata cannot be asked."""
    base = {
        "stata": str(root),
        "base": str(root / "ado" / "base"),
        "site": str(root / "ado" / "site"),
    }
    if platform.startswith("win"):
        ado = Path("C:/ado")
        return base | {
            "plus": str(ado / "plus"),
            "personal": str(ado / "personal"),
            "oldplace": str(ado),
        }
    if platform == "darwin":
        support = home / "Library" / "Application Support" / "Stata" / "ado"
        personal = home / "Documents" / "Stata" / "ado" / "personal"
        return base | {
            "plus": str(support / "plus"),
            "personal": str(personal),
            "oldplace": str(home / "ado"),
        }
    ado = home / "ado"
    return base | {
        "plus": str(ado / "plus"),
        "personal": str(ado / "personal"),
        "oldplace": str(ado),
    }


def stata_adopath(sfi: ModuleType) -> list[Path]:
    """The running Stata's ado-path as folders; call on Stata's thread."""
    sysdirs = {word: str(sfi.Macro.getGlobal(f"c(sysdir_{word})")) for word in SYSDIR_WORDS}
    adopath = str(sfi.Macro.getGlobal("c(adopath)")) or DEFAULT_ADOPATH
    return adopath_dirs(adopath, sysdirs, Path(sfi.SFIToolkit.getWorkingDir()))


def _adopath(pystata: ModuleType, sfi: ModuleType) -> list[Path]:
    """`stata_adopath` as a query (a module-level function: it crosses to the worker)."""
    return stata_adopath(sfi)


def read_help(name: str, path: Path, *, max_chars: int | None = None) -> HelpPage:
    """Read a help file (UTF-8, or latin-1 from old Stata) and render it; OSError if unreadable."""
    with path.open("rb") as handle:
        data = handle.read(MAX_HELP_BYTES)
    text, _ = decode_source(data)
    from stata_tools.inspection.smcl_help import (
        smcl_to_markdown,  # a large module: first help, not start-up
    )

    return HelpPage(name, path, smcl_to_markdown(text, max_chars=max_chars))


async def lookup_help(session: Session, topic: str, *, max_chars: int | None = None) -> HelpPage:
    """A topic's help, from the running Stata's ado-path when it is idle, else the defaults.

    HelpTopicError, HelpNotFound, StataNotFound (no Stata to take help files from) or OSError."""
    name = help_topic(topic)
    dirs = await _search_path(session)
    path = find_help_file(name, dirs)
    if path is None:
        looked = "\n".join(f"  {d}" for d in dirs)
        raise HelpNotFound(
            f"no help file {name}.sthlp on Stata's ado-path; looked in:\n{looked}\n"
            "Check the spelling (help needs the full command name), or install the package "
            f'(community commands: the install_package tool, e.g. install_package(name="{name}")).'
        )
    return await anyio.to_thread.run_sync(
        functools.partial(read_help, name, path, max_chars=max_chars)
    )


async def _search_path(session: Session) -> list[Path]:
    status = session.status()
    if status.started and not status.busy:
        with contextlib.suppress(SessionBusy):
            return await session.query(_adopath)
    sysdirs = default_sysdirs(session.locate().path, Path.home())
    return adopath_dirs(DEFAULT_ADOPATH, sysdirs, Path.cwd())
