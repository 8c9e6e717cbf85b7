"""RunStore: the history file (atomic, bounded, unreadable files ignored), results a full disk
cannot save, and logs read without ever blocking."""

from __future__ import annotations

import errno
import io
import json
import os
import time
from pathlib import Path

import pytest

from stata_tools.stata import runs
from stata_tools.stata.runs import HISTORY_FILE, RunStore, UnreadableLog


def test_history_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs", keep=5)
    assert store.read_history() is None  # no file yet: nothing, not an error
    store.write_history({"version": 1, "files": {"/a.do": {"commands": {"k:1": 1.5}}}})
    assert store.read_history() == {"version": 1, "files": {"/a.do": {"commands": {"k:1": 1.5}}}}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [HISTORY_FILE]
    assert store.run_ids() == []  # the history is no run folder and is never pruned as one


def test_corrupt_oversized_or_unwritable_history_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path, keep=5)
    (tmp_path / HISTORY_FILE).write_text("{half", encoding="utf-8")
    assert store.read_history() is None
    monkeypatch.setattr(runs, "MAX_HISTORY_BYTES", 10)
    (tmp_path / HISTORY_FILE).write_text(json.dumps({"version": 1, "files": {}}))
    assert store.read_history() is None  # larger than the bound: not read at all

    def refuse(src: object, dst: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", refuse)
    before = (tmp_path / HISTORY_FILE).read_text()
    store.write_history({"version": 1, "files": {"/b.do": {}}})  # logged, not raised
    assert (tmp_path / HISTORY_FILE).read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == [HISTORY_FILE]  # the temporary file is gone


def _run(store: RunStore, text: bytes | None) -> str:
    run_id = "20260101-000000-abc123"
    folder = store.new_folder(run_id)
    if text is not None:
        (folder / runs.LOG_FILE).write_bytes(text)
    return run_id


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_in_place_of_a_log_is_refused_at_once(tmp_path: Path) -> None:
    store = RunStore(tmp_path, keep=5)
    run_id = _run(store, None)
    os.mkfifo(store.folder(run_id) / runs.LOG_FILE)
    began = time.monotonic()
    for kwargs in ({}, {"tail_lines": 3}, {"grep": "x"}):
        with pytest.raises(UnreadableLog, match=r"is a FIFO \(named pipe\), not a regular file"):
            store.read_log(run_id, **kwargs)  # type: ignore[arg-type]
    assert time.monotonic() - began < 2


def test_a_tail_reads_only_the_end_of_a_large_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path, keep=5)
    lines = b"".join(b"line %d\n" % k for k in range(200_000))
    run_id = _run(store, lines)
    read: list[int] = []
    real_open = runs.open_regular

    class Counting(io.BufferedReader):
        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            read.append(len(data))
            return data

    def counting_open(path: Path) -> io.BufferedReader:
        with real_open(path) as handle:  # checked as read_log checks it, then counted
            return Counting(io.FileIO(os.dup(handle.fileno()), "rb"))

    monkeypatch.setattr(runs, "open_regular", counting_open)
    page = store.read_log(run_id, tail_lines=3, max_bytes=1000)
    assert page.text == "line 199997\nline 199998\nline 199999\n"
    assert page.next_offset == page.size == len(lines)
    assert page.offset == len(lines) - len(page.text)
    assert sum(read) <= 1000


def test_a_result_a_full_disk_cannot_save_is_returned_as_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path, keep=5)
    run_id = _run(store, b"")

    def full(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    assert store.save_result(run_id, {"ok": 1}) is None
    monkeypatch.setattr(Path, "write_text", full)
    error = store.save_result(run_id, {"ok": 2})
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC


def test_the_oldest_runs_beyond_the_limit_go_looked_for_every_tenth_of_it(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path, keep=20)  # looks at the first folder, then every 2nd
    made = [f"20260101-000000-{n:06d}" for n in range(25)]
    for run_id in made[:21]:
        store.new_folder(run_id)
    store.prune(wait=True)
    assert store.run_ids() == made[1:21]  # the oldest beyond 20 went, the newest stayed
    for run_id in made[21:24]:
        store.new_folder(run_id)  # the 2nd of these looked again
    deadline = time.monotonic() + 10
    while len(store.run_ids()) > 21:  # removed on a thread of its own
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert store.run_ids() == made[3:24]  # 20 kept when it looked, one made since
    assert all(name in made for name in store.run_ids())
