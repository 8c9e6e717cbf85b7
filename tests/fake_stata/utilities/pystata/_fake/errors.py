"""Stata errors inside the fake: a return code, the message Stata prints, and control flow."""

from __future__ import annotations

# The messages `error #` prints (Stata's wording where the corpus shows it).
MESSAGES: dict[int, str] = {
    1: "--Break--",
    4: "no; dataset in memory has changed since last saved",
    9: "assertion is false",
    100: "varlist required",
    109: "type mismatch",
    110: "already defined",
    111: "variable not found",
    119: "statement out of context",
    120: "invalid %format",
    130: "expression too long",
    133: "unknown function ()",
    134: "too many values",
    151: "non r-class program may not set r()",
    170: "unable to change to directory",
    198: "invalid syntax",
    199: "unrecognized command",
    459: "something that should be true of your data is not",
    601: "file not found",
    602: "file already exists",
    603: "file could not be opened",
    604: "log file already open",
    606: "no log file open",
    612: "unexpected end of file",
    2000: "no observations",
}


class StataError(Exception):
    """A non-zero return code on its way up; `shown` once its message has been displayed."""

    def __init__(self, rc: int, msg: str | None = None) -> None:
        super().__init__(rc, msg)
        self.rc = rc
        self.msg = msg
        self.shown = msg is None

    def __str__(self) -> str:
        return f"r({self.rc}); {self.msg or ''}".strip()


class ExitFile(Exception):
    """`exit` with no code: leave the current do-file or program quietly."""


class ContinueLoop(Exception):
    """`continue`: next iteration."""


class BreakLoop(Exception):
    """`continue, break`: leave the loop."""
