"""The official MCP TypeScript SDK client, driven from Python: installed on first use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def install_node_client() -> Path:
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "make e2e needs Node.js and npm on PATH"
    if not (HERE / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return HERE / "ts_client.mjs"


STDIO_SERVER = ("--", sys.executable, str(REPO / "server.py"))


def call(
    node_client: Path,
    tool: str,
    arguments: dict,
    timeout_ms: int,
    env: dict,
    server: tuple[str, ...] = STDIO_SERVER,
) -> dict:
    done = subprocess.run(
        ["node", str(node_client), tool, json.dumps(arguments), str(timeout_ms), *server],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
