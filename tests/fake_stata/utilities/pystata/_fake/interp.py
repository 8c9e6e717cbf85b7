"""A small Stata interpreter: do-files, blocks, loops, macros, errors and logs as Stata shows them.

Two ways of running commands mirror Stata's own:
* a do-file is read and echoed line by line (`. cmd`); `if`/`else`/`quietly {…}` blocks there are
  read the same way, each line echoed as it is reached;
* loop and program bodies are read whole first (echoed once, numbered `  2. …`) and then run
  without echo.
An error prints its message where it happens; every block it leaves prints `r(NNN);` again
(`--Break--` for a break), and a do-file prints `r(NNN);`, a blank line and `end of do-file`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .commands import BasicCommands
from .console import Console
from .core import Block, BreakSource, Ctx, FileState, Seq
from .errors import BreakLoop, ContinueLoop, ExitFile, StataError
from .estcmds import EstimationCommands
from .estimates import StoredEstimates
from .flow import FlowCommands
from .framecmds import FrameCommands
from .graphcmds import GraphCommands
from .knobs import Knobs
from .lexer import EOF_PROMPT, Cmd, lex
from .lines import BLANK, COM, ERR, TXT, Line, Seg, line
from .logcmd import LogCommands
from .oscmds import OsCommands
from .pkgcmds import PackageCommands
from .macros import split_words
from .programs import ProgramCommands
from .replicate import ReplicationCommands
from .replay import ReplayCommands
from .state import Frame, Session
from .syntax import (
    COMMANDS,
    classify,
    core_text,
    first_word,
    match_block,
    opens_block,
    resolve,
    split_prefixes,
)


_ADO = frozenset({"estimates"})  # commands Stata implements in ado-files, not built in


class Interpreter(
    FlowCommands,
    BasicCommands,
    LogCommands,
    ProgramCommands,
    GraphCommands,
    EstimationCommands,
    StoredEstimates,
    FrameCommands,
    ReplicationCommands,
    ReplayCommands,
    OsCommands,
    PackageCommands,
):
    """Runs what StataSO_Execute receives: one line, which may `do` or `include` whole files."""

    def __init__(self, session: Session, console: Console, brk: BreakSource) -> None:
        super().__init__(session, console, brk)
        self._handlers: dict[str, Callable[[str, Ctx], None]] = {
            "display": self._h_display,
            "shell": self._h_shell,
            "xshell": self._h_shell,
            "winexec": self._h_winexec,
            "file": self._h_file,
            "save": self._h_save,
            "local": self._h_local,
            "global": self._h_global,
            "scalar": self._h_scalar,
            "forvalues": self._h_forvalues,
            "foreach": self._h_foreach,
            "while": self._h_while,
            "if": self._h_if,
            "else": self._h_else,
            "error": self._h_error,
            "exit": self._h_exit,
            "assert": self._h_assert,
            "sleep": self._h_sleep,
            "log": self._h_log,
            "do": lambda a, c: self._h_do(a, c, "do"),
            "run": lambda a, c: self._h_do(a, c, "run"),
            "include": lambda a, c: self._h_do(a, c, "include"),
            "set": self._h_set,
            "version": self._h_version,
            "clear": self._h_clear,
            "cd": self._h_cd,
            "pwd": self._h_pwd,
            "program": self._h_program,
            "args": self._h_args,
            "return": lambda a, c: self._h_return(a, c, "r"),
            "ereturn": lambda a, c: self._h_return(a, c, "e"),
            "sreturn": lambda a, c: self._h_return(a, c, "s"),
            "_return": self._h_underscore_return,
            "macro": self._h_macro,
            "continue": self._h_continue,
            "count": self._h_count,
            "contract": self._h_contract,
            "_gr_list": self._h_gr_list,
            "sysuse": self._h_sysuse,
            "generate": self._h_generate,
            "replace": self._h_replace,
            "drop": self._h_drop,
            "keep": self._h_keep,
            "label": self._h_label,
            "describe": self._h_describe,
            "summarize": self._h_summarize,
            "list": self._h_list,
            "regress": self._h_regress,
            "matrix": self._h_matrix,
            "scatter": self._h_scatter,
            "twoway": self._h_twoway,
            "line": self._h_line,
            "histogram": self._h_histogram,
            "graph": self._h_graph,
            "frame": self._h_frame,
            "frames": self._h_frame,
            "pwf": self._h_pwf,
            "cwf": self._h_cwf,
            "mkf": self._h_mkf,
            "_dots": self._h_dots,
            "simulate": self._h_simulate,
            "bootstrap": self._h_bootstrap,
            "bs": self._h_bootstrap,
            "jackknife": self._h_jackknife,
            "ssc": self._h_ssc,
            "net": self._h_net,
            "sysdir": self._h_sysdir,
            "sort": self._h_sort,
            "estimates": self._h_estimates,
            "_estimates": self._h_underscore_estimates,
        }

    # --- entry point: one line, as StataSO_Execute receives it -------------------------------

    def execute_line(self, text: str, echo: bool, knobs: Knobs) -> int:
        self.console.reset(knobs)
        try:
            if echo:
                self.console.show(line(COM, ". " + text))
            try:
                self._check_break()
                cmds = lex(text, interactive=True)
                cmd = cmds[0] if cmds else EOF_PROMPT
                if cmd.blank:
                    return 0
                if opens_block(cmd.text):
                    raise StataError(612, "unexpected end of file")
                self._statement(cmd.text, Ctx())
            except (ExitFile, ContinueLoop, BreakLoop):
                pass
        except StataError as e:
            if not e.shown:
                self._show_error(e)
            self._rc_line(e.rc)
            return e.rc
        except Exception as exc:  # a bug in the fake: make it loud, keep the session alive
            self.console.show(line(ERR, f"fake Stata internal error: {exc!r}"), force=True)
            self._rc_line(9999)
            return 9999
        finally:
            self.console.flush_partial()
        return 0

    # --- do-files ------------------------------------------------------------------------------

    def run_file(self, path: str, mode: str, args: str = "") -> None:
        replay = self.console.knobs.replay
        if replay and mode == "do" and self._file_depth == 0:
            self._replay(path, replay)
            return
        self._file_depth += 1
        try:
            self._run_file(path, mode, args)
        finally:
            self._file_depth -= 1

    def _run_file(self, path: str, mode: str, args: str) -> None:
        with open(path, encoding="utf-8", errors="replace") as fh:
            source = fh.read()
        cmds = lex(source)
        pushed = mode != "include"
        if pushed:
            frame = Frame()
            frame.locals["0"] = args.strip()
            for k, w in enumerate(split_words(args), 1):
                frame.locals[str(k)] = w
            self.session.frames.append(frame)
        fs = FileState(mode)
        try:
            with self.console.push(quiet=True if mode == "run" else None, captured=False):
                try:
                    self._run_lines(cmds, fs)
                except ExitFile:
                    pass
                except StataError as e:
                    if not e.shown:
                        self._show_error(e)
                    self._rc_line(e.rc)
                    if mode != "include":
                        self.console.show(BLANK, force=True)
                        self.console.show(line(TXT, "end of do-file"), force=True)
                    raise
                if mode != "include":
                    self.console.flush_partial()
                    if fs.need_blank:
                        self.console.blank()
                    self.console.show(line(TXT, "end of do-file"))
        finally:
            if pushed:
                self.session.frames.pop()

    def _prompt(self, cmd: Cmd, fs: FileState) -> None:
        self.console.flush_partial()
        if fs.need_blank:
            self.console.blank()
        self._echo(cmd)

    def _echo(self, cmd: Cmd) -> None:
        self.console.flush_partial()
        raw = cmd.raw or ("",)
        self.console.show(line(COM, ". " + raw[0].expandtabs(8)))
        for more in raw[1:]:
            self.console.show(line(COM, "> " + more.expandtabs(8)))

    def _echo_numbered(self, cmds: tuple[Cmd, ...], start: int) -> None:
        """A body read whole: numbered lines, except that after a line with no command (blank,
        comment) the lines up to the next command are echoed `. ` with no number."""
        n = start
        loose = False
        for cmd in cmds:
            raw = [text.expandtabs(8) for text in cmd.raw or ("",)]
            if loose:
                self.console.show(line(COM, ". " + raw[0]))
            else:
                self.console.show(Line((Seg(TXT, f"{n:>3}"), Seg(COM, ". " + raw[0]))))
                n += 1
            for more in raw[1:]:
                self.console.show(line(COM, "> " + more))
            loose = cmd.blank

    def _read_block(self, cmds: tuple[Cmd, ...] | list[Cmd], i: int, *, echo: bool) -> Block:
        end = match_block(cmds, i)
        kind = classify(cmds[i].text)
        body, closing = tuple(cmds[i + 1 : end]), cmds[end]
        if kind == "lines":
            return Block(body, closing, "lines" if echo else "body")
        if echo:
            self._echo_numbered((*body, closing), 2 if kind == "loop" else 1)
        return Block(body, closing, "body")

    def _run_lines(self, cmds: list[Cmd], fs: FileState) -> None:
        seq = Seq()
        i = 0
        while i < len(cmds):
            cmd = cmds[i]
            self._check_break()
            self._prompt(cmd, fs)
            if cmd.blank:
                fs.need_blank = False
                i += 1
                continue
            fs.need_blank = True
            end = i
            block = None
            if opens_block(cmd.text):
                end = match_block(cmds, i)
                block = self._read_block(cmds, i, echo=True)
            self._statement(cmd.text, Ctx(block, seq, fs))
            i = end + 1
        self._prompt(EOF_PROMPT, fs)
        fs.need_blank = False

    def _run_block_lines(self, block: Block, fs: FileState | None) -> None:
        """A do-file's `if … {`/`quietly {` block: each line echoed and run as it is reached."""
        cmds = block.body
        seq = Seq()
        err: StataError | None = None
        i = 0
        while i < len(cmds):
            cmd = cmds[i]
            if err is not None:
                self._echo(cmd)
                i += 1
                continue
            end = i
            try:
                self._check_break()
                self._echo(cmd)
                if not cmd.blank:
                    inner = None
                    if opens_block(cmd.text):
                        end = match_block(cmds, i)
                        inner = self._read_block(cmds, i, echo=True)
                    self._statement(cmd.text, Ctx(inner, seq, fs))
            except StataError as e:
                if not e.shown:
                    self._show_error(e)
                self._marker(e.rc)
                err = e
            i = end + 1
        self._echo(block.closing)
        if err is not None:
            raise err

    def _skip_block_lines(self, block: Block) -> None:
        for cmd in block.body:
            self._echo(cmd)
        self._echo(block.closing)

    def _exec_body(self, body: tuple[Cmd, ...], *, check_each: bool = False) -> None:
        seq = Seq()
        j = 0
        while j < len(body):
            cmd = body[j]
            if cmd.blank:
                j += 1
                continue
            if check_each:
                self._check_break()
            if opens_block(cmd.text):
                end = match_block(body, j)
                block = self._read_block(body, j, echo=False)
                self._statement(cmd.text, Ctx(block, seq, None))
                j = end + 1
            else:
                self._statement(cmd.text, Ctx(None, seq, None))
                j += 1

    def _run_compiled(self, block: Block) -> None:
        try:
            self._exec_body(block.body)
        except StataError as e:
            self._marker(e.rc)
            raise

    # --- statements ------------------------------------------------------------------------------

    def _statement(self, text: str, ctx: Ctx, *, expanded: bool = False) -> None:
        if not expanded:
            word, _ = first_word(core_text(text))
            if word is None or resolve(word, COMMANDS) != "while":
                text = self._expand(text)
        prefixes, rest = split_prefixes(text)
        self._prefixed(prefixes, rest.strip(), ctx)

    def _prefixed(self, prefixes: list[str], rest: str, ctx: Ctx) -> None:
        if not prefixes:
            self._command(rest, ctx)
            return
        first, others = prefixes[0], prefixes[1:]
        if first == "quietly":
            with self.console.push(quiet=True):
                self._prefixed(others, rest, ctx)
        elif first == "noisily":
            with self.console.push(quiet=False):
                self._prefixed(others, rest, ctx)
        elif first == "capture":
            with self.console.push(quiet=True, captured=True):
                try:
                    self._prefixed(others, rest, ctx)
                    self.session.rc = 0
                except StataError as e:
                    if not e.shown:
                        self._show_error(e)
                    self.session.rc = e.rc
        else:
            self._prefixed(others, rest, ctx)

    def _command(self, rest: str, ctx: Ctx) -> None:
        try:
            if rest.startswith("{"):
                ctx.seq.last_if = None
                if rest != "{":
                    raise StataError(
                        198, "program error:  code follows on the same line as open brace"
                    )
                self._brace(ctx)
                return
            if rest.startswith("#"):
                self._h_delimit(rest, ctx)
                return
            if rest.startswith("!"):  # `!cmd` and `!!cmd`: shell escapes
                self._h_shell(rest.lstrip("!"), ctx)
                return
            word, args = first_word(rest)
            if word is None:
                bad = re.match(r"[^\w\s]+", rest)
                raise StataError(
                    199, f"{bad.group(0) if bad else rest} is not a valid command name"
                )
            name = resolve(word, COMMANDS)
            if name in _ADO and word in self.session.programs:
                name = None  # a program in memory comes before an ado-file's command
            if name not in ("if", "else"):
                ctx.seq.last_if = None
            if name is not None:
                self._handlers[name](args, ctx)
            elif word in self.session.programs:
                self._call(self.session.programs[word], args)
            elif (ado := self.find_ado(word)) is not None:  # the adopath, at the first use
                self.run_file(ado, "run")
                if word not in self.session.programs:
                    raise StataError(199, f"command {word} is unrecognized")
                self._call(self.session.programs[word], args)
            else:
                raise StataError(199, f"command {word} is unrecognized")
        except StataError as e:
            if not e.shown:
                self._show_error(e)
            raise

    def _brace(self, ctx: Ctx) -> None:
        if ctx.block is None:
            raise StataError(612, "unexpected end of file")
        if ctx.block.mode == "lines":
            self._run_block_lines(ctx.block, ctx.fs)
        else:
            self._run_compiled(ctx.block)
