"""What a run did to the data in memory: two cheap snapshots, compared into one line."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_NAMES = 5  # names shown in a `(+3: a, b, c)` list before it ends in `…`
MINUS = "\u2212"  # −, as a reader expects in `(−2)`


@dataclass(frozen=True, slots=True)
class DataState:
    """The data in memory as a few values Stata keeps anyway (no pass over the data)."""

    obs: int
    variables: tuple[str, ...]
    sorted_by: tuple[str, ...] = ()
    filename: str = ""  # c(filename): the file last used or saved
    changed: bool = False  # c(changed): changed since it was last saved
    frame: str = "default"  # c(frame)

    def to_meta(self) -> dict[str, Any]:
        return {
            "obs": self.obs,
            "vars": len(self.variables),
            "sorted_by": list(self.sorted_by),
            "filename": self.filename,
            "changed": self.changed,
            "frame": self.frame,
        }


@dataclass(frozen=True, slots=True)
class DataChange:
    """The data before and after one run, and the line that says what changed (if anything)."""

    before: DataState
    after: DataState

    @property
    def line(self) -> str | None:
        return describe_change(self.before, self.after)

    def to_meta(self) -> dict[str, Any]:
        before, after = set(self.before.variables), set(self.after.variables)
        return {
            "line": self.line,
            "before": self.before.to_meta(),
            "after": self.after.to_meta(),
            "added": [name for name in self.after.variables if name not in before],
            "dropped": [name for name in self.before.variables if name not in after],
        }


def describe_change(before: DataState, after: DataState) -> str | None:
    """`data: 74 → 72 obs (−2) · 12 → 13 vars (+lprice) · sorted by foreign`, or None."""
    if before == after:
        return None
    if not after.obs and not after.variables and (before.obs or before.variables):
        return f"data: cleared (was {_size(before)})" + _frame_part(before, after)
    if _new_dataset(before, after):
        name = f"{_base(after.filename)} " if after.filename else ""
        edited = " · changed since it was read" if after.changed and after.filename else ""
        return f"data: new dataset {name}{_size(after)}{edited}" + _frame_part(before, after)
    parts = [part for part in (_obs_part(before, after), _vars_part(before, after)) if part]
    if after.filename != before.filename and after.filename:
        was = f" (was {_base(before.filename)})" if before.filename else ""
        parts.insert(0, f"{_base(after.filename)}{was}")
    if before.frame != after.frame:
        parts.insert(0, f"frame {after.frame} (was {before.frame})")
    if not parts and after.sorted_by == before.sorted_by:
        if not (after.changed and not before.changed):
            return None  # only saved, say: the data in memory is the same
        parts.append(f"values changed ({_size(after)})")
    if after.sorted_by != before.sorted_by:
        was = " ".join(before.sorted_by)
        now = " ".join(after.sorted_by)
        if now:
            parts.append(f"sorted by {now}" + (f" (was {was})" if was else ""))
        else:
            parts.append(f"no longer sorted (was by {was})")
    elif after.sorted_by:
        parts.append("sorted by " + " ".join(after.sorted_by))
    return "data: " + " · ".join(parts)


def _new_dataset(before: DataState, after: DataState) -> bool:
    """A file was loaded: its name is new, or the same file was read again over changes, and
    the data no longer has the shape it had (a `save` keeps the shape). Data where there was
    none is always new, even when the same run went on to change it."""
    if not (before.obs or before.variables):
        return bool(after.obs or after.variables)
    if not after.filename or after.changed:
        return False
    same_shape = before.obs == after.obs and before.variables == after.variables
    if same_shape:
        return False
    return after.filename != before.filename or before.changed


def _obs_part(before: DataState, after: DataState) -> str | None:
    if before.obs == after.obs:
        return None
    return f"{before.obs:,} → {after.obs:,} obs ({_signed(after.obs - before.obs)})"


def _vars_part(before: DataState, after: DataState) -> str | None:
    if before.variables == after.variables:
        return None
    old, new = set(before.variables), set(after.variables)
    added = [name for name in after.variables if name not in old]
    dropped = [name for name in before.variables if name not in new]
    count = (
        f"{len(before.variables)} → {len(after.variables)} vars"
        if len(before.variables) != len(after.variables)
        else f"{len(after.variables)} vars"
    )
    groups = [_names("+", added), _names(MINUS, dropped)]
    detail = "; ".join(group for group in groups if group) or "reordered"
    return f"{count} ({detail})"


def _names(sign: str, names: Sequence[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return sign + names[0]
    shown = ", ".join(names[:MAX_NAMES]) + (", …" if len(names) > MAX_NAMES else "")
    return f"{sign}{len(names)}: {shown}"


def _signed(delta: int) -> str:
    return f"+{delta:,}" if delta > 0 else f"{MINUS}{-delta:,}"


def _size(state: DataState) -> str:
    count = len(state.variables)
    return f"{state.obs:,} obs · {count} var{'' if count == 1 else 's'}"


def _base(filename: str) -> str:
    return os.path.basename(filename.replace("\\", "/")) or filename


def _frame_part(before: DataState, after: DataState) -> str:
    return "" if before.frame == after.frame else f" · frame {after.frame} (was {before.frame})"
