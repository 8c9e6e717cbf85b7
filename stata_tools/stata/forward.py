"""In the worker: what Stata prints during a run, forwarded to the server in batches.

pystata prints from its output thread; a print must never wait on the pipe, so `write` only
appends under a lock and a sender thread of its own pickles and sends. `flush` sends what is
pending at once: the worker calls it before a run's reply, so the server has the whole stream
by the time it learns the run ended (no wait, no poll on that path).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from stata_tools.stata import protocol

MAX_PENDING_CHARS = 32 << 20  # beyond this the server is not reading: count, do not keep
MAX_MESSAGE_CHARS = 1 << 20
BATCH_S = 0.01  # at most about a hundred messages a second, whatever Stata prints


class OutputForwarder:
    """Batches (run id, text) and sends it as protocol.Output messages, in order."""

    def __init__(
        self,
        send: Callable[[protocol.Output], None],
        *,
        max_pending: int = MAX_PENDING_CHARS,
        batch_s: float = BATCH_S,
    ) -> None:
        self._send = send
        self._max_pending = max_pending
        self._batch_s = batch_s
        self._lock = threading.Lock()  # guards what is pending
        self._order = threading.Lock()  # one sender at a time: messages leave in write order
        self._pending: list[tuple[str, list[str]]] = []
        self._size = 0
        self._dropped: dict[str, int] = {}
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="stata-output-forwarder", daemon=True).start()

    def writer(self, run_id: str) -> Callable[[str], None]:
        """The engine's `on_output` for one run."""
        return functools.partial(self.write, run_id)

    def write(self, run_id: str, text: str) -> None:
        """On Stata's thread, once per print: an append, and a wake only for the first print
        since the sender last took what was pending (a million prints, one wake per batch)."""
        if not text:
            return
        size = len(text)
        with self._lock:
            if self._size + size > self._max_pending:
                self._dropped[run_id] = self._dropped.get(run_id, 0) + size
                return
            pending = self._pending
            if pending and pending[-1][0] == run_id:
                pending[-1][1].append(text)
            else:
                pending.append((run_id, [text]))
            first = self._size == 0
            self._size += size
        if first:
            self._wake.set()

    def flush(self) -> None:
        """Send everything written so far, now, on the caller's thread."""
        with self._order:
            for message in self._take():
                self._send(message)

    def _take(self) -> list[protocol.Output]:
        with self._lock:
            pending, self._pending, self._size = self._pending, [], 0
            dropped, self._dropped = self._dropped, {}
        messages = []
        for run_id, parts in pending:
            text = "".join(parts)
            for start in range(0, len(text), MAX_MESSAGE_CHARS):
                piece = text[start : start + MAX_MESSAGE_CHARS]
                messages.append(protocol.Output(run_id, piece, dropped.pop(run_id, 0)))
        messages.extend(protocol.Output(run_id, "", count) for run_id, count in dropped.items())
        return messages

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.flush()
            time.sleep(self._batch_s)  # let the next prints gather into one message
