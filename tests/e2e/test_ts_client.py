"""The official MCP TypeScript SDK client against our stdio server (`make e2e`; needs Node)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stata_tools.dofile import split_commands

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
pytestmark = pytest.mark.e2e

THIRTY_SECONDS = """\
* thirty seconds, never more than 5 s without a line of output
display "step 1"
sleep 5000
display "step 2"
sleep 5000
forvalues i = 1/2 {
    display "loop `i'"
    sleep 5000
}
sleep 8000
display "last"
"""


@pytest.fixture(scope="module")
def node_client() -> Path:
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "make e2e needs Node.js and npm on PATH"
    if not (HERE / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return HERE / "ts_client.mjs"


def call(node_client: Path, tool: str, arguments: dict, timeout_ms: int, env: dict) -> dict:
    done = subprocess.run(
        [
            "node",
            str(node_client),
            tool,
            json.dumps(arguments),
            str(timeout_ms),
            "--",
            sys.executable,
            str(REPO / "server.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_30s_do_file_finishes_under_a_5s_timeout_reset_by_progress(
    node_client: Path, fake_stata_dir: Path, tmp_path: Path
) -> None:
    do_file = tmp_path / "thirty.do"
    do_file.write_text(THIRTY_SECONDS)
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_HEARTBEAT_S": "2",
    }
    got = call(node_client, "run_do_file", {"path": str(do_file)}, 5000, env)
    assert got["ok"] is True, got
    assert got["isError"] is False
    assert got["text"].startswith("Stata ok · rc 0")
    assert 28 < got["wall_s"] < 60
    total = len(split_commands(THIRTY_SECONDS))
    values = [p["progress"] for p in got["progress"]]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert {p["total"] for p in got["progress"]} == {total}
    assert values[-1] == total
    gaps = [b["t"] - a["t"] for a, b in zip(got["progress"], got["progress"][1:], strict=False)]
    assert max(gaps) < 5
    messages = [p["message"] for p in got["progress"]]
    assert any("thirty.do 2/7" in m and "sleep 5000" in m for m in messages)
    assert any("thirty.do 5/7" in m and "forvalues i = 1/2 {" in m for m in messages)
    assert any("thirty.do 6/7" in m and "sleep 8000" in m for m in messages)
