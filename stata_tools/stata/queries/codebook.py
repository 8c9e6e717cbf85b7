"""A codebook's facts and the variable catalogue, read through Stata's own commands."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

CODEBOOK_HOLD = "__st_codebook_r"
"""The name r() is set aside under while a codebook is read (`_return hold`)."""
CODEBOOK_FRAME = "__st_codebook"
"""The scratch frame a variable is copied into to count its distinct values."""
_MISSING = 8.98846567431158e307


def codebook_read(
    pystata: ModuleType, sfi: ModuleType, varlist: str, start: int, count: int, unique: bool
) -> dict[str, Any]:
    """Facts for variables start .. start+count of `varlist` ('' for all), in the plain form
    `inspection.codebook.codebook_from_read` takes.

    Stata does the work: `describe, varlist` expands the varlist, `summarize, meanonly` gives a
    number's range and count, `count if missing()` a string's, and the distinct values are
    counted by `contract` on a copy of the one variable in a scratch frame. Left untouched: the
    data, their sort order and changed flag, the current frame, r() (held with `_return hold`
    and restored even on error), `_rc` (put back after contract.ado's own capture), e(), s(),
    macros and scalars. Its cost is one pass over the data a variable, plus a sort of one
    column when counting distinct values.
    """
    run = _quiet(pystata)
    rc = int(sfi.Scalar.getValue("c(rc)") or 0)  # contract.ado's own `capture` resets _rc
    run(f"_return hold {CODEBOOK_HOLD}")
    try:
        try:
            run(f"describe {varlist}".rstrip() + ", varlist")
        except SystemError as error:  # quietly hid Stata's message: the caller words it
            names = [sfi.Data.getVarName(i) for i in range(int(sfi.Data.getVarCount()))]
            return {"varlist_refused": str(error).strip(), "names": names}
        names = list(dict.fromkeys(str(sfi.Macro.getGlobal("r(varlist)")).split()))
        sorted_by = str(sfi.Macro.getGlobal("r(sortlist)")).split()
        n_obs = int(sfi.Data.getObsTotal())
        variables = [_facts(run, sfi, name, n_obs, unique) for name in names[start : start + count]]
        defined = set(sfi.ValueLabel.getNames())
        attached = {v["value_label"] for v in variables if v["value_label"]}
        sets = {name: _labels(sfi, name) for name in sorted(attached & defined)}
        return {
            "n_obs": n_obs,
            "n_vars": int(sfi.Data.getVarCount()),
            "selected": len(names),
            "start": start,
            "variables": variables,
            "value_labels": sets,
            "sorted_by": sorted_by,
        }
    finally:
        run(f"_return restore {CODEBOOK_HOLD}")
        if rc:
            run(f"capture error {rc}")  # _rc as the user's last capture left it


def variable_catalog(pystata: ModuleType, sfi: ModuleType, value_labels: bool) -> dict[str, Any]:
    """Every variable's name, type, label and value-label name (and, when asked, the defined
    value-label sets), read through sfi alone: nothing in Stata changes."""
    variables = []
    for index in range(int(sfi.Data.getVarCount())):
        variables.append(
            {
                "name": sfi.Data.getVarName(index),
                "type": sfi.Data.getVarType(index),
                "label": sfi.Data.getVarLabel(index) or "",
                "value_label": sfi.ValueLabel.getVarValueLabel(index) or None,
            }
        )
    sets = {}
    if value_labels:
        sets = {name: _labels(sfi, name) for name in sfi.ValueLabel.getNames()}
    return {"variables": variables, "value_labels": sets}


def _quiet(pystata: ModuleType) -> Callable[[str], None]:
    def run(command: str) -> None:
        pystata.stata.run(command, quietly=True, echo=False, inline=False)

    return run


def _facts(
    run: Callable[[str], None], sfi: ModuleType, name: str, n_obs: int, unique: bool
) -> dict[str, Any]:
    index = sfi.Data.getVarIndex(name)
    is_string = bool(sfi.Data.isVarTypeString(index))
    minimum = maximum = None
    if is_string:
        run(f"count if missing({name})")
        missing = int(_r(sfi, "N") or 0)
    else:
        run(f"summarize {name}, meanonly")
        missing = n_obs - int(_r(sfi, "N") or 0)
        minimum, maximum = _r(sfi, "min"), _r(sfi, "max")
    present = n_obs - missing
    distinct: int | None = None
    if present == 0:
        distinct = 0
    elif minimum is not None and minimum == maximum:
        distinct = 1
    elif unique:
        distinct = _distinct(run, sfi, name)
    return {
        "name": name,
        "type": sfi.Data.getVarType(index),
        "format": sfi.Data.getVarFormat(index),
        "label": sfi.Data.getVarLabel(index) or "",
        "value_label": sfi.ValueLabel.getVarValueLabel(index) or None,
        "n_missing": missing,
        "n_unique": distinct,
        "minimum": minimum,
        "maximum": maximum,
    }


def _distinct(run: Callable[[str], None], sfi: ModuleType, name: str) -> int | None:
    """Distinct non-missing values of one variable, counted in a scratch frame; None when Stata
    refuses (a strL it will not sort, too little memory for the copy)."""
    try:
        run(f"frame put {name}, into({CODEBOOK_FRAME})")
    except SystemError:
        return None
    try:
        freq = "__st_n" if name != "__st_n" else "__st_m"  # a variable may be named _freq
        run(f"frame {CODEBOOK_FRAME}: contract {name}, nomiss freq({freq})")
        run(f"frame {CODEBOOK_FRAME}: count")
        return int(_r(sfi, "N") or 0)
    except SystemError:
        return None
    finally:
        run(f"frame drop {CODEBOOK_FRAME}")


def _r(sfi: ModuleType, name: str) -> float | None:
    value = sfi.Scalar.getValue(f"r({name})")
    if value is None or value >= _MISSING:
        return None
    return float(value)


def _labels(sfi: ModuleType, name: str) -> dict[float, str]:
    return {float(k): str(v) for k, v in sfi.ValueLabel.getValueLabels(name).items()}
