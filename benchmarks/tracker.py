"""Tracker throughput: a generated million-line log through the log parser and the tracker.

The log has the shapes real ones have (wrapped tab-expanded echoes, loop bodies with unnumbered
lines, `if` blocks echoed line by line, tables of output) in the proportions of a long run:
mostly output. Figures are lines per second of `LogParser.feed` alone and with `Tracker.feed`.
"""

from __future__ import annotations

import os
import time

from stata_tools.run.dofile import split_commands
from stata_tools.run.logs.parse import LogParser
from stata_tools.run.progress import Tracker

OUTPUT_ROWS = 40  # table rows after each estimation command

_UNIT_DO = (
    "\n* model {n}\n"
    "use ./output/analysis_dataset_{n}.dta, clear\n"
    "stcox i.ethnicity_16 i.male age1 age2 age3\t\ti.imd\t\t\t///\n"
    "\t\t\t\ti.bmicat_sa i.hba1ccat gp_consult_count, strata(stp) nolog\n"
    "if _rc==0{{\n"
    "estimates save ./output/model{n}, replace\n"
    "}}\n"
    'else di "WARNING MODEL {n} DID NOT FIT"\n'
    "foreach v in a b {{\n"
    '\tdi "`v\'"\n'
    "\n"
    "\tcount if `v' == {n}\n"
    "}}\n"
)


def _unit_log(n: int) -> list[str]:
    lines = [
        ". ",
        f". * model {n}",
        f". use ./output/analysis_dataset_{n}.dta, clear",
        "",
        ". stcox i.ethnicity_16 i.male age1 age2 age3              i.imd                   ///",
        ">                                 i.bmicat_sa i.hba1ccat gp_consult_count, strata(stp) n",
        "> olog",
        "",
        "Stratified Cox regr. -- no ties",
        "",
        "------------------------------------------------------------------------------",
        "          _t | Haz. Ratio   Std. Err.      z    P>|z|     [95% Conf. Interval]",
        "-------------+----------------------------------------------------------------",
    ]
    lines += [
        f"  var{row:<8} |   2.06e-09          .        .       .            .           ."
        for row in range(OUTPUT_ROWS)
    ]
    lines += [
        "------------------------------------------------------------------------------",
        "",
        ". if _rc==0{",
        f". estimates save ./output/model{n}, replace",
        f"file ./output/model{n}.ster saved",
        ". }",
        "",
        f'. else di "WARNING MODEL {n} DID NOT FIT"',
        "",
        ". foreach v in a b {",
        '  2.         di "`v\'"',
        "  3. ",
        f".         count if `v' == {n}",
        "  4. }",
        "a",
        "  0",
        "b",
        "  0",
        "",
    ]
    return lines


def generate(lines: int) -> tuple[str, list[str]]:
    """A do-file and the log of running it, about `lines` lines long."""
    per_unit = len(_unit_log(0))
    units = max(1, lines // per_unit)
    do_file = "".join(_UNIT_DO.format(n=n) for n in range(units))
    log = [line for n in range(units) for line in _unit_log(n)]
    return do_file, log


def measure(lines: int, repeats: int = 3) -> dict[str, float]:
    """The best of `repeats` timings of each stage (the machine is shared: the least disturbed)."""
    do_file, log = generate(lines)
    commands = split_commands(do_file)
    parse_s = track_s = float("inf")
    reached = 0
    for _ in range(repeats):
        started = time.perf_counter()
        parser = LogParser()
        parsed = [parser.feed(line) for line in log]
        parse_s = min(parse_s, time.perf_counter() - started)
        tracker = Tracker(commands, "bench.do", 0.0)
        feed = tracker.feed
        started = time.perf_counter()
        for n, line in enumerate(parsed):
            feed(line, n * 1e-4)
        track_s = min(track_s, time.perf_counter() - started)
        reached = tracker.index
    return {
        "reached": float(reached),
        "lines": float(len(log)),
        "commands": float(len(commands)),
        "parse_s": parse_s,
        "track_s": track_s,
    }


async def main(lines: int | None = None) -> None:
    lines = lines or int(os.environ.get("BENCH_TRACKER_LINES", "1000000"))
    figures = measure(lines)
    total = figures["parse_s"] + figures["track_s"]
    count, commands = figures["lines"], figures["commands"]
    print(f"## tracker throughput: {count:,.0f} generated log lines, {commands:,.0f} commands")
    print(f"parser alone:       {count / figures['parse_s'] / 1e6:.2f} M lines/s")
    print(f"tracker alone:      {count / figures['track_s'] / 1e6:.2f} M lines/s")
    per_line = total * 1e9 / count
    print(f"parser + tracker:   {count / total / 1e6:.2f} M lines/s ({per_line:.0f} ns/line)")
    print(f"followed to command {figures['reached']:,.0f} of {commands:,.0f}")
