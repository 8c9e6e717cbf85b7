"""Stata in a worker process: the caller's stdout stays its own, crashes and kills are survived."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from platforms import posix_signals

from stata_tools import CommandStarted, RunRequest, RunStatus, Session, Settings
from stata_tools.stata.supervisor import WorkerEngine

REPO = Path(__file__).resolve().parents[1]


def child_env(fake_stata_dir: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_STATA_")}
    env.update(
        STATA_PATH=str(fake_stata_dir),
        STATA_TOOLS_RUN_DIR=str(tmp_path / "runs"),
        STATA_TOOLS_ROOTS=str(tmp_path),
        **extra,
    )
    return env


@pytest.fixture
def own_session(tmp_path: Path) -> Iterator[Session]:
    """A session with a worker of its own (fake knobs set before its first run reach it)."""
    settings = Settings.from_env()
    session = Session(Settings(**{**_fields(settings), "run_dir": tmp_path / "runs"}))
    yield session
    session.close()


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


CALLER_SCRIPT = """
import asyncio, sys, threading
from stata_tools import CommandStarted, RunRequest, Session

async def main():
    def on_event(event):
        if isinstance(event, CommandStarted) and event.index == 2:
            print("caller main thread during the run", flush=True)
            thread = threading.Thread(target=print, args=("caller thread during the run",))
            thread.start()
            thread.join()
            sys.stdout.flush()
    session = Session()
    code = 'display "stata says one"\\nsleep 400\\ndisplay "stata says two"'
    result = await session.execute(RunRequest(code=code), on_event=on_event)
    print("RESULT", result.status, result.run_id, flush=True)

asyncio.run(main())
"""


def test_a_callers_print_during_a_run_reaches_its_own_stdout_not_the_run(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CALLER_SCRIPT],
        env=child_env(fake_stata_dir, tmp_path, FAKE_STATA_RAW_FD1="1"),  # Stata's native writes
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["caller main thread during the run", "caller thread during the run"]
    assert lines[2].startswith("RESULT ok ")
    assert "stata says" not in done.stdout  # captured, even what Stata wrote to fd 1 itself
    run = tmp_path / "runs" / lines[2].split()[2]
    captured = (run / "stdout.txt").read_text() + (run / "run.log").read_text()
    assert "stata says two" in captured
    assert "caller" not in captured


def readme_library_example() -> str:
    """The README's library example, verbatim: the first python block under "Library and CLI"."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Library and CLI", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README.md has no python example under 'Library and CLI'"
    return match.group(1)


def test_the_readme_library_example_prints_each_command_as_it_starts(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_library_example(), encoding="utf-8")
    (tmp_path / "analysis.do").write_text(
        'display "first"\nsleep 600\ndisplay "second"\nsleep 600\ndisplay "third"\n'
    )
    child = subprocess.Popen(
        [sys.executable, "-u", str(script)],
        env=child_env(fake_stata_dir, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    arrived: list[tuple[float, str]] = []
    for line in child.stdout:
        arrived.append((time.monotonic(), line.rstrip("\n")))
    assert child.wait(30) == 0, child.stderr.read()  # type: ignore[union-attr]
    texts = [text for _, text in arrived]
    steps = [int(m.group(1)) for t in texts if (m := re.match(r"analysis\.do (\d+)/5 ", t))]
    assert steps == [1, 2, 3, 4, 5], texts
    assert texts[-1].startswith("ok 0 ") and texts[-1].endswith("run.log")
    assert len(texts) == 6  # five commands, then the status line: nothing else on stdout
    first_at, last_at = arrived[0][0], arrived[-1][0]
    assert last_at - first_at > 1.0  # the first command was printed while the run went on


@posix_signals
async def test_kill_9_mid_run_ends_the_call_as_crashed_and_the_next_run_starts_afresh(
    own_session: Session,
) -> None:
    session = own_session
    engine = session.engine
    assert isinstance(engine, WorkerEngine)
    await session.execute(RunRequest(code="global KEPT 1"))
    sleeping = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, CommandStarted) and event.index == 2:
            sleeping.set()

    code = 'display "before the kill"\nsleep 60000\ndisplay "never"'
    task = asyncio.create_task(session.execute(RunRequest(code=code), on_event=on_event))
    await asyncio.wait_for(sleeping.wait(), 10)
    pid = engine.pid
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    result = await asyncio.wait_for(task, 5)
    assert time.monotonic() - killed_at < 1.0
    assert result.status is RunStatus.CRASHED
    assert result.session_lost == (
        "killed by signal 9 (SIGKILL: often the out-of-memory killer, or kill -9)"
    )
    assert result.error is None and result.rc == -1
    assert "before the kill" in result.output.text and "never" not in result.output.text
    assert result.commands_done == 2
    assert any(
        "while it ran command 2 of 3 (line 2 of code: sleep 60000)" in n for n in result.notes
    )
    [restart] = session.status().restarts
    assert (restart.cause, restart.run_id, restart.ended) == (
        result.session_lost,
        result.run_id,
        False,
    )
    after = await session.execute(RunRequest(code='display "again: $KEPT."'))
    assert after.ok and "again: ." in after.output.text  # a fresh Stata: the global is gone
    assert after.notes[0].startswith("this is a fresh Stata session: the previous one was lost")
    assert engine.pid not in (None, pid)
    assert len(session.status().restarts) == 1  # the notice is said once, the history kept


@posix_signals
async def test_a_crash_in_statas_native_code_is_named_by_its_signal(
    own_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATA_CRASH_AFTER_MS", "300")
    result = await own_session.execute(RunRequest(code='display "going"\nsleep 5000'))
    assert result.status is RunStatus.CRASHED
    assert result.session_lost == "killed by signal 11 (SIGSEGV: a crash in Stata's native code)"
    from stata_tools.run.results import render_text

    text = render_text(result)
    assert text.startswith("Stata crashed · killed by signal 11 (SIGSEGV")
    assert "Note: Stata's process died while it ran command 2 of 2" in text
    log_path = next((own_session.settings.run_dir / "workers").glob("worker-*.log"))
    assert "Fatal Python error: Segmentation fault" in log_path.read_text()  # faulthandler
    monkeypatch.delenv("FAKE_STATA_CRASH_AFTER_MS")
    after = await own_session.execute(RunRequest(code='display "fine"'))
    assert after.ok and "fine" in after.output.text


@posix_signals
async def test_a_worker_that_dies_between_runs_is_replaced_and_the_next_run_says_so(
    own_session: Session,
) -> None:
    await own_session.execute(RunRequest(code="display 1"))
    engine = own_session.engine
    assert isinstance(engine, WorkerEngine) and engine.pid is not None
    os.kill(engine.pid, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while not own_session.status().restarts:
        assert time.monotonic() < deadline, "the death was not noticed"
        await asyncio.sleep(0.01)
    assert own_session.status().restarts[0].run_id is None
    assert own_session.status().started is False
    after = await own_session.execute(RunRequest(code='display "next"'))
    assert after.ok and "this is a fresh Stata session" in after.notes[0]


SERVER_SCRIPT = """
import asyncio, sys
from fastmcp import Client
from stata_tools.mcp.server import mcp

async def main():
    async with Client(mcp) as client:
        result = await client.call_tool("run_code", {"code": 'display "served"'})
        stored = await client.call_tool("get_results", {"kind": "r"})
    print("served" in result.content[0].text, "pystata" in sys.modules, "sfi" in sys.modules)

asyncio.run(main())
"""


def test_the_server_process_never_imports_pystata(fake_stata_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVER_SCRIPT],
        env=child_env(fake_stata_dir, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]


IN_PROCESS_SCRIPT = """
import asyncio, functools, sys
from stata_tools import RunRequest, Session, Settings
from stata_tools.stata.engine import Engine
from stata_tools.stata.session import locate_stata

settings = Settings.from_env()
engine = Engine(functools.partial(locate_stata, settings), stdout_fallback=sys.stderr)
session = Session(settings, engine)
result = asyncio.run(session.execute(RunRequest(code='display "in process"')))
# in-process, Stata owns sys.stdout from its start on: the reason the worker is the default
print(result.status, "pystata" in sys.modules, session.status().worker_pid, file=sys.__stdout__)
"""


def test_the_in_process_engine_stays_a_constructor_choice(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS_SCRIPT],
        env=child_env(fake_stata_dir, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "True", "None"]


@posix_signals
async def test_session_status_lists_the_restarts_and_their_causes(
    own_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastmcp import Client

    from stata_tools.mcp import context, server

    monkeypatch.setattr(context, "_session", own_session)
    async with Client(server.mcp) as client:
        await client.call_tool("run_code", {"code": "display 1"})
        engine = own_session.engine
        assert isinstance(engine, WorkerEngine) and engine.pid is not None
        os.kill(engine.pid, signal.SIGKILL)
        while not own_session.status().restarts:
            await asyncio.sleep(0.01)
        status = await client.call_tool("session_status", {})
        described = await client.call_tool("describe_data", {})
    text = status.content[0].text
    assert text.startswith("Stata: not running; the last session was lost")
    assert described.content[0].text.startswith("Note: this is a fresh Stata session")
    assert "Sessions lost and restarted: 1" in text
    assert "killed by signal 9 (SIGKILL" in text
    assert status.meta["restarts"][0]["cause"].startswith("killed by signal 9")
    assert status.meta.get("worker_pid") is None  # (None is left out) the next call starts one


async def test_code_that_ends_stata_ends_the_call_as_crashed(own_session: Session) -> None:
    await own_session.execute(RunRequest(code="sysuse auto\nreplace price = 1 in 1"))
    kept = await own_session.execute(RunRequest(code="exit, STATA"))
    assert kept.rc == 4 and "changed since last saved" in kept.output.text  # Stata refused
    result = await own_session.execute(RunRequest(code='display "bye"\nexit 3, STATA clear'))
    assert result.status is RunStatus.CRASHED
    assert result.session_lost == "exited with code 3"
    assert "bye" in result.output.text
    after = await own_session.execute(RunRequest(code="display _N"))
    assert after.ok and "\n0\n" in after.output.text + "\n"


def test_a_worker_whose_sandbox_cannot_be_had_refuses_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stata_dir: Path
) -> None:
    """Fail closed: after a strict start fails, nothing runs unlocked (checked in this process,
    the kernel's answer replaced, so nothing is locked here)."""
    from multiprocessing import Pipe

    from stata_tools.safety import sandbox
    from stata_tools.stata import protocol
    from stata_tools.stata.discovery import find_installation
    from stata_tools.stata.engine import Job
    from stata_tools.stata.worker import Worker

    monkeypatch.setattr(sandbox, "landlock_available", lambda: "this kernel has no Landlock")
    ours, theirs = Pipe()
    worker = Worker(theirs)
    spec = sandbox.SandboxSpec(mode="strict", writable=(sandbox.Writable(str(tmp_path), "root"),))
    installation = find_installation({"STATA_PATH": str(fake_stata_dir)})
    worker._dispatch(1, protocol.Start(installation, spec))
    job = Job("r1", 'display "ran"', tmp_path / "l.log", "_l", tmp_path / "o.txt")
    worker._dispatch(2, protocol.Execute(job))
    answers = [protocol.decode_answer(ours.recv_bytes()) for _ in range(2)]
    assert [a.ident for a in answers] == [1, 2]
    for answer in answers:
        assert isinstance(answer, protocol.Failure)
        assert answer.kind == "SandboxError"
        assert "STATA_TOOLS_SANDBOX=strict" in answer.message and "no Landlock" in answer.message
    assert worker.engine.info is None  # Stata never started
    assert not (tmp_path / "o.txt").exists()


async def test_stata_runs_on_the_workers_main_thread(
    own_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Stata's JVM on macOS wants; the requests are read on another thread meanwhile."""
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("FAKE_STATA_RECORD", str(record))
    result = await own_session.execute(RunRequest(code='display "where"'))
    assert result.ok
    events = [json.loads(line) for line in record.read_text().splitlines()]
    runs = [e for e in events if e["event"] in ("run_start", "execute", "init")]
    assert runs and {e["thread"] for e in runs} == {"MainThread"}
