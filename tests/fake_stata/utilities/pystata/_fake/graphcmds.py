"""Graph commands: twoway plots, histogram, graph bar, and graph dir/export/drop/rename/describe.

Like Stata they print nothing (histogram prints its bins) and keep named graphs in memory.
"""

from __future__ import annotations

import math
import os
import re

from .core import Ctx
from .datacmds import DataCommands
from .errors import StataError
from .graphs import RENDERERS, Graph, Series
from .lines import TXT, line
from .macros import split_words, strip_quotes
from .numfmt import display_number
from .qualifiers import qualifiers
from .syntax import first_word

_TWOWAY_PLOTS = {"scatter": "scatter", "sc": "scatter", "line": "line", "connected": "line"}
_TWOWAY_PLOTS |= {"scat": "scatter", "scatt": "scatter", "scatte": "scatter"}


def graph_options(text: str) -> dict[str, str]:
    """`name(g, replace) title("a (b)") replace` → {"name": "g, replace", …}; parens balanced."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        m = re.compile(r"\s*([A-Za-z_]\w*)").match(text, i)
        if m is None:
            i += 1
            continue
        key, i = m.group(1).lower(), m.end()
        if i < n and text[i] == "(":
            depth, j, quote = 0, i, False
            while j < n:
                c = text[j]
                if c == '"':
                    quote = not quote
                elif not quote and c == "(":
                    depth += 1
                elif not quote and c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out[key] = text[i + 1 : j].strip()
            i = j + 1
        else:
            out[key] = ""
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur, quote = [], 0, [], False
    for c in text:
        if c == '"':
            quote = not quote
        if not quote and c == "(":
            depth += 1
        elif not quote and c == ")":
            depth -= 1
        if not quote and depth == 0 and c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def _close_paren(text: str) -> int:
    """Index of the `)` matching the `(` that text starts with."""
    depth = 0
    for j, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if depth == 0:
            return j
    raise StataError(198, "unmatched parenthesis")  # not in corpus


class GraphCommands(DataCommands):
    # --- plots -----------------------------------------------------------------------------------

    def _series(self, kind: str, spec: str) -> Series:
        q = qualifiers(spec)
        chosen = self.data.varlist(q.main, default_all=False)
        if len(chosen) < 2:
            raise StataError(102, "too few variables specified")
        *ys, x = chosen
        if any(v.is_str for v in chosen):
            raise StataError(109, "type mismatch")
        rows = [i for i in self.select(q) if all(v.values[i] is not None for v in chosen)]
        if not rows:
            raise StataError(2000, "no observations")
        return Series(
            kind,
            tuple(x.values[i] for i in rows),  # type: ignore[misc]
            tuple(ys[0].values[i] for i in rows),  # type: ignore[misc]
        )

    def _twoway(self, body: str, command: str) -> None:
        """`(scatter y x) (line y x), opts`, `scatter y x || line y x, opts` or one plot."""
        plots: list[tuple[str, str]] = []
        opt_text = ""
        rest = body.strip()
        if rest.startswith("("):
            while rest.startswith("("):
                j = _close_paren(rest)
                word, spec = first_word(rest[1:j].strip())
                spec, *inner = _split_top(spec, ",")
                plots.append((word or "", spec))
                opt_text += " " + ",".join(inner)
                rest = rest[j + 1 :].strip()
            opt_text += " " + rest.lstrip(",")
        else:
            for piece in (p for p in _split_top(rest, "|") if p.strip()):
                spec, *inner = _split_top(piece, ",")
                word, spec = first_word(spec.strip())
                plots.append((word or "", spec))
                opt_text += " " + ",".join(inner)
        series = []
        for word, spec in plots:
            kind = _TWOWAY_PLOTS.get(word)
            if kind is None:
                raise StataError(199, f"plottype {word} not found")  # not in corpus
            series.append(self._series(kind, spec))
        self._store("twoway", tuple(series), command, graph_options(opt_text))

    def _store(
        self, family: str, series: tuple[Series, ...], command: str, opts: dict[str, str]
    ) -> None:
        name, replace = "Graph", True
        if "name" in opts:
            words = [w.strip() for w in opts["name"].split(",")]
            name = strip_quotes(words[0])
            replace = "replace" in words[1:]
        if name in self.session.graphs and not replace:
            raise StataError(110, f"graph {name} already exists")
        title = strip_quotes(opts.get("title", "").split(",")[0].strip())
        self.session.graphs.pop(name, None)
        self.session.graphs[name] = Graph(name, command, family, series, title)
        self.session.graph_current = name
        if self.session.gr_list is not None and name not in self.session.gr_list:
            self.session.gr_list.append(name)

    def _h_twoway(self, args: str, ctx: Ctx) -> None:
        self._twoway(args, "twoway " + args.strip())

    def _h_scatter(self, args: str, ctx: Ctx) -> None:
        self._twoway("scatter " + args, "scatter " + args.strip())

    def _h_line(self, args: str, ctx: Ctx) -> None:
        self._twoway("line " + args, "line " + args.strip())

    def _h_histogram(self, args: str, ctx: Ctx) -> None:
        q = qualifiers(args)
        opts = graph_options(q.options)
        var = self.data.varlist(q.main, default_all=False)[0]
        if var.is_str:
            raise StataError(109, "type mismatch")
        vals = sorted(v for i in self.select(q) if isinstance(v := var.values[i], float))
        if not vals:
            raise StataError(2000, "no observations")
        n = len(vals)
        bins = int(opts["bin"]) if opts.get("bin") else int(min(math.sqrt(n), 10 * math.log10(n)))
        bins = max(1, bins)
        start = vals[0]
        width = (vals[-1] - start) / bins or 1.0
        counts = [0] * bins
        for v in vals:
            counts[min(bins - 1, int((v - start) / width))] += 1
        xs = tuple(start + (k + 0.5) * width for k in range(bins))
        ys = tuple(c / (n * width) for c in counts)
        self._store("histogram", (Series("bar", xs, ys),), "histogram " + args.strip(), opts)
        self.console.show(
            line(
                TXT,
                f"(bin={bins}, start={display_number(start)}, width={display_number(width)})",
            )
        )

    def _graph_bar(self, args: str, command: str) -> None:
        q = qualifiers(re.sub(r"^\s*\((mean|sum|count)\)", "", args))
        opts = graph_options(q.options)
        chosen = self.data.varlist(q.main, default_all=False)
        rows = self.select(q)
        over = self.data.find(opts["over"].split(",")[0].strip()) if "over" in opts else None
        groups = sorted({over.values[i] for i in rows}, key=str) if over else [None]
        xs, ys = [], []
        for g in groups:
            for var in chosen:
                vals = [
                    var.values[i]
                    for i in rows
                    if isinstance(var.values[i], float) and (over is None or over.values[i] == g)
                ]
                xs.append(float(len(xs) + 1))
                ys.append(math.fsum(vals) / len(vals) if vals else 0.0)  # type: ignore[arg-type]
        self._store("bar", (Series("bar", tuple(xs), tuple(ys)),), command, opts)

    # --- graph ... -------------------------------------------------------------------------------

    def _h_graph(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        sub = word or ""
        if sub in ("twoway", "tw", "two", "twow", "twowa"):
            self._twoway(rest, "twoway " + rest.strip())
        elif sub in ("bar", "hbar"):
            self._graph_bar(rest, f"graph {sub} " + rest.strip())
        elif sub == "dir":
            names = list(self.session.graphs)
            if names:
                self.console.show(line(TXT, "  " + "  ".join(names)))
            self._set_r({}, {"list": " ".join(names)})
        elif sub in ("export", "save"):
            self._graph_export(rest) if sub == "export" else None
        elif sub == "drop":
            self._graph_drop(rest)
        elif sub == "rename":
            self._graph_rename(rest)
        elif sub in ("describe", "d", "de", "des", "desc", "descr", "descri", "describ"):
            self._graph_describe(rest)
        elif sub in ("display", "close", "set", "query", "use"):
            if sub == "display" and rest.strip():
                self._need(strip_quotes(rest.split(",")[0].strip()))
        elif sub in ("scatter", "line", "connected"):
            self._twoway(sub + " " + rest, "graph twoway " + sub + " " + rest.strip())
        else:
            raise StataError(199, f"graph {sub} invalid")  # not in corpus

    def _need(self, name: str | None) -> str:
        if not self.session.graphs:
            raise StataError(693, "no graphs in memory")
        target = name or self.session.graph_current
        if target not in self.session.graphs:
            raise StataError(111, f"graph {target} not found")
        return target

    def _graph_export(self, rest: str) -> None:
        what, _, opt_text = rest.partition(",")
        words = split_words(what)
        if len(words) != 1:
            raise StataError(198, "invalid syntax")
        filename = words[0]
        opts = graph_options(opt_text)
        name = self._need(strip_quotes(opts.get("name", "")).strip() or None)
        fmt = (opts.get("as") or os.path.splitext(filename)[1][1:]).lower()
        if fmt not in RENDERERS:
            raise StataError(198, f"{fmt or filename} is not a graph export format of the fake")
        path = os.path.join(os.getcwd(), os.path.expanduser(filename))
        if os.path.exists(path) and "replace" not in opts:
            raise StataError(602, f"file {filename} already exists")
        size = {k: int(float(opts[k])) for k in ("width", "height") if opts.get(k)}
        graph = self.session.graphs[name]
        if fmt == "png":
            w = size.get("width") or (
                round(size["height"] * 600 / 436) if "height" in size else 600
            )
            h = size.get("height") or round(w * 436 / 600)
            data = RENDERERS["png"](graph, w, h)
        else:
            data = RENDERERS[fmt](graph)
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError:
            raise StataError(603, f"file {filename} could not be opened") from None
        self.console.show(line(TXT, f"file {filename} written in {fmt.upper()} format"))

    def _graph_drop(self, rest: str) -> None:
        names = rest.split()
        if names == ["_all"]:
            self.session.graphs.clear()
            self.session.graph_current = ""
            return
        for n in names:
            if n not in self.session.graphs:
                raise StataError(111, f"graph {n} not found")
        for n in names:
            del self.session.graphs[n]
            if self.session.graph_current == n:
                self.session.graph_current = next(reversed(self.session.graphs), "")

    def _graph_rename(self, rest: str) -> None:
        what, _, opt_text = rest.partition(",")
        words = what.split()
        old, new = (
            (words[0], words[1]) if len(words) == 2 else (self.session.graph_current, words[0])
        )
        self._need(old)
        if new in self.session.graphs and "replace" not in opt_text:
            raise StataError(110, f"graph {new} already exists")
        g = self.session.graphs.pop(old)
        self.session.graphs[new] = Graph(new, g.command, g.family, g.series, g.title)
        if self.session.graph_current == old:
            self.session.graph_current = new

    def _graph_describe(self, rest: str) -> None:
        name = self._need(rest.strip() or None)
        g = self.session.graphs[name]
        self.console.show(line(TXT, ""))
        self.console.show(line(TXT, f"{name} stored in memory"))
        self.console.show(line(TXT, ""))
        self.console.show(line(TXT, f"    command:  {g.command}"))
        self._set_r({}, {"command": g.command, "family": g.family, "fn": name})

    def _h_gr_list(self, args: str, ctx: Ctx) -> None:
        what = args.strip()
        if what == "on":
            self.session.gr_list = []
        elif what == "off":
            self.session.gr_list = None
        elif what == "list":
            self.session.r.macros["_grlist"] = " ".join(self.session.gr_list or [])
