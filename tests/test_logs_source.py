"""A run's lines from its log, or from Stata's output stream when the log cannot be read."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from stata_tools.run.logs import follow as follow_module
from stata_tools.run.logs.follow import is_refusal
from stata_tools.run.logs.source import KEEP_LINES, RunFollower, StreamBuffer, align

# ---------------------------------------------------------------- pure parts


def test_a_refusal_is_permission_or_a_windows_sharing_or_lock_violation() -> None:
    assert is_refusal(PermissionError(errno.EACCES, "Permission denied"))
    sharing = OSError(errno.EACCES, "used by another process")
    sharing.winerror = 32  # type: ignore[attr-defined]  # as Windows sets it
    assert is_refusal(sharing)
    locked = OSError(errno.EINVAL, "locked a portion")
    locked.winerror = 33  # type: ignore[attr-defined]
    assert is_refusal(locked)
    assert not is_refusal(FileNotFoundError(errno.ENOENT, "No such file"))  # not yet created
    assert not is_refusal(IsADirectoryError(errno.EISDIR, "Is a directory"))


def test_align_starts_after_the_last_lines_the_log_showed() -> None:
    stream = ["", ". display 1", "1", "", ". display 2", "2", ""]
    assert align([], stream, 0, 0) == 0  # nothing read from the log: the stream from its start
    assert align(["", ". display 1", "1"], stream, 0, 3) == 3
    # the log had a 6-line header the screen did not show: content decides, not the count
    assert align(["h"] * 6 + ["", ". display 1", "1"], stream, 0, 9) == 3
    # trailing blanks do not matter (Windows line ends, padding)
    assert align(["1  ", "\r"], ["1", "", "x"], 0, 2) == 2


def test_align_prefers_the_match_nearest_the_count_and_falls_back_to_it() -> None:
    stream = [". display 1", "1", ". display 1", "1", ". display 1", "1"]
    assert align([". display 1", "1"], stream, 0, 4) == 4
    assert align([". display 1", "1"], stream, 0, 2) == 2
    assert align(["never shown"], stream, 0, 3) == 3
    # the stream lags behind the log: the count runs past what has arrived
    assert align(["not yet"], stream, 0, 9) == 9
    # a stream whose head was released starts at a later line number
    assert align(["unmatched"], stream, 100, 103) == 3


def test_the_stream_buffer_keeps_only_what_the_log_has_not_passed() -> None:
    buffer = StreamBuffer()
    for i in range(3 * KEEP_LINES):
        buffer.put(f"line {i}\n")
    buffer.put("partial")
    buffer.release(2 * KEEP_LINES)
    start, text = buffer.take()
    lines = text.split("\n")
    assert start == KEEP_LINES
    assert lines[0] == f"line {KEEP_LINES}"
    assert lines[-1] == "partial"
    assert len(lines) == 2 * KEEP_LINES + 1
    assert buffer.chars == sum(len(f"line {i}\n") for i in range(3 * KEEP_LINES)) + 7
    assert buffer.take() == (3 * KEEP_LINES, "")


def test_a_release_inside_a_line_drops_that_lines_head_too() -> None:
    buffer = StreamBuffer()
    buffer.put("a\nb")  # line 1 is split across two chunks
    buffer.put("c\nd\n")
    buffer.put("e\n")
    buffer.release(KEEP_LINES + 3)
    start, text = buffer.take()
    assert (start, text) == (3, "e\n")  # the chunk "c\nd\n" went, so did line 1's head
    buffer = StreamBuffer()
    buffer.put("a\nb")
    buffer.put("c\nd\n")
    buffer.release(KEEP_LINES + 1)  # only "a\nb" may go: line 1 = "bc" loses its head
    assert buffer.take() == (2, "d\n")


# ---------------------------------------------------------------- RunFollower, in process


async def test_a_readable_log_is_followed_and_the_stream_never_used(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    stream = StreamBuffer()
    follower = RunFollower(log, stream, poll_interval_s=0.02)
    stop = anyio.Event()
    seen: list[str] = []

    async def follow() -> None:
        async for batch in follower.follow(stop):
            seen.extend(batch)

    task = asyncio.create_task(follow())
    with log.open("w") as handle:
        for i in range(5):
            handle.write(f"log {i}\n")
            handle.flush()
            stream.put(f"stream {i}\n")
            await asyncio.sleep(0.03)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == [f"log {i}" for i in range(5)]
    assert not follower.switched
    assert follower.note is None


def _refusing_open(refused: Path) -> Callable[[Path], object]:
    """The follower's open as seen by a process Stata's Windows lock keeps out of one file."""
    real = follow_module.open_shared

    def fake(path: Path) -> object:
        if Path(path) == refused:
            error = PermissionError(errno.EACCES, "The process cannot access the file")
            error.winerror = 32  # type: ignore[attr-defined]
            raise error
        return real(path)

    return fake


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf-log"])
async def test_a_log_refused_mid_run_hands_over_to_the_stream_at_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eol: str
) -> None:
    """The sharing violation as Windows raises it (PermissionError, winerror 32), with the
    log's CRLF against the stream's LF; the real OS-level refusal, through the worker, is the
    subprocess test below."""
    log = tmp_path / "run.log"
    stream = StreamBuffer()
    follower = RunFollower(log, stream, refused_s=0.2, poll_interval_s=0.02, force_polling=True)
    stop = anyio.Event()
    seen: list[str] = []
    lines = [f"line {i}" for i in range(8)]

    async def follow() -> None:
        async for batch in follower.follow(stop):
            seen.extend(batch)

    task = asyncio.create_task(follow())
    with log.open("w", newline="") as handle:
        for text in lines[:3]:
            handle.write(text + eol)
            stream.put(text + "\n")
        handle.write("li")  # a partial line when the lock comes
        handle.flush()
        await asyncio.sleep(0.15)
        assert seen == lines[:3]
        assert follower.partial == "li"
        monkeypatch.setattr(follow_module, "open_shared", _refusing_open(log))
        stream.put("li")
        for text in lines[3:6]:  # Stata writes on; only the stream shows it
            stream.put(text[2:] + "\n" if text == lines[3] else text + "\n")
        await asyncio.sleep(0.5)
        assert follower.switched
        assert seen == lines[:6]
        stream.put("line 6\nline 7\nlast, no newline")
        await asyncio.sleep(0.05)
        assert follower.partial == "last, no newline"
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == [*lines, "last, no newline"]
    assert follower.note is not None
    assert "PermissionError" in follower.note and "after line 3 of the log" in follower.note


async def test_a_short_refusal_does_not_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    log.write_text("one\n")
    stream = StreamBuffer()
    stream.put("one\n")
    follower = RunFollower(log, stream, refused_s=5.0, poll_interval_s=0.02, force_polling=True)
    stop = anyio.Event()
    seen: list[str] = []

    async def follow() -> None:
        async for batch in follower.follow(stop):
            seen.extend(batch)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    monkeypatch.setattr(
        follow_module, "open_shared", _refusing_open(log)
    )  # a scanner holds it briefly
    await asyncio.sleep(0.2)
    monkeypatch.undo()
    with log.open("a") as handle:
        handle.write("two\n")
    stream.put("two\n")
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == ["one", "two"]
    assert not follower.switched


async def test_a_log_still_refused_at_the_end_takes_the_stream_even_for_a_short_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    log.write_text("")
    stream = StreamBuffer()
    monkeypatch.setattr(follow_module, "open_shared", _refusing_open(log))
    follower = RunFollower(log, stream, refused_s=30.0, poll_interval_s=0.02, force_polling=True)
    stream.put("\n. display 1\n1\n")
    stop = anyio.Event()
    stop.set()  # the run was over before the switch was due
    seen = [line async for batch in follower.follow(stop) for line in batch]
    assert seen == ["", ". display 1", "1"]
    assert follower.switched


# ---------------------------------------------------------------- through the worker, for real

LOCKED_RUN = """
import asyncio, json, sys
from pathlib import Path
from stata_tools import RunRequest, Session
from stata_tools.run.events import CommandStarted, ErrorRaised, Finished

async def main():
    session = Session()
    out = []
    for name in sys.argv[1:]:
        events = []
        def on_event(event):
            row = {"type": type(event).__name__, "progress": event.snapshot.progress,
                   "total": event.snapshot.total, "elapsed": event.snapshot.elapsed_s}
            if isinstance(event, CommandStarted):
                row.update(index=event.index, command=event.command, line=event.line)
            if isinstance(event, ErrorRaised):
                row.update(rc=event.rc, message=event.message)
            events.append(row)
        result = await session.execute(RunRequest(do_file=Path(name)), on_event=on_event)
        meta = result.to_meta()
        meta["text"] = result.output.text
        meta["log_mode"] = oct(Path(result.log_path).stat().st_mode & 0o777)
        out.append({"events": events, "result": meta})
    session.close()
    print(json.dumps(out))

asyncio.run(main())
"""

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24


def _without_root_file_access() -> None:
    """In the child, before exec: root without the capabilities that bypass file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _reader_kept_out() -> Callable[[], None] | None:
    """What the child needs so that FAKE_STATA_LOCK_LOG keeps it out of the log: nothing on
    Windows (a lock) or for an ordinary user (mode 000); as root on Linux, no DAC override."""
    if os.name == "nt" or os.geteuid() != 0:
        return None
    if not sys.platform.startswith("linux"):
        pytest.skip("as root a file's mode 000 does not keep the reader out; Linux can drop it")
    return _without_root_file_access


def test_a_locked_log_is_tracked_from_the_stream_with_the_same_events(
    fake_stata_dir: Path, tmp_path: Path
) -> None:
    ok = tmp_path / "steps.do"
    ok.write_text(
        'display "start"\n'
        "forvalues i = 1/3 {\n"
        '    display "step `i\'"\n'
        "}\n"
        "sleep 1600\n"
        'display "middle"\n'
        "sleep 800\n"
        'display "done"\n',
        newline="\r\n",  # as Windows editors write them
    )
    bad = tmp_path / "fails.do"
    bad.write_text('display "a"\nsleep 1600\ndisplay "b"\nerror 198\ndisplay "never"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_STATA_")}
    env.update(
        STATA_PATH=str(fake_stata_dir),
        STATA_TOOLS_RUN_DIR=str(tmp_path / "runs"),
        STATA_TOOLS_ROOTS=str(tmp_path),
        FAKE_STATA_LOCK_LOG="1",
    )
    done = subprocess.run(
        [sys.executable, "-c", LOCKED_RUN, str(ok), str(bad)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_reader_kept_out(),  # a prctl before exec; None on Windows
    )
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)

    result = first["result"]
    assert result["status"] == "ok", result
    assert any("Stata's output stream" in note for note in result["notes"]), result["notes"]
    assert result["log_mode"] != "0o0"  # Stata let go of it at close
    assert (result["commands_done"], result["commands_total"]) == (6, 6)
    events = first["events"]
    starts = [e for e in events if e["type"] == "CommandStarted"]
    assert [e["index"] for e in starts] == [1, 2, 3, 4, 5, 6]
    assert [e["line"] for e in starts] == [1, 2, 5, 6, 7, 8]
    assert starts[3]["command"] == 'display "middle"'
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)
    started = [e["progress"] for e in starts]
    assert all(a < b for a, b in itertools.pairwise(started))
    assert events[-1]["type"] == "Finished" and events[-1]["progress"] == 6
    # live: command 4 was seen from the stream well before the run ended
    assert events[-1]["elapsed"] - starts[3]["elapsed"] > 0.4
    for line in ("start", "step 1", "step 3", "middle", "done"):
        assert line in result["text"].splitlines()

    result = second["result"]
    assert result["status"] == "error"
    assert any("Stata's output stream" in note for note in result["notes"])
    assert result["error"]["rc"] == 198
    assert result["error"]["line"] == 4
    assert result["error"]["message"] == "invalid syntax"
    errors = [e for e in second["events"] if e["type"] == "ErrorRaised"]
    assert errors and errors[0]["rc"] == 198
    assert "never" not in result["text"]


async def test_when_the_stream_carries_nothing_the_log_is_read_once_stata_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pystata that prints nothing (streaming off, or a Windows build that keeps its output)
    must not leave the run without its output."""
    log = tmp_path / "run.log"
    log.write_text("first\n")
    stream = StreamBuffer()
    follower = RunFollower(log, stream, refused_s=0.1, poll_interval_s=0.02, force_polling=True)
    stop = anyio.Event()
    seen: list[str] = []

    async def follow() -> None:
        async for batch in follower.follow(stop):
            seen.extend(batch)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    monkeypatch.setattr(follow_module, "open_shared", _refusing_open(log))
    with log.open("a") as handle:  # Stata writes on (its own handle was opened before)
        handle.write("second\nthird\n")
    await asyncio.sleep(0.4)
    assert follower.switched and seen == ["first"]
    monkeypatch.undo()  # the run ends: Stata closes its log and lets go
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == ["first", "second", "third"]
    assert follower.note is not None and "the stream carried nothing" in follower.note


def test_the_stream_buffer_is_bounded_even_when_the_log_stops_moving() -> None:
    buffer = StreamBuffer(keep_chars=1000)
    for i in range(1000):
        buffer.put(f"{i:09d}\n")  # 10 characters a line, 10,000 in all
    start, text = buffer.take()
    assert len(text) <= 1000
    lines = text.split("\n")
    assert lines[0] == f"{start:09d}"  # the kept part starts at a line, numbered right
    assert lines[-2] == "000000999"
    assert buffer.chars == 10_000
