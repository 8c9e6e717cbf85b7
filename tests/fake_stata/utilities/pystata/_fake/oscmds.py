"""Commands that act on the operating system as Stata's do: `shell`/`!`, `winexec`, `file`, `save`.

`shell` runs its command with system() (Stata on Unix does: /bin/sh -c, output on the terminal,
not in the results or the log, and its exit status ignored); `winexec` starts a program without
waiting. `file open ... write`, `file write` and `file close` really write files, with Stata's
errors: r(602) when the file exists and neither replace nor append was given, r(603) when it
cannot be opened (a missing folder, no permission, or an OS sandbox refusing the write).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import IO

from .core import Core, Ctx
from .errors import StataError
from .lines import TXT, line
from .macros import strip_quotes
from .syntax import first_word, split_options

_ITEM = re.compile(
    r'\s*(?:`"(?P<cq>.*?)"\'|"(?P<q>[^"]*)"|(?P<n>_n(?:ewline)?)(?:\((?P<nn>\d+)\))?'
    r"|(?P<t>_t(?:ab)?)(?:\((?P<tn>\d+)\))?|_char\((?P<c>\d+)\)|(?P<e>\S+))",
    re.S,
)


class OsCommands(Core):
    _open_files: dict[str, tuple[str, IO[str]]]

    def _handles(self) -> dict[str, tuple[str, IO[str]]]:
        if not hasattr(self, "_open_files"):
            self._open_files = {}
        return self._open_files

    def _h_shell(self, args: str, ctx: Ctx) -> None:
        command = args.strip()
        if not command:
            return  # Stata would open an interactive shell; the fake has none
        os.system(command)  # as Stata: fork, exec /bin/sh -c; an exec refused leaves status 127

    def _h_winexec(self, args: str, ctx: Ctx) -> None:
        words = shlex.split(args.strip())
        if not words:
            raise StataError(198, "invalid syntax")
        try:
            subprocess.Popen(words, stdin=subprocess.DEVNULL)  # noqa: S603 - what winexec does
        except OSError:
            raise StataError(601, f"file {words[0]} not found") from None

    def _h_save(self, args: str, ctx: Ctx) -> None:
        """`save filename [, replace]`: a real .dta (written with pyreadstat), Stata's messages."""
        target, options = split_options(args)
        opts = options.split()
        name = strip_quotes(target.strip()) or self.session.data.filename
        if not name:
            raise StataError(198, "invalid file specification")
        if not os.path.splitext(name)[1]:
            name += ".dta"
        path = os.path.join(os.getcwd(), os.path.expanduser(name))
        if os.path.exists(path) and "replace" not in opts:
            raise StataError(602, f"file {name} already exists")
        data = self.session.data
        if not data.variables and "emptyok" not in opts:
            raise StataError(2000, "no variables defined")
        import pandas
        import pyreadstat

        frame = pandas.DataFrame({v.name: v.values for v in data.variables})
        try:
            with open(path, "wb"):  # opened as Stata opens it, so a refusal is Stata's r(603)
                pass
            pyreadstat.write_dta(frame, path)
        except OSError:
            raise StataError(603, f"file {name} could not be opened") from None
        data.filename, data.changed = path, False
        self.console.show(line(TXT, f"file {name} saved"))

    def _h_file(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        if word == "open":
            self._file_open(rest)
        elif word in ("w", "wr", "wri", "writ", "write"):
            self._file_write(rest)
        elif word == "close":
            self._file_close(rest.strip())
        else:
            raise StataError(198, "invalid syntax")

    def _file_open(self, rest: str) -> None:
        m = re.match(r"\s*([A-Za-z_]\w*)\s+using\s+(.*)$", rest, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        handle, tail = m.group(1), m.group(2)
        target, options = split_options(tail)
        opts = options.split()
        name = strip_quotes(target.strip())
        if handle in self._handles():
            raise StataError(110, f"file handle {handle} already exists")
        if not any(o in ("w", "wr", "wri", "writ", "write") for o in opts):
            raise StataError(198, "the fake's file open supports only write")
        path = os.path.join(os.getcwd(), os.path.expanduser(name))
        append = "append" in opts
        if os.path.exists(path) and not append and "replace" not in opts:
            raise StataError(602, f"file {name} already exists")
        try:
            stream = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115
        except OSError:
            raise StataError(603, f"file {name} could not be opened") from None
        self._handles()[handle] = (name, stream)

    def _file_write(self, rest: str) -> None:
        handle, items = first_word(rest.strip())
        if handle is None or handle not in self._handles():
            raise StataError(603, f"file handle {handle} not found")
        name, stream = self._handles()[handle]
        parts: list[str] = []
        text = items
        while text.strip():
            m = _ITEM.match(text)
            if m is None:
                raise StataError(198, "invalid syntax")
            text = text[m.end() :]
            if m.group("cq") is not None or m.group("q") is not None:
                parts.append(m.group("cq") if m.group("cq") is not None else m.group("q"))
            elif m.group("n"):
                parts.append("\n" * int(m.group("nn") or 1))
            elif m.group("t"):
                parts.append("\t" * int(m.group("tn") or 1))
            elif m.group("c"):
                parts.append(chr(int(m.group("c"))))
            else:
                value = self.eval(m.group("e"))
                parts.append(value if isinstance(value, str) else f"{value:g}")
        try:
            stream.write("".join(parts))
            stream.flush()
        except OSError:
            raise StataError(693, f"error writing file {name}") from None

    def _file_close(self, handle: str) -> None:
        names = list(self._handles()) if handle == "_all" else [handle]
        for each in names:
            entry = self._handles().pop(each, None)
            if entry is None:
                raise StataError(603, f"file handle {each} not found")
            try:
                entry[1].close()
            except OSError:
                raise StataError(693, f"error writing file {entry[0]}") from None
