"""A static i386 ELF under ZerOS (paging on, ring 3), timed inside the process.

Usage: python bench/zeros_inprocess.py ELF -> prints {"machine": s, "run": s, "syscalls": n}.
"""

import json
import sys
import time

from zeros import Machine


def main(path: str) -> int:
    start = time.perf_counter()
    m = Machine()
    made = time.perf_counter()
    pid = m.spawn(path)
    started = time.perf_counter()
    result = m.run(timeout=600)[pid]
    done = time.perf_counter()
    print(json.dumps({"machine": made - start, "run": done - started,
                      "syscalls": result.syscalls, "faults": result.minor_faults}))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
