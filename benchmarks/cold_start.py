"""Cold start to tools listed: our server against a bare FastMCP server with one tool, side by side.

Each sample spawns a fresh interpreter, sends initialize, initialized and tools/list over stdio and
stops the clock at the tools/list answer: what a client waits for before it can offer our tools.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import REPO, server_env, summary_ms

BARE = """
from fastmcp import FastMCP

mcp = FastMCP("bare")


@mcp.tool
def echo(text: str) -> str:
    return text


mcp.run(show_banner=False)
"""

_HANDSHAKE = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
]


_FIRST_RUN = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "run_code", "arguments": {"code": "display 1"}},
}


def first_run(env: dict[str, str], idle_s: float) -> float:
    """Seconds the first `display 1` takes when it arrives `idle_s` after the tools are listed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "stata_tools", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("".join(json.dumps(m) + "\n" for m in _HANDSHAKE).encode())
        child.stdin.flush()
        for line in child.stdout:
            if json.loads(line).get("id") == 2:
                break
        time.sleep(idle_s)  # the user reads the tool list, types a request
        started = time.perf_counter()
        child.stdin.write((json.dumps(_FIRST_RUN) + "\n").encode())
        child.stdin.flush()
        for line in child.stdout:
            if json.loads(line).get("id") == 3:
                return time.perf_counter() - started
        raise RuntimeError("the server closed stdout before answering the first run")
    finally:
        child.stdin.close()
        child.wait(20)


def time_to_tools(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the tools/list answer, and how many tools it listed."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("".join(json.dumps(m) + "\n" for m in _HANDSHAKE).encode())
    child.stdin.flush()
    try:
        for line in child.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                return time.perf_counter() - started, len(message["result"]["tools"])
        raise RuntimeError(f"{command[-1]} closed stdout before listing its tools")
    finally:
        child.stdin.close()
        child.wait(20)


async def main(count: int = 12) -> None:
    print(f"## cold start: spawn → tools/list answered, {count} fresh processes each, interleaved")
    env = server_env(Path(tempfile.mkdtemp(prefix="bench-cold-")))
    bare_script = Path(tempfile.mkdtemp(prefix="bench-bare-")) / "bare.py"
    bare_script.write_text(BARE)
    launchers = {
        "bare FastMCP, 1 tool": [sys.executable, str(bare_script)],
        "stata-tools serve": [sys.executable, "-m", "stata_tools", "serve"],
    }
    times: dict[str, list[float]] = {name: [] for name in launchers}
    tools: dict[str, int] = {}
    for command in launchers.values():  # warm the file cache once
        time_to_tools(command, env)
    for _ in range(count):
        for name, command in launchers.items():
            took, tools[name] = time_to_tools(command, env)
            times[name].append(took)
    for name, samples in times.items():
        print(f"{name + ':':<24} {summary_ms(samples)} ({tools[name]} tools)")
    ratio = statistics.median(times["stata-tools serve"]) / statistics.median(
        times["bare FastMCP, 1 tool"]
    )
    print(f"stata-tools / bare (p50): {ratio:.2f}× (target ≤ 1.10×)")
    print("## the first `display 1`, sent 1 s after the tools are listed")
    for prestart in ("0", "1"):
        samples = [first_run({**env, "STATA_TOOLS_PRESTART": prestart}, 1.0) for _ in range(5)]
        print(f"STATA_TOOLS_PRESTART={prestart}:  {summary_ms(samples)}")
