"""A fuzz worker: reads ``family seed`` lines, runs each case, answers one JSON line each.

    python -m tests.fuzz.worker ROOT
"""

import json
import logging
import sys
from dataclasses import asdict

from tests.fuzz.cases import run_case


def main() -> None:
    root = sys.argv[1]
    logging.disable(logging.CRITICAL)  # findings are reported, not logged
    for line in sys.stdin:
        family, seed = line.split()
        outcome = run_case(family, int(seed), root)
        sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
