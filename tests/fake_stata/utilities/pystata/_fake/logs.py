"""Stata log files on disk: header and footer, text or SMCL, written a line at a time.

The file is held open from `log using` to `log close` and every line is written and flushed
as it is produced, so a watcher sees the log grow while the command runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import BinaryIO

from .errors import StataError
from .knobs import Knobs
from .lines import RAW, RES, RULE_LINE, TXT, Line, Seg, SmclRenderer, render_text

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def stamp(t: time.struct_time) -> str:
    """`%e %b %Y, %H:%M:%S`, day padded with a space: ` 5 Jan 2012, 10:11:25`."""
    return (
        f"{t.tm_mday:2d} {_MONTHS[t.tm_mon - 1]} {t.tm_year}, "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def _label(label: str, value: str) -> Line:
    padded = f"{label:>10}"
    lead = len(padded) - len(padded.lstrip())
    return Line((Seg(RAW, padded[:lead]), Seg(TXT, padded[lead:] + ":  "), Seg(RES, value)))


def banner(log: LogFile, when: str, at: time.struct_time) -> list[Line]:
    """The name/log/log type/opened on (or closed on) block, as both screen and log show it."""
    return [
        _label("name", log.name or "<unnamed>"),
        _label("log", log.path),
        _label("log type", log.kind),
        _label(f"{when} on", stamp(at)),
    ]


class LogFile:
    def __init__(self, path: str, name: str | None, kind: str, fh: BinaryIO, nomsg: bool) -> None:
        self.path = path
        self.name = name
        self.kind = kind
        self.fh = fh
        self.failed = False  # a write failed (a full disk): later lines are lost, as in Stata
        self.nomsg = nomsg
        self.on = True
        self.smcl = SmclRenderer() if kind == "smcl" else None
        self._rng = random.Random(path)  # chunk sizes repeat run to run, so a failure does too
        self._column = 0  # characters on the physical line a partial write left open
        self._held_mode: int | None = None  # FAKE_STATA_LOCK_LOG: the mode to give back

    def hold(self) -> None:
        """FAKE_STATA_LOCK_LOG: no other process may read the file while it is open, as Stata
        for Windows may hold its log. POSIX: mode 000 until close (root reads it anyway);
        Windows: the whole range locked, so other handles' reads fail with a lock violation."""
        if os.name == "nt":
            import msvcrt

            self.fh.flush()
            where = self.fh.tell()
            self.fh.seek(0)
            msvcrt.locking(self.fh.fileno(), msvcrt.LK_NBLCK, 0x7FFFFFFF)
            self.fh.seek(where)
            return
        self._held_mode = os.stat(self.path).st_mode & 0o7777
        os.chmod(self.path, 0)

    def _let_go(self) -> None:
        if self._held_mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(self.path, self._held_mode)
            self._held_mode = None

    @property
    def label(self) -> str:
        return self.name or "<unnamed>"

    def _write(self, data: bytes, knobs: Knobs, *, pace: bool = True) -> None:
        if self.failed:
            return
        try:
            self._write_now(data, knobs)
        except OSError:
            self.failed = True  # the error below is shown on the console; the log gets no more
            raise StataError(693, "file I/O error on write") from None
        if knobs.line_delay_ms and pace:
            time.sleep(knobs.line_delay_ms / 1000.0)

    def _write_now(self, data: bytes, knobs: Knobs) -> None:
        if knobs.chunked:
            i = 0
            while i < len(data):
                k = self._rng.randint(1, 7)
                self.fh.write(data[i : i + k])
                self.fh.flush()
                i += k
        else:
            self.fh.write(data)
            self.fh.flush()

    def write_literal(self, text: str, knobs: Knobs) -> None:
        """SMCL's `{smcl}` opener and closer: always LF, as Stata writes them even on Windows."""
        self._write(text.encode("utf-8"), knobs)

    def write_line(self, ln: Line, linesize: int, knobs: Knobs) -> None:
        eol = "\r\n" if knobs.crlf else "\n"
        if self.smcl is not None:
            self._write((self.smcl.render(ln) + eol).encode("utf-8"), knobs)
            return
        for phys in render_text(ln, linesize):
            self._write((phys + eol).encode("utf-8"), knobs)

    def write_partial(self, segs: tuple[Seg, ...], linesize: int, knobs: Knobs) -> None:
        """Part of a line, written and flushed now (replication dots): Stata's log grows one
        mark at a time. A text log wraps at the linesize with `> ` as `wrap` does."""
        segs = tuple(seg for seg in segs if seg.text)
        if not segs:
            return
        if self.smcl is not None:
            self._write(self.smcl.render(Line(segs)).encode("utf-8"), knobs, pace=False)
            return
        eol = "\r\n" if knobs.crlf else "\n"
        width = linesize - 1
        out: list[str] = []
        for ch in "".join(seg.text for seg in segs):
            if self._column >= width:
                out.append(eol + "> ")
                self._column = 2
            out.append(ch)
            self._column += 1
        self._write("".join(out).encode("utf-8"), knobs, pace=False)

    def end_partial(self, knobs: Knobs) -> None:
        """The line written in parts is complete."""
        self._column = 0
        self._write(("\r\n" if knobs.crlf else "\n").encode("utf-8"), knobs)

    def write_verbatim(self, text: str, knobs: Knobs) -> None:
        """One physical line, not wrapped (SMCL logs get it as plain text)."""
        eol = "\r\n" if knobs.crlf else "\n"
        body = self.smcl.render(Line((Seg(TXT, text),))) if self.smcl is not None else text
        self._write((body + eol).encode("utf-8"), knobs)

    def open_header(self, at: time.struct_time, linesize: int, knobs: Knobs) -> list[Line]:
        """Start the file; return the header lines for the screen and the other logs."""
        if self.smcl is not None:
            self.write_literal("{smcl}\n{com}{sf}{ul off}", knobs)
        if self.nomsg:
            return []
        lines = [RULE_LINE, *banner(self, "opened", at)]
        for ln in lines:
            self.write_line(ln, linesize, knobs)
        return lines

    def close_footer(self, at: time.struct_time, linesize: int, knobs: Knobs) -> list[Line]:
        """End the file and close it; return the footer lines the screen shows."""
        lines = [] if self.nomsg else banner(self, "closed", at)
        try:
            for ln in lines:
                self.write_line(ln, linesize, knobs)
            if not self.nomsg:
                self.write_line(RULE_LINE, linesize, knobs)
            if self.smcl is not None:
                self.write_literal("{smcl}\n{txt}{sf}{ul off}", knobs)
        except StataError:
            pass  # the disk is full: the footer is lost, the file is closed all the same
        with contextlib.suppress(OSError):
            self.fh.close()
        self._let_go()
        return lines

    def abandon(self) -> None:
        """Close the handle without a footer (the process is going away)."""
        with contextlib.suppress(OSError):
            self.fh.close()
        self._let_go()
