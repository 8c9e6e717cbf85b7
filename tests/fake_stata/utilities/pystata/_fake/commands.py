"""Everyday commands: display, macros and scalars, errors, sleep, do-files, settings, cd/pwd."""

from __future__ import annotations

import os
import re
import time

from . import expr as ex
from .core import Core, Ctx
from .display import render_display
from .errors import MESSAGES, ExitFile, StataError
from .lexer import delimit_target
from .lines import ERR, RES, TXT, Line, line
from .macros import split_words, strip_quotes
from .numfmt import display_number, macro_number
from .recorder import record
from .syntax import first_word, split_options


class BasicCommands(Core):
    # --- display, macros, scalars --------------------------------------------------------------

    def _h_display(self, args: str, ctx: Ctx) -> None:
        shown = render_display(args, self)
        for k, segs in enumerate(shown.lines):
            if shown.cont and k == len(shown.lines) - 1:
                self.console.show_partial(segs)
            else:
                self.console.show(Line(segs))

    def _set_macro(self, store: dict[str, str], args: str) -> None:
        args = args.strip()
        inc = re.fullmatch(r"(\+\+|--)([A-Za-z_]\w*)", args)
        if inc:
            name = inc.group(2)
            try:
                cur = float(store.get(name, "0") or "0")
            except ValueError:
                raise StataError(198, "invalid syntax") from None
            store[name] = macro_number(cur + (1 if inc.group(1) == "++" else -1))
            return
        m = re.match(r"([A-Za-z_]\w*|\d+)\s*(.*)$", args, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        name, rest = m.group(1), m.group(2)
        if rest.startswith("=") and not rest.startswith("=="):
            value = self._macro_value(self.eval(rest[1:]))
        elif rest.startswith(":"):
            value = self._extended(rest[1:].strip())
        else:
            value = strip_quotes(rest)
        if value == "":
            store.pop(name, None)
        else:
            store[name] = value

    def _extended(self, spec: str) -> str:
        m = re.match(r"word\s+count\s+(.*)$", spec, re.S)
        if m:
            return str(len(split_words(m.group(1))))
        m = re.match(r"word\s+(\d+)\s+of\s+(.*)$", spec, re.S)
        if m:
            words = split_words(m.group(2))
            k = int(m.group(1))
            return words[k - 1] if 1 <= k <= len(words) else ""
        m = re.match(r"(?:di|dis|disp|displ|displa|display)\b(.*)$", spec, re.S)
        if m:
            shown = render_display(m.group(1), self)
            return "".join(s.text for s in shown.lines[0]) if shown.lines else ""
        m = re.match(r"length\s+(local|global)\s+(\w+)$", spec)
        if m:
            store = self.session.frame.locals if m.group(1) == "local" else self.session.globals
            return str(len(store.get(m.group(2), "")))
        if spec.strip() == "sortedby":  # the sort order, empty when the data is not sorted
            return " ".join(self.session.data.sortedby)
        m = re.match(r"(row|col)(names|eq|fullnames)\s+(\S+)$", spec.strip())
        if m:
            return self._matrix_stripe(m.group(1), m.group(2), m.group(3))
        m = re.match(r"list\s+sizeof\s+(\w+)$", spec)
        if m:
            return str(len(split_words(self.session.frame.locals.get(m.group(1), ""))))
        raise StataError(198, "invalid syntax")

    def _h_local(self, args: str, ctx: Ctx) -> None:
        self._set_macro(self.session.frame.locals, args)

    def _h_global(self, args: str, ctx: Ctx) -> None:
        self._set_macro(self.session.globals, args)

    def _h_scalar(self, args: str, ctx: Ctx) -> None:
        args = args.strip()
        word, rest = first_word(args)
        if word in ("drop",):
            names = rest.split()
            if names == ["_all"]:
                self.session.scalars.clear()
            for n in names:
                if n != "_all" and self.session.scalars.pop(n, "missing") == "missing":
                    raise StataError(111, f"scalar {n} not found")
            return
        if word in ("list", "dir", "l", "li", "lis"):
            names = rest.split() or list(self.session.scalars)
            for n in names:
                if n == "_all":
                    continue
                v = self.scalar(n)
                shown = v if isinstance(v, str) else display_number(v)
                self.console.show(line(TXT, f"{n:>10} = {shown:>10}"))
            return
        if word in ("define", "de", "def", "defi", "defin"):
            args = rest.strip()
        m = re.match(r"([A-Za-z_]\w*)\s*=(.*)$", args, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        self.session.scalars[m.group(1)] = self.eval(m.group(2))

    def _h_error(self, args: str, ctx: Ctx) -> None:
        v = self.eval(args) if args.strip() else None
        if not isinstance(v, float):
            raise StataError(198, "invalid syntax")
        rc = int(v)
        if rc == 0:
            return
        raise StataError(rc, MESSAGES.get(rc))

    def _h_exit(self, args: str, ctx: Ctx) -> None:
        what, opts = split_options(args)
        if "STATA" in opts.split():
            self._exit_stata(what, opts.split())
        if not what.strip():
            raise ExitFile
        v = self.eval(what)
        if not isinstance(v, float):
            raise StataError(198, "invalid syntax")
        rc = int(v)
        if rc == 0:
            raise ExitFile
        raise StataError(rc, "--Break--" if rc == 1 else None)

    def _exit_stata(self, what: str, options: list[str]) -> None:
        """`exit [#], STATA [clear]`: Stata ends, and with it the process that loaded it."""
        code = self.eval(what) if what.strip() else 0.0
        if not isinstance(code, float):
            raise StataError(198, "invalid syntax")
        if self.data.changed and "clear" not in options:
            raise StataError(4, "no; dataset in memory has changed since last saved")
        for log in self.session.logs:
            log.abandon()
        record("exit_stata", code=int(code))
        os._exit(int(code))

    def _h_assert(self, args: str, ctx: Ctx) -> None:
        what, _ = split_options(args)
        if not ex.truth(self.eval(what)):
            raise StataError(9, "assertion is false")

    def _h_sleep(self, args: str, ctx: Ctx) -> None:
        v = self.eval(args)
        if not isinstance(v, float):
            raise StataError(198, "invalid syntax")
        end = time.monotonic() + max(0.0, v) / 1000.0
        while True:
            self._check_break()
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self.brk.wait(min(remaining, 0.005))

    def _h_delimit(self, rest: str, ctx: Ctx) -> None:
        target = delimit_target(rest)
        if ctx.fs is None or target is None:
            bad = re.match(r"[^\w\s]+", rest)
            raise StataError(199, f"{bad.group(0) if bad else rest} is not a valid command name")
        if target not in (";", "cr"):
            raise StataError(198, "invalid syntax")
        self.console.show(line(TXT, f"delimiter now {target}"))

    # --- files, directories, settings ----------------------------------------------------------

    def _h_do(self, args: str, ctx: Ctx, mode: str) -> None:
        words = split_words(args)
        if not words:
            raise StataError(198, "invalid syntax")
        given = words[0]
        rest = args.strip()
        rest = rest[len(given) + 2 :] if rest.startswith('"') else rest[len(given) :]
        shown = given if os.path.splitext(given)[1] else given + ".do"
        path = os.path.join(os.getcwd(), os.path.expanduser(shown))
        if not os.path.isfile(path):
            raise StataError(601, f"file {shown} not found")
        try:
            self.run_file(path, mode, "" if mode == "include" else rest)
        except StataError as e:
            if e.rc == 1:
                self.console.show(line(ERR, "--Break--"), force=True)
            raise

    def _h_cd(self, args: str, ctx: Ctx) -> None:
        target = strip_quotes(args) or os.path.expanduser("~")
        try:
            os.chdir(os.path.join(os.getcwd(), os.path.expanduser(target)))
        except OSError:
            raise StataError(170, f"unable to change to {target}") from None
        self.console.show(line(RES, os.getcwd()))

    def _h_pwd(self, args: str, ctx: Ctx) -> None:
        self.console.show(line(RES, os.getcwd()))

    _ACCEPTED_SETTINGS = frozenset(
        [
            "more",
            "trace",
            "tracedepth",
            "traceexpand",
            "rmsg",
            "seed",
            "varabbrev",
            "type",
            "maxvar",
            "matsize",
            "scheme",
            "graphics",
            "level",
            "dp",
            "emptycells",
            "niceness",
            "processors",
            "sortseed",
            "notifyuser",
            "output",
            "pagesize",
            "showbaselevels",
            "fvlabel",
            "cformat",
            "pformat",
            "sformat",
            "autotabgraphs",
            "printcolor",
            "copycolor",
            "locale_ui",
            "locale_functions",
        ]
    )

    def _h_set(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        value = rest.strip()
        if word is None:
            raise StataError(198, "invalid syntax")
        if word == "linesize":
            try:
                n = int(float(value.split(",")[0]))
            except ValueError:
                raise StataError(198, "invalid syntax") from None
            if not 40 <= n <= 255:
                raise StataError(198, "linesize must be between 40 and 255")
            self.session.linesize = n
        elif word == "obs":
            self._set_obs(value)
        elif word == "logtype":
            kind = value.split(",")[0].strip()
            if kind not in ("text", "smcl"):
                raise StataError(198, "invalid syntax")
            self.session.logtype = kind
        elif word not in self._ACCEPTED_SETTINGS:
            raise StataError(198, f"set {word} not allowed")

    def _h_version(self, args: str, ctx: Ctx) -> None:
        if not args.strip():
            self.console.show(line(TXT, "version 18.0"))
            return
        try:
            float(args.strip().split(",")[0])
        except ValueError:
            raise StataError(198, "invalid syntax") from None

    def _h_clear(self, args: str, ctx: Ctx) -> None:
        what = args.strip()
        if what in ("all", "*"):
            self.session.scalars.clear()
            self.session.programs.clear()
            for res in (self.session.r, self.session.e, self.session.s):
                res.clear()
            self.clear_data()
            self.session.matrices.clear()
            self.session.matrix_names.clear()
            self.session.graphs.clear()
            self.session.graph_current = ""
            self.session.estimates.clear()
            self.session.held_e.clear()
            self.session.held.clear()
            self.session.reset_frames()
        elif what == "frames":
            self.session.reset_frames()
        elif what in ("programs",):
            self.session.programs.clear()
        elif what in ("results",):
            self.session.r.clear()
            self.session.e.clear()
        elif what in ("matrix",):
            self.session.matrices.clear()
            self.session.matrix_names.clear()
        elif what in ("", "data"):
            self.clear_data()

    def _h_macro(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        if word == "drop":
            for name in rest.split():
                if name == "_all":
                    self.session.globals.clear()
                elif name.endswith("*"):
                    for g in [g for g in self.session.globals if g.startswith(name[:-1])]:
                        del self.session.globals[g]
                else:
                    self.session.globals.pop(name, None)
        elif word in ("list", "dir", "l", "li", "lis"):
            for name, value in self.session.globals.items():
                self.console.show(line(TXT, f"{name + ':':<16}{value}"))
            for name, value in self.session.frame.locals.items():
                self.console.show(line(TXT, f"{'_' + name + ':':<16}{value}"))
        else:
            raise StataError(198, "invalid syntax")
