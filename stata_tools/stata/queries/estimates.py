"""Stored estimation results read model by model, the user's own e() and r() held around it."""

from __future__ import annotations

import math
import re
from contextlib import suppress
from dataclasses import dataclass
from types import ModuleType

_HOLD_E = "_st_cmp_e"  # our holds of the user's active e() and r() while models are read
_HOLD_R = "_st_cmp_r"
_STRIPE = "_st_cmp_names"  # the global that carries `: colfullnames e(b)` out for a moment
_FACTOR = re.compile(r"^(\d+)[bno]*\.(\w+)$")


@dataclass(frozen=True, slots=True)
class EstimatesIndex:
    """What `estimates dir` knows, and whether there are active (last) estimation results."""

    stored: tuple[str, ...]
    active_cmd: str  # e(cmd) of the active results, "" when none
    active_name: str  # e(_estimates_name): the stored name the active results came from


@dataclass(frozen=True, slots=True)
class Estimates:
    """One model's results as e() holds them: e(b)'s full column names (`eq:name`), the
    coefficients, their variances (e(V)'s diagonal) and every e() scalar."""

    name: str  # the stored name, or "." for the active results
    cmd: str
    depvar: str
    title: str
    columns: tuple[str, ...]
    b: tuple[float, ...]
    variances: tuple[float, ...]
    scalars: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class EstimatesRead:
    models: tuple[Estimates, ...]
    value_labels: tuple[tuple[str, int, str], ...]  # (variable, level, label) for factor levels


def _quiet(pystata: ModuleType, command: str) -> None:
    pystata.stata.run(command, quietly=True, echo=False, inline=False)


def estimates_index(pystata: ModuleType, sfi: ModuleType) -> EstimatesIndex:
    """The stored names (`estimates dir` leaves them in r(names)); the user's r() is held
    around it and put back, so nothing the user had is changed."""
    _quiet(pystata, f"_return hold {_HOLD_R}")
    try:
        _quiet(pystata, "estimates dir")
        stored = tuple(str(sfi.Macro.getGlobal("r(names)")).split())
    finally:
        _quiet(pystata, f"_return restore {_HOLD_R}")
    return EstimatesIndex(
        stored,
        str(sfi.Macro.getGlobal("e(cmd)")),
        str(sfi.Macro.getGlobal("e(_estimates_name)")),
    )


def read_estimates(pystata: ModuleType, sfi: ModuleType, names: tuple[str, ...]) -> EstimatesRead:
    """Each model's e() (`.` is the active results), by `estimates restore` between holds: the
    active estimation results are held (`_estimates hold …, copy nullok`) and put back after,
    as is r() (`_return hold`/`_return restore`), so the user's e(), r() and data are left as
    they were; a name Stata does not know raises its SystemError (r(111))."""
    read: dict[str, Estimates] = {}
    _quiet(pystata, f"_return hold {_HOLD_R}")
    try:
        _quiet(pystata, f"_estimates hold {_HOLD_E}, copy nullok")
        try:
            if "." in names:  # the active results, before any restore replaces them
                read["."] = _read_e(pystata, sfi, ".")
            for name in names:
                if name != ".":
                    _quiet(pystata, f"estimates restore {name}")
                    read[name] = _read_e(pystata, sfi, name)
        finally:
            _quiet(pystata, f"_estimates unhold {_HOLD_E}")
    finally:
        _quiet(pystata, f"_return restore {_HOLD_R}")
    models = tuple(read[name] for name in names)
    return EstimatesRead(models, _factor_labels(sfi, models))


def _read_e(pystata: ModuleType, sfi: ModuleType, name: str) -> Estimates:
    cmd = str(sfi.Macro.getGlobal("e(cmd)"))
    if not cmd:
        raise SystemError(f"no estimation results in {name}\nr(301);")
    columns: tuple[str, ...] = ()
    b: tuple[float, ...] = ()
    variances: tuple[float, ...] = ()
    with suppress(Exception):  # a command without e(b) (some post only scalars)
        b = tuple(float(v) for v in sfi.Matrix.get("e(b)")[0])
        _quiet(pystata, f"global {_STRIPE} : colfullnames e(b)")
        columns = tuple(str(sfi.Macro.getGlobal(_STRIPE)).split())
        _quiet(pystata, f"macro drop {_STRIPE}")
        V = sfi.Matrix.get("e(V)")
        variances = tuple(float(V[i][i]) for i in range(len(b)))
    if len(columns) != len(b):
        columns = tuple(str(n) for n in sfi.Matrix.getColNames("e(b)")) if b else ()
    if len(variances) != len(b):
        variances = tuple(math.nan for _ in b)
    scalars = []
    for ref in sfi.SFIToolkit.listReturn("e()", "scalar"):
        value = sfi.Scalar.getValue(ref)
        if value is not None:
            scalars.append((str(ref)[2:-1], float(value)))
    return Estimates(
        name=name,
        cmd=cmd,
        depvar=str(sfi.Macro.getGlobal("e(depvar)")),
        title=str(sfi.Macro.getGlobal("e(title)")),
        columns=columns,
        b=b,
        variances=variances,
        scalars=tuple(scalars),
    )


def _factor_labels(
    sfi: ModuleType, models: tuple[Estimates, ...]
) -> tuple[tuple[str, int, str], ...]:
    """Value labels of the factor levels the models name (`1.foreign` → Foreign), from the
    data in memory; a variable no longer there, or unlabelled, gives none."""
    levels: set[tuple[str, int]] = set()
    for model in models:
        for column in model.columns:
            for part in column.rpartition(":")[2].split("#"):
                if (m := _FACTOR.match(part)) is not None:
                    levels.add((m.group(2), int(m.group(1))))
    out = []
    names: dict[str, str] = {}
    for var, level in sorted(levels):
        try:
            if var not in names:
                names[var] = str(sfi.ValueLabel.getVarValueLabel(var))
            text = str(sfi.ValueLabel.getLabel(names[var], level)) if names[var] else ""
        except Exception:
            continue
        if text:
            out.append((var, level, text))
    return tuple(out)
