"""`python -m fuzz [--inputs N] [--seed S] [--target NAME] [--corpus DIR]`: see fuzz/__init__.py."""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stata_tools.run.dofile import DoFileError, decode_source, scan_commands, split_commands
from stata_tools.run.logs.parse import LogParser, parse_lines, smcl_to_text
from stata_tools.run.progress import Script, Tracker
from stata_tools.safety.policy import CATEGORIES, UNCHECKED, Policy, _check_or_raise, check

CORPUS = Path(os.environ.get("STATA_TOOLS_FUZZ_CORPUS", "/work/shared/stata-corpus"))
MAX_SEED_WINDOW = 2048  # bytes of a seed file one input starts from
MAX_RANDOM = 512  # bytes of a purely random input
TIMEOUT = 10.0  # seconds one input may take before it counts as a failure (a hang)
SHOWN_FAILURES = 5

# Pieces of Stata syntax the mutator inserts and the composer strings together.
TOKENS = [
    *("\n", "\r\n", "\r", " ", "\t", "  ", "\x0b", "\x0c", "\x85", "\u2028", "\ufeff", "\x00"),
    *("//", "///", "/*", "*/", "*/*", "*", '"', '`"', "\"'", "`", "'", "$", "${", "}", "{"),
    *(";", ":", ",", "(", ")", "[", "]", "!", "!!", "=", "==", "!=", "+", "\\`", "\\"),
    *("#delimit ;", "#delimit cr", "#d;", "#del ;\n", "#delimit", "end", "end\n"),
    *("local c shell", "local c = ", "global g ", "`c'", "$g", "${g}", "`=1+1'", "`:di 1'"),
    *("foreach x in a b {", "forvalues i = 1/3 {", "while 1 {", "if 1 {", "} else {", "else"),
    *(
        "program define p",
        "program p, plugin",
        "capture program drop p",
        "input x",
        "mata",
        "mata:",
    ),
    *("python", "python:", "java:", 'stata("shell ls")', "unlink(", "quietly {", "cap noi "),
    *("by x:", "bysort x (y):", "frame f:", "version 17:", "shell ", "!ls", "sh ", "rm ", "erase "),
    *("net install ", "ssc install ", "do ", "run ", "include ", "x.do", '"a b.do"', "display "),
    *(". ", "> ", "r(111);", "end of do-file", "--Break--", "{smcl}", "{com}", "{txt}", "{res}"),
    *("{err}", "{hline}", "{.-}", "{c |}", "{col 5}", "{bf:", "{ralign 3:", "{dup 3:-}", "{p}"),
    *("-" * 79, "  1. ", "  2. ", ": ", "------ mata (type end to exit) ------", "name:  x"),
    *("      log:  ", "log type:  text", " opened on:  1 Jan 2024", " closed on:  1 Jan 2024"),
    *("é", "ü", "\x81", "\x8d", "\udcff", "\ud800"),
]

SNIPPETS = [
    "sysuse auto, clear\nregress price mpg weight\n",
    "foreach v of varlist price mpg {\n    summarize `v'\n}\n",
    'if c(os) == "Unix" {\n    shell ls\n}\nelse {\n    display "no"\n}\n',
    "#delimit ;\nsysuse auto, clear;\nregress price\n    mpg;\n#delimit cr\n",
    "program define p\n    syntax [anything]\n    display `\"`anything'\"'\nend\n",
    'mata:\nx = 1\nstata("display 1")\nend\n',
    "python:\nimport os\nprint('/*')\nend\ndisplay 1\n",
    "input str10 name\nshell\nend\n",
    'local c = "sh" + "ell"\n`c\' ls\nglobal g rm\n${g} x\n',
    "capture noisily by foreign: !ls\nversion 17: python: print(1)\n",
    "display 1 /* a\n comment */ display 2 // c\n* star\n",
    "{smcl}\n{com}. sysuse auto\n{txt}(1978 automobile data)\n{res}\n",
    ". foreach x in 1 2 {\n  2.   display `x'\n  3. }\n1\n2\n\nr(198);\n",
]


@dataclass
class Result:
    """What one target did: counts, time, and the first failures with their inputs."""

    name: str
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, traceback)
    failed: int = 0


# --- inputs ---------------------------------------------------------------------------------------


def load_seeds(corpus: Path) -> list[bytes]:
    """The corpus files (read-only; never written) plus the built-in snippets."""
    seeds = [snippet.encode("utf-8") for snippet in SNIPPETS]
    if corpus.is_dir():
        for path in sorted(corpus.rglob("*")):
            if path.is_file():
                with contextlib.suppress(OSError):
                    seeds.append(path.read_bytes())
    return seeds


def window(rng: random.Random, seed: bytes) -> bytes:
    """Up to MAX_SEED_WINDOW bytes of a seed, usually starting at a line."""
    if len(seed) <= MAX_SEED_WINDOW:
        return seed
    start = rng.randrange(len(seed) - MAX_SEED_WINDOW)
    if rng.random() < 0.8:
        newline = seed.find(b"\n", start)
        start = newline + 1 if 0 <= newline < len(seed) - 1 else start
    return seed[start : start + rng.randint(1, MAX_SEED_WINDOW)]


def token(rng: random.Random) -> bytes:
    return rng.choice(TOKENS).encode("utf-8", "surrogatepass")


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """Byte flips, token insertions, deletions, splices with another seed, truncation."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(6)
        at = rng.randint(0, len(buffer))
        if kind == 0 and buffer:  # flip a bit or set a byte
            at = min(at, len(buffer) - 1)
            buffer[at] = (
                buffer[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
            )
        elif kind == 1:  # insert a Stata token
            buffer[at:at] = token(rng)
        elif kind == 2 and buffer:  # delete a range
            buffer[at : at + rng.randint(1, 64)] = b""
        elif kind == 3:  # splice in a piece of another seed
            other = window(rng, rng.choice(seeds))
            begin = rng.randint(0, len(other))
            buffer[at:at] = other[begin : begin + rng.randint(1, 256)]
        elif kind == 4:  # truncate
            del buffer[at:]
        else:  # duplicate a range (repeated structure: nested blocks, many macros)
            piece = bytes(buffer[at : at + rng.randint(1, 128)])
            buffer[at:at] = piece * rng.randint(1, 8)
    return bytes(buffer)


def compose(rng: random.Random) -> bytes:
    """A string of Stata-ish tokens and words."""
    words = ["x", "y", "auto", "1", "`i'", "price", "c", "g", "_n", "if", "in", "using"]
    parts = [
        token(rng) if rng.random() < 0.7 else rng.choice(words).encode()
        for _ in range(rng.randint(1, 40))
    ]
    return b"".join(part + (b" " if rng.random() < 0.3 else b"") for part in parts)


def inputs(rng: random.Random, seeds: list[bytes], count: int) -> Iterator[str]:
    """`count` inputs: mutated seeds, composed syntax (plain or mutated), random bytes."""
    for _ in range(count):
        roll = rng.random()
        if roll < 0.4:
            data = mutate(rng, window(rng, rng.choice(seeds)), seeds)
        elif roll < 0.6:
            data = compose(rng)
        elif roll < 0.8:
            data = mutate(rng, compose(rng), seeds)
        else:
            data = rng.randbytes(rng.randint(0, MAX_RANDOM))
        yield data.decode("latin-1")


# --- targets --------------------------------------------------------------------------------------


def fuzz_dofile(text: str, rng: random.Random) -> None:
    """The lexer may refuse a do-file only with DoFileError; scanning for problems never fails
    and agrees with it."""
    decoded, _ = decode_source(text.encode("latin-1"))
    for source in (text, decoded):
        scanned, problems = scan_commands(source)
        fatal = [p for p in problems if p.fatal]
        try:
            commands = split_commands(source)
        except DoFileError as error:
            if not fatal or str(error) != f"line {fatal[0].line}: {fatal[0].message}":
                message = f"split_commands raised {error}, scan_commands found {fatal}"
                raise AssertionError(message) from None
            continue
        if fatal or commands != scanned:
            raise AssertionError("split_commands and scan_commands disagree")
        for command in commands:
            _ = (command.head, command.name)


def fuzz_logs(text: str, rng: random.Random) -> None:
    """The log classifier takes any text, as text log or SMCL."""
    lines = text.splitlines(keepends=True)
    parse_lines(lines)
    parse_lines(["{smcl}\n", *lines])
    smcl_to_text(text)


def fuzz_tracker(text: str, rng: random.Random) -> None:
    """The tracker follows any log against any do-file (and the do-files it calls): it never
    raises, progress only grows and stays below the total until the end."""
    try:
        commands = split_commands(text)
    except DoFileError:
        commands = []
    lines = text.splitlines()
    top = commands
    if rng.random() < 0.5:  # a master that calls the text as its child do-file
        called = rng.choice(["a", "b.do", '"c d.do"', "`x'", "include a"])
        call = called if called.startswith("include") else f"do {called}"
        top = split_commands(f"{call}\ndisplay 1\n")
        lines = [f". {call}", *lines, "end of do-file", "", ". display 1"]

    def resolve(written: str, caller: str | None) -> Script | None:
        return Script(written, tuple(commands), written) if rng.random() < 0.8 else None

    tracker = Tracker(top, "fuzz.do", 0.0, resolve=resolve)
    parser = LogParser()
    last = -1.0
    for n, raw in enumerate(lines):
        tracker.feed(parser.feed(raw), n * 0.5)
        snapshot = tracker.heartbeat(n * 0.5 + 0.25)
        if not last <= snapshot.progress < snapshot.total or len(snapshot.message) > 200:
            raise AssertionError(f"bad progress {snapshot!r} after {last}")
        last = snapshot.progress
    if tracker.finish(len(lines)).progress != tracker.total:
        raise AssertionError("the end is not the total")


POLICIES = [Policy(), Policy(frozenset({"python"})), Policy(frozenset(CATEGORIES) - {"shell"})]


def fuzz_policy(text: str, rng: random.Random) -> None:
    """The policy never raises; its reader must not fail either (that would mean falling back)."""
    policy = rng.choice(POLICIES)
    found = _check_or_raise(text, policy, name="fuzz.do", load=lambda path: text)
    if check(text, policy, name="fuzz.do", load=lambda path: text) != found:
        raise AssertionError("check and its strict core disagree")
    for violation in found:
        unchecked = violation.category == UNCHECKED
        if not (unchecked or violation.category in policy.refused) or violation.line < 1:
            raise AssertionError(f"bad violation {violation!r}")
        if unchecked != bool(violation.reason):  # a refusal it could not check says why
            raise AssertionError(f"bad violation {violation!r}")
        violation.message()


TARGETS: dict[str, Callable[[str, random.Random], None]] = {
    "dofile.split_commands": fuzz_dofile,
    "logs.parse": fuzz_logs,
    "policy.check": fuzz_policy,
    "progress.Tracker": fuzz_tracker,
}


# --- running --------------------------------------------------------------------------------------


class Hang(BaseException):
    """An input took longer than TIMEOUT seconds (not an Exception: `check` must not swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"took more than {TIMEOUT:g}s")


def run(name: str, count: int, seed: int, seeds: list[bytes]) -> Result:
    target = TARGETS[name]
    rng = random.Random(f"{seed}:{name}")  # str seeds are stable across runs and platforms
    result = Result(name)
    timer = hasattr(signal, "setitimer")
    if timer:
        signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    for text in inputs(rng, seeds, count):
        result.inputs += 1
        begin = time.perf_counter()
        try:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
            target(text, rng)
        except (Exception, Hang):
            result.failed += 1
            if len(result.failures) < SHOWN_FAILURES:
                result.failures.append((text, traceback.format_exc()))
        finally:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
        result.slowest = max(result.slowest, time.perf_counter() - begin)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same inputs")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="seed files (read only)")
    args = parser.parse_args(argv)
    seeds = load_seeds(args.corpus)
    print(f"seed {args.seed}, {args.inputs} inputs per target, {len(seeds)} seed files/snippets")
    print(
        f"{'target':<24}{'inputs':>9}{'seconds':>9}{'inputs/s':>10}{'slowest':>9}{'failures':>10}"
    )
    failed = 0
    for name in args.target or list(TARGETS):
        result = run(name, args.inputs, args.seed, seeds)
        rate = result.inputs / result.seconds if result.seconds else 0.0
        print(
            f"{name:<24}{result.inputs:>9}{result.seconds:>9.1f}{rate:>10.0f}"
            f"{result.slowest:>8.2f}s{result.failed:>10}",
            flush=True,
        )
        for text, trace in result.failures:
            print(f"\n--- {name} failed on input {text!r}\n{trace}", file=sys.stderr)
        failed += result.failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
