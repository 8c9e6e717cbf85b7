"""Data commands: sysuse, set obs, generate/replace, drop/keep, label, describe, summarize, list,
count; expressions are evaluated observation by observation."""

from __future__ import annotations

import math
import re

from . import expr as ex
from .core import Core, Ctx
from .dataset import (
    NUMERIC_TYPES,
    SYSUSE,
    Cell,
    Dataset,
    Variable,
    load_auto,
    new_name_ok,
)
from .errors import StataError
from .lines import BLANK, RES, TXT, Line, Seg, line
from .macros import strip_quotes
from .qualifiers import Qualified, obs_range, qualifiers
from .syntax import first_word, options
from .valfmt import fmt_value, gfit, right_aligned


class ObsEnv:
    """Names in an expression at one observation: variables (abbreviable), _n, _N, scalars."""

    def __init__(self, core: Core, obs: int) -> None:
        self.core = core
        self.obs = obs

    def name(self, name: str) -> ex.Value:
        data = self.core.session.data
        if name == "_n":
            return float(self.obs + 1)
        if name == "_N":
            return float(data.nobs)
        if name in ("_pi", "_rc") or (name in self.core.session.scalars and data.get(name) is None):
            return self.core.name(name)
        try:
            var = data.find(name)
        except StataError:
            return self.core.name(name)
        return var.values[self.obs]

    def ref(self, kind: str, name: str) -> ex.Value:
        return self.core.ref(kind, name)

    def scalar(self, name: str) -> ex.Value:
        return self.core.scalar(name)


def abbrev(name: str, width: int) -> str:
    """Stata's abbreviation of a long name in a table: the start, `~`, the last character."""
    return name if len(name) <= width else name[: width - 2] + "~" + name[-1]


def var_width(var: Variable) -> int:
    if var.is_str:
        return int(var.vtype[3:] or 1)
    return {"byte": 1, "int": 2, "long": 4, "float": 4, "double": 8}[var.vtype]


class DataCommands(Core):
    # --- helpers ---------------------------------------------------------------------------------

    @property
    def data(self) -> Dataset:
        return self.session.data

    def eval_at(self, text: str, obs: int) -> ex.Value:
        return ex.evaluate(text, ObsEnv(self, obs))

    def select(self, q: Qualified) -> list[int]:
        """The observations an `if`/`in` qualifier keeps."""
        rows = obs_range(q.in_range, self.data.nobs) if q.in_range else range(self.data.nobs)
        if q.if_exp is None:
            return list(rows)
        return [i for i in rows if ex.truth(self.eval_at(q.if_exp, i))]

    def _txt(self, text: str) -> None:
        self.console.show(line(TXT, text))

    def _note(self, text: str) -> None:
        self.console.show(line(TXT, text))

    def _rule(self) -> str:
        return "-" * (self.session.linesize - 1)

    def _set_r(
        self, scalars: dict[str, float | None], macros: dict[str, str] | None = None
    ) -> None:
        r = self.session.r
        r.clear()
        r.builtin = True
        r.scalars.update(scalars)
        r.macros.update(macros or {})

    # --- loading and clearing --------------------------------------------------------------------

    def _h_sysuse(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        name = strip_quotes(q.main)
        if name.endswith(".dta"):
            name = name[:-4]
        if name in ("dir", ""):
            self._txt("  auto.dta")
            return
        if self.data.changed and "clear" not in options(q.options):
            raise StataError(4, "no; dataset in memory has changed since last saved")
        if name not in SYSUSE:
            raise StataError(601, f'file "{name}.dta" not found')
        self.session.data = load_auto(self.session.sysdir_base)
        self._txt(f"({SYSUSE[name]})")

    def clear_data(self) -> None:
        self.session.data = Dataset()

    # --- creating and changing variables ---------------------------------------------------------

    def _h_generate(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        m = re.match(
            r"(?:(byte|int|long|float|double|str\d*)\s+)?([A-Za-z_]\w*)\s*=(.*)$", q.main, re.S
        )
        if m is None:
            raise StataError(198, "invalid syntax")
        vtype, name, exp = m.group(1), m.group(2), m.group(3).strip()
        if not exp:
            raise StataError(198, "invalid syntax")
        if not new_name_ok(name):
            raise StataError(198, f"{name} invalid name")
        if self.data.get(name) is not None:
            raise StataError(110, f"variable {name} already defined")
        keep = set(self.select(q))
        values = [self.eval_at(exp, i) if i in keep else None for i in range(self.data.nobs)]
        is_str = any(isinstance(v, str) for v in values) or (
            self.data.nobs == 0 and exp.startswith('"')
        )
        if is_str:
            if vtype and not vtype.startswith("str"):
                raise StataError(109, "type mismatch")
            texts = [v if isinstance(v, str) else "" for v in values]
            vtype = vtype or f"str{max(1, *(len(t.encode('utf-8')) for t in texts))}"
            self.data.add(Variable(name, vtype, texts))
            return
        if vtype and vtype.startswith("str"):
            raise StataError(109, "type mismatch")
        var = Variable(name, vtype or "float", [None] * self.data.nobs)
        for i, v in enumerate(values):
            var.store(i, v)
        self.data.add(var)
        missing = sum(1 for v in var.values if v is None)
        if missing:
            word = "value" if missing == 1 else "values"
            self._note(f"({missing:,} missing {word} generated)")

    def _h_replace(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        m = re.match(r"([A-Za-z_]\w*)\s*=(.*)$", q.main, re.S)
        if m is None or not m.group(2).strip():
            raise StataError(198, "invalid syntax")
        var = self.data.find(m.group(1))
        if var.name != m.group(1):
            raise StataError(111, f"variable {m.group(1)} not found")
        rows = self.select(q)
        new = {i: self.eval_at(m.group(2), i) for i in rows}
        if any(isinstance(v, str) != var.is_str for v in new.values()):
            raise StataError(109, "type mismatch")
        if var.vtype in ("byte", "int", "long") and any(
            isinstance(v, float) and v != int(v) for v in new.values()
        ):
            self._note(f"variable {var.name} was {var.vtype} now float")
            var.vtype = "float"
        if var.is_str:
            width = max([len(str(v).encode("utf-8")) for v in new.values()] + [0])
            if width > int(var.vtype[3:] or 1):
                self._note(f"variable {var.name} was {var.vtype} now str{width}")
                var.vtype = f"str{width}"
        changed = to_missing = 0
        for i, v in new.items():
            before = var.values[i]
            var.store(i, v)
            if var.values[i] != before:
                changed += 1
                to_missing += var.values[i] is None
        if changed:
            self.data.changed = True
            if var.name in self.data.sortedby:  # the order from this key on no longer holds
                self.data.sortedby = self.data.sortedby[: self.data.sortedby.index(var.name)]
        word = "change" if changed == 1 else "changes"
        tail = f", {to_missing:,} to missing" if to_missing else ""
        self._note(f"({changed:,} real {word} made{tail})")

    def _h_drop(self, args: str, ctx: Ctx) -> None:
        self._drop_keep(args, keep=False)

    def _h_keep(self, args: str, ctx: Ctx) -> None:
        self._drop_keep(args, keep=True)

    def _drop_keep(self, args: str, *, keep: bool) -> None:
        q = qualifiers(args)
        if q.main:
            if q.if_exp or q.in_range:
                raise StataError(198, "invalid syntax")
            chosen = {v.name for v in self.data.varlist(q.main, default_all=False)}
            names = [n for n in self.data.names if (n in chosen) != keep]
            self.data.drop_vars(names)
            return
        if q.if_exp is None and q.in_range is None:
            raise StataError(100, "varlist required")
        chosen_obs = set(self.select(q))
        kept = [i for i in range(self.data.nobs) if (i in chosen_obs) == keep]
        deleted = self.data.nobs - len(kept)
        self.data.keep_obs(kept)
        word = "observation" if deleted == 1 else "observations"
        self._note(f"({deleted:,} {word} deleted)")

    def _h_sort(self, args: str, ctx: Ctx) -> None:
        """`sort varlist [in]`: ascending and stable; numeric missing sorts last, as in Stata."""
        q = qualifiers(args)
        chosen = self.data.varlist(q.main, default_all=False)

        def key(i: int) -> tuple[tuple[int, float | str], ...]:
            out: list[tuple[int, float | str]] = []
            for var in chosen:
                value = var.values[i]
                out.append((1, 0.0) if value is None else (0, value))
            return tuple(out)

        order = sorted(range(self.data.nobs), key=key)
        names = [v.name for v in chosen]
        if order != list(range(self.data.nobs)) or names != self.data.sortedby:
            for var in self.data.variables:
                var.values = [var.values[i] for i in order]
            self.data.changed = True
        self.data.sortedby = names

    def _set_obs(self, value: str) -> None:
        try:
            n = int(float(value.replace(",", "")))
        except ValueError:
            raise StataError(198, "invalid syntax") from None
        if n < self.data.nobs:
            raise StataError(198, f"obs must be between {self.data.nobs:,} and 2,147,483,619")
        before = self.data.nobs
        if n > before:
            self.data.set_obs(n)
        self._note(f"Number of observations (_N) was {before:,}, now {n:,}.")

    # --- labels ----------------------------------------------------------------------------------

    def _h_label(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        rest = rest.strip()
        if word in ("variable", "var", "vari", "varia", "variab", "variabl"):
            m = re.match(r"(\w+)\s*(.*)$", rest, re.S)
            if m is None:
                raise StataError(198, "invalid syntax")
            var = self.data.find(m.group(1))
            text = strip_quotes(m.group(2).strip())
            if len(text) > 80:
                self._note("note: label truncated to 80 characters")
                text = text[:80]
            var.label = text
            self.data.changed = True
        elif word in ("define", "de", "def", "defi", "defin"):
            self._label_define(rest)
        elif word in ("values", "val", "valu", "value"):
            parts = rest.split()
            if not parts:
                raise StataError(198, "invalid syntax")
            *names, lab = parts if len(parts) > 1 else (*parts, ".")
            for var in self.data.varlist(" ".join(names), default_all=False):
                if var.is_str:
                    raise StataError(181, "may not label strings")
                var.vallab = "" if lab == "." else lab
            self.data.changed = True
        elif word in ("list", "l", "li", "lis"):
            for name in rest.split() or sorted(self.data.value_labels):
                if name not in self.data.value_labels:
                    raise StataError(111, f"value label {name} not found")
                self._txt(f"{name}:")
                for value, text in sorted(self.data.value_labels[name].items()):
                    self._txt(f"{value:>12} {text}")
        elif word == "drop":
            for name in rest.split():
                if name == "_all":
                    self.data.value_labels.clear()
                elif self.data.value_labels.pop(name, None) is None:
                    raise StataError(111, f"value label {name} not found")
        elif word in ("data", "da", "dat"):
            self.data.label = strip_quotes(rest)
            self.data.changed = True
        else:
            raise StataError(198, "invalid syntax")

    def _label_define(self, rest: str) -> None:
        body, opt_text = rest, ""
        if "," in rest and not rest.rstrip().endswith('"'):
            body, _, opt_text = rest.rpartition(",")
        opts = options(opt_text)
        m = re.match(r"(\w+)\s*(.*)$", body.strip(), re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        name = m.group(1)
        pairs = re.findall(r'(-?\d+)\s+(?:`"(.*?)"\'|"([^"]*)"|(\S+))', m.group(2))
        if not pairs:
            raise StataError(198, "invalid syntax")
        labels = self.data.value_labels.get(name)
        if labels is not None and not ({"add", "modify", "replace"} & set(opts)):
            raise StataError(110, f"label {name} already defined")
        if labels is None or "replace" in opts:
            labels = {}
        for value, a, b, c in pairs:
            key = int(value)
            if key in labels and "modify" not in opts:
                raise StataError(110, f"{key} already labeled")
            labels[key] = a or b or c
        self.data.value_labels[name] = labels
        self.data.changed = True

    # --- describe --------------------------------------------------------------------------------

    def _h_describe(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        data = self.data
        chosen = data.varlist(q.main) if q.main else list(data.variables)
        rule = self._rule()
        self.console.show(BLANK)
        if not q.main:
            head = f"Contains data from {data.filename}" if data.filename else "Contains data"
            self._txt(head)
            self._txt(f" Observations:{data.nobs:>14,}{'':18}{data.label}".rstrip())
            self._txt(f"    Variables:{len(data.variables):>14,}{'':18}{data.timestamp}".rstrip())
            if data.notes:
                self._txt(f"{'':46}(_dta has notes)")
        if chosen:
            if not q.main:
                self._txt(rule)
            self._txt("Variable      Storage   Display    Value")
            self._txt("    name         type    format    label      Variable label")
            self._txt(rule)
            for v in chosen:
                row = f"{abbrev(v.name, 15):<16}{v.vtype:<8}{v.fmt:<11}{v.vallab:<11}{v.label}"
                self._txt(row.rstrip())
            if not q.main:
                self._txt(rule)
        if not q.main:
            self._txt("Sorted by: " + " ".join(data.sortedby))
            if data.changed:
                self._txt("     Note: Dataset has changed since last saved.")
        macros = None
        if "varlist" in options(q.options):  # the programmer's option: the names described
            names = [v.name for v in chosen]
            macros = {"varlist": " ".join(names), "sortlist": " ".join(data.sortedby)}
        self._set_r(
            {
                "N": float(data.nobs),
                "k": float(len(data.variables)),
                "width": float(sum(var_width(v) for v in data.variables)),
                "changed": float(data.changed),
            },
            macros,
        )

    # --- summarize -------------------------------------------------------------------------------

    _SUM_RULE = "-------------+" + "-" * 57

    def _h_summarize(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        opts = options(q.options)
        chosen = self.data.varlist(q.main)
        rows = self.select(q)
        meanonly = any(k.startswith("mean") for k in opts)
        if not meanonly:
            self.console.show(BLANK)
            self._txt("    Variable |        Obs        Mean    Std. dev.       Min        Max")
            self._txt(self._SUM_RULE)
        stats: dict[str, float | None] = {"N": 0.0, "sum_w": 0.0, "sum": 0.0}
        for k, var in enumerate(chosen):
            if k and k % 5 == 0 and not meanonly:
                self._txt(self._SUM_RULE)
            xs = [] if var.is_str else [var.values[i] for i in rows]
            vals = [x for x in xs if isinstance(x, float)]
            stats = summary(vals, meanonly=meanonly)
            if meanonly:
                continue
            label = Seg(TXT, f"{abbrev(var.name, 12):>12} |")
            if not vals:
                self.console.show(Line((label, Seg(RES, f"{0:>11}"))))
                continue
            cells = (
                f"{len(vals):>11,}{gfit(stats['mean'], 8):>12}"
                f"{gfit(stats.get('sd'), 8):>12}"
                f"{gfit(stats['min'], 8):>11}{gfit(stats['max'], 8):>11}"
            )
            self.console.show(Line((label, Seg(RES, cells))))
        self._set_r(stats)

    # --- list ------------------------------------------------------------------------------------

    def _h_list(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        opts = options(q.options)
        chosen = self.data.varlist(q.main)
        rows = self.select(q)
        if not rows or not chosen:
            return
        sep = 5
        for key in ("separator", "sep", "sepa", "separ", "separa", "separat", "separato"):
            if key in opts:
                sep = int(opts[key] or 5)
        noobs = "noobs" in opts
        cols: list[tuple[str, list[str], bool]] = []
        for var in chosen:
            cells = [self._cell(var, var.values[i]) for i in rows]
            width = max([len(c) for c in cells] + [min(len(var.name), 8)])
            right = (not var.is_str) or right_aligned(var.fmt)
            cols.append((abbrev(var.name, width), cells, right))
        widths = [max(len(h), *(len(c) for c in cells)) for h, cells, _ in cols]

        def row(texts: list[str]) -> str:
            parts = [
                t.rjust(w) if right else t.ljust(w)
                for t, w, (_, _, right) in zip(texts, widths, cols, strict=True)
            ]
            return "| " + "   ".join(parts) + " |"

        inner = sum(widths) + 3 * (len(widths) - 1) + 2
        margin = "  " if noobs else "     "
        border = margin + "+" + "-" * inner + "+"
        divider = margin + "|" + "-" * inner + "|"
        self.console.show(BLANK)
        self._txt(border)
        self._txt(margin + row([h for h, _, _ in cols]))
        self._txt(divider)
        for k, i in enumerate(rows):
            if k and sep and k % sep == 0:
                self._txt(divider)
            obs = "" if noobs else f"{i + 1:>3}. "
            text = row([cells[k] for _, cells, _ in cols])
            self.console.show(Line((Seg(TXT, (obs or "  ") + text[:2]), Seg(RES, text[2:]))))
        self._txt(border)

    def _cell(self, var: Variable, value: Cell) -> str:
        labelled = self.data.label_of(var, value)
        if labelled is not None:
            return labelled
        return fmt_value(var.fmt, value)

    # --- count -----------------------------------------------------------------------------------

    def _h_count(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        if q.main:
            raise StataError(198, "varlist not allowed")
        n = len(self.select(q))
        self._set_r({"N": float(n)})
        self.console.show(line(RES, f"  {n:,}"))


    # --- contract --------------------------------------------------------------------------------

    def _h_contract(self, args: str, ctx: Ctx) -> None:
        """`contract varlist [if] [in] [, freq(name) nomiss]`: the data become one observation
        per combination of the variables (sorted by them) with its count; prints nothing."""
        q = qualifiers(args)
        opts = options(q.options)
        chosen = self.data.varlist(q.main, default_all=False)
        freq = opts.get("freq") or "_freq"
        self.session.rc = 0  # contract.ado 1.2.5: `capture confirm new variable _freq` first
        if self.data.get(freq) is not None or not new_name_ok(freq):
            if freq == "_freq":
                raise StataError(
                    110, "_freq already defined: use freq() option to specify frequency variable"
                )
            raise StataError(110, f"variable {freq} already defined")
        rows = self.select(q)
        if "nomiss" in opts:
            rows = [i for i in rows if all(_present(v, v.values[i]) for v in chosen)]
        if not rows:
            raise StataError(2000, "no observations")
        counts: dict[tuple[Cell, ...], int] = {}
        for i in rows:
            key = tuple(v.values[i] for v in chosen)
            counts[key] = counts.get(key, 0) + 1
        keys = sorted(counts, key=lambda k: tuple(_sort_key(c) for c in k))
        variables = [
            Variable(v.name, v.vtype, [k[j] for k in keys], v.fmt, v.label, v.vallab)
            for j, v in enumerate(chosen)
        ]
        # contract.ado: `gen long` the count, label it "Frequency", then `compress` it
        most = max(counts.values())
        vtype = "byte" if most <= 100 else "int" if most <= 32740 else "long"
        variables.append(
            Variable(freq, vtype, [float(counts[k]) for k in keys], label="Frequency")
        )
        kept = {v.vallab for v in chosen if v.vallab}
        self.session.data = Dataset(
            variables=variables,
            nobs=len(keys),
            value_labels={k: v for k, v in self.data.value_labels.items() if k in kept},
            label=self.data.label,
            sortedby=[v.name for v in chosen],
            changed=True,
        )


def summary(vals: list[float], *, meanonly: bool = False) -> dict[str, float | None]:
    """summarize's r(): N sum_w mean Var sd min max sum (in Stata's order)."""
    n = len(vals)
    if n == 0:
        return {"N": 0.0, "sum_w": 0.0, "sum": 0.0}
    total = math.fsum(vals)
    mean = total / n
    var = math.fsum((x - mean) ** 2 for x in vals) / (n - 1) if n > 1 else None
    out: dict[str, float | None] = {"N": float(n), "sum_w": float(n), "mean": mean}
    if not meanonly:
        out["Var"] = var
        out["sd"] = None if var is None else math.sqrt(var)
    out["min"] = min(vals)
    out["max"] = max(vals)
    out["sum"] = total
    return out


def _present(var: Variable, value: Cell) -> bool:
    return value != "" if var.is_str else value is not None


def _sort_key(value: Cell) -> tuple[int, float | bytes]:
    """Stata's order: numbers ascending with missing last; strings by their bytes."""
    if value is None:
        return (1, 0.0)
    if isinstance(value, str):
        return (0, value.encode("utf-8"))
    return (0, value)


__all__ = ["NUMERIC_TYPES", "DataCommands", "ObsEnv", "summary"]
