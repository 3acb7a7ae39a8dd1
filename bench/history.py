"""Issue 14 benchmark: what recording the page-table history costs.

    python bench/history.py [--repeat N]

The fault-heavy workload: bench/programs/touch64.s maps 64 MiB and touches every page
(16384 page faults, each a frame, an entry and a fault row in the record), run in one
process with and without ``record=``, alternating; and a workload that swaps (the same
program in 16 MiB of RAM: every page goes out to the page file once). Prints the times, the
ratio (target: at most 2x) and the record's size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import build  # noqa: E402

from zeros import Machine  # noqa: E402


def once(exe: Path, ram: int, record: str | None) -> tuple[float, float]:
    """(the run, the run and the machine's close): a record's rows are written to SQLite
    in batches of 100 000 and at close, with its indexes."""
    m = Machine(ram_size=ram, record=record)
    pid = m.spawn(exe)
    start = time.perf_counter()
    result = m.run(timeout=300)[pid]
    ran = time.perf_counter() - start
    m.close()
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"touch64 exited {result.exit_code}: {result.message}")
    return ran, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = build("touch64")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.db")
        for label, ram in (("64 MiB touch, 128 MiB RAM", 128 << 20),
                           ("64 MiB touch, 16 MiB RAM (swapping)", 16 << 20)):
            plain, recorded = [], []
            for _ in range(args.repeat):  # alternating: both see the same moments
                plain.append(once(exe, ram, None))
                recorded.append(once(exe, ram, path))
            size = os.path.getsize(path)
            print(f"{label} (medians of {args.repeat}; record {size / 1e6:.1f} MB):")
            for k, what in enumerate(("the run", "the run and close")):
                a = statistics.median(t[k] for t in plain)
                b = statistics.median(t[k] for t in recorded)
                print(f"  {what:<18} without a record {a:.3f} s, recorded {b:.3f} s: "
                      f"{b / a:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
