"""Reading a user's file: regular files only, so a FIFO or a folder never blocks or crashes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from stata_tools.safety.files import NotAFile, read_regular_file


def test_a_regular_file_is_read_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.do"
    path.write_bytes(b"display 1\n" * 300_000)
    assert read_regular_file(path, 1 << 30) == b"display 1\n" * 300_000
    assert read_regular_file(path, 15) == b"display 1\ndispl"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.do"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile, match=r"pipe\.do is a FIFO \(named pipe\), not a regular file"):
        read_regular_file(fifo, 100)


def test_a_directory_and_a_socket_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAFile, match="is a directory, not a file"):
        read_regular_file(tmp_path, 100)
    if not hasattr(socket, "AF_UNIX"):
        return
    path = tmp_path / "s.do"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(NotAFile, match="is a socket or device"):
            read_regular_file(path, 100)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "nope.do", 100)
