"""`python -m benchmarks [NAME ...]`: figures for each benchmark (all of them by default)."""

from __future__ import annotations

import sys

import anyio

from benchmarks import big_log, cold_start, datafiles, latency, overhead, parallel, tracker

BENCHES = {
    "cold": cold_start.main,
    "latency": latency.main,
    "overhead": overhead.main,
    "big": big_log.main,
    "tracker": tracker.main,
    "parallel": parallel.main,
    "datafiles": datafiles.main,
}


async def main(names: list[str]) -> None:
    for name in names or list(BENCHES):
        await BENCHES[name]()
        print()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
