"""Before a run: the command policy over the code and the do-files it calls, inside the roots.

The do-files a run calls are read from the folders Stata would most likely look in (the working
directory, then the calling do-file's folder); one that can only lie outside the roots is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stata_tools.run.dofile import decode_source
from stata_tools.safety.files import read_regular_file
from stata_tools.safety.policy import CouldNotCheck, Policy, Source, check, refusal_message
from stata_tools.safety.roots import OutsideRoots, Roots

__all__ = ["CalledDoFile", "CommandRefused", "check_run", "policy_source", "read_called"]

MAX_CALLED_BYTES = 16 << 20


class CommandRefused(ValueError):
    """The policy refused commands in the code; the message lists them and the setting."""


@dataclass(frozen=True, slots=True)
class CalledDoFile:
    """Where a `do <written>` leads: the file read and its text, or where it was looked for."""

    written: str
    path: Path | None  # the first candidate inside the roots that could be read
    text: str | None
    encoding: str | None
    tried: tuple[Path, ...]  # the candidates inside the roots, in the order Stata would look
    outside: tuple[Path, ...]  # the candidates that lie outside the roots
    unreadable: tuple[str, ...] = ()  # why candidates that exist could not be read


def read_called(written: str, folders: Sequence[Path], roots: Roots | None) -> CalledDoFile:
    """Read a called do-file from the folders Stata would look in; a FIFO or folder is skipped."""
    path = Path(os.path.expanduser(written))
    candidates = [path] if path.is_absolute() else [folder / path for folder in folders]
    allowed = tuple(c for c in candidates if roots is None or roots.contains(c))
    outside = tuple(c for c in candidates if c not in allowed)
    unreadable: list[str] = []
    for candidate in allowed:
        try:
            data = read_regular_file(candidate, MAX_CALLED_BYTES + 1)
        except FileNotFoundError:
            continue
        except OSError as error:
            unreadable.append(f"{candidate}: {error.strerror}" if error.strerror else str(error))
            continue
        if len(data) > MAX_CALLED_BYTES:
            unreadable.append(f"{candidate}: larger than {MAX_CALLED_BYTES >> 20} MB")
            continue
        text, encoding = decode_source(data)
        return CalledDoFile(written, candidate, text, encoding, allowed, outside, tuple(unreadable))
    return CalledDoFile(written, None, None, None, allowed, outside, tuple(unreadable))


def policy_source(called: CalledDoFile) -> Source | None:
    """What the policy's loader returns for a called do-file: its text under its real path.

    A file that exists but cannot be read (too large, a FIFO, no permission) cannot be checked,
    so the policy refuses the call rather than letting Stata run what it never saw."""
    if called.path is not None and called.text is not None:
        return Source(called.text, str(called.path.resolve()))
    if called.unreadable:
        raise CouldNotCheck("; ".join(called.unreadable))
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

    def load(written: str) -> Source | None:
        called = read_called(written, folders, roots)
        if not called.tried and called.outside:
            outside.append(called.outside[0])
        return policy_source(called)

    # a do-file (`name`) runs with `do`, in a scope of its own; code runs with `include` in the
    # session's scope, where an earlier run may have left locals the policy cannot see
    violations = check(text, policy, name=name, load=load, fresh_locals=name is not None)
    if violations:
        raise CommandRefused(refusal_message(violations))
    if outside and roots is not None:
        caller = name or "the code"
        called = Path(outside[0])
        raise OutsideRoots(f"{caller} calls do-file {called}, which {roots.outside(called.parent)}")
