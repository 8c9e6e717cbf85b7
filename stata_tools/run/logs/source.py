"""Where a run's lines come from: Stata's log, or Stata's output stream when the log cannot be read.

On Windows Stata may hold its log so that no other process can open or read it while the run
goes on. The worker forwards what pystata prints (the same text the log receives: our runs use
`do`/`include`, which echo); a RunFollower follows the log and, once every read has been refused
for `refused_s`, switches to that stream for the rest of the run, picking up at the line the log
had reached. The events (progress k/N, output, errors) are made from the lines either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio

from stata_tools.run.logs.follow import LineDecoder, LogFollower

__all__ = ["REFUSED_S", "RunFollower", "StreamBuffer", "align"]

REFUSED_S = 1.0
"""How long every read of the log must be refused before the stream takes over (a virus
scanner or a backup tool may hold a file for a moment)."""

KEEP_LINES = 2000
"""Stream lines kept behind the log's position while the log works, to line the two up."""

KEEP_CHARS = 32 << 20
"""At most this much of the stream is kept while the log is followed (a log that stopped
growing, say after `log close _all`, must not make the server hold the rest of the run)."""

_MATCH = 3  # last log lines compared with the stream when lining them up


class StreamBuffer:
    """The run's streamed output, handed in from any thread (`put`), read on the event loop.

    While the log is followed, only what lies ahead of it (and a margin) is kept, so a long run
    does not hold its whole output twice."""

    def __init__(self, *, keep_chars: int = KEEP_CHARS) -> None:
        self._keep_chars = keep_chars
        self._kept = 0  # characters in _chunks
        self._lock = threading.Lock()
        self._chunks: list[tuple[int, str]] = []  # (newlines before the chunk, its text)
        self._lines = 0  # newlines in everything put so far
        self._mid_line = False  # the first chunk kept starts inside a line (its head released)
        self._chars = 0
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    @property
    def chars(self) -> int:
        """Characters received in all."""
        return self._chars

    def put(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._chunks.append((self._lines, text))
            self._lines += text.count("\n")
            self._chars += len(text)
            self._kept += len(text)
            if self._kept > self._keep_chars:
                self._drop(max(1, len(self._chunks) // 2))
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            loop, event = waiter
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    def release(self, lines: int) -> None:
        """Forget the chunks that end before line `lines - KEEP_LINES` (the log is past them)."""
        keep_from = lines - KEEP_LINES
        with self._lock:
            drop = 0
            while drop + 1 < len(self._chunks) and self._chunks[drop + 1][0] <= keep_from:
                drop += 1
            if drop:
                self._drop(drop)

    def _drop(self, count: int) -> None:
        """Forget the oldest `count` chunks (lock held)."""
        self._mid_line = not self._chunks[count - 1][1].endswith("\n")
        self._kept -= sum(len(text) for _, text in self._chunks[:count])
        del self._chunks[:count]

    def take(self) -> tuple[int, str]:
        """Everything kept, as (the line it starts at, its text from that line's start), and
        empty the buffer."""
        with self._lock:
            if not self._chunks:
                return self._lines, ""
            start = self._chunks[0][0]
            text = "".join(chunk for _, chunk in self._chunks)
            self._chunks, self._kept = [], 0
            cut = text.find("\n") if self._mid_line else -1
            if cut < 0:
                return start, text
            self._mid_line = False
            return start + 1, text[cut + 1 :]

    def wait_event(self) -> asyncio.Event:
        """An event set when the next text arrives (at once if some is waiting)."""
        event = asyncio.Event()
        with self._lock:
            if self._chunks:
                event.set()
            else:
                self._waiter = (asyncio.get_running_loop(), event)
        return event


def align(emitted: list[str], stream: list[str], start: int, expected: int) -> int:
    """How many lines of `stream` (complete lines, the first being line `start`) the log has
    already shown: up to where its last emitted lines match the stream, nearest the line count
    `expected`; by that count alone when they match nowhere (the log had a header the screen
    did not show, say). The count may run past the stream when the stream lags behind."""
    tail = [line.rstrip() for line in emitted[-_MATCH:]]
    by_count = max(0, expected - start)
    if not tail:
        return by_count
    wanted = [line.rstrip() for line in stream]
    best: int | None = None
    for end in range(len(tail), len(wanted) + 1):
        if wanted[end - len(tail) : end] == tail and (
            best is None or abs(end - by_count) < abs(best - by_count)
        ):
            best = end
    return by_count if best is None else best


class RunFollower:
    """The log's lines while it can be read; the stream's once it has been refused too long."""

    def __init__(
        self,
        path: Path,
        stream: StreamBuffer,
        *,
        refused_s: float = REFUSED_S,
        clock: Callable[[], float] = time.monotonic,
        **log_options: Any,
    ) -> None:
        """`log_options` go to the LogFollower (polling, intervals)."""
        self.log = LogFollower(
            path, report_partial=True, report_refused=True, clock=clock, **log_options
        )
        self._stream = stream
        self._refused_s = refused_s
        self._clock = clock
        self._emitted: list[str] = []  # the last few log lines yielded, to line up the stream
        self._count = 0  # complete log lines yielded
        self._decoder: LineDecoder | None = None  # the stream's, once it took over
        self._skip = 0  # stream lines the log had already shown, still to pass over
        self._note: str | None = None

    @property
    def partial(self) -> str:
        """The unfinished last line so far, from whichever source is followed."""
        if self._decoder is None:
            return self.log.partial
        return "" if self._skip else self._decoder.peek()

    @property
    def switched(self) -> bool:
        return self._decoder is not None

    @property
    def note(self) -> str | None:
        """For the result's notes, once the stream took over."""
        return self._note

    async def follow(self, stop: anyio.Event) -> AsyncIterator[list[str]]:
        """Batches of lines as LogFollower.follow yields them, until `stop` and the end."""
        log_stop = anyio.Event()  # its own: leaving the log's watcher early sets the event
        relay = asyncio.ensure_future(_relay(stop, log_stop))
        try:
            async with aclosing(self.log.follow(log_stop)) as batches:
                async for batch in batches:
                    since = self.log.refused_since
                    if since is not None:
                        if not stop.is_set() and self._clock() - since >= self._refused_s:
                            break
                        continue  # the report of a refused tick, or the tail of a refused drain
                    self._count += len(batch)
                    self._emitted = (self._emitted + batch)[-_MATCH:]
                    self._stream.release(self._count)
                    yield batch
                else:
                    if self.log.refused_since is None:  # the final drain read the log
                        return
        finally:
            relay.cancel()
        async for batch in self._from_stream(stop):
            yield batch

    async def _from_stream(self, stop: anyio.Event) -> AsyncIterator[list[str]]:
        decoder = self._decoder = LineDecoder()
        start, text = self._stream.take()
        self._skip = align(self._emitted, text.split("\n")[:-1], start, self._count)
        which = f"after line {self._count} of the log" if self._count else "of the whole run"
        self._note = (
            f"Stata held the run's log so that it could not be read "
            f"({_describe(self.log.refusal)}); progress and output {which} came from Stata's "
            "output stream instead"
        )
        while True:
            if text:
                lines = self._passed(decoder.feed(text.encode("utf-8")))
                yield lines  # [] when only the partial line grew
            event = self._stream.wait_event()
            if stop.is_set() and not event.is_set():
                break  # the stream is complete once the run has ended
            waiter = asyncio.ensure_future(event.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()
            _, text = self._stream.take()
        tail = self._passed(decoder.flush())
        if tail:
            yield tail
        if self._stream.chars == 0:  # nothing came that way: read what the log has by now
            self._note += "; the stream carried nothing, so the log was read once Stata let go"
            self._decoder = None
            done = anyio.Event()
            done.set()
            async for batch in self.log.follow(done):
                if self.log.refused_since is None:
                    yield batch

    def _passed(self, lines: list[str]) -> list[str]:
        """Lines less those the log had already shown."""
        if not self._skip:
            return lines
        cut = min(self._skip, len(lines))
        self._skip -= cut
        return lines[cut:]


async def _relay(stop: anyio.Event, to: anyio.Event) -> None:
    await stop.wait()
    to.set()


def _describe(error: OSError | None) -> str:
    if error is None:
        return "access refused"
    return f"{type(error).__name__}: {error.strerror or error}"
