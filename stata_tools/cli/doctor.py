"""`stata-tools doctor`: check, in the order a failure would bite, what the server needs.

Stata is started in a child process serving MCP over stdio, exactly as a client starts the server,
so the report also proves that nothing but JSON-RPC reaches stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stata_tools.safety import sandbox
from stata_tools.safety.roots import ROOTS_ENV
from stata_tools.stata.discovery import StataNotFound, find_installation
from stata_tools.stata.settings import Settings, SettingsError

__all__ = ["Check", "ProbeResult", "diagnose", "probe_server"]

SUPPORTED_PYTHON = ((3, 11), (3, 13))
PROBE_CODE = 'display "stata-tools doctor: " c(stata_version) " " c(edition_real)'


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report; `ok` None is a warning that does not fail the run."""

    label: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the child server did: its answer to a run, and whether stdout stayed clean."""

    output: str | None
    stray_stdout: bytes
    error: str | None


def diagnose(env: Mapping[str, str] | None = None, timeout_s: float = 180.0) -> Iterator[Check]:
    """Every check, one at a time, so a slow Stata start shows what already passed."""
    env = dict(os.environ if env is None else env)
    yield _python()
    try:
        settings = Settings.from_env(env)
    except SettingsError as error:
        yield Check("settings", False, str(error))
        return
    yield Check("settings", True, f"run logs kept in {settings.run_dir}")
    yield from _safety(settings, env)
    try:
        installation = find_installation(env)
    except StataNotFound as error:
        yield Check("Stata", False, str(error))
        return
    yield Check(
        "Stata",
        True,
        f"{installation.edition.upper()} at {installation.path} (found by {installation.source})",
    )
    shadow = _foreign_pystata(installation.path)
    if shadow is not None:
        yield Check("pystata", None, shadow)
    probe = probe_server(env, timeout_s)
    if probe.error is not None:
        yield Check("Stata starts through pystata", False, probe.error)
    else:
        yield Check("Stata starts through pystata", True, probe.output or "")
    if probe.error is None:
        yield from sandbox_smoke(settings)
    if probe.stray_stdout:
        shown = probe.stray_stdout[:120].decode("utf-8", "replace")
        yield Check("stdout carries only JSON-RPC", False, f"stray bytes on stdout: {shown!r}")
    elif probe.error is None:
        yield Check("stdout carries only JSON-RPC", True, "checked every byte of a real run")


def _python() -> Check:
    version = sys.version_info[:2]
    shown = ".".join(map(str, sys.version_info[:3]))
    low, high = SUPPORTED_PYTHON
    if version < low:
        return Check("Python", False, f"{shown}: stata-tools needs Python 3.11 or newer")
    if version > high:
        return Check("Python", None, f"{shown}: newer than tested (3.11–3.13); pystata may lag")
    return Check("Python", True, f"{shown} at {sys.executable}")


def _foreign_pystata(root: Path) -> str | None:
    """The unrelated PyPI `pystata` installed here: harmless to us, but worth knowing."""
    spec = importlib.util.find_spec("pystata")
    origin = spec.origin if spec is not None else None
    if origin is None or Path(origin).resolve().is_relative_to(root.resolve()):
        return None
    return (
        f"an unrelated package named pystata is installed at {origin}; stata-tools loads "
        f"Stata's own from {root / 'utilities'} regardless (`pip uninstall pystata` tidies up)"
    )


def _safety(settings: Settings, env: Mapping[str, str]) -> Iterator[Check]:
    roots, policy = settings.roots, settings.policy
    yield Check("allowed roots", True, roots.describe() if roots else "any path")
    for root in roots.paths if roots else ():
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            yield Check("allowed root", False, f"{root} {what}: fix {ROOTS_ENV}")
    yield Check("command policy", True, policy.describe() if policy else "off")
    sources = ", ".join(settings.install_sources) or "nothing"
    yield Check("install_package", True, f"installs from {sources} (STATA_TOOLS_INSTALL_SOURCES)")
    yield _sandbox_check(settings)
    if env.get("STATA_TOOLS_TOKEN"):
        yield Check("HTTP token", True, "STATA_TOOLS_TOKEN is set (HTTP clients must send it)")


def _sandbox_check(settings: Settings) -> Check:
    """Which OS locks Stata's worker gets here; a missing one is a warning (a failure if strict)."""
    spec = settings.sandbox_spec()
    state = sandbox.protections(spec)
    detail = " ".join(line.strip() for line in state.lines).removeprefix("OS sandbox: ")
    if spec is None or spec.mode == "off":
        return Check("OS sandbox", None, detail)
    wanted = (spec.deny_exec, spec.limit_writes)
    if (state.exec_filter, state.write_limit) == wanted:
        return Check("OS sandbox", True, detail)
    try:
        sandbox.check_strict(spec)
    except sandbox.SandboxError as error:
        return Check("OS sandbox", False, str(error))
    return Check("OS sandbox", None, detail)


def sandbox_smoke(settings: Settings, timeout_s: float = 120.0) -> Iterator[Check]:
    """What real work needs, run inside the sandbox: each step alone, so a refused write is named
    with the way to allow it. Files go into the first root and are removed afterwards."""
    state = sandbox.protections(settings.sandbox_spec())
    if not (state.exec_filter or state.write_limit) or settings.roots is None:
        return
    from stata_tools.run.results import RunStatus
    from stata_tools.stata.session import RunRequest, Session

    root = settings.roots.paths[0]
    stem = root / f".stata-tools-doctor-{os.getpid()}"
    steps = (
        ("display", 'display "sandboxed"'),
        ("sysuse", "sysuse auto, clear"),
        ("graph export into a root", f'scatter mpg weight\ngraph export "{stem}.png", replace'),
        ("save into a root", f'save "{stem}.dta", replace'),
    )
    session = Session(settings)

    async def run_all() -> list[Check]:
        checks = []
        for label, code in steps:
            result = await asyncio.wait_for(session.execute(RunRequest(code=code)), timeout_s)
            if result.status is RunStatus.OK:
                checks.append(Check(f"sandbox: {label}", True, "ran inside the sandbox"))
                continue
            said = result.error.message if result.error else result.status.value
            why = next((n for n in result.notes if "OS sandbox" in n), None)
            checks.append(
                Check(
                    f"sandbox: {label}",
                    False,
                    f"r({result.rc}) {said.strip()}"
                    + (f"; {why}" if why else "; not a refusal of the sandbox"),
                )
            )
        return checks

    try:
        yield from asyncio.run(run_all())
    except (TimeoutError, OSError, RuntimeError) as error:
        yield Check("sandbox smoke test", False, f"could not run: {error}")
    finally:
        session.close()
        for suffix in (".png", ".dta"):
            with contextlib.suppress(OSError):
                Path(f"{stem}{suffix}").unlink()


SERVE = (sys.executable, "-m", "stata_tools", "serve")


def probe_server(
    env: Mapping[str, str], timeout_s: float, command: Sequence[str] = SERVE
) -> ProbeResult:
    """Start the server over stdio, run one command, and keep every stdout byte."""
    child = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "FASTMCP_LOG_LEVEL": "WARNING"},
    )
    peer = _Peer(child)
    try:
        peer.request("initialize", _INITIALIZE, timeout_s=30)
        peer.notify("notifications/initialized")
        reply = peer.request(
            "tools/call",
            {"name": "run_code", "arguments": {"code": PROBE_CODE}},
            timeout_s=timeout_s,
        )
        text = "\n".join(
            block.get("text", "") for block in reply.get("result", {}).get("content", [])
        )
        if reply.get("error") or reply.get("result", {}).get("isError"):
            error = reply.get("error", {}).get("message") or text
            return ProbeResult(None, bytes(peer.stray), error)
        found = [line for line in text.splitlines() if line.startswith("stata-tools doctor: ")]
        shown = found[0].removeprefix("stata-tools doctor: ") if found else text.splitlines()[0]
        return ProbeResult(f"Stata {shown} ran a command", bytes(peer.stray), None)
    except (TimeoutError, EOFError) as error:
        return ProbeResult(None, bytes(peer.stray), f"{error}{peer.stderr_tail()}")
    finally:
        peer.close()


_INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "stata-tools-doctor", "version": "1"},
}


class _Peer:
    """Just enough of an MCP client: requests by id, and every stdout line checked as JSON."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        self.stray = bytearray()
        self._lines: list[dict[str, Any]] = []
        self._stderr = bytearray()
        self._ready = threading.Condition()
        self._ids = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            try:
                message = json.loads(line)
                if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
                    raise ValueError
            except ValueError:
                self.stray.extend(line)
                continue
            with self._ready:
                self._lines.append(message)
                self._ready.notify_all()
        with self._ready:
            self._ready.notify_all()

    def _read_stderr(self) -> None:
        assert self.child.stderr is not None
        for line in self.child.stderr:
            self._stderr.extend(line)
            del self._stderr[: max(len(self._stderr) - 4000, 0)]

    def stderr_tail(self) -> str:
        tail = bytes(self._stderr).decode("utf-8", "replace").strip()
        return f"\nthe server said:\n{tail}" if tail else ""

    def notify(self, method: str) -> None:
        self._send({"jsonrpc": "2.0", "method": method})

    def request(self, method: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self._ids += 1
        ident = self._ids
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while True:
                for message in self._lines:
                    if message.get("id") == ident and ("result" in message or "error" in message):
                        return message
                if self.child.poll() is not None:
                    raise EOFError(f"the server exited with code {self.child.returncode}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} within {timeout_s:g} s")
                self._ready.wait(min(left, 0.5))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.child.stdin is not None
        try:
            self.child.stdin.write(json.dumps(message).encode() + b"\n")
            self.child.stdin.flush()
        except BrokenPipeError:
            raise EOFError("the server closed its input") from None

    def close(self) -> None:
        if self.child.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.child.stdin.close()
        try:
            self.child.wait(15)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait(5)
