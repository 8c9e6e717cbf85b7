"""How long something took, the way a person reads it in one glance."""

from __future__ import annotations


def format_elapsed(seconds: float) -> str:
    """Short human time: 4.2s, 3m05s, 2h03m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
