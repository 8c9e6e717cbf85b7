"""Stata started in the background right after the MCP handshake (STATA_TOOLS_PRESTART), so the
first run does not wait for Stata's start-up; until it is up, status says it is starting."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future

from stata_tools.run.durations import format_elapsed
from stata_tools.stata.engine import StataInfo


class Prestart:
    """One background start per process: begun once, then watched, never waited on."""

    def __init__(
        self, start: Callable[[], Future[StataInfo]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._start = start
        self._clock = clock
        self._future: Future[StataInfo] | None = None
        self._since = 0.0

    def begin(self) -> None:
        if self._future is None:
            self._since = self._clock()
            self._future = self._start()

    def describe(self) -> str | None:
        """What the background start is doing, while that is worth saying; None otherwise."""
        future = self._future
        if future is None:
            return None
        if not future.done():
            took = format_elapsed(self._clock() - self._since)
            return f"Stata: starting in the background ({took} so far; a run waits for it)."
        error = future.exception()
        if error is not None:
            return f"Stata: the background start failed: {error}"
        return None
