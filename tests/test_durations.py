from __future__ import annotations

from stata_tools.run.durations import format_elapsed


def test_a_duration_reads_in_seconds_then_minutes_then_hours() -> None:
    assert [format_elapsed(s) for s in (4.24, 59.94, 65, 3599, 3725)] == [
        "4.2s",
        "59.9s",
        "1m05s",
        "59m59s",
        "1h02m",
    ]
