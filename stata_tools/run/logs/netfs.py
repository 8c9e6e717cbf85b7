"""Is a folder on a network file system (NFS, Lustre, GPFS, …), where change events from
another machine never arrive and a log must be polled? Parsing is pure; one read of
/proc/self/mountinfo is the only I/O."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["NETWORK_FILESYSTEMS", "filesystem_type", "on_network_fs"]

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "lustre",
        "gpfs",
        "beegfs",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "fuse.ceph-fuse",
        "fuse.sshfs",
        "glusterfs",
        "fuse.glusterfs",
        "panfs",
        "wekafs",
        "9p",
        "afs",
    }
)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def filesystem_type(path: str, mountinfo: str) -> str | None:
    """The type of the mount that holds `path` (absolute, resolved): the longest mount point
    that is a prefix of it."""
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = _unescape(fields[4])
        inside = path == point or path.startswith(point.rstrip("/") + "/") or point == "/"
        if inside and (best is None or len(point) >= best[0]):
            fstype = right.split()[0] if right.split() else ""
            best = (len(point), fstype)
    return best[1] if best else None


def on_network_fs(folder: Path) -> bool:
    """True when `folder` is on a network file system (Linux); False when it cannot be told."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    fstype = filesystem_type(os.path.realpath(folder), mountinfo)
    return fstype is not None and fstype.lower() in NETWORK_FILESYSTEMS
