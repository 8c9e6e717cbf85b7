"""Data frames: `frame put|create|change|copy|drop|dir|pwf`, the `frame NAME:` prefix and block.

As in Stata, the line is macro-expanded before `frame` runs, so `` `=_N' `` in
`frame x: list in 1/`=_N'` is the current frame's _N, not x's (a `frame x {` block expands each
line inside x). The frames other than the current one are parked in `Session.parked`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .core import Ctx
from .datacmds import DataCommands
from .dataset import Dataset, Variable, new_name_ok
from .errors import StataError
from .lines import TXT, line
from .qualifiers import qualifiers
from .syntax import first_word, options

_PREFIX = re.compile(r"([A-Za-z_]\w*)\s*(?::(.*)|(\{))$", re.S)
_SUBCOMMANDS: dict[str, str] = {
    "put": "put",
    "create": "create",
    "change": "change",
    "copy": "copy",
    "drop": "drop",
    "dir": "dir",
    "pwf": "pwf",
    "rename": "rename",
}


def subset(data: Dataset, variables: list[Variable], rows: list[int]) -> Dataset:
    """A new dataset of some variables and observations, with their labels and value labels."""
    copied = [replace(v, values=[v.values[i] for i in rows]) for v in variables]
    names = [v.name for v in copied]
    sortedby: list[str] = []
    for name in data.sortedby:
        if name not in names:
            break
        sortedby.append(name)
    return Dataset(
        variables=copied,
        nobs=len(rows),
        value_labels={
            v.vallab: dict(data.value_labels[v.vallab])
            for v in copied
            if v.vallab in data.value_labels
        },
        label=data.label,
        sortedby=sortedby,
        changed=True,
    )


class FrameCommands(DataCommands):
    def _h_frame(self, args: str, ctx: Ctx) -> None:
        text = args.strip()
        m = _PREFIX.match(text)
        if m is not None:
            self._frame_prefix(m.group(1), m.group(2), ctx)
            return
        word, rest = first_word(text)
        if word is None:
            if text:
                raise StataError(198, "invalid syntax")
            self._h_pwf("", ctx)
            return
        sub = _SUBCOMMANDS.get(word)
        if sub is None:
            raise StataError(199, f"frame {word}: unknown subcommand")
        getattr(self, f"_frame_{sub}")(rest.strip())

    def _h_pwf(self, args: str, ctx: Ctx) -> None:
        self.console.show(line(TXT, f"(current frame is {self.session.frame_name})"))

    def _h_cwf(self, args: str, ctx: Ctx) -> None:
        self._frame_change(args.strip())

    def _h_mkf(self, args: str, ctx: Ctx) -> None:
        self._frame_create(args.strip())

    # --- the prefix and the block ----------------------------------------------------------------

    def _frame_prefix(self, name: str, command: str | None, ctx: Ctx) -> None:
        """Run one command (or a `{` block) with `name` current, then return to the caller's."""
        self._existing(name)
        before = self.session.frame_name
        self.session.switch_frame(name)
        try:
            self._statement("{" if command is None else command.strip(), ctx, expanded=True)
        finally:
            if self.session.has_frame(before):
                self.session.switch_frame(before)

    # --- subcommands -----------------------------------------------------------------------------

    def _frame_put(self, rest: str) -> None:
        q = qualifiers(rest)
        into = options(q.options).get("into")
        if not into:
            raise StataError(198, "option into() required")
        self._new_frame_name(into)
        if not q.main and q.if_exp is None and q.in_range is None:
            raise StataError(100, "varlist required")
        chosen = self.data.varlist(q.main)
        self.session.parked[into] = subset(self.data, chosen, self.select(q))

    def _frame_create(self, rest: str) -> None:
        words = rest.split()
        if len(words) != 1:
            raise StataError(198, "invalid syntax")
        self._new_frame_name(words[0])
        self.session.parked[words[0]] = Dataset()

    def _frame_change(self, rest: str) -> None:
        words = rest.split()
        if len(words) != 1:
            raise StataError(198, "invalid syntax")
        self._existing(words[0])
        self.session.switch_frame(words[0])

    def _frame_copy(self, rest: str) -> None:
        body, _, opt_text = rest.partition(",")
        words = body.split()
        if len(words) != 2:
            raise StataError(198, "invalid syntax")
        source, target = words
        self._existing(source)
        if target == self.session.frame_name:
            raise StataError(110, f"frame {target} is the current frame")  # guessed wording
        if "replace" not in options(opt_text):
            self._new_frame_name(target)
        data = self.data if source == self.session.frame_name else self.session.parked[source]
        self.session.parked[target] = subset(data, data.variables, list(range(data.nobs)))

    def _frame_rename(self, rest: str) -> None:
        words = rest.split()
        if len(words) != 2:
            raise StataError(198, "invalid syntax")
        old, new = words
        self._existing(old)
        self._new_frame_name(new)
        if old == self.session.frame_name:
            self.session.frame_name = new
        else:
            self.session.parked[new] = self.session.parked.pop(old)

    def _frame_drop(self, rest: str) -> None:
        names = rest.split()
        if not names:
            raise StataError(198, "invalid syntax")
        for name in names:
            self._existing(name)
            if name == self.session.frame_name:
                raise StataError(110, "cannot drop current frame")  # guessed wording
        for name in names:
            del self.session.parked[name]

    def _frame_dir(self, rest: str) -> None:
        names = self.session.frame_names()
        width = max(len(n) for n in names)
        for name in names:
            data = self.data if name == self.session.frame_name else self.session.parked[name]
            size = f"{data.nobs} x {len(data.variables)}"
            tail = f"; {data.label}" if data.label else ""
            self.console.show(line(TXT, f"  {name:<{width}}  {size}{tail}"))
        self._set_r({}, {"frames": " ".join(names)})

    # --- checks ----------------------------------------------------------------------------------

    def _existing(self, name: str) -> None:
        if not self.session.has_frame(name):
            raise StataError(111, f"frame {name} not found")

    def _new_frame_name(self, name: str) -> None:
        if not new_name_ok(name):
            raise StataError(198, f"{name} invalid name")
        if self.session.has_frame(name):
            raise StataError(110, f"frame {name} already defined")
