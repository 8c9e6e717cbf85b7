"""Replay mode: a do-file is not interpreted; what real Stata logged running it is written instead.

A recording is the log a do-file opened for itself (`log using …` near its top). Our logs see
more than it does: the echoes of the commands before that `log using`, the recording (the user's
header and footer included, but not the footer's closing rule, which only the closed file gets),
the echoes of the commands after the do-file's own `log close`, and `end of do-file`. A recording
that ends in `r(NNN);` makes the `do` fail with that code, as the real run did.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .core import Core, FileState
from .errors import StataError
from .lexer import EOF_PROMPT, Cmd, lex
from .lines import BLANK, TXT, line
from .syntax import classify, match_block, opens_block

_RC = re.compile(r"r\((\d+)\);(?:\s+t=\s*\d+(?:\.\d*)?\s+\d\d?:\d\d:\d\d)?\s*")
_RULE = re.compile(r"-{20,}\s*")
_PREFIXES = r"(?:(?:cap\w*|qui\w*|noi\w*)\s*:?\s+)*"
_LOG_USING = re.compile(rf"\s*{_PREFIXES}log\s+using\s+\"?([^\",]+?)\"?\s*(?:,.*)?", re.S)
_LOG_CLOSE = re.compile(rf"\s*{_PREFIXES}log\s+close\b.*", re.S)
_LOG_PATH = re.compile(r"\s*log:\s+(.*)")


@dataclass(frozen=True)
class Recording:
    """A recorded log, read for replay: its lines and how the recorded run ended."""

    lines: tuple[str, ...]  # what our log gets, in order
    closed: bool  # the do-file closed its log (a footer ends the recording)
    ended: bool  # the do-file's own `end of do-file` is in the recording
    rc: int | None  # the error the run stopped with
    log_name: str  # the file name in the recording's header (`log:`), if any
    smcl: bool = False  # read from SMCL: lines are not wrapped yet


def read_recording(path: str) -> Recording:
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    smcl = bool(lines) and lines[0].strip() == "{smcl}"
    if smcl:  # what Stata shows for it: the text our log gets (wrapped there at our linesize)
        lines = [smcl_text(ln) for ln in lines[1:] if ln.strip() not in _SMCL_ONLY]
    name = next((m.group(1).strip() for ln in lines[:8] if (m := _LOG_PATH.match(ln))), "")
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    closed = False
    if end >= 2 and _RULE.fullmatch(lines[end - 1]) and "closed on:" in lines[end - 2]:
        closed, end = True, end - 1  # the closing rule goes to the closed file only
    elif end and "closed on:" in lines[end - 1]:
        closed = True
    body = lines[:end]
    ended, rc = False, None
    if not closed:
        tail = [i for i, ln in enumerate(body) if ln.strip()][-3:]
        texts = [body[i].strip() for i in tail]
        if texts and _RC.fullmatch(texts[-1]) and texts[-2:-1] == ["end of do-file"]:
            rc, ended = int(_RC.fullmatch(texts[-1]).group(1)), True  # type: ignore[union-attr]
            body = body[: tail[-1]]  # the `do` command's own r(); the replay prints it
        elif texts and texts[-1] == "end of do-file":
            ended = True
            if len(texts) > 1 and (found := _RC.fullmatch(texts[-2])):
                rc = int(found.group(1))
        elif texts and (found := _RC.fullmatch(texts[-1])):
            rc = int(found.group(1))
    return Recording(tuple(body), closed, ended, rc, os.path.basename(name), smcl)


_SMCL_ONLY = frozenset({"{smcl}", "{com}{sf}{ul off}", "{txt}{sf}{ul off}"})
_TAG = re.compile(r"\{([^{}]*)\}")
_SILENT = frozenset(
    "txt text res result err error com inp input sf rm bf it ul hi hilite reset p p_end pstd "
    "phang pmore pin asis smcl".split()
)
_CHARS = {"-(": "\x00", ")-": "\x01", "|": "|", "-": "-", "S|": "$", "'g": "`"}
RULE_WIDTH = 79  # `{.-}` at Stata's default linesize of 80


def smcl_text(raw: str) -> str:
    """One line of an SMCL log as the screen (and a text log) shows it: the common directives,
    innermost first (`{bf:{err}x}`); escaped braces stay braces."""
    while (done := _smcl_pass(raw)) != raw:
        raw = done
    return raw.replace("\x00", "{").replace("\x01", "}")


def _smcl_pass(raw: str) -> str:
    out: list[str] = []
    pos = 0
    for tag in _TAG.finditer(raw):
        out.append(raw[pos : tag.start()])
        pos = tag.end()
        body = tag.group(1)
        head, colon, inside = body.partition(":")
        name, _, args = head.strip().partition(" ")
        before = "".join(out)
        width = len(before)
        if name in ("col", ".-", "hline") and "{" in before:  # widths once the tags before are gone
            out.append(tag.group(0))
            continue
        number = int(args.split()[0]) if args.split() and args.split()[0].isdigit() else None
        if name in ("c", "char"):
            out.append(_CHARS.get(args.strip(), "+" if len(args.strip()) > 1 else args.strip()))
        elif name == ".-":
            out.append("-" * max(RULE_WIDTH - width, 0))
        elif name == "hline":
            out.append("-" * (number if number is not None else max(RULE_WIDTH - width, 0)))
        elif name == "space":
            out.append(" " * (number or 1))
        elif name == "col":
            out.append(" " * max((number or 1) - 1 - width, 0))
        elif name in ("ralign", "lalign", "center", "centre") and colon:
            size = number or len(inside)
            align = {"ralign": inside.rjust, "lalign": inside.ljust}.get(name, inside.center)
            out.append(align(size))
        elif colon:
            out.append(inside)  # {bf:x}, {res:x}, {search r(111), local:r(111);}, {help x:x}
        elif name not in _SILENT:
            out.append("\x00" + body + "\x01")  # not a directive: literal text
    out.append(raw[pos:])
    return "".join(out)


def _log_using_index(cmds: list[Cmd], log_name: str) -> int:
    """The command that opened the recorded log: the `log using` naming its file, else the first."""
    opening = [i for i, c in enumerate(cmds) if _LOG_USING.fullmatch(c.text)]
    stem = os.path.splitext(log_name)[0]
    for i in opening:
        using = _LOG_USING.fullmatch(cmds[i].text).group(1)  # type: ignore[union-attr]
        if stem and os.path.splitext(os.path.basename(using.strip()))[0] == stem:
            return i
    return opening[0] if opening else -1


class ReplayCommands(Core):
    def _replay(self, path: str, recording_path: str) -> None:
        """Run the do-file at `path` by writing what real Stata logged running it."""
        recording = read_recording(recording_path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            cmds = lex(fh.read())
        fs = FileState("do")
        start = _log_using_index(cmds, recording.log_name)
        try:
            self._echo_only(cmds[: start + 1], fs)
            for text in recording.lines:
                self._check_break()
                if recording.smcl:
                    self.console.show(line(TXT, text))
                else:
                    self.console.show_verbatim(text)
            fs.need_blank = True
            if recording.rc is None and not recording.ended:
                if recording.closed:
                    after = next(
                        (
                            i
                            for i in range(start + 1, len(cmds))
                            if _LOG_CLOSE.fullmatch(cmds[i].text)
                        ),
                        len(cmds) - 1,
                    )
                    self._echo_only(cmds[after + 1 :], fs)
                self._prompt(EOF_PROMPT, fs)
                self.console.flush_partial()
                self.console.show(line(TXT, "end of do-file"))
        except StataError as e:  # a break while replaying
            self._rc_line(e.rc)
            self.console.show(BLANK, force=True)
            self.console.show(line(TXT, "end of do-file"), force=True)
            e.shown = True
            raise
        if recording.rc is not None:
            if not recording.ended:
                self.console.show(BLANK, force=True)
                self.console.show(line(TXT, "end of do-file"), force=True)
            error = StataError(recording.rc)
            error.shown = True
            raise error

    def _echo_only(self, cmds: list[Cmd], fs: FileState) -> None:
        """Echo commands as a do-file run would, without running them (their output is unknown)."""
        i = 0
        while i < len(cmds):
            cmd = cmds[i]
            self._check_break()
            self._prompt(cmd, fs)
            fs.need_blank = not cmd.blank
            if opens_block(cmd.text):
                try:
                    end = match_block(cmds, i)
                except StataError:
                    end = len(cmds) - 1
                if classify(cmd.text) == "lines":
                    for inner in cmds[i + 1 : end + 1]:
                        self._echo(inner)
                else:
                    self._echo_numbered(
                        tuple(cmds[i + 1 : end + 1]), 2 if cmd.text.endswith("{") else 1
                    )
                i = end + 1
                continue
            i += 1
