"""A fake of Stata's sfi module (Stata Function Interface), importable only after config.init().

Every call checks that no other thread is running Stata: real sfi calls made while another
thread is inside run() corrupt Stata's state, so the fake records the overlap and raises.
"""

from __future__ import annotations

import os
from typing import Any

from pystata._fake import engine as _engine
from pystata._fake.errors import MESSAGES, StataError
from pystata._fake.lines import ERR, line
from pystata._fake.macros import expand
from pystata._fake.numfmt import apply_format
from pystata._fake.state import Session

_MISSING = 8.98846567431158e307
_prefs: dict[tuple[str, str], str] = {}


def _session(what: str) -> Session:
    return _engine.current()._sfi(what)


def _split_ref(name: str) -> tuple[str, str] | None:
    """'r(N)' → ('r', 'N'); a plain name → None."""
    name = name.strip()
    if len(name) > 3 and name[1] == "(" and name.endswith(")") and name[0] in "recs":
        return name[0], name[2:-1].strip()
    if name.startswith("return(") and name.endswith(")"):
        return "r", name[7:-1].strip()
    return None


class BreakError(Exception):
    """Raised by pollnow()/pollstd() when Stata's Break key has been pressed."""


class FrameError(Exception):
    """An error from the Frame class."""


class Missing:
    @staticmethod
    def getValue(val: str | None = None) -> float:
        return _MISSING

    @staticmethod
    def isMissing(value: Any) -> bool:
        return value is None or (isinstance(value, float) and value >= _MISSING)


class Macro:
    @staticmethod
    def getGlobal(name: str) -> str:
        s = _session("sfi.Macro.getGlobal")
        ref = _split_ref(name)
        if ref is None:
            return s.globals.get(name, "")
        kind, short = ref
        if kind == "c":
            v = _engine.current()._interp.cvalue(short)
            if v is None:
                return ""
            return v if isinstance(v, str) else _fmt(v)
        return s.results(kind).macros.get(short, "")

    @staticmethod
    def setGlobal(name: str, value: str, vtype: str = "visible") -> None:
        s = _session("sfi.Macro.setGlobal")
        if value == "":
            s.globals.pop(name, None)
        else:
            s.globals[name] = str(value)

    @staticmethod
    def getLocal(name: str) -> str:
        return _session("sfi.Macro.getLocal").frame.locals.get(name, "")

    @staticmethod
    def setLocal(name: str, value: str) -> None:
        s = _session("sfi.Macro.setLocal")
        if value == "":
            s.frame.locals.pop(name, None)
        else:
            s.frame.locals[name] = str(value)


def _fmt(v: float | None) -> str:
    from pystata._fake.numfmt import macro_number

    return macro_number(v)


class Scalar:
    @staticmethod
    def getValue(name: str) -> float | None:
        s = _session("sfi.Scalar.getValue")
        ref = _split_ref(name)
        if ref is None:
            v = s.scalars.get(name)
            if isinstance(v, str):
                return None
            return _MISSING if v is None and name in s.scalars else v
        kind, short = ref
        if kind == "c":
            v = _engine.current()._interp.cvalue(short)
            return v if isinstance(v, float) else None
        res = s.results(kind)
        if short not in res.scalars:
            return None
        value = res.scalars[short]
        return _MISSING if value is None else value

    @staticmethod
    def setValue(name: str, value: float, vtype: str = "visible") -> None:
        _session("sfi.Scalar.setValue").scalars[name] = float(value)

    @staticmethod
    def getString(name: str) -> str:
        v = _session("sfi.Scalar.getString").scalars.get(name)
        return v if isinstance(v, str) else ""

    @staticmethod
    def setString(name: str, value: str, vtype: str = "visible") -> None:
        _session("sfi.Scalar.setString").scalars[name] = str(value)


class Matrix:
    @staticmethod
    def get(name: str) -> list[list[float]]:
        s = _session("sfi.Matrix.get")
        ref = _split_ref(name)
        if ref is None or ref[0] == "c":
            raise ValueError(f"matrix {name} not found")
        res = s.results(ref[0])
        if ref[1] not in res.matrices:
            raise ValueError(f"matrix {name} not found")
        return [list(row) for row in res.matrices[ref[1]]]


class Data:
    """No dataset support: the fake's data in memory is always empty."""

    @staticmethod
    def getObsTotal() -> int:
        _session("sfi.Data.getObsTotal")
        return 0

    @staticmethod
    def getVarCount() -> int:
        _session("sfi.Data.getVarCount")
        return 0

    @staticmethod
    def getVarName(index: int) -> str:
        _session("sfi.Data.getVarName")
        raise IndexError(f"{index} out of range")


class Preference:
    @staticmethod
    def getSavedPref(section: str, key: str, default: str | None = None) -> str | None:
        return _prefs.get((section, key), default)

    @staticmethod
    def setSavedPref(section: str, key: str, value: str) -> None:
        _prefs[(section, key)] = str(value)

    @staticmethod
    def deleteSavedPref(section: str, key: str) -> None:
        _prefs.pop((section, key), None)


class SFIToolkit:
    @staticmethod
    def display(s: str, asis: bool = False) -> None:
        _session("sfi.SFIToolkit.display")
        _engine.current()._buffer.append(s)

    @staticmethod
    def displayln(s: str, asis: bool = False) -> None:
        SFIToolkit.display(s + "\n", asis)

    @staticmethod
    def errprint(s: str, asis: bool = False) -> None:
        SFIToolkit.display(s, asis)

    @staticmethod
    def errprintln(s: str, asis: bool = False) -> None:
        SFIToolkit.display(s + "\n", asis)

    @staticmethod
    def error(rc: int) -> None:
        lib = _engine.current()
        lib._sfi("sfi.SFIToolkit.error")
        msg = MESSAGES.get(int(rc))
        if msg:
            lib._console.show(line(ERR, msg))

    @staticmethod
    def stata(s: str, echo: bool = False) -> None:
        lib = _engine.current()
        lib._sfi("sfi.SFIToolkit.stata")
        if lib.StataSO_Execute(s.encode("utf-8"), echo) != 0:
            raise SyntaxError("failed to execute the specified Stata command")

    @staticmethod
    def pollnow() -> None:
        lib = _engine.current()
        if lib._break.pending():
            lib._break.honour()
            raise BreakError("--Break--")

    @staticmethod
    def pollstd() -> None:
        SFIToolkit.pollnow()

    @staticmethod
    def getTempFile() -> str:
        lib = _engine.current()
        lib._sfi("sfi.SFIToolkit.getTempFile")
        return lib._temp_file()

    @staticmethod
    def getTempName() -> str:
        lib = _engine.current()
        lib._sfi("sfi.SFIToolkit.getTempName")
        return lib._temp_name()

    @staticmethod
    def getWorkingDir() -> str:
        _session("sfi.SFIToolkit.getWorkingDir")
        return os.getcwd()

    @staticmethod
    def formatValue(value: float, fmt: str) -> str:
        try:
            return apply_format(fmt, value)
        except StataError as e:
            raise ValueError(e.msg) from None

    @staticmethod
    def macroExpand(s: str) -> str:
        lib = _engine.current()
        lib._sfi("sfi.SFIToolkit.macroExpand")
        from pystata._fake.core import Env

        return expand(s, Env(lib._interp))

    @staticmethod
    def makeVarName(s: str, retainCase: bool = False) -> str:
        name = "".join(c if c.isalnum() or c == "_" else "_" for c in s.strip())[:32]
        if not name or name[0].isdigit():
            name = "_" + name[:31]
        return name if retainCase else name.lower()

    @staticmethod
    def listReturn(cat: str, kind: str) -> list[str]:
        """Names of stored results: listReturn("r()", "scalar") → ["r(N)", …]."""
        s = _session("sfi.SFIToolkit.listReturn")
        which = cat.strip()[0]
        res = s.results(which)
        store = {"scalar": res.scalars, "macro": res.macros, "matrix": res.matrices}[kind]
        return [f"{which}({name})" for name in store]

    @staticmethod
    def exit(rc: int = 0) -> None:
        raise SystemExit(rc)
