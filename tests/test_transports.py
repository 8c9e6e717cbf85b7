"""The server as clients run it: a subprocess over stdio or Streamable HTTP, killed clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from platforms import WINDOWS, posix_signals
from ports import free_port, start_http_server
from stdio_peer import StdioPeer

from stata_tools.about import __version__

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def peer(fake_stata_dir: Path, tmp_path: Path):
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FAKE_STATA_RAW_FD1": "1",
        "FAKE_STATA_RECORD": str(tmp_path / "record.jsonl"),
        "FASTMCP_LOG_LEVEL": "WARNING",
    }
    peer = StdioPeer(env)
    peer.initialize()
    yield peer
    if peer.proc.poll() is None:
        peer.proc.kill()
        peer.proc.wait(5)


def test_stdout_carries_only_json_rpc_while_stata_prints(peer: StdioPeer, tmp_path: Path) -> None:
    code = 'display "to stdout and fd 1"\nforvalues i = 1/3 {\n  display `i\'\n}\nsleep 100\n'
    reply = peer.request(
        "tools/call",
        {"name": "run_code", "arguments": {"code": code}, "_meta": {"progressToken": 7}},
    )
    result = reply["result"]
    text = result["content"][0]["text"]
    assert text.startswith("Stata ok · rc 0")
    assert "to stdout and fd 1" in text
    for raw_line in bytes(peer.raw).splitlines():
        assert json.loads(raw_line)["jsonrpc"] == "2.0"
    progress = [m for m in peer.messages if m.get("method") == "notifications/progress"]
    assert progress, "progress notifications went to the client"
    assert [m["params"]["progressToken"] for m in progress] == [7] * len(progress)
    peer.proc.stdin.close()  # type: ignore[union-attr]
    assert peer.proc.wait(10) == 0
    captured = (tmp_path / "runs" / result["_meta"]["run_id"] / "stdout.txt").read_text()
    # pystata's prints and the fake's raw fd-1 writes both land in the run's stdout file: the
    # worker points its fd 1 there while a run goes on
    assert captured.count('. display "to stdout and fd 1"') == 2, captured


SCRIPTS = Path(sys.executable).parent  # the environment running the tests: make's .venv
LAUNCHERS = {
    "make run": ["make", "run"],
    "stata-tools serve": [str(SCRIPTS / "stata-tools"), "serve"],
    "fastmcp run server.py": [str(SCRIPTS / "fastmcp"), "run", str(REPO / "server.py")],
    "python -m stata_tools": [sys.executable, "-m", "stata_tools"],
}


MAKE_RUN = pytest.mark.skipif(
    WINDOWS or shutil.which("make") is None,
    reason="the Makefile is POSIX (make, .venv/bin); on Windows the other launchers are tested",
)


@pytest.mark.parametrize(
    "launcher",
    [pytest.param(name, marks=MAKE_RUN) if name == "make run" else name for name in LAUNCHERS],
)
def test_every_documented_launcher_writes_only_json_rpc_to_stdout(
    launcher: str, fake_stata_dir: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FAKE_STATA_RAW_FD1": "1",
    }
    peer = StdioPeer(env, LAUNCHERS[launcher])
    try:
        info = peer.initialize()["serverInfo"]
        assert (info["name"], info["version"]) == ("stata-tools", __version__)
        reply = peer.request(
            "tools/call", {"name": "run_code", "arguments": {"code": 'display "via fd 1"'}}
        )
        assert reply["result"]["content"][0]["text"].startswith("Stata ok · rc 0")
        peer.proc.stdin.close()  # type: ignore[union-attr]
        assert peer.proc.wait(20) == 0
        rest = peer.proc.stdout.read()  # type: ignore[union-attr]
    finally:
        if peer.proc.poll() is None:
            peer.proc.kill()
            peer.proc.wait(5)
    raw = bytes(peer.raw) + rest
    assert raw.endswith(b"\n")
    for line in raw.split(b"\n")[:-1]:  # every byte: make's echo or Stata's fd 1 would show
        assert json.loads(line)["jsonrpc"] == "2.0", line


def test_a_handshake_era_client_is_asked_for_its_roots_when_a_path_is_outside(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    project, data = tmp_path / "project", tmp_path / "data"
    project.mkdir()
    data.mkdir()
    (data / "clean.do").write_text('display "from the client root"\n')
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_ROOTS": str(project),
        "FASTMCP_LOG_LEVEL": "WARNING",
    }
    peer = StdioPeer(env)
    try:
        peer.initialize({"roots": {"listChanged": False}})
        call = {"name": "run_do_file", "arguments": {"path": str(data / "clean.do")}}
        refused = peer.request("tools/call", call)  # the client has no roots to give yet
        assert refused["result"]["isError"] is True
        assert "outside the allowed roots" in refused["result"]["content"][0]["text"]
        peer.answers["roots/list"] = {"roots": [{"uri": data.as_uri(), "name": "data"}]}
        ran = peer.request("tools/call", call)
        assert ran["result"]["isError"] is False
        assert "from the client root" in ran["result"]["content"][0]["text"]
        asked = [m for m in peer.messages if m.get("method") == "roots/list"]
        assert len(asked) == 2  # once per call that needed it, never for the others
        peer.request("tools/call", {"name": "run_code", "arguments": {"code": "display 1"}})
        assert len([m for m in peer.messages if m.get("method") == "roots/list"]) == 2
    finally:
        peer.proc.kill()
        peer.proc.wait(5)


def test_closing_stdin_shuts_the_server_down(peer: StdioPeer) -> None:
    peer.request("tools/call", {"name": "run_code", "arguments": {"code": "display 1"}})
    assert peer.proc.stdin is not None
    peer.proc.stdin.close()
    assert peer.proc.wait(10) == 0
    assert b"stata-tools: session closed" in peer.proc.stderr.read()  # type: ignore[union-attr]


@posix_signals
def test_sigterm_closes_the_session_cleanly(peer: StdioPeer) -> None:
    peer.request("tools/call", {"name": "run_code", "arguments": {"code": "display 1"}})
    peer.proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    if peer.proc.poll() is None:
        peer.proc.send_signal(signal.SIGTERM)
    assert peer.proc.wait(10) == 0
    assert b"stata-tools: session closed" in peer.proc.stderr.read()  # type: ignore[union-attr]


@posix_signals
def test_http_server_closes_the_session_on_sigterm(fake_stata_dir: Path, tmp_path: Path) -> None:
    import urllib.request

    port = free_port()
    env = {**os.environ, "STATA_PATH": str(fake_stata_dir), "STATA_TOOLS_RUN_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stata_tools", "serve", "--transport", "http", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/mcp", timeout=1)
            except urllib.error.HTTPError:
                break  # the server answers (a bare GET is refused): it is up
            except OSError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert b"stata-tools: session closed" in proc.stderr.read()  # type: ignore[union-attr]


CLIENT = """
import json, subprocess, sys, time
server = subprocess.Popen([sys.executable, sys.argv[1]], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(message):
    server.stdin.write(json.dumps(message).encode() + b"\\n"); server.stdin.flush()
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "doomed", "version": "0"}}})
server.stdout.readline()
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
    "name": "run_code", "arguments": {"code": "sleep 60000"}, "_meta": {"progressToken": 2}}})
while b"1/1" not in server.stdout.readline():
    pass
print(server.pid, flush=True)
time.sleep(600)
"""


def events(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_a_killed_client_leaves_no_run_behind(fake_stata_dir: Path, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FAKE_STATA_RECORD": str(record),
    }
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(REPO / "server.py")],
        stdout=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    server_pid = int(client.stdout.readline())  # type: ignore[union-attr]

    def user_run_end() -> dict[str, Any] | None:
        seen = events(record)
        starts = [i for i, e in enumerate(seen) if "include" in e.get("cmd", "")]
        ends = [e for e in seen[starts[-1] :] if e["event"] == "run_end"] if starts else []
        return ends[0] if ends else None

    assert user_run_end() is None
    client.kill()
    killed_at = time.monotonic()
    client.wait(5)
    while (ended := user_run_end()) is None:
        assert time.monotonic() - killed_at < 2, "Stata still running 2 s after the client died"
        time.sleep(0.02)
    assert ended["rc"] == 1  # stopped by a break, not finished
    assert [e["event"] for e in events(record)].count("set_break") == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server outlived its client")


HTTP_CLIENT = """
import asyncio, sys
from fastmcp import Client

async def main():
    seen = asyncio.Event()
    async def on_progress(progress, total, message):
        if message and "1/1" in message:
            seen.set()
    async with Client(sys.argv[1], progress_handler=on_progress) as client:
        call = asyncio.create_task(client.call_tool("run_code", {"code": "sleep 60000"}))
        await seen.wait()
        print("running", flush=True)
        await call

asyncio.run(main())
"""


def test_a_dropped_http_client_leaves_no_run_behind(fake_stata_dir: Path, tmp_path: Path) -> None:

    port = free_port()
    record = tmp_path / "record.jsonl"
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "FAKE_STATA_RECORD": str(record),
    }
    server = start_http_server(port, env)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        client = subprocess.Popen(
            [sys.executable, "-c", HTTP_CLIENT, url], stdout=subprocess.PIPE, env=env, cwd=REPO
        )
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline and not line:
            line = client.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == b"running"
        client.kill()
        killed_at = time.monotonic()
        client.wait(5)

        def stopped() -> bool:
            seen = events(record)
            starts = [i for i, e in enumerate(seen) if "include" in e.get("cmd", "")]
            return bool(starts) and any(e["event"] == "run_end" for e in seen[starts[-1] :])

        while not stopped():
            assert time.monotonic() - killed_at < 2, "Stata still running 2 s after the drop"
            time.sleep(0.02)
        assert server.poll() is None  # the server itself keeps serving
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)


def test_without_stata_the_server_lists_tools_and_says_where_it_looked(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STATA_PATH": str(tmp_path / "no-stata-here"),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
    }
    peer = StdioPeer(env)
    try:
        peer.initialize()
        tools = peer.request("tools/list", {})["result"]["tools"]
        assert {"run_do_file", "run_code", "session_status"} <= {t["name"] for t in tools}
        status = peer.request("tools/call", {"name": "session_status", "arguments": {}})
        status_text = status["result"]["content"][0]["text"]
        assert "Stata: not started yet" in status_text
        assert "STATA_PATH" in status_text and "no-stata-here" in status_text
        reply = peer.request("tools/call", {"name": "run_code", "arguments": {"code": "display 1"}})
        assert reply["result"]["isError"] is True
        message = reply["result"]["content"][0]["text"]
        assert "no-stata-here" in message and "does not exist" in message
    finally:
        peer.proc.kill()
        peer.proc.wait(5)
