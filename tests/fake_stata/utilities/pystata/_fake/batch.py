"""Batch mode: `stata-mp -b do file.do [args]` as the console binary runs it.

Stata in batch mode has no screen: what the Results window would show goes to `<name>.log` in
the current directory, after the banner, the licence block and `Notes:` (17+ or 15 shapes). The
process exits 0 even when the do-file fails; SIGINT or SIGTERM breaks the run, then Stata exits.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import BinaryIO

from . import engine
from .banner import head, notes
from .engine import FakeStataLibrary

_EDITIONS_15 = {"MP": "MP - Parallel Edition", "SE": "SE - Standard Edition", "BE": "IC"}
_LIBRARIES = {"MP": "libstata-mp.so", "SE": "libstata-se.so", "BE": "libstata.so"}
USAGE = "usage: stata-mp -b do file.do [args]   (the fake implements batch mode only: -b or -e)"


def banner(edition: str, version: str) -> list[str]:
    """The batch log's preamble, ending with the blank line before the first echo."""
    if version.startswith("15"):
        return _banner_15(edition, version)
    return [*head(edition, version), *notes("Stata is running in batch mode."), ""]


def _banner_15(edition: str, version: str) -> list[str]:
    return [
        "",
        "  ___  ____  ____  ____  ____ (R)",
        " /__    /   ____/   /   ____/",
        f"___/   /   /___/   /   /___/   {version}   Copyright 1985-2017 StataCorp LLC",
        "  Statistics/Data Analysis            StataCorp",
        "                                      4905 Lakeway Drive",
        f"     {_EDITIONS_15[edition]:<33}College Station, Texas 77845 USA",
        "                                      800-STATA-PC        http://www.stata.com",
        "                                      979-696-4600        stata@stata.com",
        "                                      979-696-4601 (fax)",
        "",
        "Single-user 2-core Stata perpetual license (fake):",
        "       Serial number:  000000000000",
        "         Licensed to:  stata-tools test suite",
        "                       Fake Stata, not a Stata installation",
        "",
        "",
        "Notes:",
        "      1.  Stata is running in batch mode.",
        "      2.  Unicode is supported; see help unicode_advice.",
        "      3.  More than 2 billion observations are allowed; see help obs_advice.",
        "      4.  Maximum number of variables is set to 5000; see help set_maxvar.",
        "",
    ]


class BatchStata(FakeStataLibrary):
    """The library with the batch log as its screen: every displayed byte lands in the log."""

    log: BinaryIO | None = None

    def _screen(self, text: str) -> None:
        if self.log is not None:
            self.log.write(text.encode("utf-8"))
            self.log.flush()


def command_line(words: list[str]) -> tuple[str, str]:
    """What Stata runs and the log's name; a bare `file.do` runs as `do "file.do"`."""
    if not words:
        return "", "stata"
    first = words[0]
    if first in ("do", "run") and len(words) > 1:
        target = words[1].strip('"')
        return " ".join(words), os.path.splitext(os.path.basename(target))[0]
    if first.endswith(".do"):
        rest = " ".join(words[1:])
        return f'do "{first}"' + (f" {rest}" if rest else ""), os.path.splitext(
            os.path.basename(first)
        )[0]
    return " ".join(words), "stata"


def _profile(root: str) -> str | None:
    """Stata's start-up profile: profile.do in the Stata folder, the current folder or home."""
    for folder in (root, os.getcwd(), os.path.expanduser("~")):
        path = os.path.join(folder, "profile.do")
        if os.path.isfile(path):
            return path
    return None


def _load(path: str, edition: str) -> BatchStata:
    """The edition's library, as `engine.load` checks it, with the log as its screen."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            ok = fh.readline().strip() == "fake-stata-library"
    except OSError:
        ok = False
    if not ok:
        raise SystemExit(f"fake Stata: no Stata library at {path}")
    lib = BatchStata(path, edition)
    engine._current = lib
    return lib


def main(argv: list[str], root: str, edition: str) -> int:
    flags = [a for a in argv if a.startswith("-") and len(a) == 2]
    words = [a for a in argv if a not in flags]
    if not {"-b", "-e"} & set(flags) or not words:
        print(USAGE, file=sys.stderr)
        return 198
    edition = edition.upper()
    version = os.environ.get("FAKE_STATA_BATCH_VERSION", "18.0")
    command, name = command_line(words)
    lib = _load(os.path.join(root, _LIBRARIES[edition]), edition)
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        interrupted.append(signum)  # Stata breaks the run, then exits
        lib.StataSO_SetBreak()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with open(f"{name}.log", "wb") as log:
        lib.log = log
        if "-q" not in flags:
            log.write(("\n".join(banner(edition, version)) + "\n").encode("utf-8"))
            log.flush()
        profile = _profile(root)
        if profile is not None:
            log.write(f"Running {profile} ...\n\n".encode())
            log.flush()
            lib.StataSO_Execute(f'run "{profile}"', False)
        lib.StataSO_Execute(command + " ", True)
    lib.StataSO_Shutdown()
    return 0
