"""FAKE_STATA_RECORD: one JSON object per event, appended so other processes can read it."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

_lock = threading.Lock()


def record(event: str, **fields: Any) -> None:
    """Append an event to the file FAKE_STATA_RECORD names (read now, so it may change per run)."""
    path = os.environ.get("FAKE_STATA_RECORD")
    if not path:
        return
    entry = {
        "event": event,
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "monotonic": time.monotonic(),
        "wall": time.time(),
        **fields,
    }
    data = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(data)
