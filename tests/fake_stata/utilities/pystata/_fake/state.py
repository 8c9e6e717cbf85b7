"""What a Stata session remembers between commands: macros, scalars, results, programs, frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dataset import Dataset
from .lexer import Cmd

if TYPE_CHECKING:
    from .graphs import Graph
    from .logs import LogFile


@dataclass
class Results:
    """r(), e() or s(): scalars, macros and matrices under their short names."""

    scalars: dict[str, float | None] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    matrices: dict[str, list[list[float]]] = field(default_factory=dict)
    names: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # rows, cols
    functions: list[str] = field(default_factory=list)
    builtin: bool = False  # set by a built-in command: `return list` keeps its order
    sample: list[int] = field(default_factory=list)  # e(sample): the estimation's observations

    def copy(self) -> Results:
        return Results(
            dict(self.scalars),
            dict(self.macros),
            {k: [list(r) for r in m] for k, m in self.matrices.items()},
            {k: (list(r), list(c)) for k, (r, c) in self.names.items()},
            list(self.functions),
            self.builtin,
            list(self.sample),
        )

    def clear(self) -> None:
        self.scalars.clear()
        self.macros.clear()
        self.matrices.clear()
        self.names.clear()
        self.functions.clear()
        self.builtin = False
        self.sample.clear()


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    body: tuple[Cmd, ...]
    kind: str  # "", "rclass", "eclass" or "sclass"


@dataclass
class Frame:
    """A local-macro scope: the interactive level, a do-file, or a program call."""

    locals: dict[str, str] = field(default_factory=dict)
    program: Program | None = None
    returns: Results = field(default_factory=Results)


@dataclass
class Session:
    globals: dict[str, str] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=lambda: [Frame()])
    scalars: dict[str, float | str | None] = field(default_factory=dict)
    r: Results = field(default_factory=Results)
    e: Results = field(default_factory=Results)
    s: Results = field(default_factory=Results)
    programs: dict[str, Program] = field(default_factory=dict)
    logs: list[LogFile] = field(default_factory=list)
    linesize: int = 80
    logtype: str = "smcl"
    rc: int = 0
    edition: str = "MP"
    data: Dataset = field(default_factory=Dataset)
    matrices: dict[str, list[list[float]]] = field(default_factory=dict)
    matrix_names: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    graphs: dict[str, Graph] = field(default_factory=dict)
    graph_current: str = ""
    gr_list: list[str] | None = None  # `_gr_list on`: names of the graphs made since
    sysdir_base: str = ""
    sysdir_plus: str = ""  # `sysdir set PLUS`; empty: ~/ado/plus/
    sysdir_personal: str = ""  # `sysdir set PERSONAL`; empty: ~/ado/personal/
    frame_name: str = "default"  # the current data frame; its dataset is `data`
    parked: dict[str, Dataset] = field(default_factory=dict)  # the other data frames
    estimates: dict[str, Results] = field(default_factory=dict)  # `estimates store`, in order
    held_e: dict[str, Results] = field(default_factory=dict)  # `_estimates hold`
    held: dict[str, Results] = field(default_factory=dict)  # `_return hold name`: set-aside r()

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def top(self) -> Frame:
        return self.frames[0]

    def results(self, kind: str) -> Results:
        return {"r": self.r, "e": self.e, "s": self.s}[kind]

    # --- data frames: the current one's dataset is `data`, so every command uses it -----------

    def frame_names(self) -> list[str]:
        return sorted([self.frame_name, *self.parked])

    def has_frame(self, name: str) -> bool:
        return name == self.frame_name or name in self.parked

    def switch_frame(self, name: str) -> None:
        """Make an existing frame current: park the current dataset, bring the named one in."""
        if name == self.frame_name:
            return
        incoming = self.parked.pop(name)
        self.parked[self.frame_name] = self.data
        self.data = incoming
        self.frame_name = name

    def reset_frames(self) -> None:
        """`clear all`/`clear frames`: one empty frame named default."""
        self.parked.clear()
        self.data = Dataset()
        self.frame_name = "default"
