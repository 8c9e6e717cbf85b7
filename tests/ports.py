"""Ports for tests that start the HTTP server as a subprocess."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Until the server accepts connections: uvicorn listens only once the lifespan has started."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.poll() is None, "the server exited before listening"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
