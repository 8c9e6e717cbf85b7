"""Reading a user's text file without ever blocking: only regular files are read.

A FIFO named `analysis.do` would hang `open()` until a writer appears, and a device never ends;
the type is checked before opening and again on the open descriptor (the path may change between).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotAFile", "open_regular", "read_regular_file", "stable_path"]


class NotAFile(OSError):
    """The path exists but is a directory, FIFO, socket or device; the message says which."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file; NotAFile or another OSError otherwise."""
    _require_regular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(os.fstat(fd).st_mode, path)
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 20))):
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_regular(path: Path) -> BinaryIO:
    """A binary file object on `path` when it is a regular file (checked before and after the
    open, which cannot block); NotAFile or another OSError otherwise."""
    _require_regular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(os.fstat(fd).st_mode, path)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def stable_path(handle: BinaryIO, path: Path) -> Path:
    """A path a library that opens by name can use for the file `handle` holds open: on Linux
    the descriptor's own (a FIFO swapped in under the name afterwards is never opened)."""
    own = Path(f"/proc/self/fd/{handle.fileno()}")
    return own if sys.platform == "linux" and own.exists() else path


def _require_regular(mode: int, path: Path) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise NotAFile(f"{path} is a directory, not a file")
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket or device"
    raise NotAFile(f"{path} is {kind}, not a regular file")
