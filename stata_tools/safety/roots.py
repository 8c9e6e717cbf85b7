"""Allowed roots: the folders whose files a client may run or read through the server.

Paths are resolved (symlinks followed, `..` folded) before they are compared, so neither a link
nor `../` leads outside a root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["ROOTS_ENV", "OutsideRoots", "Roots", "file_uri_path"]

ROOTS_ENV = "STATA_TOOLS_ROOTS"


class OutsideRoots(ValueError):
    """A path lies outside every allowed root; the message lists the roots and the fix."""


@dataclass(frozen=True, slots=True)
class Roots:
    """The allowed folders, resolved, and where each came from, so a refusal can say the fix."""

    paths: tuple[Path, ...]
    defaulted: bool = False  # STATA_TOOLS_ROOTS unset: the folder the server was started in
    announced: tuple[Path, ...] = ()  # the client's own roots, among `paths`

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Roots:
        """`STATA_TOOLS_ROOTS` (folders separated by os.pathsep), else the working directory."""
        env = os.environ if env is None else env
        raw = env.get(ROOTS_ENV, "")
        entries = [entry.strip() for entry in raw.split(os.pathsep) if entry.strip()]
        folders = [Path(os.path.expanduser(entry)) for entry in entries] or [cwd or Path.cwd()]
        return cls(tuple(dict.fromkeys(_real(folder) for folder in folders)), not entries)

    def with_uris(self, uris: Iterable[str]) -> Roots:
        """These roots and the client's `file://` roots (other schemes name no folder here)."""
        extra = [_real(path) for uri in uris if (path := _file_path(uri)) is not None]
        added = tuple(path for path in dict.fromkeys(extra) if path not in self.paths)
        return Roots((*self.paths, *added), self.defaulted, (*self.announced, *added))

    def contains(self, path: Path) -> bool:
        return self._holds(_real(path))

    def check(self, path: Path, what: str) -> Path:
        """The resolved path when it lies inside a root; OutsideRoots otherwise."""
        real = _real(path)
        if self._holds(real):
            return real
        shown = str(path) if str(path) == str(real) else f"{path} (resolves to {real})"
        raise OutsideRoots(f"{what} {shown} {self.outside(real.parent)}")

    def outside(self, folder: Path) -> str:
        """Why a path in `folder` is refused and the ways to allow it (every refusal says it)."""
        return (
            f"is outside the allowed roots: {self.describe()}. Move it inside one of them, or add "
            f"its folder to {ROOTS_ENV} (folders separated by '{os.pathsep}') where the server is "
            f"configured, e.g. `claude mcp add stata -e {ROOTS_ENV}={folder} -- …`; a client that "
            "announces roots (Claude Code announces its project folder) adds those itself."
        )

    def _holds(self, real: Path) -> bool:
        return any(real.is_relative_to(root) for root in self.paths)

    def describe(self) -> str:
        """The roots, each with where it came from."""
        parts = []
        for root in self.paths:
            if root in self.announced:
                parts.append(f"{root} (announced by the client)")
            elif self.defaulted:
                parts.append(
                    f"{root} (the folder the server was started in: the default while "
                    f"{ROOTS_ENV} is unset)"
                )
            else:
                parts.append(f"{root} ({ROOTS_ENV})")
        return ", ".join(parts)


def _real(path: Path) -> Path:
    """Absolute, symlinks followed and `..` folded, whether or not the path exists yet."""
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(path))))


def _file_path(uri: str) -> Path | None:
    path = file_uri_path(uri)
    return None if path is None else Path(path)


def file_uri_path(uri: str, *, windows: bool = os.name == "nt") -> str | None:
    """The local path a `file://` URI names (None for other schemes), as this OS spells it:
    `file:///C:/work` and VS Code's `file:///c%3A/work` are `C:/work` and `c:/work` on Windows,
    `file://server/share` is the UNC share `//server/share`."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"  # a UNC share
    if windows and path.startswith("/") and path[2:3] == ":":
        path = path[1:]  # file:///C:/work → C:/work
    return path
