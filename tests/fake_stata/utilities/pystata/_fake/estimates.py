"""Stored estimation results: `estimates store/restore/dir/drop/clear`, `_estimates hold/unhold`,
`_return hold/restore/drop`, and the matrix-stripe macro functions (`: colfullnames e(b)`).

As in Stata: `estimates store` needs active results (r(301) otherwise) and marks them with
e(_estimates_name); `estimates restore` makes a copy active; `estimates dir` leaves the names in
r(names); `_estimates hold name, nullok` holds even no results, and unhold brings back exactly
what was held (none included). The printed `estimates dir` table is approximate.
"""

from __future__ import annotations

from .core import Ctx
from .dataset import Variable, new_name_ok
from .datacmds import DataCommands
from .errors import StataError
from .lines import BLANK, TXT, Line, Seg
from .qualifiers import qualifiers
from .state import Results
from .syntax import first_word

_NO_ESTIMATES = "last estimates not found"


class StoredEstimates(DataCommands):
    def _h_estimates(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        rest = rest.split(",")[0].strip()
        if word in ("store", "sto", "stor"):
            self._estimates_store(rest)
        elif word in ("restore", "res", "rest", "resto", "restor"):
            self._estimates_restore(rest)
        elif word in ("dir", "di"):
            self._estimates_dir(rest)
        elif word in ("drop",):
            self._estimates_drop(rest)
        elif word in ("clear",):
            if self.session.estimates:
                self._estimates_drop("_all")
        else:
            raise StataError(198, f"estimates {word} not known to the fake")

    def _active(self) -> bool:
        e = self.session.e
        return bool(e.macros.get("cmd") or e.matrices.get("b"))

    def _estimates_store(self, name: str) -> None:
        if len(name.split()) != 1:
            raise StataError(198, "invalid syntax")
        if not new_name_ok(name) or name == "_all":
            raise StataError(198, f"{name} invalid name")
        if not self._active():
            raise StataError(301, _NO_ESTIMATES)
        self.session.e.macros["_estimates_name"] = name
        self.session.estimates.pop(name, None)
        self.session.estimates[name] = self.session.e.copy()
        self._mark_sample(name, self.session.e.sample)

    def _mark_sample(self, name: str, rows: list[int]) -> None:
        """Stata keeps a stored model's e(sample) in the data, as the byte variable _est_name."""
        data = self.data
        marker = f"_est_{name}"
        if not data.variables or not rows or max(rows) >= data.nobs:
            return
        chosen = set(rows)
        values: list[float | str | None] = [1.0 if i in chosen else 0.0 for i in range(data.nobs)]
        existing = data.get(marker)
        if existing is not None:
            existing.values = values
            return
        data.variables.append(Variable(marker, "byte", values, "%8.0g"))

    def _estimates_restore(self, name: str) -> None:
        stored = self.session.estimates.get(name)
        if stored is None:
            raise StataError(111, f"estimation result {name} not found")
        self._set_e(stored.copy())

    def _set_e(self, results: Results) -> None:
        e = self.session.e
        e.clear()
        e.scalars.update(results.scalars)
        e.macros.update(results.macros)
        e.matrices.update(results.matrices)
        e.names.update(results.names)
        e.functions.extend(results.functions)
        e.builtin = results.builtin

    def _chosen(self, names: str) -> list[str]:
        stored = self.session.estimates
        if not names or names in ("_all", "*"):
            return list(stored)
        for name in names.split():
            if name not in stored:
                raise StataError(111, f"estimation result {name} not found")
        return names.split()

    def _estimates_dir(self, names: str) -> None:
        chosen = self._chosen(names)
        self._set_r({}, {"names": " ".join(chosen)} if chosen else {})
        show = self.console.show
        rule = "-" * 13 + "+" + "-" * 52
        show(BLANK)
        show(Line((Seg(TXT, "-" * 66),)))
        show(Line((Seg(TXT, f"{'':>12} |           Dependent  Number of"),)))
        show(Line((Seg(TXT, f"{'Name':>12} | Command    variable     param.  Title"),)))
        show(Line((Seg(TXT, rule),)))
        for name in chosen:
            e = self.session.estimates[name]
            b = e.matrices.get("b") or [[]]
            cells = (
                f"{e.macros.get('cmd', ''):<9}{e.macros.get('depvar', ''):>10}"
                f"{len(b[0]):>11}  {e.macros.get('title', '')}"
            )
            show(Line((Seg(TXT, f"{name[:12]:>12} | {cells}"),)))
        show(Line((Seg(TXT, "-" * 66),)))

    def _estimates_drop(self, names: str) -> None:
        if not names:
            raise StataError(198, "nothing to drop")
        for name in self._chosen(names):
            self.session.estimates.pop(name, None)
            marker = f"_est_{name}"  # its e(sample) variable goes with it
            self.data.variables = [v for v in self.data.variables if v.name != marker]

    # --- programmers' holds --------------------------------------------------------------------

    def _h_underscore_estimates(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        word, rest = first_word(q.main)
        name = rest.strip()
        opts = q.options.split()
        if word == "hold":
            if not new_name_ok(name):
                raise StataError(198, "invalid syntax")
            if name in self.session.held_e:
                raise StataError(110, f"estimation results {name} already exist")
            if not self._active() and "nullok" not in opts:
                raise StataError(301, _NO_ESTIMATES)
            self.session.held_e[name] = self.session.e.copy()
            if "copy" not in opts:
                self.session.e.clear()
        elif word == "unhold":
            held = self.session.held_e.pop(name, None)
            if held is None:
                raise StataError(111, f"estimation results {name} not found")
            self._set_e(held)
        elif word == "dir":
            self._set_r({}, {"names": " ".join(self.session.held_e)})
        else:
            raise StataError(198, f"_estimates {word} not known to the fake")

    # --- `: rownames r(table)`, `: colfullnames e(b)`, `: coleq e(b)` ----------------------------

    def _matrix_stripe(self, axis: str, part: str, ref: str) -> str:
        mat, rows, cols = self._matrix_lookup(ref)  # type: ignore[attr-defined]
        names = rows if axis == "row" else cols
        out = []
        for full in names:
            eq, _, name = full.rpartition(":")
            if part == "fullnames":
                out.append(full)
            elif part == "names":
                out.append(name)
            else:
                out.append(eq or "_")
        return " ".join(out)

