"""Programs and stored results: program define/drop, calls, args, return/ereturn/sreturn."""

from __future__ import annotations

import contextlib
import copy
import re

from .core import Core, Ctx
from .errors import ExitFile, StataError
from .lines import RES, TXT, Line, Seg, line
from .macros import split_words, strip_quotes
from .numfmt import macro_number
from .state import Frame, Program, Results
from .syntax import first_word, options, split_options


class ProgramCommands(Core):
    # --- programs and stored results -----------------------------------------------------------

    def _h_program(self, args: str, ctx: Ctx) -> None:
        word, rest = first_word(args.strip())
        if word == "drop":
            for name in rest.split():
                if name == "_all":
                    self.session.programs.clear()
                elif self.session.programs.pop(name, None) is None:
                    raise StataError(111, f"program {name} not found")
            return
        if word in ("dir", "list"):
            for name in self.session.programs:
                self.console.show(line(TXT, f"  {name}"))
            return
        spec = rest if word in ("define", "de", "def", "defi", "defin") else args
        what, opt_text = split_options(spec)
        name = what.strip()
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise StataError(198, "invalid syntax")
        if ctx.block is None:
            raise StataError(612, "unexpected end of file")
        if name in self.session.programs:
            raise StataError(110, f"program {name} already defined")
        opts = options(opt_text)
        kind = next((k for k in ("rclass", "eclass", "sclass") if k in opts), "")
        self.session.programs[name] = Program(name, ctx.block.body, kind)

    def _call(self, prog: Program, args: str) -> None:
        frame = Frame(program=prog)
        frame.locals["0"] = args.strip()
        for k, w in enumerate(split_words(args), 1):
            frame.locals[str(k)] = w
        self.session.frames.append(frame)
        saved_depth = self._loop_depth
        self._loop_depth = 0
        try:
            with contextlib.suppress(ExitFile):
                self._exec_body(prog.body, check_each=True)
        finally:
            self._loop_depth = saved_depth
            self.session.frames.pop()
        if prog.kind:
            target = self.session.results(prog.kind[0])
            target.clear()
            target.scalars.update(frame.returns.scalars)
            target.macros.update(frame.returns.macros)
            target.matrices.update(frame.returns.matrices)
            target.names.update(frame.returns.names)

    def _h_args(self, args: str, ctx: Ctx) -> None:
        frame = self.session.frame
        for k, name in enumerate(args.split(), 1):
            value = frame.locals.get(str(k), "")
            if value:
                frame.locals[name] = value
            else:
                frame.locals.pop(name, None)

    def _h_return(self, args: str, ctx: Ctx, kind: str) -> None:
        word, rest = first_word(args.strip())
        if word in ("list", "li", "lis", "l"):
            self._list_results(kind)
            return
        cls = {"r": "rclass", "e": "eclass", "s": "sclass"}[kind]
        frame = next((f for f in reversed(self.session.frames) if f.program is not None), None)
        if frame is None or frame.program is None or frame.program.kind != cls:
            what = {"r": "r-class", "e": "e-class", "s": "s-class"}[kind]
            raise StataError(151, f"non {what} program may not set {kind}()")
        returns: Results = frame.returns
        if word == "clear":
            returns.clear()
            return
        m = re.match(r"([A-Za-z_]\w*)\s*(.*)$", rest.strip(), re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        name, value = m.group(1), m.group(2)
        if word in ("scalar", "sca") and kind != "s":
            if not value.startswith("="):
                raise StataError(198, "invalid syntax")
            v = self.eval(value[1:])
            if isinstance(v, str):
                raise StataError(109, "type mismatch")
            returns.scalars[name] = v
        elif word in ("local", "loc"):
            if value.startswith("="):
                returns.macros[name] = self._macro_value(self.eval(value[1:]))
            else:
                returns.macros[name] = strip_quotes(value)
        else:
            raise StataError(198, "invalid syntax")

    def _h_underscore_return(self, args: str, ctx: Ctx) -> None:
        """`_return hold|restore|drop|dir` ([P] _return): set r() aside under a name and back."""
        word, rest = first_word(args.strip())
        names = rest.split(",")[0].split()
        held = self.session.held
        if word == "dir":
            for name in held:
                self.console.show(line(TXT, f"  {name}"))
            return
        if word == "drop" and names == ["_all"]:
            held.clear()
            return
        if word not in ("hold", "restore", "drop") or len(names) != 1:
            raise StataError(198, "invalid syntax")
        name = names[0]
        if not re.fullmatch(r"[A-Za-z_]\w{0,31}", name):
            raise StataError(198, f"{name} invalid name")
        current = self.session.r
        if word == "hold":
            if name in held:
                raise StataError(110, f"{name} already exists")  # guessed wording
            held[name] = Results(**{k: copy.deepcopy(v) for k, v in vars(current).items()})
            current.clear()
            return
        if name not in held:
            raise StataError(111, f"{name} not found")  # guessed wording
        if word == "drop":
            del held[name]
            return
        keep = "hold" in options(rest.partition(",")[2])  # restore, hold: keep it set aside
        source = held[name] if keep else held.pop(name)
        for key, value in vars(source).items():
            setattr(current, key, copy.deepcopy(value))

    def _list_results(self, kind: str) -> None:
        """`return list`: a program's results newest first, a built-in command's in its order."""
        res = self.session.results(kind)

        def ordered(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
            return items if res.builtin else list(reversed(items))

        if res.scalars:
            self.console.blank()
            self.console.show(line(TXT, "scalars:"))
            for name, value in ordered(list(res.scalars.items())):
                key = f"{kind}({name})"
                shown = macro_number(value)  # type: ignore[arg-type]
                self.console.show(Line((Seg(TXT, f"{key:>22} =  "), Seg(RES, shown))))
        if res.macros:
            self.console.blank()
            self.console.show(line(TXT, "macros:"))
            for name, value in ordered(list(res.macros.items())):
                key = f"{kind}({name})"
                self.console.show(Line((Seg(TXT, f"{key:>22} : "), Seg(RES, f'"{value}"'))))
        if res.matrices:
            self.console.blank()
            self.console.show(line(TXT, "matrices:"))
            for name, mat in ordered(list(res.matrices.items())):
                key = f"{kind}({name})"
                dims = f"{len(mat)} x {len(mat[0]) if mat else 0}"  # type: ignore[arg-type]
                self.console.show(Line((Seg(TXT, f"{key:>22} :  "), Seg(RES, dims))))
        if res.functions:
            self.console.blank()
            self.console.show(line(TXT, "functions:"))
            for name in res.functions:
                self.console.show(line(TXT, f"{kind + '(' + name + ')':>22}   "))
