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
from stata_tools.roots import OutsideRoots, Roots

__all__ = ["CommandRefused", "check_run"]

MAX_CALLED_BYTES = 16 << 20


class CommandRefused(ValueError):
    """The policy refused commands in the code; the message lists them and the setting."""


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
        path = Path(os.path.expanduser(written))
        candidates = [path] if path.is_absolute() else [folder / path for folder in folders]
        allowed = [c for c in candidates if roots is None or roots.contains(c)]
        if not allowed:
            outside.append(candidates[0])
            return None
        for candidate in allowed:
            try:
                with candidate.open("rb") as handle:
                    return decode_source(handle.read(MAX_CALLED_BYTES))[0]
            except OSError:
                continue
        return None

    violations = check(text, policy, name=name, load=load)
    if violations:
        raise CommandRefused(refusal_message(violations))
    if outside and roots is not None:
        caller = name or "the code"
        called = Path(outside[0])
        raise OutsideRoots(f"{caller} calls do-file {called}, which {roots.outside(called.parent)}")
