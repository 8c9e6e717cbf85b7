"""What every part of the interpreter shares: its state, break checks, error display, expressions.

The command mixins (commands, flow, logcmd, programs) build on `Core`; `interp.Interpreter`
combines them and supplies the execution of do-files, blocks and statements.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from typing import Protocol

from . import expr as ex
from .console import Console
from .errors import StataError
from .lexer import Cmd
from .lines import ERR, RC, Line, Seg, line
from .macros import expand
from .numfmt import macro_number
from .state import Session


class BreakSource(Protocol):
    def pending(self) -> bool: ...
    def honour(self) -> None: ...
    def wait(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Block:
    body: tuple[Cmd, ...]
    closing: Cmd
    mode: str  # "lines": read and echoed line by line; "body": compiled, run without echo


@dataclass
class Seq:
    """The state one command sequence carries from a command to the next: an open `if`."""

    last_if: bool | None = None


@dataclass
class FileState:
    mode: str  # do, run, include
    need_blank: bool = True


@dataclass
class Ctx:
    block: Block | None = None
    seq: Seq = field(default_factory=Seq)
    fs: FileState | None = None


class Core:
    """State and services shared by the command mixins."""

    def __init__(self, session: Session, console: Console, brk: BreakSource) -> None:
        self.session = session
        self.console = console
        self.brk = brk
        self._loop_depth = 0
        self._file_depth = 0  # do-files running inside each other

    # Implemented by interp.Interpreter and commands.BasicCommands.
    def _statement(self, text: str, ctx: Ctx, *, expanded: bool = False) -> None:
        raise NotImplementedError

    def _run_compiled(self, block: Block) -> None:
        raise NotImplementedError

    def _prompt(self, cmd: Cmd, fs: FileState) -> None:
        raise NotImplementedError

    def _echo(self, cmd: Cmd) -> None:
        raise NotImplementedError

    def _echo_numbered(self, cmds: tuple[Cmd, ...], start: int) -> None:
        raise NotImplementedError

    def _run_block_lines(self, block: Block, fs: FileState | None) -> None:
        raise NotImplementedError

    def _skip_block_lines(self, block: Block) -> None:
        raise NotImplementedError

    def _exec_body(self, body: tuple[Cmd, ...], *, check_each: bool = False) -> None:
        raise NotImplementedError

    def run_file(self, path: str, mode: str, args: str = "") -> None:
        raise NotImplementedError

    def _extended(self, spec: str) -> str:
        raise NotImplementedError

    def clear_data(self) -> None:
        raise NotImplementedError

    def _matrix_stripe(self, axis: str, part: str, ref: str) -> str:
        raise NotImplementedError

    def _set_obs(self, value: str) -> None:
        raise NotImplementedError

    # --- break, markers, errors ----------------------------------------------------------------

    def _check_break(self) -> None:
        if self.brk.pending():
            self.brk.honour()
            self.console.show(line(ERR, "--Break--"), force=True)
            raise StataError(1)

    def _rc_line(self, rc: int) -> None:
        self.console.show(Line((Seg(RC, f"r({rc});"),)), force=True)

    def _marker(self, rc: int) -> None:
        if rc == 1:
            self.console.show(line(ERR, "--Break--"), force=True)
        else:
            self._rc_line(rc)

    def _show_error(self, e: StataError) -> None:
        e.shown = True
        if e.msg:
            for text in e.msg.split("\n"):
                self.console.show(line(ERR, text), force=e.rc == 1)

    # --- expressions and macros ----------------------------------------------------------------

    def _expand(self, text: str) -> str:
        return expand(text, Env(self))

    def eval(self, text: str) -> ex.Value:
        return ex.evaluate(text, self)

    def name(self, name: str) -> ex.Value:
        if name == "_rc":
            return float(self.session.rc)
        if name == "_pi":
            return math.pi
        data = self.session.data
        if name == "_N":
            return float(data.nobs)
        if name == "_n":
            return 1.0 if data.nobs else None
        var = data.get(name)
        if var is None and name not in self.session.scalars and data.variables:
            hits = [v for v in data.variables if v.name.startswith(name)]
            var = hits[0] if len(hits) == 1 else None
        if var is not None:  # a variable in an expression without observations: the first one
            if not data.nobs:
                return "" if var.is_str else None
            return var.values[0]
        if name in self.session.scalars:
            return self.session.scalars[name]
        raise StataError(111, f"{name} not found")

    def scalar(self, name: str) -> ex.Value:
        if name in self.session.scalars:
            return self.session.scalars[name]
        raise StataError(111, f"scalar {name} not found")

    def ref(self, kind: str, name: str) -> ex.Value:
        if kind == "c":
            return self.cvalue(name)
        res = self.session.results(kind)
        if name in res.scalars:
            return res.scalars[name]
        if name in res.macros:
            return res.macros[name]
        return None

    def cvalue(self, name: str) -> ex.Value:
        now = time.localtime()
        values: dict[str, ex.Value] = {
            "pwd": os.getcwd(),
            "linesize": float(self.session.linesize),
            "stata_version": 18.0,
            "version": 18.0,
            "edition": "MP" if self.session.edition == "MP" else self.session.edition,
            "edition_real": self.session.edition,
            "os": {"Windows": "Windows", "Darwin": "MacOSX"}.get(platform.system(), "Unix"),
            "current_date": time.strftime("%d %b %Y", now).lstrip("0"),
            "current_time": time.strftime("%H:%M:%S", now),
            "tmpdir": tempfile.gettempdir(),
            "changed": float(self.session.data.changed),
            "N": float(self.session.data.nobs),
            "k": float(len(self.session.data.variables)),
            "width": float(sum(_width(v.vtype) for v in self.session.data.variables)),
            "sysdir_base": self.session.sysdir_base + os.sep,
            "sysdir_stata": os.path.dirname(os.path.dirname(self.session.sysdir_base)) + os.sep,
            "sysdir_site": os.path.join(os.path.dirname(self.session.sysdir_base), "site", ""),
            "sysdir_plus": self.session.sysdir_plus or "~/ado/plus/",  # Unix keeps the tilde
            "sysdir_personal": self.session.sysdir_personal or "~/ado/personal/",
            "sysdir_oldplace": "~/ado/",
            "adopath": "BASE;SITE;.;PERSONAL;PLUS;OLDPLACE",
            "rc": float(self.session.rc),
            "pi": math.pi,
            "logtype": self.session.logtype,
            "more": "off",
            "maxvar": 5000.0,
            "filename": self.session.data.filename,
            "frame": self.session.frame_name,
            "filedate": self.session.data.timestamp,
            "username": os.environ.get("USER", os.environ.get("USERNAME", "")),
        }
        return values.get(name)

    @staticmethod
    def _macro_value(v: ex.Value) -> str:
        return v if isinstance(v, str) else macro_number(v)


def _width(vtype: str) -> int:
    if vtype.startswith("str"):
        return int(vtype[3:] or 1)
    return {"byte": 1, "int": 2, "long": 4, "float": 4, "double": 8}.get(vtype, 8)


class Env:
    """Macro lookups for the expander, in the current scope."""

    def __init__(self, interp: Core) -> None:
        self.i = interp

    def local(self, name: str) -> str:
        return self.i.session.frame.locals.get(name, "")

    def global_(self, name: str) -> str:
        if name == "S_DATE":
            return time.strftime("%d %b %Y").lstrip("0")
        if name == "S_TIME":
            return time.strftime("%H:%M:%S")
        return self.i.session.globals.get(name, "")

    def expression(self, text: str) -> str:
        return self.i._macro_value(self.i.eval(text))

    def extended(self, text: str) -> str:
        return self.i._extended(text)
