"""Ports for tests that start the HTTP server as a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def start_http_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`stata-tools serve --transport http` on 127.0.0.1:port, listening when this returns."""
    server = subprocess.Popen(
        [sys.executable, "-m", "stata_tools", "serve", "--transport", "http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    try:
        wait_for_port(port, server)
    except BaseException:
        server.kill()
        raise
    return server
