"""RunStore's history file: atomic replacement, a size bound, and unreadable files ignored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stata_tools import runs
from stata_tools.runs import HISTORY_FILE, RunStore


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
