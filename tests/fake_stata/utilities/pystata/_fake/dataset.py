"""The dataset in memory: variables with Stata's storage types, formats, labels, value labels.

Numeric missing is `None` (Stata's `.`); strings are never missing (`""`). Values of `float`
variables are rounded to single precision when stored, as Stata does.
"""

from __future__ import annotations

import csv
import fnmatch
import os
import struct
from dataclasses import dataclass, field

from .errors import StataError

Cell = float | str | None

NUMERIC_TYPES = ("byte", "int", "long", "float", "double")
_INT_RANGES = {"byte": (-127, 100), "int": (-32767, 32740), "long": (-2147483647, 2147483620)}


def to_float32(x: float) -> float:
    """The value a Stata `float` variable actually holds."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return x


def default_format(vtype: str) -> str:
    if vtype.startswith("str"):
        return f"%{vtype[3:] or 1}s"
    return {"byte": "%8.0g", "int": "%8.0g", "long": "%12.0g", "double": "%10.0g"}.get(
        vtype, "%9.0g"
    )


@dataclass
class Variable:
    name: str
    vtype: str  # byte int long float double strN
    values: list[Cell]
    fmt: str = ""
    label: str = ""
    vallab: str = ""

    def __post_init__(self) -> None:
        if not self.fmt:
            self.fmt = default_format(self.vtype)

    @property
    def is_str(self) -> bool:
        return self.vtype.startswith("str")

    def store(self, obs: int, value: Cell) -> None:
        self.values[obs] = self.coerce(value)

    def coerce(self, value: Cell) -> Cell:
        if self.is_str:
            return value if isinstance(value, str) else ""
        if value is None or isinstance(value, str):
            return None
        if self.vtype == "float":
            return to_float32(value)
        if self.vtype in _INT_RANGES:
            return float(round(value))
        return float(value)


@dataclass
class Dataset:
    variables: list[Variable] = field(default_factory=list)
    nobs: int = 0
    value_labels: dict[str, dict[int, str]] = field(default_factory=dict)
    label: str = ""
    filename: str = ""
    timestamp: str = ""
    notes: bool = False
    sortedby: list[str] = field(default_factory=list)
    changed: bool = False

    # --- lookups ---------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def get(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    def find(self, name: str) -> Variable:
        """A variable by name or unambiguous abbreviation, as varabbrev allows."""
        exact = self.get(name)
        if exact is not None:
            return exact
        if not self.variables:
            raise StataError(111, "no variables defined")
        hits = [v for v in self.variables if v.name.startswith(name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise StataError(111, f"{name} ambiguous abbreviation")
        raise StataError(111, f"variable {name} not found")

    def varlist(self, text: str, *, default_all: bool = True) -> list[Variable]:
        """Expand a varlist: names, abbreviations, `*`/`?` wildcards, `a-b` ranges, `_all`."""
        words = text.replace(" - ", "-").split()
        if not words:
            if not default_all:
                raise StataError(100, "varlist required")
            return list(self.variables)
        if not self.variables:
            raise StataError(111, "no variables defined")
        out: list[Variable] = []
        for w in words:
            if w in ("_all", "*"):
                out.extend(self.variables)
            elif any(c in w for c in "*?~"):
                hits = [
                    v for v in self.variables if fnmatch.fnmatchcase(v.name, w.replace("~", "*"))
                ]
                if not hits:
                    raise StataError(111, f"variable {w} not found")
                out.extend(hits)
            elif "-" in w:
                a, b = (self.find(p) for p in w.split("-", 1))
                i, j = self.variables.index(a), self.variables.index(b)
                out.extend(self.variables[min(i, j) : max(i, j) + 1])
            else:
                out.append(self.find(w))
        seen: list[Variable] = []
        for v in out:
            if v not in seen:
                seen.append(v)
        return seen

    # --- changes -----------------------------------------------------------------------------

    def add(self, var: Variable) -> None:
        if self.get(var.name) is not None:
            raise StataError(110, f"variable {var.name} already defined")
        self.variables.append(var)
        self.changed = True

    def drop_vars(self, names: list[str]) -> None:
        self.variables = [v for v in self.variables if v.name not in names]
        self.sortedby = [s for s in self.sortedby if s not in names]
        self.changed = True

    def keep_obs(self, keep: list[int]) -> None:
        for v in self.variables:
            v.values = [v.values[i] for i in keep]
        self.nobs = len(keep)
        self.changed = True

    def set_obs(self, n: int) -> None:
        for v in self.variables:
            v.values.extend([v.coerce(None)] * (n - self.nobs))
        self.nobs = n
        self.changed = True

    def label_of(self, var: Variable, value: Cell) -> str | None:
        """The value label text for a value, if the variable has one that covers it."""
        if not var.vallab or not isinstance(value, float) or value != int(value):
            return None
        return self.value_labels.get(var.vallab, {}).get(int(value))


def new_name_ok(name: str) -> bool:
    return (
        0 < len(name) <= 32
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c == "_" for c in name)
    )


# --- the shipped example dataset -------------------------------------------------------------

_AUTO_META: tuple[tuple[str, str, str, str], ...] = (
    ("make", "str18", "%-18s", "Make and model"),
    ("price", "int", "%8.0gc", "Price"),
    ("mpg", "int", "%8.0g", "Mileage (mpg)"),
    ("rep78", "int", "%8.0g", "Repair record 1978"),
    ("headroom", "float", "%6.1f", "Headroom (in.)"),
    ("trunk", "int", "%8.0g", "Trunk space (cu. ft.)"),
    ("weight", "int", "%8.0gc", "Weight (lbs.)"),
    ("length", "int", "%8.0g", "Length (in.)"),
    ("turn", "int", "%8.0g", "Turn circle (ft.)"),
    ("displacement", "int", "%8.0g", "Displacement (cu. in.)"),
    ("gear_ratio", "float", "%6.2f", "Gear ratio"),
    ("foreign", "byte", "%8.0g", "Car origin"),
)
SYSUSE = {"auto": "1978 automobile data"}


def sysdir_base(lib_path: str) -> str:
    """Where the fake installation keeps its `ado/base` files (next to the library)."""
    return os.path.join(os.path.dirname(os.path.abspath(lib_path)), "ado", "base")


def load_auto(base: str) -> Dataset:
    """Stata's 1978 automobile data, read from the CSV the fake ships in ado/base/a."""
    with open(os.path.join(base, "a", "auto.csv"), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ds = Dataset(
        label=SYSUSE["auto"],
        filename=os.path.join(base, "a", "auto.dta"),
        timestamp="13 Apr 2022 17:45",
        notes=True,
        sortedby=["foreign"],
        value_labels={"origin": {0: "Domestic", 1: "Foreign"}},
        nobs=len(rows),
    )
    for name, vtype, fmt, label in _AUTO_META:
        var = Variable(name, vtype, [], fmt, label, "origin" if name == "foreign" else "")
        for row in rows:
            raw = row[name]
            var.values.append(var.coerce(raw if var.is_str else None if raw == "." else float(raw)))
        ds.variables.append(var)
    return ds
