"""Fault-injection and pacing knobs, read from the environment at each run()."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Knobs:
    line_delay_ms: float = 0.0
    chunked: bool = False
    crlf: bool = False
    raw_fd1: bool = False
    break_delay_ms: float = 0.0
    empty_break_message: bool = False
    lose_tail: bool = False
    record: str | None = None
    dots: str = "inline"  # replication dots: Stata 18's inline counts, or "ruled" (Stata ≤ 17)
    ignore_break: bool = False
    crash_after_ms: float = 0.0
    replay: str | None = None
    lock_log: bool = False


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _ms(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name, "").strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        return 0.0


def read_knobs(env: Mapping[str, str] | None = None) -> Knobs:
    env = os.environ if env is None else env
    return Knobs(
        line_delay_ms=_ms(env, "FAKE_STATA_LINE_DELAY_MS"),
        chunked=_flag(env, "FAKE_STATA_CHUNKED"),
        crlf=_flag(env, "FAKE_STATA_CRLF"),
        raw_fd1=_flag(env, "FAKE_STATA_RAW_FD1"),
        break_delay_ms=_ms(env, "FAKE_STATA_BREAK_DELAY_MS"),
        empty_break_message=_flag(env, "FAKE_STATA_EMPTY_BREAK_MESSAGE"),
        lose_tail=_flag(env, "FAKE_STATA_LOSE_TAIL"),
        record=env.get("FAKE_STATA_RECORD") or None,
        dots="ruled" if env.get("FAKE_STATA_DOTS", "").strip().lower() == "ruled" else "inline",
        ignore_break=_flag(env, "FAKE_STATA_IGNORE_BREAK"),
        crash_after_ms=_ms(env, "FAKE_STATA_CRASH_AFTER_MS"),
        replay=env.get("FAKE_STATA_REPLAY") or None,
        lock_log=_flag(env, "FAKE_STATA_LOCK_LOG"),
    )
