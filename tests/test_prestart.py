"""STATA_TOOLS_PRESTART: Stata starts in the background after the handshake; status says so."""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from pathlib import Path

from stdio_peer import StdioPeer

from stata_tools.stata.engine import StataInfo
from stata_tools.stata.prestart import Prestart


def test_it_begins_once_and_says_how_long_it_has_been_starting() -> None:
    started: list[Future[StataInfo]] = []
    now = [100.0]

    def start() -> Future[StataInfo]:
        started.append(Future())
        return started[-1]

    prestart = Prestart(start, clock=lambda: now[0])
    assert prestart.describe() is None  # not begun: nothing to say
    prestart.begin()
    prestart.begin()
    assert len(started) == 1
    now[0] += 2.5
    assert prestart.describe() == (
        "Stata: starting in the background (2.5s so far; a run waits for it)."
    )
    started[0].set_exception(SystemError("failed to load Stata's shared library"))
    assert prestart.describe() == (
        "Stata: the background start failed: failed to load Stata's shared library"
    )


def test_a_started_stata_needs_no_word() -> None:
    done: Future[StataInfo] = Future()
    done.set_result(StataInfo("/stata", "mp", "18", "0.1.1"))
    prestart = Prestart(lambda: done)
    prestart.begin()
    assert prestart.describe() is None


def status_text(peer: StdioPeer) -> str:
    reply = peer.request("tools/call", {"name": "session_status", "arguments": {}})
    return reply["result"]["content"][0]["text"]


def served(fake_stata_dir: Path, tmp_path: Path, prestart: str) -> StdioPeer:
    env = {
        **os.environ,
        "STATA_PATH": str(fake_stata_dir),
        "STATA_TOOLS_RUN_DIR": str(tmp_path / "runs"),
        "STATA_TOOLS_PRESTART": prestart,
        "FAKE_STATA_RECORD": str(tmp_path / "record.jsonl"),
    }
    peer = StdioPeer(env)
    peer.initialize()
    return peer


def test_with_prestart_stata_is_up_before_the_first_run(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    peer = served(fake_stata_dir, tmp_path, "1")
    try:
        deadline = time.monotonic() + 30
        text = status_text(peer)
        while "not started" not in text and text.startswith("Stata: starting"):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
            text = status_text(peer)
        assert text.startswith(f"Stata 18 MP at {fake_stata_dir}"), text
    finally:
        peer.proc.kill()
        peer.proc.wait(5)


def test_without_it_stata_waits_for_the_first_run(fake_stata_dir: Path, tmp_path: Path) -> None:
    peer = served(fake_stata_dir, tmp_path, "0")
    try:
        time.sleep(0.5)
        assert status_text(peer).startswith("Stata: not started yet (it starts at the first run).")
    finally:
        peer.proc.kill()
        peer.proc.wait(5)
