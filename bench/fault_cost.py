"""The cost of one page fault in host instructions, a figure the VM's noise cannot move.

    python bench/fault_cost.py [--tree PATH] [--paging 32|pae|4-level]

Wall-clock fault rates on a shared VM swing by half from one minute to the next
(bench/vm.py). Counted instructions do not: this runs bench/programs/touch64.s (16384 write
faults on fresh anonymous memory; touch64_x64.s under 4-level paging) under valgrind's
callgrind twice, once spawned and run and once only spawned, and divides the difference by
the faults. It counts
everything a fault costs the host: Unicorn's exception, the hook round trip and ZerOS's
Python. ``--tree`` measures another checkout (``git worktree add /tmp/old <commit>``), so
that two versions can be compared. Needs valgrind (apt-get install valgrind); about a
minute.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import build  # noqa: E402

FAULTS = 16384
_SCRIPT = """
import sys
sys.path.insert(0, {tree!r})
from zeros import Machine
with Machine(ram_size=128 << 20, paging={paging!r}) as m:
    pid = m.spawn({exe!r})
    if {run}:
        result = m.run(timeout=600)[pid]
        assert result.exit_code == 0 and result.minor_faults >= {faults}, result
"""


def instructions(tree: Path, exe: Path, paging: str, run: bool) -> int:
    script = _SCRIPT.format(tree=str(tree), exe=str(exe), paging=paging, run=run,
                            faults=FAULTS)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, "-c", script], capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"valgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="the checkout to measure (default: this one)")
    parser.add_argument("--paging", choices=["32", "pae", "4-level"], default="32")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench/fault_cost.py needs valgrind: apt-get install valgrind")
    exe = build("touch64_x64" if args.paging == "4-level" else "touch64")
    spawned = instructions(args.tree, exe, args.paging, run=False)
    ran = instructions(args.tree, exe, args.paging, run=True)
    per_fault = (ran - spawned) / FAULTS
    print(f"{args.tree} ({args.paging} paging): {per_fault:,.0f} host instructions per page fault "
          f"({FAULTS} faults; run {ran:,} - spawn only {spawned:,})")


if __name__ == "__main__":
    main()
