"""Control flow: forvalues, foreach, while, continue, if and else."""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import expr as ex
from .core import Block, Core, Ctx, Seq
from .errors import BreakLoop, ContinueLoop, StataError
from .macros import split_words
from .numfmt import macro_number
from .syntax import numlist, options, split_options, steps


class FlowCommands(Core):
    # --- control flow --------------------------------------------------------------------------

    def _loop_body(self, ctx: Ctx, header: str) -> Block:
        if ctx.block is None:
            if "{" in header and not header.rstrip().endswith("{"):
                raise StataError(198, "program error:  code follows on the same line as open brace")
            if "{" not in header:
                raise StataError(100, "{ required")
            raise StataError(612, "unexpected end of file")
        return ctx.block

    def _loop(self, var: str, values: list[str] | Iterator[str], block: Block) -> None:
        self._loop_depth += 1
        try:
            for v in values:
                self._check_break()
                self.session.frame.locals[var] = v
                try:
                    self._run_compiled(block)
                except ContinueLoop:
                    continue
                except BreakLoop:
                    break
        finally:
            self._loop_depth -= 1

    def _h_forvalues(self, args: str, ctx: Ctx) -> None:
        block = self._loop_body(ctx, args)
        m = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*\{\s*$", args, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        rng = m.group(2)
        r = re.fullmatch(
            r"(-?[\d.]+(?:e-?\d+)?)\s*(?:/\s*(-?[\d.]+(?:e-?\d+)?)"
            r"|\(\s*(-?[\d.]+)\s*\)\s*(-?[\d.]+(?:e-?\d+)?)"
            r"|\[\s*(-?[\d.]+)\s*\]\s*(-?[\d.]+(?:e-?\d+)?)"
            r"|\s+(-?[\d.]+)\s+to\s+(-?[\d.]+))",
            rng,
        )
        if r is None:
            raise StataError(198, "invalid syntax")
        g = r.groups()
        try:
            a = float(g[0])
            if g[1] is not None:
                step, b = 1.0, float(g[1])
            elif g[2] is not None:
                step, b = float(g[2]), float(g[3])
            elif g[4] is not None:
                step, b = float(g[4]), float(g[5])
            else:
                step, b = float(g[6]) - a, float(g[7])
        except ValueError:
            raise StataError(198, "invalid syntax") from None
        self._loop(m.group(1), (macro_number(v) for v in steps(a, step, b)), block)

    def _h_foreach(self, args: str, ctx: Ctx) -> None:
        block = self._loop_body(ctx, args)
        m = re.match(r"\s*([A-Za-z_]\w*)\s+(in|of)\s+(.*?)\s*\{\s*$", args, re.S)
        if m is None:
            raise StataError(198, "invalid syntax")
        var, how, rest = m.groups()
        if how == "in":
            values = split_words(rest)
        else:
            kind, _, what = rest.partition(" ")
            what = what.strip()
            if kind in ("local", "loc"):
                values = split_words(self.session.frame.locals.get(what, ""))
            elif kind in ("global", "gl", "glo"):
                values = split_words(self.session.globals.get(what, ""))
            elif kind in ("numlist", "num"):
                values = numlist(what)
            elif kind in ("newlist", "newvarlist"):
                values = what.split()
            elif kind == "varlist":
                names = what.split()
                raise StataError(111, f"variable {names[0] if names else ''} not found")
            else:
                raise StataError(198, "invalid syntax")
        self._loop(var, values, block)

    def _h_while(self, args: str, ctx: Ctx) -> None:
        block = self._loop_body(ctx, args)
        cond = args.strip()
        if not cond.endswith("{"):
            raise StataError(198, "invalid syntax")
        cond = cond[:-1]

        def values() -> Iterator[str]:
            while ex.truth(self.eval(self._expand(cond))):
                yield ""

        self._loop_depth += 1
        try:
            for _ in values():
                self._check_break()
                try:
                    self._run_compiled(block)
                except ContinueLoop:
                    continue
                except BreakLoop:
                    break
        finally:
            self._loop_depth -= 1

    def _h_continue(self, args: str, ctx: Ctx) -> None:
        if self._loop_depth == 0:
            raise StataError(198, "continue not allowed outside of a loop")
        if "break" in options(split_options(args)[1]):
            raise BreakLoop
        raise ContinueLoop

    def _conditional(self, truth: bool, ctx: Ctx) -> None:
        block = ctx.block
        if block is None:
            raise StataError(612, "unexpected end of file")
        if block.mode == "lines":
            if truth:
                self._run_block_lines(block, ctx.fs)
            else:
                self._skip_block_lines(block)
        elif truth:
            self._run_compiled(block)

    def _h_if(self, args: str, ctx: Ctx) -> None:
        value, used = ex.parse_prefix(args, self)
        if used == 0:
            raise StataError(198, "invalid syntax")
        rest = args[used:].strip()
        truth = ex.truth(value)
        if rest.startswith("{"):
            if rest != "{":
                raise StataError(198, "program error:  code follows on the same line as open brace")
            ctx.seq.last_if = truth
            self._conditional(truth, ctx)
            return
        if not rest or rest.startswith("="):
            raise StataError(198, "invalid syntax")
        ctx.seq.last_if = truth
        if truth:
            self._statement(rest, Ctx(None, Seq(), ctx.fs), expanded=True)

    def _h_else(self, args: str, ctx: Ctx) -> None:
        if ctx.seq.last_if is None:
            raise StataError(198, "else invalid")
        truth = not ctx.seq.last_if
        ctx.seq.last_if = None
        rest = args.strip()
        if rest.startswith("{"):
            if rest != "{":
                raise StataError(198, "program error:  code follows on the same line as open brace")
            self._conditional(truth, ctx)
        elif truth and rest:
            self._statement(rest, Ctx(None, Seq(), ctx.fs), expanded=True)
