"""Before a run: the command policy over the code and the do-files it calls, inside the roots.

The do-files a run calls are read from the folders Stata would most likely look in (the working
directory, then the calling do-file's folder); one that can only lie outside the roots is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from stata_tools.dofile import decode_source
from stata_tools.policy import Policy, check, refusal_message
from stata_tools.roots import ROOTS_ENV, OutsideRoots, Roots

__all__ = ["CommandRefused", "check_run", "read_called"]

MAX_CALLED_BYTES = 16 << 20


class CommandRefused(ValueError):
    """The policy refused commands in the code; the message lists them and the setting."""


def _candidates(written: str, folders: Sequence[Path]) -> list[Path]:
    path = Path(os.path.expanduser(written))
    return [path] if path.is_absolute() else [folder / path for folder in folders]


def read_called(
    written: str, roots: Roots | None, folders: Sequence[Path]
) -> tuple[Path, str] | None:
    """A called do-file where Stata would most likely find it (the folders in order), as (path,
    text); None when no candidate inside the roots can be read."""
    for candidate in _candidates(written, folders):
        if roots is not None and not roots.contains(candidate):
            continue
        try:
            with candidate.open("rb") as handle:
                return candidate, decode_source(handle.read(MAX_CALLED_BYTES))[0]
        except OSError:
            continue
    return None


def check_run(
    text: str,
    name: str | None,
    policy: Policy,
    roots: Roots | None,
    folders: Sequence[Path],
) -> None:
    """CommandRefused or OutsideRoots when the run must not start; nothing otherwise."""
    outside: list[Path] = []

    def load(written: str) -> str | None:
        candidates = _candidates(written, folders)
        if roots is not None and not any(roots.contains(c) for c in candidates):
            outside.append(candidates[0])
            return None
        found = read_called(written, roots, folders)
        return found[1] if found else None

    violations = check(text, policy, name=name, load=load)
    if violations:
        raise CommandRefused(refusal_message(violations))
    if outside and roots is not None:
        caller = name or "the code"
        raise OutsideRoots(
            f"{caller} calls do-file {outside[0]}, which is outside the allowed roots: "
            f"{roots.describe()}. Move it inside one of them, or add its folder to {ROOTS_ENV}."
        )
