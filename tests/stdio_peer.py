"""A minimal MCP client over stdio for tests that must see every byte the server writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class StdioPeer:
    """A minimal MCP client that keeps every byte the server writes to stdout."""

    def __init__(self, env: dict[str, str], command: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            command or [sys.executable, str(REPO / "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        self.raw = bytearray()
        self.messages: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}  # results for the server's own requests
        self._next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read_message()
            if message.get("id") == ident and ("result" in message or "error" in message):
                return message
            if "method" in message and "id" in message:  # the server asks us something
                answer = self.answers.get(message["method"])
                reply = {"result": answer} if answer is not None else {"error": {"code": -32601}}
                self.send({"jsonrpc": "2.0", "id": message["id"], **reply})
        raise TimeoutError(method)

    def _read_message(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError(self.proc.stderr.read().decode(errors="replace"))  # type: ignore[union-attr]
        self.raw.extend(line)
        message = json.loads(line)  # any stray byte from Stata fails here
        self.messages.append(message)
        return message

    def initialize(self, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": capabilities or {},
                "clientInfo": {"name": "stdio-test", "version": "0"},
            },
        )
        assert "result" in reply, reply
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply["result"]
