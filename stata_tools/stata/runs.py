"""RunStore: every run's folder (log, captured output, result), listed, read and pruned."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from stata_tools.run.dofile import decode_source
from stata_tools.safety.files import NotAFile, open_regular

RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
RESULT_FILE = "result.json"
LOG_FILE = "run.log"
MAX_READ_BYTES = 1 << 20
RUNNING_OR_INTERRUPTED = "running or interrupted"
"""The status of a run folder without a result: running now, or its server went away."""
HISTORY_FILE = "timings.json"
MAX_HISTORY_BYTES = 8 << 20
"""A history file larger than this is not read (it was not written by us)."""

logger = logging.getLogger(__name__)


class UnknownRun(LookupError):
    """No kept run has that id; the message lists how to find one."""


class UnreadableLog(ValueError):
    """A run's log is there but is not a regular file (a FIFO or device put in its place)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of `stata://runs`."""

    run_id: str
    status: str
    rc: int | None
    source: str | None
    duration_s: float | None
    log_bytes: int


@dataclass(frozen=True, slots=True)
class LogSlice:
    """A page of a log: the text and where the next page starts."""

    text: str
    offset: int
    next_offset: int
    size: int
    lines_matched: int | None = None


class RunStore:
    """The run directory: one folder per run, newest last, at most `keep` of them."""

    def __init__(self, root: Path, keep: int, visible: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self.keep = keep
        self._visible = visible
        self._prune_every = max(1, keep // 10)
        self._made = self._prune_every  # folders made since the last look; the first one looks

    def only(self, visible: Callable[[str], bool]) -> RunStore:
        """The same store seen by one client: other runs are listed nowhere and read as unknown."""
        return RunStore(self.root, self.keep, visible)

    def new_folder(self, run_id: str) -> Path:
        """The run's folder, made; every tenth of `keep` runs the oldest beyond `keep` go (a
        listing of a full run folder costs a third of a millisecond: not every run pays it)."""
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        self._made += 1
        if self._made >= self._prune_every:
            self.prune()
        return folder

    def save_result(self, run_id: str, meta: dict[str, Any]) -> OSError | None:
        """Keep a run's result beside its log; a failure (a full disk) is returned, not raised,
        so the caller still gets its result."""
        folder = self.root / run_id
        try:
            if folder.is_dir():
                (folder / RESULT_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        except OSError as error:
            logger.warning("could not save the result of run %s: %s", run_id, error)
            return error
        return None

    def read_history(self) -> object:
        """The command-times history kept next to the runs; None when absent or unreadable."""
        path = self.root / HISTORY_FILE
        try:
            if path.stat().st_size > MAX_HISTORY_BYTES:
                logger.warning("%s is larger than %d bytes; ignored", path, MAX_HISTORY_BYTES)
                return None
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_history(self, data: object) -> None:
        """Replace the history atomically; a failure leaves the old one and is only logged."""
        path = self.root / HISTORY_FILE
        temp = path.with_name(f".{HISTORY_FILE}.{os.getpid()}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(temp, path)
        except OSError as error:
            logger.warning("could not save the run history %s: %s", path, error)
            with contextlib.suppress(OSError):
                temp.unlink()

    def run_ids(self) -> list[str]:
        try:
            with os.scandir(self.root) as entries:  # is_dir() from the listing: no stat each
                ids = sorted(e.name for e in entries if RUN_ID.match(e.name) and e.is_dir())
        except OSError:
            return []
        return ids if self._visible is None else [i for i in ids if self._visible(i)]

    def prune(self, *, wait: bool = False) -> None:
        """Drop the oldest runs beyond the retention limit, on a thread of their own (removing
        a score of folders takes milliseconds a run should not wait for) unless `wait`."""
        self._made = 0
        ids = RunStore(self.root, self.keep).run_ids()  # every client's: the limit is the disk's
        old = [self.root / run_id for run_id in ids[: max(0, len(ids) - self.keep)]]
        if not old:
            return
        remover = threading.Thread(target=_remove, args=(old,), name="stata-tools-prune")
        remover.daemon = True
        remover.start()
        if wait:
            remover.join()

    def summaries(self, limit: int = 50) -> list[RunSummary]:
        return [self.summary(run_id) for run_id in reversed(self.run_ids()[-limit:])]

    def summary(self, run_id: str) -> RunSummary:
        folder = self.folder(run_id)
        log = folder / LOG_FILE
        meta = _read_json(folder / RESULT_FILE)
        return RunSummary(
            run_id=run_id,
            status=meta.get("status", RUNNING_OR_INTERRUPTED),
            rc=meta.get("rc"),
            source=meta.get("source"),
            duration_s=meta.get("duration_s"),
            log_bytes=log.stat().st_size if log.exists() else 0,
        )

    def folder(self, run_id: str) -> Path:
        visible = self._visible is None or self._visible(run_id)
        if not RUN_ID.match(run_id) or not visible or not (self.root / run_id).is_dir():
            raise UnknownRun(
                f"no kept run has id {run_id!r}; read the resource stata://runs for the recent "
                f"ones (the {self.keep} newest are kept)"
            )
        return self.root / run_id

    def read_log(
        self,
        run_id: str,
        offset: int = 0,
        max_bytes: int = 65_536,
        tail_lines: int | None = None,
        grep: str | None = None,
    ) -> LogSlice:
        """A page of the run's log by byte offset, its last lines, or the lines matching a regex."""
        log = self.folder(run_id) / LOG_FILE
        max_bytes = max(1, min(max_bytes, MAX_READ_BYTES))
        if grep is not None:
            _pattern(grep)  # a bad pattern is the caller's error, whatever the log
        try:
            handle = open_regular(log)
        except FileNotFoundError:
            return LogSlice("", 0, 0, 0, lines_matched=0 if grep is not None else None)
        except NotAFile as error:
            raise UnreadableLog(f"the log of run {run_id} cannot be read: {error}") from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if grep is not None:
                return _grep(handle, size, grep, max_bytes)
            if tail_lines is not None:
                return _tail(handle, size, tail_lines, max_bytes)
            offset = max(0, min(offset, size))
            handle.seek(offset)
            data = handle.read(max_bytes)
        cut = data.rfind(b"\n") + 1 if offset + len(data) < size else len(data)
        data = data[: cut or len(data)]
        return LogSlice(decode_source(data)[0], offset, offset + len(data), size)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _tail(handle: BinaryIO, size: int, count: int, max_bytes: int) -> LogSlice:
    """The last `count` lines within the last `max_bytes`: only that much is read."""
    start = max(0, size - max_bytes)
    handle.seek(start)
    lines: deque[bytes] = deque(handle.read(max_bytes).splitlines(keepends=True), maxlen=count)
    data = b"".join(lines)
    return LogSlice(decode_source(data)[0], size - len(data), size, size)


def _pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        message = f"grep pattern {pattern!r} is not a valid regular expression: {error}"
        raise ValueError(message) from None


def _grep(handle: BinaryIO, size: int, pattern: str, max_bytes: int) -> LogSlice:
    regex = _pattern(pattern)
    found: list[str] = []
    used = matched = 0
    for number, raw in enumerate(handle, start=1):
        line = decode_source(raw)[0].rstrip("\r\n")
        if regex.search(line):
            matched += 1
            entry = f"{number}: {line}"
            if used + len(entry) + 1 <= max_bytes:
                found.append(entry)
                used += len(entry) + 1
    return LogSlice("\n".join(found), 0, size, size, lines_matched=matched)


def _remove(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
