"""Follow a log file that Stata is writing: new bytes → complete text lines, with low latency.

watchfiles wakes us within a few milliseconds of a write; a poll every `poll_interval_s` covers
missed events and watchers that cannot start; a final drain at stop catches the tail that was
written after the last event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from watchfiles import Change, awatch

__all__ = ["LineDecoder", "LogFollower", "is_refusal", "open_shared"]

FLOOD_WINDOW_S = 0.5
"""Over this long a log growing at `flood_rate` or more is a flood: every write Stata makes to a
watched file costs it a change event (a tenth more CPU for a log of short lines), and polling
every 100 ms shows the same progress."""

_WINDOWS_REFUSALS = frozenset({5, 32, 33})  # access denied, sharing violation, lock violation

logger = logging.getLogger(__name__)

_SIGNATURE = 64
"""Bytes just before the offset that must be unchanged, or the file was rewritten in place."""


async def _set_when(stop: anyio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


def _decode(line: bytes) -> str:
    """UTF-8 (Stata 14+), else cp1252 (old Windows logs), else latin-1 (never fails)."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def open_shared(path: Path) -> BinaryIO:
    """The file opened for reading. On Windows it shares read, write and delete access, as
    `type` does (Python's open() leaves out delete), so a writer that opened its log with delete
    access does not keep us out; a writer that shares no reading still does (`is_refusal`)."""
    if os.name != "nt":
        return open(path, "rb")
    import ctypes
    import msvcrt
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    create = kernel32.CreateFileW
    create.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.LPVOID,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    create.restype = wintypes.HANDLE
    generic_read, share_all, open_existing, normal = 0x80000000, 0x7, 3, 0x80
    handle = create(str(path), generic_read, share_all, None, open_existing, normal, None)
    if handle is None or handle == wintypes.HANDLE(-1).value:
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    try:
        fd = msvcrt.open_osfhandle(handle, os.O_RDONLY | os.O_BINARY)  # type: ignore[attr-defined]
    except OSError:
        kernel32.CloseHandle(wintypes.HANDLE(handle))
        raise
    return os.fdopen(fd, "rb")


def is_refusal(error: OSError) -> bool:
    """Whether the file exists but may not be read now: permissions, or (Windows) another
    process holding it open without sharing, or a locked range."""
    return isinstance(error, PermissionError) or (
        getattr(error, "winerror", None) in _WINDOWS_REFUSALS
    )


class LineDecoder:
    """Bytes in arbitrary chunks → complete text lines; keeps partial lines and split UTF-8.

    Lines are split on b"\\n" and decoded whole, so chunk boundaries never matter. A line longer
    than `max_line` bytes is cut into pieces at UTF-8 character boundaries to bound memory.
    """

    def __init__(self, *, max_line: int = 1 << 20) -> None:
        if max_line < 4:
            raise ValueError("max_line must be at least 4 bytes")
        self._max_line = max_line
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of the partial line held back until its newline arrives."""
        return len(self._pending)

    def peek(self) -> str:
        """The partial line held back so far, decoded; a UTF-8 character cut at its end is left
        out until the rest arrives."""
        buf = bytes(self._pending).removesuffix(b"\r")
        for cut in range(min(4, len(buf) + 1)):
            try:
                return buf[: len(buf) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
        return _decode(buf)

    def feed(self, data: bytes) -> list[str]:
        """The lines that `data` completes, without their endings (\\n, \\r\\n)."""
        lines: list[str] = []
        buf = self._pending
        buf += data
        start = 0
        while (newline := buf.find(b"\n", start)) >= 0:
            end = newline - 1 if newline > start and buf[newline - 1] == 0x0D else newline
            self._cut(buf, start, end, lines)
            start = newline + 1
        # Keep one byte of room: a trailing "\r" may still turn out to be half of "\r\n".
        while len(buf) - start > self._max_line + 1:
            start = self._cut_once(buf, start, lines)
        del buf[:start]
        return lines

    def flush(self) -> list[str]:
        """The pending partial line, if any (end of stream)."""
        buf = self._pending
        if not buf:
            return []
        end = len(buf) - 1 if buf[-1] == 0x0D else len(buf)
        lines: list[str] = []
        self._cut(buf, 0, end, lines)
        buf.clear()
        return lines

    def _cut(self, buf: bytearray, start: int, end: int, lines: list[str]) -> None:
        while end - start > self._max_line:
            start = self._cut_once(buf, start, lines)
        lines.append(_decode(bytes(buf[start:end])))

    def _cut_once(self, buf: bytearray, start: int, lines: list[str]) -> int:
        cut = start + self._max_line
        while cut > start + self._max_line - 3 and buf[cut] & 0xC0 == 0x80:
            cut -= 1  # do not split a UTF-8 sequence
        lines.append(_decode(bytes(buf[start:cut])))
        return cut


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read of the file found: new bytes, and whether it was truncated or replaced."""

    data: bytes = b""
    restart: bool = False
    identity: tuple[int, int] | None = None
    size: int = 0


class LogFollower:
    """Follows one log file by byte offset: watchfiles for latency, polling as a fallback, a final
    drain at stop. I/O errors on the file (missing, locked) are retried at the next tick; a file
    that exists but is refused (`is_refusal`) is reported by `refused_since`."""

    def __init__(
        self,
        path: Path,
        *,
        debounce_ms: int = 10,
        step_ms: int = 5,
        poll_interval_s: float = 0.1,
        read_chunk: int = 1 << 20,
        force_polling: bool = False,
        flood_bytes: int = 64 << 10,
        flood_rate: float = float(1 << 20),
        report_partial: bool = False,
        report_refused: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if read_chunk < 1:
            raise ValueError("read_chunk must be positive")
        self.path = Path(path).absolute()
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._poll_interval_s = poll_interval_s
        self._read_chunk = read_chunk
        self._force_polling = force_polling
        self._flood_bytes = flood_bytes
        self._flood_rate = flood_rate  # bytes a second, kept up for FLOOD_WINDOW_S: a flood too
        self._report_partial = report_partial  # yield [] when only the partial line grew
        self._report_refused = report_refused  # yield [] at each tick the file is refused
        self._clock = clock
        self._refused_since: float | None = None
        self._refusal: OSError | None = None
        self._flooded = False  # a tick found flood_bytes, or flood_rate went on: poll from then
        self._offset = 0
        self._restarts = 0
        self._identity: tuple[int, int] | None = None
        self._signature = b""
        self._decoder = LineDecoder()
        self._polling = force_polling

    @property
    def offset(self) -> int:
        """Bytes consumed from the file, including a partial last line held by the decoder."""
        return self._offset

    @property
    def partial(self) -> str:
        """The unfinished last line read so far (replication dots grow one at a time)."""
        return self._decoder.peek()

    @property
    def restarts(self) -> int:
        """Times the file was truncated or replaced and reading restarted at 0."""
        return self._restarts

    @property
    def polling(self) -> bool:
        """Whether the follower runs on polling alone (forced, or the watcher failed)."""
        return self._polling

    @property
    def refused_since(self) -> float | None:
        """Since when (clock) every read of the file was refused (see `is_refusal`); None while
        reads work or the file is merely missing."""
        return self._refused_since

    @property
    def refusal(self) -> OSError | None:
        """The last refusal, for a message."""
        return self._refusal

    @property
    def flooded(self) -> bool:
        """Whether output came so fast that the follower switched from events to polling."""
        return self._flooded

    async def follow(self, stop: anyio.Event) -> AsyncIterator[list[str]]:
        """Yield batches of new complete lines until `stop` is set; then drain the file to its end,
        flush the partial last line, and finish. With `report_partial`, bytes that complete no line
        yield an empty batch: `partial` has grown.

        `stop` ends the wait for the next tick by itself: once the writer is done, the drain
        never waits on the watcher's debounce or step."""
        wake = asyncio.Event()
        feeder = asyncio.create_task(self._feed(stop, wake))
        relay = asyncio.create_task(_set_when(stop, wake))
        window_start, window_bytes = self._clock(), 0
        try:
            while True:
                wake.clear()
                before = self._offset
                async for batch in self._read_available(limit=None):
                    yield batch
                if stop.is_set():
                    break
                got = self._offset - before
                window_bytes += got
                now = self._clock()
                if now - window_start >= FLOOD_WINDOW_S:
                    rate = window_bytes / (now - window_start)
                    window_start, window_bytes = now, 0
                    if rate >= self._flood_rate:
                        self._flooded = True  # a steady stream, each tick under flood_bytes
                if got >= self._flood_bytes:
                    self._flooded = True
                await wake.wait()
        finally:
            feeder.cancel()  # the watcher's thread returns within a step; nobody waits for it
            relay.cancel()
        size = self._size()  # a stat, like _read_once's reads: no thread hop once Stata is done
        async for batch in self._read_available(limit=size):
            yield batch
        tail = self._decoder.flush()
        if tail:
            yield tail

    async def _feed(self, stop: anyio.Event, wake: asyncio.Event) -> None:
        async with aclosing(self._ticks(stop)) as ticks:
            async for _ in ticks:
                wake.set()
        wake.set()

    async def _ticks(self, stop: anyio.Event) -> AsyncIterator[None]:
        """One tick per moment worth reading: at start, on a change, every poll interval."""
        yield None
        if not self._force_polling:
            name = self.path.name

            def only_this(_change: Change, changed: str) -> bool:
                return os.path.basename(changed) == name

            try:
                changes = awatch(
                    self.path.parent,
                    watch_filter=only_this,
                    debounce=self._debounce_ms,
                    step=self._step_ms,
                    stop_event=stop,
                    rust_timeout=max(int(self._poll_interval_s * 1000), 1),
                    yield_on_timeout=True,
                    recursive=False,
                )
                async with aclosing(changes):
                    async for _changes in changes:
                        yield None
                        if self._flooded:
                            break
                if not self._flooded:
                    return  # the watcher saw `stop`
                # A flood of output: an event per write costs more CPU than polling, and nobody
                # reads lines at this rate anyway.
                logger.debug("%s: a flood of output; polling from now on", self.path)
            except Exception as exc:  # inotify limits, a vanished directory, backend errors
                logger.warning("watching %s failed (%s); polling instead", self.path, exc)
                self._polling = True
        while not stop.is_set():
            with anyio.move_on_after(self._poll_interval_s):
                await stop.wait()
            yield None

    async def _read_available(self, *, limit: int | None) -> AsyncIterator[list[str]]:
        """Read chunk by chunk until the end of the file (or `limit` bytes), one batch per chunk."""
        while True:
            read = self._read_once()  # local page-cache reads take microseconds
            await anyio.lowlevel.checkpoint()
            if read is None:
                if self._report_refused and self._refused_since is not None:
                    yield []
                return
            if read.restart:
                tail = self._decoder.flush()  # the old file's partial last line is still output
                if tail:
                    yield tail
                self._restart()
            self._identity = read.identity
            if not read.data:
                return
            self._offset += len(read.data)
            self._signature = (self._signature + read.data)[-_SIGNATURE:]
            lines = self._decoder.feed(read.data)
            if lines or self._report_partial:
                yield lines
            if self._offset >= read.size or (limit is not None and self._offset >= limit):
                return

    def _restart(self) -> None:
        logger.debug("%s was truncated or replaced; reading from the start", self.path)
        self._offset = 0
        self._signature = b""
        self._decoder = LineDecoder()
        self._restarts += 1

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return self._offset

    def _read_once(self) -> _Read | None:
        """One bounded read from the saved offset, on the event loop (a local read of the page
        cache takes microseconds, a thread hop a few hundred); None on I/O errors."""
        try:
            with open_shared(self.path) as f:
                st = os.fstat(f.fileno())
                identity = (st.st_dev, st.st_ino) if st.st_ino else None
                known = self._identity
                replaced = known is not None and identity is not None and identity != known
                restart = replaced or st.st_size < self._offset
                if not restart and self._signature:
                    f.seek(self._offset - len(self._signature))
                    restart = f.read(len(self._signature)) != self._signature
                offset = 0 if restart else self._offset
                f.seek(offset)
                data = f.read(min(self._read_chunk, max(st.st_size - offset, 0)))
        except OSError as error:
            if is_refusal(error):
                self._refusal = error
                if self._refused_since is None:
                    self._refused_since = self._clock()
            return None
        self._refused_since = None
        return _Read(data=data, restart=restart, identity=identity, size=st.st_size)
