"""`python -m benchmarks [cold|latency|overhead|big|tracker ...]`: figures for each benchmark."""

from __future__ import annotations

import sys

import anyio

from benchmarks import big_log, cold_start, latency, overhead, tracker

BENCHES = {
    "cold": cold_start.main,
    "latency": latency.main,
    "overhead": overhead.main,
    "big": big_log.main,
    "tracker": tracker.main,
}


async def main(names: list[str]) -> None:
    for name in names or list(BENCHES):
        await BENCHES[name]()
        print()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
