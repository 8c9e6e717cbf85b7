"""Cold start to tools listed: our server against a bare FastMCP server with one tool, side by side.

Each sample spawns a fresh interpreter, sends initialize, initialized and tools/list over stdio and
stops the clock at the tools/list answer: what a client waits for before it can offer our tools.
"""

from __future__ import annotations

import compileall
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import REPO, server_env, summary_ms

BARE = """
from fastmcp import FastMCP

mcp = FastMCP("bare")


@mcp.tool
def echo(text: str) -> str:
    {doc}return text


mcp.run(show_banner=False)
"""
# A docstring is a tool's description; FastMCP parses it with griffe, loaded only for the first
# tool that has one (about 50 ms here). Both baselines are shown: the issue's, and a described tool.
BASELINES = {
    "bare FastMCP, 1 tool": "",
    "bare, 1 described tool": '"""Echo the text."""\n    ',
}

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


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )


def _send(child: subprocess.Popen[bytes], *messages: dict[str, Any]) -> None:
    assert child.stdin is not None
    child.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
    child.stdin.flush()


def _answer(child: subprocess.Popen[bytes], ident: int) -> dict[str, Any]:
    assert child.stdout is not None
    for line in child.stdout:
        message = json.loads(line)
        if message.get("id") == ident:
            return message
    raise RuntimeError(f"the server closed stdout before answering request {ident}")


def _stop(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(20)


def time_to_tools(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the tools/list answer, and how many tools it listed."""
    started = time.perf_counter()
    child = _spawn(command, env)
    try:
        _send(child, *_HANDSHAKE)
        listed = _answer(child, 2)
        return time.perf_counter() - started, len(listed["result"]["tools"])
    finally:
        _stop(child)


def first_run(env: dict[str, str], idle_s: float) -> float:
    """Seconds the first `display 1` takes when it arrives `idle_s` after the tools are listed."""
    child = _spawn([sys.executable, "-m", "stata_tools", "serve"], env)
    try:
        _send(child, *_HANDSHAKE)
        _answer(child, 2)
        time.sleep(idle_s)  # the user reads the tool list, types a request
        started = time.perf_counter()
        _send(child, _FIRST_RUN)
        _answer(child, 3)
        return time.perf_counter() - started
    finally:
        _stop(child)


async def main(count: int = 12) -> None:
    print(f"## cold start: spawn → tools/list answered, {count} fresh processes each, interleaved")
    # Bytecode as an installed wheel has it (pip compiles at install): a checkout with stale .pyc
    # files and PYTHONDONTWRITEBYTECODE would recompile every changed module at every start.
    compileall.compile_dir(REPO / "stata_tools", quiet=1)
    env = server_env(Path(tempfile.mkdtemp(prefix="bench-cold-")))
    folder = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    launchers = {}
    for index, (name, doc) in enumerate(BASELINES.items()):
        script = folder / f"bare{index}.py"
        script.write_text(BARE.format(doc=doc))
        launchers[name] = [sys.executable, str(script)]
    launchers["stata-tools serve"] = [sys.executable, "-m", "stata_tools", "serve"]
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
    ours = statistics.median(times["stata-tools serve"])
    for name in BASELINES:
        ratio = ours / statistics.median(times[name])
        print(f"stata-tools / {name} (p50): {ratio:.2f}× (target ≤ 1.10×)")
    print("## the first `display 1`, sent 1 s after the tools are listed")
    for prestart in ("0", "1"):
        samples = [first_run({**env, "STATA_TOOLS_PRESTART": prestart}, 1.0) for _ in range(5)]
        print(f"STATA_TOOLS_PRESTART={prestart}:  {summary_ms(samples)}")
