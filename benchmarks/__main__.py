"""`python -m benchmarks [cold|latency|overhead|big ...]`: print figures for each benchmark."""

from __future__ import annotations

import sys

import anyio

from benchmarks import big_log, cold_start, latency, overhead

BENCHES = {
    "cold": cold_start.main,
    "latency": latency.main,
    "overhead": overhead.main,
    "big": big_log.main,
}


async def main(names: list[str]) -> None:
    for name in names or list(BENCHES):
        await BENCHES[name]()
        print()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
