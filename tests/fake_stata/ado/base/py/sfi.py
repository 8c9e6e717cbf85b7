"""A fake of Stata's sfi module (Stata Function Interface), importable only after config.init().

Every call checks that no other thread is running Stata: real sfi calls made while another
thread is inside run() corrupt Stata's state, so the fake records the overlap and raises.
"""

from __future__ import annotations

import os
from typing import Any

from pystata._fake import engine as _engine
from pystata._fake.dataset import Dataset, Variable
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


def _matrix(name: str, what: str) -> tuple[list[list[float]], list[str], list[str]]:
    s = _session(what)
    ref = _split_ref(name)
    if ref is None:
        if name not in s.matrices:
            raise ValueError(f"matrix {name} not found")
        rows, cols = s.matrix_names.get(name, ([], []))
        mat = s.matrices[name]
    else:
        if ref[0] == "c":
            raise ValueError(f"matrix {name} not found")
        res = s.results(ref[0])
        if ref[1] not in res.matrices:
            raise ValueError(f"matrix {name} not found")
        mat = res.matrices[ref[1]]
        rows, cols = res.names.get(ref[1], ([], []))
    rows = list(rows) or [f"r{i + 1}" for i in range(len(mat))]
    cols = list(cols) or [f"c{j + 1}" for j in range(len(mat[0]) if mat else 0)]
    return mat, rows, cols


class Matrix:
    @staticmethod
    def get(name: str) -> list[list[float]]:
        mat, _, _ = _matrix(name, "sfi.Matrix.get")
        return [list(row) for row in mat]

    @staticmethod
    def getRowNames(name: str) -> list[str]:
        return _matrix(name, "sfi.Matrix.getRowNames")[1]

    @staticmethod
    def getColNames(name: str) -> list[str]:
        return _matrix(name, "sfi.Matrix.getColNames")[2]

    @staticmethod
    def getRowTotal(name: str) -> int:
        return len(_matrix(name, "sfi.Matrix.getRowTotal")[0])

    @staticmethod
    def getColTotal(name: str) -> int:
        return len(_matrix(name, "sfi.Matrix.getColTotal")[2])


def _var(data: Dataset, var: int | str) -> Variable:
    if isinstance(var, int):
        if not 0 <= var < len(data.variables):
            raise ValueError(f"{var}: variable index out of range")
        return data.variables[var]
    found = data.get(var.strip())
    if found is None:
        raise ValueError(f"variable {var} not found")
    return found


def _vars(data: Dataset, var: Any) -> list[Variable]:
    if var is None:
        return list(data.variables)
    if isinstance(var, int):
        return [_var(data, var)]
    if isinstance(var, str):
        return [_var(data, v) for v in var.split()]
    return [_var(data, v) for v in var]


def _obs(data: Dataset, obs: Any, selectvar: Any) -> list[int]:
    if obs is None:
        rows = list(range(data.nobs))
    elif isinstance(obs, int):
        rows = [obs]
    else:
        rows = list(obs)
    for i in rows:
        if not 0 <= i < data.nobs:
            raise ValueError(f"{i}: observation index out of range")
    if selectvar is not None and selectvar != -1:
        sel = _var(data, selectvar)
        rows = [i for i in rows if sel.values[i] not in (0.0, "")]
    return rows


class _DefaultMissing:
    """No missingval given: numeric missing comes back as Stata's missing value."""


_DEFAULT_MISSING = _DefaultMissing()


def _cell(data: Dataset, v: Variable, i: int, valuelabel: bool, missingval: Any) -> Any:
    value = v.values[i]
    if valuelabel:
        text = data.label_of(v, value)
        if text is not None:
            return text
    if value is None:
        return _MISSING if isinstance(missingval, _DefaultMissing) else missingval
    return value


class Data:
    """The dataset in memory; variables and observations are 0-based, as in sfi."""

    @staticmethod
    def getObsTotal() -> int:
        return _session("sfi.Data.getObsTotal").data.nobs

    @staticmethod
    def getVarCount() -> int:
        return len(_session("sfi.Data.getVarCount").data.variables)

    @staticmethod
    def getVarName(index: int) -> str:
        return _var(_session("sfi.Data.getVarName").data, index).name

    @staticmethod
    def getVarIndex(name: str) -> int:
        data = _session("sfi.Data.getVarIndex").data
        return data.variables.index(_var(data, name))

    @staticmethod
    def getVarType(var: int | str) -> str:
        return _var(_session("sfi.Data.getVarType").data, var).vtype

    @staticmethod
    def getVarLabel(var: int | str) -> str:
        return _var(_session("sfi.Data.getVarLabel").data, var).label

    @staticmethod
    def getVarFormat(var: int | str) -> str:
        return _var(_session("sfi.Data.getVarFormat").data, var).fmt

    @staticmethod
    def isVarTypeStr(var: int | str) -> bool:
        return _var(_session("sfi.Data.isVarTypeStr").data, var).is_str

    @staticmethod
    def isVarTypeString(var: int | str) -> bool:
        return Data.isVarTypeStr(var)

    @staticmethod
    def get(
        var: Any = None,
        obs: Any = None,
        selectvar: Any = None,
        valuelabel: bool = False,
        missingval: Any = _DEFAULT_MISSING,
    ) -> list[list[Any]]:
        """One list per observation, as the real sfi.Data.get returns."""
        data = _session("sfi.Data.get").data
        cols = _vars(data, var)
        rows = _obs(data, obs, selectvar)
        return [[_cell(data, v, i, valuelabel, missingval) for v in cols] for i in rows]

    @staticmethod
    def getAt(var: int | str, obs: int) -> Any:
        data = _session("sfi.Data.getAt").data
        return _cell(data, _var(data, var), _obs(data, obs, None)[0], False, _DefaultMissing())

    @staticmethod
    def getAsDict(
        var: Any = None,
        obs: Any = None,
        selectvar: Any = None,
        valuelabel: bool = False,
        missingval: Any = _DEFAULT_MISSING,
    ) -> dict[str, list[Any]]:
        data = _session("sfi.Data.getAsDict").data
        rows = _obs(data, obs, selectvar)
        return {
            v.name: [_cell(data, v, i, valuelabel, missingval) for i in rows]
            for v in _vars(data, var)
        }


class ValueLabel:
    @staticmethod
    def getNames() -> list[str]:
        return list(_session("sfi.ValueLabel.getNames").data.value_labels)

    @staticmethod
    def getVarValueLabel(var: int | str) -> str:
        return _var(_session("sfi.ValueLabel.getVarValueLabel").data, var).vallab

    @staticmethod
    def getValueLabels(name: str) -> dict[int, str]:
        labels = _session("sfi.ValueLabel.getValueLabels").data.value_labels
        if name not in labels:
            raise ValueError(f"value label {name} not found")
        return dict(labels[name])

    @staticmethod
    def getLabel(name: str, value: int) -> str:
        labels = _session("sfi.ValueLabel.getLabel").data.value_labels
        if name not in labels:
            raise ValueError(f"value label {name} not found")
        return labels[name].get(int(value), "")

    @staticmethod
    def getLabels(name: str) -> list[str]:
        return list(ValueLabel.getValueLabels(name).values())

    @staticmethod
    def getValues(name: str) -> list[int]:
        return list(ValueLabel.getValueLabels(name))


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
