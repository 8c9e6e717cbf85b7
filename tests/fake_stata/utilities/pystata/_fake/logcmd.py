"""The `log` command: open, close, suspend and list Stata logs."""

from __future__ import annotations

import os
import time

from .core import Core, Ctx
from .errors import StataError
from .lines import TXT, line
from .logs import LogFile
from .macros import strip_quotes
from .syntax import first_word, options, split_options


class LogCommands(Core):
    # --- logs ----------------------------------------------------------------------------------

    def _h_log(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        if word == "using":
            self._log_using(rest)
        elif word == "close":
            self._log_close(rest.strip())
        elif word in ("off", "on"):
            for log in self._named_logs(rest.strip()):
                log.on = word == "on"
        elif word == "query":
            self._log_query(rest.strip())
        else:
            raise StataError(198, "invalid syntax")

    def _named_logs(self, which: str) -> list[LogFile]:
        logs = self.session.logs
        if which == "_all":
            found = list(logs)
        elif which:
            found = [log for log in logs if log.name == which]
        else:
            found = [log for log in logs if log.name is None]
        if not found:
            raise StataError(606, "no log file open")
        return found

    def _log_using(self, rest: str) -> None:
        target, opt_text = split_options(rest)
        opts = options(opt_text)
        fname = strip_quotes(target)
        if not fname:
            raise StataError(198, "invalid syntax")
        ext = os.path.splitext(fname)[1]
        if "text" in opts:
            kind = "text"
        elif "smcl" in opts:
            kind = "smcl"
        else:
            kind = "text" if ext.lower() == ".log" else self.session.logtype
        if not ext:
            fname = fname + (".log" if kind == "text" else ".smcl")
        path = os.path.abspath(os.path.join(os.getcwd(), os.path.expanduser(fname)))
        name = opts.get("name") or None
        if any(log.name == name for log in self.session.logs):
            raise StataError(604, "log file already open")
        append = "append" in opts
        if os.path.exists(path) and not (append or "replace" in opts):
            raise StataError(602, f"file {path} already exists")
        try:
            fh = open(path, "ab" if append else "wb")  # noqa: SIM115 - held open until log close
        except OSError:
            raise StataError(603, f"file {path} could not be opened") from None
        log = LogFile(path, name, kind, fh, "nomsg" in opts)
        if self.console.knobs.lock_log:
            log.hold()
        self.session.logs.append(log)
        header = log.open_header(time.localtime(), self.session.linesize, self.console.knobs)
        for ln in header:
            self.console.show(ln, skip=log)

    def _log_close(self, which: str) -> None:
        for log in self._named_logs(which):
            self.session.logs.remove(log)
            footer = log.close_footer(time.localtime(), self.session.linesize, self.console.knobs)
            for ln in footer:
                self.console.show(ln)

    def _log_query(self, which: str) -> None:
        if not self.session.logs:
            self.console.show(line(TXT, "no log file open"))
            return
        for log in self._named_logs(which or "_all"):
            for label, value in (
                ("name", log.label),
                ("log", log.path),
                ("log type", log.kind),
                ("status", "on" if log.on else "off"),
            ):
                self.console.show(line(TXT, f"{label:>10}:  {value}"))
