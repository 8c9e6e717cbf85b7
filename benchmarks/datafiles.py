"""read_data_file on large files: a page near the end against reading the whole file.

Writes a CSV, a Parquet file and a .dta of the same rows (ROWS x 6 columns) in a temporary folder,
then times each read in a fresh process (imports included) and reports its peak RSS, the figure a
user's machine feels: Arrow's and ReadStat's own allocations count, which tracemalloc misses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROWS = 2_000_000
START = ROWS - 100  # a page near the end: the worst place for a streamed format

_WRITE = """
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq, pyreadstat, sys
n = int(sys.argv[2]); folder = sys.argv[1]
ids = np.arange(1, n + 1)
frame = pd.DataFrame({
    "id": ids, "x": ids * 0.5, "y": np.sin(ids), "g": ids % 7,
    "s": np.where(ids % 2 == 0, "even row", "odd row"), "t": ids * 3.25,
})
frame.to_csv(folder + "/big.csv", index=False)
pq.write_table(pa.Table.from_pandas(frame), folder + "/big.parquet", row_group_size=100_000)
pyreadstat.write_dta(frame, folder + "/big.dta")
"""

_MEASURE = """
import json, resource, sys, time
path, how, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
began = time.perf_counter()
if how == "page":
    from stata_tools.inspection.datafiles import read_data_file
    rows = len(read_data_file(path, start=start, count=20).rows)
elif path.endswith(".csv"):
    import pandas as pd
    rows = len(pd.read_csv(path).iloc[start:start + 20])
elif path.endswith(".parquet"):
    import pyarrow.parquet as pq
    rows = len(pq.read_table(path).slice(start, 20))
else:
    import pyreadstat
    rows = len(pyreadstat.read_dta(path)[0].iloc[start:start + 20])
seconds = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "rows": rows}))
"""

_BASELINE = """
import json, resource
import stata_tools.inspection.datafiles, pandas, pyarrow.parquet, pyreadstat
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _python(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout) if done.stdout.strip() else {}


async def main() -> None:
    print(f"Data files: a 20-row page at row {START:,} of {ROWS:,} rows x 6 columns, vs the whole")
    with tempfile.TemporaryDirectory() as folder:
        _python(_WRITE, folder, str(ROWS))
        base = _python(_BASELINE)["peak"]
        print(f"  (a process with the readers imported: {base / 1e6:,.0f} MB RSS)")
        for name in ("big.csv", "big.parquet", "big.dta"):
            path = Path(folder) / name
            size = path.stat().st_size
            page = _python(_MEASURE, str(path), "page", str(START))
            whole = _python(_MEASURE, str(path), "whole", str(START))
            assert page["rows"] == whole["rows"] == 20
            print(
                f"  {name:<12} {size / 1e6:6,.0f} MB  read_data_file page {page['seconds']:6.2f} s"
                f" {page['peak'] / 1e6:6,.0f} MB peak · whole file {whole['seconds']:6.2f} s"
                f" {whole['peak'] / 1e6:6,.0f} MB peak"
            )
