"""Reporter: forwards run events to a slow consumer at a bounded rate without ever blocking the run.

The run side calls `update` (synchronous, cheap); a separate `pump` task sends the newest progress
at most every `progress_interval_s` and batches new log lines at most every `lines_interval_s`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from stata_tools.run.events import Output, RunEvent, Snapshot

SendProgress = Callable[[float, float, str], Awaitable[None]]
SendLines = Callable[[str], Awaitable[None]]

MAX_PENDING_LINES = 2_000
MAX_BATCH_CHARS = 16_000


class Reporter:
    """Holds the newest snapshot and the log lines not yet sent."""

    def __init__(
        self,
        send_progress: SendProgress,
        send_lines: SendLines | None = None,
        *,
        progress_interval_s: float = 0.025,
        lines_interval_s: float = 0.1,
        quiet_start_s: float = 0.0,
    ) -> None:
        self._send_progress = send_progress
        self._send_lines = send_lines
        self._progress_interval = progress_interval_s
        self._lines_interval = lines_interval_s
        self._quiet_start = quiet_start_s
        self._quiet_until: float | None = None  # set at the first event
        self._snapshot: Snapshot | None = None
        self._sent_progress = -1.0
        self._lines: deque[str] = deque()
        self._dropped = 0
        self._changed = anyio.Event()
        self._closed = False
        self.progress_sent: list[tuple[float, float, str]] = []

    def update(self, event: RunEvent) -> None:
        """Record an event; never waits."""
        if self._quiet_until is None:
            self._quiet_until = time.monotonic() + self._quiet_start
        self._snapshot = event.snapshot
        if isinstance(event, Output) and self._send_lines is not None:
            for line in event.lines:
                if len(self._lines) >= MAX_PENDING_LINES:
                    self._lines.popleft()
                    self._dropped += 1
                self._lines.append(line)
        self._changed.set()

    async def close(self) -> None:
        """Flush what is pending and let `pump` return at once."""
        self._closed = True
        self._changed.set()

    async def pump(self) -> None:
        """Send until closed; run it as a child task of the request. With `quiet_start_s`,
        nothing goes out before the run has gone on that long, and a run closed by then sends
        nothing at all: its result follows at once and says everything (each notification
        costs the client and the server a third of a millisecond)."""
        next_progress = next_lines = 0.0
        while not self._closed:
            await self._changed.wait()
            self._changed = anyio.Event()
            if self._quiet_until is not None and next_progress == 0.0:
                next_progress = next_lines = self._quiet_until
            due = [
                when
                for when, pending in (
                    (next_progress, self._progress_pending()),
                    (next_lines, bool(self._lines)),
                )
                if pending
            ]
            if not due or self._closed:
                continue
            delay = min(due) - time.monotonic()
            if delay > 0:  # wait for the interval, or for news (a close, a fresher snapshot)
                with anyio.move_on_after(delay):
                    await self._changed.wait()
                self._changed.set()
                continue
            now = time.monotonic()
            if self._progress_pending() and now >= next_progress:
                await self._flush_progress()
                next_progress = now + self._progress_interval
            if self._lines and now >= next_lines:
                await self._flush_lines()
                next_lines = now + self._lines_interval
            if self._progress_pending() or self._lines:
                self._changed.set()  # the rest waits for its interval
        if self._quiet_until is not None and time.monotonic() < self._quiet_until:
            return  # over before anyone could watch it: the result says it all
        await self._flush_progress()
        while self._lines:
            await self._flush_lines()

    def _progress_pending(self) -> bool:
        snapshot = self._snapshot
        return snapshot is not None and snapshot.progress > self._sent_progress

    async def _flush_progress(self) -> None:
        snapshot = self._snapshot
        if snapshot is None or snapshot.progress <= self._sent_progress:
            return
        self._sent_progress = snapshot.progress
        self.progress_sent.append((snapshot.progress, float(snapshot.total), snapshot.message))
        await self._send_progress(snapshot.progress, float(snapshot.total), snapshot.message)

    async def _flush_lines(self) -> None:
        if self._send_lines is None or not self._lines:
            return
        batch: list[str] = []
        size = 0
        if self._dropped:
            batch.append(f"[… {self._dropped:,} log lines skipped to keep up; see the run's log …]")
            self._dropped = 0
        while self._lines and size < MAX_BATCH_CHARS:
            line = self._lines.popleft()
            batch.append(line)
            size += len(line) + 1
        await self._send_lines("\n".join(batch))
