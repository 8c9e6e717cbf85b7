"""Reporter: forwards run events to a slow consumer at a bounded rate without ever blocking the run.

The run side calls `update` (synchronous, cheap); a separate `pump` task sends the newest progress
at most every `progress_interval_s` and batches new log lines at most every `lines_interval_s`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from stata_tools.events import Output, RunEvent, Snapshot

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
    ) -> None:
        self._send_progress = send_progress
        self._send_lines = send_lines
        self._progress_interval = progress_interval_s
        self._lines_interval = lines_interval_s
        self._snapshot: Snapshot | None = None
        self._sent_progress = -1.0
        self._lines: deque[str] = deque()
        self._dropped = 0
        self._changed = anyio.Event()
        self._closed = False
        self.progress_sent: list[tuple[float, float, str]] = []

    def update(self, event: RunEvent) -> None:
        """Record an event; never waits."""
        self._snapshot = event.snapshot
        if isinstance(event, Output) and self._send_lines is not None:
            for line in event.lines:
                if len(self._lines) >= MAX_PENDING_LINES:
                    self._lines.popleft()
                    self._dropped += 1
                self._lines.append(line)
        self._changed.set()

    async def close(self) -> None:
        """Flush what is pending and let `pump` return."""
        self._closed = True
        self._changed.set()

    async def pump(self) -> None:
        """Send until closed; run it as a child task of the request."""
        last_progress = last_lines = 0.0
        while True:
            await self._changed.wait()
            self._changed = anyio.Event()
            closing = self._closed
            now = time.monotonic()
            wait_progress = last_progress + self._progress_interval - now
            if wait_progress > 0 and not closing:
                await anyio.sleep(wait_progress)
            await self._flush_progress()
            last_progress = time.monotonic()
            if self._lines and (closing or last_progress - last_lines >= self._lines_interval):
                await self._flush_lines()
                last_lines = time.monotonic()
            elif self._lines:
                self._changed.set()  # come back for the lines once their interval is up
                await anyio.sleep(max(0.0, last_lines + self._lines_interval - time.monotonic()))
            if closing:
                while self._lines:
                    await self._flush_lines()
                return

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
        if self._lines:
            self._changed.set()
