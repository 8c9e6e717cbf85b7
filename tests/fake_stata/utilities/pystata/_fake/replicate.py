"""Replication commands: `_dots`, `simulate` and `bootstrap`, their dots written as they happen.

`_dots` is StataCorp's `_dots.ado` 1.1.1 (01jul2016) line for line: the header `title (` as
result `reps` `)`, the ruler, `.` `s` `x` `e` `n` `?` by return code, `" " %5.0f i` after every
50th mark. `simulate` and `bootstrap` print what Stata 18 prints (FAKE_STATA_DOTS=ruled: what
Stata 17 and earlier print, the `_dots` shape): the legend or `(running … on estimation sample)`,
then `Simulations (1,000): .........10.........20 … done` — each mark reaches the log as it is
drawn, so the last line of the log grows until its newline.
"""

from __future__ import annotations

import copy
import math
import random

from .core import Core, Ctx
from .dataset import Dataset, Variable
from .errors import StataError
from .lines import ERR, INP, RES, TXT, Line, Seg, line
from .numfmt import general
from .syntax import first_word, options, split_options, split_top_level

RULER = "----+--- 1 ---+--- 2 ---+--- 3 ---+--- 4 ---+--- 5 "
_MARKS = {"0": (TXT, "."), "text": (TXT, "."), "result": (RES, "."), "input": (INP, ".")}
_MARKS |= {"-1": (TXT, "s"), "1": (ERR, "x"), "error": (ERR, "x"), "2": (ERR, "e")}
_MARKS |= {"3": (ERR, "n")}


def _split_colon(text: str) -> tuple[str, str] | None:
    """`prefix : command` at the first colon outside quotes and parentheses."""
    return split_top_level(text, ":")


def _exp_list(text: str, stem: str) -> list[tuple[str, str]]:
    """`m=r(mean) r(sd)` → [("m", "r(mean)"), ("_sim_2", "r(sd)")]."""
    items: list[str] = []
    depth = 0
    current = ""
    for c in text.strip():
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c.isspace() and depth == 0:
            if current:
                items.append(current)
            current = ""
            continue
        current += c
    if current:
        items.append(current)
    out: list[tuple[str, str]] = []
    for k, item in enumerate(items, start=1):
        name, eq, exp = item.partition("=")
        if eq and name.isidentifier():
            out.append((name, exp.strip("()") if exp.startswith("(") else exp))
        else:
            out.append((f"{stem}{k}", item))
    return out


def _g(x: float) -> str:
    """A table cell's %9.0g: seven significant digits."""
    return general(x, 7)


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class ReplicationCommands(Core):
    # --- _dots ---------------------------------------------------------------------------------

    def _h_dots(self, args: str, ctx: Ctx) -> None:
        what, opts = split_options(args)
        o = options(opts)
        words = what.split()
        i = words[0] if words else ""
        rc = words[1] if len(words) > 1 else ""
        dots = int(float(o.get("dots") or 1))
        if i == "0":
            title = o.get("title", "")
            reps = int(float(o.get("reps") or -1))
            if title and reps > 0:
                self.console.show(Line((Seg(TXT, f"{title} ("), Seg(RES, str(reps)), Seg(TXT, ")"))))
            elif title:
                self.console.show(line(TXT, title))
            if "nodots" not in o:
                self.console.show(line(TXT, RULER))
            return
        if not rc:  # `_dots i` ends a short last line; `_dots` alone is `di`
            if not i or int(float(i)) % (50 * dots) != 0:
                self._newline()
            return
        n = int(float(i))
        if n % dots:
            return
        self.console.stream((Seg(*_MARKS.get(rc, (ERR, "?"))),))
        if n % (50 * dots) == 0:
            self.console.stream((Seg(TXT, f" {n:5d}"),))
            self.console.end_stream()

    def _newline(self) -> None:
        if self.console._streaming:
            self.console.end_stream()
        else:
            self.console.show(line(TXT, ""))

    # --- simulate and bootstrap -------------------------------------------------------------------

    def _h_simulate(self, args: str, ctx: Ctx) -> None:
        prefix, command, items, o = self._prefix_command(args, "_sim_")
        reps = self._reps(o, None)
        self._seed(o)
        self.console.show(line(TXT, f"{'Command':>13}: {command}"))
        for name, exp in items:
            self.console.show(line(TXT, f"{name:>13}: {exp}"))
        self.console.blank()
        values = self._replications("Simulations", reps, o, command, items, resample=False)
        data = Dataset()
        for k, (name, _) in enumerate(items):
            data.variables.append(Variable(name, "float", [row[k] for row in values]))
        data.nobs = len(values)
        data.changed = True
        self.session.data = data

    def _observed(self, command: str, items: list[tuple[str, str]]) -> list[float | None]:
        """The statistics on the data as they are, before any replication, as Stata says."""
        if not self.session.data.nobs:
            raise StataError(2000, "no observations")
        word, _ = first_word(command)
        observed = self._once(command, items)
        if observed is None:
            raise StataError(self.session.rc or 498, "statistic could not be computed")
        self.console.show(line(TXT, f"(running {word} on estimation sample)"))
        self.console.blank()
        return observed

    def _h_bootstrap(self, args: str, ctx: Ctx) -> None:
        prefix, command, items, o = self._prefix_command(args, "_bs_")
        reps = self._reps(o, 50)
        self._seed(o)
        observed = self._observed(command, items)
        values = self._replications(
            "Bootstrap replications", reps, o, command, items, resample=True
        )
        self.console.blank()
        self._bootstrap_table(command, items, observed, values, reps)

    def _h_jackknife(self, args: str, ctx: Ctx) -> None:
        prefix, command, items, o = self._prefix_command(args, "_jk_")
        data = self.session.data
        observed = self._observed(command, items)
        values = self._replications(
            "Jackknife replications", data.nobs, o, command, items, resample=False, leave_out=True
        )
        self.console.blank()
        self._jackknife_table(command, items, observed, values)

    def _prefix_command(
        self, args: str, stem: str
    ) -> tuple[str, str, list[tuple[str, str]], dict[str, str]]:
        parts = _split_colon(args)
        if parts is None or not parts[1].strip():
            raise StataError(198, "invalid syntax")
        prefix, command = parts[0], parts[1].strip()
        what, opts = split_options(prefix)
        items = _exp_list(what, stem)
        if not items:
            raise StataError(198, "an expression list is required")
        return prefix, command, items, options(opts)

    @staticmethod
    def _reps(o: dict[str, str], default: int | None) -> int:
        raw = o.get("reps") or o.get("r") or ""
        if not raw:
            if default is None:
                raise StataError(198, "option reps() required")
            return default
        try:
            reps = int(float(raw))
        except ValueError:
            raise StataError(198, "invalid syntax") from None
        if reps < 1:
            raise StataError(198, "reps() must be a positive integer")
        return reps

    @staticmethod
    def _seed(o: dict[str, str]) -> None:
        if o.get("seed"):
            random.seed(int(float(o["seed"])))

    def _once(self, command: str, items: list[tuple[str, str]]) -> list[float | None] | None:
        """Run the command quietly; the statistics, or None when it failed."""
        with self.console.push(quiet=True, captured=True):
            try:
                self._statement(command, Ctx())
            except StataError as e:
                if e.rc == 1:
                    raise
                self.session.rc = e.rc
                return None
        out: list[float | None] = []
        for _, exp in items:
            try:
                v = self.eval(exp)
            except StataError:
                v = None
            out.append(v if isinstance(v, float) else None)
        return out

    def _replications(
        self,
        title: str,
        reps: int,
        o: dict[str, str],
        command: str,
        items: list[tuple[str, str]],
        *,
        resample: bool,
        leave_out: bool = False,
    ) -> list[list[float | None]]:
        dots = max(1, int(float(o.get("dots") or 1)))
        show = "nodots" not in o
        inline = self.console.knobs.dots != "ruled"
        if show and inline:
            self.console.stream((Seg(TXT, f"{title} ({reps:,}): "),))
        elif show:
            self.console.show(Line((Seg(TXT, f"{title} ("), Seg(RES, str(reps)), Seg(TXT, ")"))))
            self.console.show(line(TXT, RULER))
        values: list[list[float | None]] = []
        saved = self.session.data
        for i in range(1, reps + 1):
            self._check_break()
            if resample:
                self.session.data = _resampled(saved)
            elif leave_out:
                self.session.data = _without(saved, i - 1)
            try:
                got = self._once(command, items)
            except StataError as e:
                if e.rc == 1:  # a break inside the command: Stata shows it after the dots
                    self.console.show(line(ERR, "--Break--"), force=True)
                raise
            finally:
                self.session.data = saved
            rc = "1" if got is None else "2" if any(v is None for v in got) else "0"
            values.append(got or [None] * len(items))
            if not show or i % dots:
                continue
            if inline:
                shown = (TXT, str(i)) if (i // dots) % 10 == 0 else _MARKS[rc]
                self.console.stream((Seg(*shown),))
            else:
                self.console.stream((Seg(*_MARKS[rc]),))
                if i % (50 * dots) == 0:
                    self.console.stream((Seg(TXT, f" {i:5d}"),))
                    self.console.end_stream()
        if show and inline:
            self.console.stream((Seg(TXT, " done"),))
        self.console.end_stream()
        return values

    def _jackknife_table(
        self,
        command: str,
        items: list[tuple[str, str]],
        observed: list[float | None],
        values: list[list[float | None]],
    ) -> None:
        n = len(values)
        show = self.console.show
        rule = self._results_header("Jackknife results", n, command, items)
        show(line(TXT, f"{'':13}|              Jackknife"))
        show(line(TXT, f"{'':13}| Coefficient  std. err.      t    P>|t|     [95% conf. interval]"))
        show(line(TXT, "-" * 13 + "+" + "-" * 64))
        df = n - 1
        crit = _t_quantile(0.05, df) if df > 0 else 0.0
        for k, (name, _) in enumerate(items):
            obs = observed[k] or 0.0
            draws = [row[k] for row in values if row[k] is not None]
            m = len(draws)
            mean = sum(draws) / m if m else 0.0
            se = math.sqrt((m - 1) / m * sum((d - mean) ** 2 for d in draws)) if m > 1 else 0.0
            t = obs / se if se else None
            p = _t_tail(t, df) if t is not None and df > 0 else None
            cells = (
                f"{_g(obs):>11}{_g(se):>11}"
                + (f"{t:9.2f}{p:8.3f}" if t is not None and p is not None else f"{'.':>9}{'.':>8}")
                + f"{_g(obs - crit * se):>13}{_g(obs + crit * se):>12}"
            )
            show(Line((Seg(TXT, f"{name:>12} |"), Seg(RES, cells))))
        show(line(TXT, rule))

    def _results_header(
        self, title: str, reps: int, command: str, items: list[tuple[str, str]]
    ) -> str:
        """The lines above a replication table, as Stata prints them; returns the rule."""
        show = self.console.show
        show(line(TXT, f"{title:<52}Number of obs = {self.session.data.nobs:>10,}"))
        show(line(TXT, f"{'':<52}Replications  = {reps:>10,}"))
        self.console.blank()
        show(line(TXT, f"{'Command':>13}: {command}"))
        for name, exp in items:
            show(line(TXT, f"{name:>13}: {exp}"))
        self.console.blank()
        rule = "-" * 78
        show(line(TXT, rule))
        return rule

    def _bootstrap_table(
        self,
        command: str,
        items: list[tuple[str, str]],
        observed: list[float | None],
        values: list[list[float | None]],
        reps: int,
    ) -> None:
        complete = [row for row in values if all(v is not None for v in row)]
        show = self.console.show
        rule = self._results_header("Bootstrap results", len(complete), command, items)
        show(line(TXT, f"{'':13}|   Observed   Bootstrap                         Normal-based"))
        show(line(TXT, f"{'':13}| coefficient  std. err.      z    P>|z|     [95% conf. interval]"))
        show(line(TXT, "-" * 13 + "+" + "-" * 64))
        for k, (name, _) in enumerate(items):
            obs = observed[k] or 0.0
            draws = [row[k] for row in complete if row[k] is not None]
            n = len(draws)
            mean = sum(draws) / n if n else 0.0
            se = math.sqrt(sum((d - mean) ** 2 for d in draws) / (n - 1)) if n > 1 else 0.0
            z = obs / se if se else None
            p = 2 * (1 - _phi(abs(z))) if z is not None else None
            lo, hi = obs - 1.959964 * se, obs + 1.959964 * se
            cells = (
                f"{_g(obs):>11}{_g(se):>11}"
                + (f"{z:9.2f}{p:8.3f}" if z is not None and p is not None else f"{'.':>9}{'.':>8}")
                + f"{_g(lo):>13}{_g(hi):>12}"
            )
            show(Line((Seg(TXT, f"{name:>12} |"), Seg(RES, cells))))
        show(line(TXT, rule))
        failed = reps - len(complete)
        if failed:
            show(
                line(
                    TXT,
                    "Note: One or more parameters could not be estimated in "
                    f"{failed:,} bootstrap replicate{'s' if failed > 1 else ''};",
                )
            )
            show(line(TXT, "      standard-error estimates include only complete replications."))
        e = self.session.e
        e.clear()
        e.scalars.update({"N": float(self.session.data.nobs), "N_reps": float(len(complete))})
        e.macros.update({"cmd": "bootstrap", "prefix": "bootstrap", "command": command})


def _without(data: Dataset, obs: int) -> Dataset:
    """The data without one observation: a jackknife replication."""
    out = copy.copy(data)
    out.variables = [copy.copy(var) for var in data.variables]
    for var in out.variables:
        var.values = var.values[:obs] + var.values[obs + 1 :]
    out.nobs = data.nobs - 1
    return out


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _t_tail(t: float, df: float) -> float:
    """P(|T| > |t|) for Student's t with df degrees of freedom."""
    x = df / (df + t * t)
    a, b = df / 2.0, 0.5
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x))
    front *= math.sqrt(1.0 - x) if x < 1 else 0.0
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_quantile(tail: float, df: float) -> float:
    """The t with P(|T| > t) = tail, by bisection."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_tail(mid, df) > tail:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _resampled(data: Dataset) -> Dataset:
    """The data drawn with replacement, as `bsample` draws it."""
    picks = [random.randrange(data.nobs) for _ in range(data.nobs)]
    out = copy.copy(data)
    out.variables = [copy.copy(var) for var in data.variables]
    for var, source in zip(out.variables, data.variables, strict=True):
        var.values = [source.values[j] for j in picks]
    return out
