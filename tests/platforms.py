"""Marks for tests that need what only some OSes have, each saying why it cannot run elsewhere."""

from __future__ import annotations

import os
import sys

import pytest

WINDOWS = sys.platform == "win32"

posix_signals = pytest.mark.skipif(
    WINDOWS,
    reason="sends or names POSIX signals (SIGKILL, SIGSEGV, SIGINT, SIGTERM as a shutdown "
    "request); Windows has TerminateProcess and console control events instead",
)

fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")

pid_probes = pytest.mark.skipif(
    WINDOWS,
    reason="asks whether a process lives with os.kill(pid, 0), which on Windows ends it "
    "(TerminateProcess) instead",
)
