"""Estimation and matrices: regress (OLS, Stata's tables, e() results), matrix list/define."""

from __future__ import annotations

import dataclasses
import re

from . import fvars, stats
from .core import Ctx
from .datacmds import DataCommands
from .errors import StataError
from .lines import BLANK, RES, TXT, Line, Seg
from .qualifiers import qualifiers
from .syntax import first_word
from .valfmt import gfit, sig

_WIDE = "-" * 78
_MISSING = 8.98846567431158e307
_LEFT = "-------------+"


def _with_omitted(fit: stats.Ols, omitted: list[bool]) -> stats.Ols:
    """The fit with a zero coefficient and zero variance at each omitted (base) column."""
    where = [k for k, gone in enumerate(omitted) if not gone] + [len(omitted)]  # _cons last
    size = len(omitted) + 1
    b = [0.0] * size
    V = [[0.0] * size for _ in range(size)]
    for i, at in enumerate(where):
        b[at] = fit.b[i]
        for j, to in enumerate(where):
            V[at][to] = fit.V[i][j]
    return dataclasses.replace(fit, b=tuple(b), V=tuple(tuple(row) for row in V))


class EstimationCommands(DataCommands):
    def _h_regress(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        if not self.data.variables:
            raise StataError(111, "no variables defined")
        words = q.main.split()
        if not words:
            raise StataError(100, "varlist required")
        depvar = self.data.varlist(words[0], default_all=False)[0]
        terms = fvars.parse_terms(words[1:], self.data)
        chosen = [depvar, *fvars.variables_of(terms)]
        if any(v.is_str for v in chosen):
            bad = next(v for v in chosen if v.is_str)
            raise StataError(109, f"{bad.name}:  string variable not allowed")  # not in corpus
        rows = [i for i in self.select(q) if all(isinstance(v.values[i], float) for v in chosen)]
        cols = fvars.columns(terms, rows)
        y = [depvar.values[i] for i in rows]
        kept = [c for c in cols if not c.omitted]
        fit = stats.ols(y, [[c.value(i) for i in rows] for c in kept])  # type: ignore[arg-type]
        fit = _with_omitted(fit, [c.omitted for c in cols])
        names = [c.name for c in cols] + ["_cons"]
        self._post(fit, depvar.name, names, "regress " + args.strip())
        self.session.e.sample.extend(rows)
        self._show_anova(fit)
        self._show_coefs(fit, depvar.name, names, cols)

    def _post(self, fit: stats.Ols, depvar: str, names: list[str], cmdline: str) -> None:
        e = self.session.e
        e.clear()
        e.builtin = True
        e.scalars.update(
            {
                "N": float(fit.N),
                "df_m": float(fit.df_m),
                "df_r": float(fit.df_r),
                "F": fit.F,
                "r2": fit.r2,
                "rmse": fit.rmse,
                "mss": fit.mss,
                "rss": fit.rss,
                "r2_a": fit.r2_a,
                "ll": fit.ll,
                "ll_0": fit.ll_0,
                "rank": float(fit.df_m + 1),
            }
        )
        e.macros.update(
            {
                "cmdline": cmdline,
                "title": "Linear regression",
                "marginsok": "XB default",
                "vce": "ols",
                "depvar": depvar,
                "cmd": "regress",
                "properties": "b V",
                "predict": "regres_p",
                "model": "ols",
                "estat_cmd": "regress_estat",
            }
        )
        e.matrices["b"] = [list(fit.b)]
        e.names["b"] = (["y1"], list(names))
        e.matrices["V"] = [list(row) for row in fit.V]
        e.names["V"] = (list(names), list(names))
        e.functions.append("sample")
        crit = stats.invttail(fit.df_r, 0.025)
        table: list[list[float]] = [[] for _ in range(9)]
        for k, b in enumerate(fit.b):
            se = fit.V[k][k] ** 0.5
            if se:
                t = b / se
                col = [b, se, t, stats.ttail2(fit.df_r, t), b - crit * se, b + crit * se]
            else:  # a base or omitted column: Stata leaves t, p and the interval missing
                col = [b, se, _MISSING, _MISSING, _MISSING, _MISSING]
            for r, v in enumerate([*col, float(fit.df_r), crit, 0.0]):
                table[r].append(v)
        self._set_r({"level": 95.0})
        self.session.r.matrices["table"] = table
        rownames = ["b", "se", "t", "pvalue", "ll", "ul", "df", "crit", "eform"]
        self.session.r.names["table"] = (rownames, list(names))

    def _show_anova(self, fit: stats.Ols) -> None:
        right = [
            ("Number of obs", f"{fit.N:,}"),
            (f"F({fit.df_m}, {fit.df_r})", f"{fit.F:.2f}"),
            ("Prob > F", f"{stats.ftail(fit.df_m, fit.df_r, fit.F):.4f}"),
            ("R-squared", f"{fit.r2:.4f}"),
            ("Adj R-squared", f"{fit.r2_a:.4f}"),
            ("Root MSE", sig(fit.rmse, 5)),
        ]
        rows = [
            "      Source |       SS           df       MS   ",
            _LEFT + "-" * 34,
            self._anova_row("Model", fit.mss, fit.df_m),
            self._anova_row("Residual", fit.rss, fit.df_r),
            _LEFT + "-" * 34,
            self._anova_row("Total", fit.tss, fit.N - 1),
        ]
        self.console.show(BLANK)
        for left, (label, value) in zip(rows, right, strict=True):
            self.console.show(Line((Seg(TXT, f"{left}   {label:<16}="), Seg(RES, f"{value:>10}"))))
        self.console.show(BLANK)

    @staticmethod
    def _anova_row(name: str, ss: float, df: int) -> str:
        ms = ss / df if df else None
        return f"{name:>12} | {gfit(ss, 10):>11}{df:>10}{gfit(ms, 10):>12}"

    def _show_coefs(
        self, fit: stats.Ols, depvar: str, names: list[str], cols: list[fvars.Column]
    ) -> None:
        crit = stats.invttail(fit.df_r, 0.025)
        show = self.console.show
        show(Line((Seg(TXT, _WIDE),)))
        show(
            Line(
                (
                    Seg(TXT, f"{depvar[:12]:>12} | Coefficient  Std. err.      t    P>|t|"),
                    Seg(TXT, "     [95% conf. interval]"),
                )
            )
        )
        show(Line((Seg(TXT, _LEFT + "-" * 64),)))
        previous: fvars.Term | None = None
        for k, name in enumerate(names):
            col = cols[k] if k < len(cols) else None
            if col is not None and col.term.is_factor:
                if col.term is not previous:  # a factor's block: a blank row, then its name
                    label = "#".join(
                        e.var.name if e.factor else f"c.{e.var.name}" for e in col.term.elements
                    )
                    show(Line((Seg(TXT, f"{'':>12} |"),)))
                    if len(label) > 12 and "#" in label:  # `foreign#|` over `c.mpg |`
                        head, _, tail = label.partition("#")
                        show(Line((Seg(TXT, f"{head[:12]:>12}#|"),)))
                        show(Line((Seg(TXT, f"{tail[:12]:>12} |"),)))
                    else:
                        show(Line((Seg(TXT, f"{label[:12]:>12} |"),)))
                previous = col.term
                if col.omitted:  # base levels are not shown (set showbaselevels off)
                    continue
                factor = next(e.var for e in col.term.elements if e.factor)
                text = self.data.label_of(factor, float(col.level or 0)) or str(col.level)
                row_label = f"{text[:11]:>11} "
            else:
                if previous is not None and previous.is_factor:
                    show(Line((Seg(TXT, f"{'':>12} |"),)))
                previous = col.term if col is not None else None
                row_label = f"{name[:12]:>12}"
            b = fit.b[k]
            se = fit.V[k][k] ** 0.5
            t = b / se if se else 0.0
            p = stats.ttail2(fit.df_r, t)
            cells = (
                f"{gfit(b, 8):>11}{gfit(se, 8):>11}{t:>9.2f}{p:>8.3f}"
                f"{gfit(b - crit * se, 8):>13}{gfit(b + crit * se, 8):>12}"
            )
            show(Line((Seg(TXT, f"{row_label} |"), Seg(RES, cells))))
        show(Line((Seg(TXT, _WIDE),)))

    # --- matrices --------------------------------------------------------------------------------

    def _matrix_lookup(self, ref: str) -> tuple[list[list[float]], list[str], list[str]]:
        m = re.fullmatch(r"([res])\((\w+)\)", ref.strip())
        if m is not None:
            res = self.session.results(m.group(1))
            if m.group(2) not in res.matrices:
                raise StataError(111, f"matrix {ref.strip()} not found")
            mat = res.matrices[m.group(2)]
            rows, cols = res.names.get(m.group(2), ([], []))
        else:
            name = ref.strip()
            if name not in self.session.matrices:
                raise StataError(111, f"matrix {name} not found")
            mat = self.session.matrices[name]
            rows, cols = self.session.matrix_names.get(name, ([], []))
        rows = rows or [f"r{i + 1}" for i in range(len(mat))]
        cols = cols or [f"c{j + 1}" for j in range(len(mat[0]) if mat else 0)]
        return mat, rows, cols

    def _h_matrix(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        if word in ("list", "l", "li", "lis"):
            self._matrix_list(rest.split(",")[0].strip())
            return
        if word in ("drop", "dir"):
            if word == "drop":
                for name in rest.split():
                    self.session.matrices.pop(name, None)
                    self.session.matrix_names.pop(name, None)
            else:
                for name, mat in self.session.matrices.items():
                    self.console.show(
                        Line((Seg(TXT, f"{name:>12}[{len(mat)},{len(mat[0]) if mat else 0}]"),))
                    )
            return
        spec = rest if word in ("define", "def", "de", "defi", "defin") else args
        m = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*(.*)$", spec, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        name, value = m.group(1), m.group(2).strip()
        if value.startswith("("):
            body = value.strip()[1:-1]
            mat = [[self._matrix_cell(c) for c in r.split(",")] for r in body.split("\\")]
            if len({len(r) for r in mat}) != 1:
                raise StataError(503, "conformability error")
            self.session.matrices[name] = mat
            self.session.matrix_names.pop(name, None)
            return
        mat, rows, cols = self._matrix_lookup(value)
        self.session.matrices[name] = [list(r) for r in mat]
        self.session.matrix_names[name] = (list(rows), list(cols))

    def _matrix_cell(self, text: str) -> float:
        v = self.eval(text)
        if isinstance(v, str):
            raise StataError(109, "type mismatch")
        return 8.98846567431158e307 if v is None else v

    def _matrix_list(self, ref: str) -> None:
        mat, rows, cols = self._matrix_lookup(ref)
        n, k = len(mat), len(mat[0]) if mat else 0
        symmetric = (
            n == k
            and n > 1
            and rows == cols
            and all(mat[i][j] == mat[j][i] for i in range(n) for j in range(i))
        )
        self.console.show(BLANK)
        title = f"{ref.strip()}[{n},{k}]"
        self.console.show(Line((Seg(TXT, ("symmetric " if symmetric else "") + title),)))
        lw = max(len(r) for r in rows) if rows else 0
        self.console.show(Line((Seg(TXT, " " * lw + "".join(f"{c:>12}" for c in cols)),)))
        for i, rname in enumerate(rows):
            upto = i + 1 if symmetric else k
            cells = "".join(f"{gfit(mat[i][j], 9):>12}" for j in range(upto))
            self.console.show(Line((Seg(TXT, f"{rname:<{lw}}"), Seg(RES, cells))))
