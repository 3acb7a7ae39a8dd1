"""The fuzz campaign of the reliability issue, from the command line.

    python bench/fuzz.py --guests 50000            (about an hour on the 2-core VM)
    python bench/fuzz.py --replay syscalls:1000042 (one case, in this process, verbosely)

Prints, as it goes and at the end:
    N guests: 0 host crashes, 0 hangs, 0 leaks, 0 integrity failures, 0 unclear errors
and every finding with its family and seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.cases import FAMILIES, make_root, run_case  # noqa: E402
from tests.fuzz.runner import campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=50_000, help="stop after this many")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--watchdog", type=float, default=60.0)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--replay", metavar="FAMILY:SEED")
    args = parser.parse_args()
    if args.replay:
        family, seed = args.replay.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            print(run_case(family, int(seed), make_root(tmp)))
        return 0
    families = tuple(args.families.split(","))
    cases = ((families[k % len(families)], args.seed * 1_000_000 + k) for k in range(10**9))
    last = [0.0]

    def progress(report) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  {report.cases} cases, {report.line()}", flush=True)

    report = campaign(cases, args.workers, args.watchdog, args.guests, progress)
    print(f"{report.cases} cases in {report.seconds:.0f} s (seed {args.seed}, "
          f"families {','.join(families)})")
    print(report.line())
    for kind in ("crashes", "hangs", "leaks", "integrity", "unclear"):
        for family, seed, detail in getattr(report, kind)[:50]:
            print(f"  {kind}: {family}:{seed}: {detail}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
