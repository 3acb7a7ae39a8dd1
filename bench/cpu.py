"""Issue 2 benchmark: the paged CPU against bare Unicorn, the host, and qemu-i386.

    python bench/cpu.py [--repeat N]      (default 5; takes a few minutes)

1. A compute loop of 10^9 instructions (bench/programs/loop.s), the same ELF everywhere:
   ZerOS (paging on, ring 3), bare Unicorn (flat, no paging), natively, qemu-i386 if
   installed. Emulation times are measured inside each process (start-up excluded);
   whole-process times are shown beside them. Target: ZerOS / bare Unicorn <= 1.10.
2. 10^6 getpid system calls (bench/programs/getpid.s). Target: >= 400k syscalls/s.
3. Start-up: `zeros run` of hello.asm as a whole process (target < 1 s), and a new
   Machine() inside a running process (target well under 50 ms).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

from common import ROOT, best_of, build, show, spread, time_command

PY = sys.executable


def inner_seconds(cmd: list[str], key: str, repeat: int) -> tuple[float, list[float], dict]:
    results = []

    def once():
        done = subprocess.run(cmd, capture_output=True, check=True)
        results.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))
    best_of(once, repeat)
    times = [r[key] for r in results]
    return min(times), times, results[0]


def interleaved(commands: list[tuple[list[str], str]], repeat: int):
    """Best time of each command, running them in turn so that a noisy moment of the
    machine hits all of them alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for k, (cmd, key) in enumerate(commands):
            times[k].append(inner_seconds(cmd, key, 1)[0])
    return [(min(t), t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat
    loop, getpid = build("loop"), build("getpid")
    zeros_cmd = [PY, str(ROOT / "bench" / "zeros_inprocess.py")]
    bare_cmd = [PY, str(ROOT / "bench" / "bare_unicorn.py")]

    print(f"compute loop, 10^9 instructions (best of {repeat})")
    (ours, ours_all), (bare, bare_all) = interleaved(
        [(zeros_cmd + [str(loop)], "run"), (bare_cmd + [str(loop)], "seconds")], repeat)
    show("ZerOS, paging on, ring 3 (emulation)", ours, spread(ours_all))
    show("bare Unicorn, flat, no paging (emulation)", bare, spread(bare_all))
    ours_proc = time_command([PY, "-m", "zeros.cli", "run", str(loop)], repeat)
    show("zeros run (whole process)", ours_proc)
    native = time_command([str(loop)], repeat)
    show("native", native)
    qemu = shutil.which("qemu-i386")
    qemu_time = time_command([qemu, str(loop)], repeat) if qemu else None
    if qemu_time is not None:
        show("qemu-i386", qemu_time)
    else:
        print("  qemu-i386                                  not installed")
    print(f"  ratio ZerOS / bare Unicorn: {ours / bare:.3f} (target <= 1.10)")
    print(f"  ratio ZerOS / native: {ours / native:.1f}"
          + (f", ZerOS / qemu-i386: {ours / qemu_time:.2f}" if qemu_time else ""))
    print(f"  ZerOS speed: {1e9 / ours / 1e9:.2f} G instructions/s")

    print(f"\n10^6 getpid system calls (best of {repeat})")
    ours, ours_all, info = inner_seconds(zeros_cmd + [str(getpid)], "run", repeat)
    assert info["syscalls"] == 1_000_001, info
    show("ZerOS", ours, f"{1e6 / ours / 1e3:.0f} k syscalls/s (target >= 400 k) {spread(ours_all)}")
    bare, _, _ = inner_seconds(bare_cmd + [str(getpid)], "seconds", repeat)
    show("bare Unicorn, binding hook", bare, f"{1e6 / bare / 1e3:.0f} k syscalls/s")

    print(f"\nstart-up (best of {max(repeat, 5)})")
    hello = ROOT / "asm" / "hello.asm"
    whole = time_command([PY, "-m", "zeros.cli", "run", str(hello)], max(repeat, 5))
    show("zeros run asm/hello.asm (whole process)", whole, "(target < 1 s)")
    sys.path.insert(0, str(ROOT))
    from zeros import Machine
    Machine().close()  # imports and first use out of the way

    def new_machine():
        Machine().close()
    made, made_all = best_of(new_machine, 20)
    show("Machine() in a running process", made, f"= {made * 1e3:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
