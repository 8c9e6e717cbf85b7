"""Read a batch-mode log (`stata -b do file.do`): the preamble set aside, the body passed on.

A batch log starts with Stata's banner, the licence block, `Notes:` and an optional
`Running …/profile.do ...`; the run's own echo (`. do file.do `) begins the body that the
LogParser and Tracker read as in any log. A batch Stata exits 0 even when the do-file failed,
so the return code is read from the log's tail.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["BatchBanner", "BatchLogReader", "banner_info", "batch_return_code"]

_RC = re.compile(r"^r\((\d+)\);")
_RMSG = re.compile(r"^r; t=")  # `set rmsg on` after each command, `end of do-file` included
_VERSION_17 = re.compile(r"^ /__ {4}/ {3}_{4}/ {3}/ {3}_{4}/\s+(\d+(?:\.\d+)?)\s*$")
_VERSION_15 = re.compile(r"^_{3}/ {3}/ {3}/_{3}/ {3}/ {3}/_{3}/\s+(\d+(?:\.\d+)?)\s+Copyright")
_EDITION = re.compile(r"\b(MP|SE|BE|IC)\b\s*(?:\u2014|-)\s*\w+ Edition|\b(IC|BE)\s*$")
_EXIT = re.compile(r"^\. (?:exit|exi|ex)\b.*,.*\b(?:clear|STATA)\b")
_TAIL = 8


@dataclass(frozen=True, slots=True)
class BatchBanner:
    """What the banner says about the Stata that wrote the log."""

    version: str | None
    edition: str | None


def _is_echo(line: str) -> bool:
    return line == "." or line.startswith(". ")


class BatchLogReader:
    """Lines of a batch log in, the body's lines out; keeps the preamble and the tail."""

    def __init__(self) -> None:
        self.preamble: list[str] = []
        self._in_body = False
        self._tail: deque[str] = deque(maxlen=_TAIL)

    @property
    def in_body(self) -> bool:
        """Whether the first echo has been seen (Stata has started the run)."""
        return self._in_body

    def feed(self, lines: Iterable[str]) -> list[str]:
        """The body lines among `lines`; everything before the first echo is preamble."""
        body: list[str] = []
        for line in lines:
            if not self._in_body:
                if not _is_echo(line):
                    if len(self.preamble) < 200:  # a profile.do that talks is not our business
                        self.preamble.append(line)
                    continue
                self._in_body = True
            body.append(line)
            if line.strip():
                self._tail.append(line)
        return body

    def return_code(self) -> int | None:
        """The run's return code from the lines seen so far (None: the run has not ended)."""
        return batch_return_code(self._tail)

    def banner(self) -> BatchBanner:
        return banner_info(self.preamble)


def batch_return_code(lines: Iterable[str]) -> int | None:
    """0 after a final `end of do-file` (or an `exit, clear`), N after a final `r(N);`, None
    when the log stops elsewhere (Stata was killed, or is still running)."""
    last = [line.rstrip() for line in lines if line.strip() and not _RMSG.match(line)]
    if not last:
        return None
    final = last[-1]
    match = _RC.match(final)
    if match:
        return int(match.group(1))
    if final == "end of do-file":
        return 0
    if _EXIT.match(final):
        return 0  # the do-file ended Stata itself, as many batch do-files do
    return None


def banner_info(preamble: Iterable[str]) -> BatchBanner:
    """The version and edition the banner shows (17+: `18.0` / `MP—Parallel Edition`; 15:
    `15.1   Copyright …` / `MP - Parallel Edition`)."""
    version = edition = None
    for line in preamble:
        found = _VERSION_17.match(line) or _VERSION_15.match(line)
        if found and version is None:
            version = found.group(1)
        named = _EDITION.search(line)
        if named and edition is None and ("Edition" in line or line.startswith("___/")):
            edition = (named.group(1) or named.group(2)).lower()
    if edition == "ic":
        edition = "be"
    return BatchBanner(version, edition)
