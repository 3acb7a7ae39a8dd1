"""The same workloads under ZerOS, bare Unicorn, qemu-user and natively, side by side.

    python bench/compare.py [--repeat N] [--quick]

Workloads (i386 static programs; the C one built with gcc -m32 -static when gcc can):

* loop     10^9 instructions of ``dec ecx; jnz`` (``--quick``: the x86-64 10^8 loop)
* getpid   10^6 getpid system calls
* touch    64 MiB of fresh anonymous memory touched: 16384 page faults
* hello    a glibc hello world (start-up, the dynamic-free libc start, one write)

Runners: ``zeros run`` (paging, ring 3; the whole process), bare Unicorn (flat memory, ring
0, no paging; ``bench/bare_unicorn.py``, the whole process), ``qemu-i386`` (Debian's
``qemu-user``: ``apt-get install qemu-user``; skipped when missing) and the host. Every
command is a child process measured with ``wait4``: wall time, CPU time (user + system) and
peak RSS (its own: through bench/programs/maxrss.c, since a child started from Python
reports Python's RSS as well). Runs alternate between runners so that all see the same
moments of a noisy machine; the best wall time of each is shown with its CPU time and RSS,
and the ratio to the native run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import build  # noqa: E402

PYTHON = sys.executable


def launcher() -> Path | None:
    """bench/programs/maxrss.c built with the host's gcc: it reports a command's own peak
    RSS (from Python, a child's ru_maxrss includes Python's: Linux folds the pre-exec
    address space in at exec)."""
    if not shutil.which("gcc"):
        return None
    out = Path(tempfile.mkdtemp(prefix="zeros-compare-")) / "maxrss"
    done = subprocess.run(["gcc", "-O2", "-o", str(out), str(HERE / "programs" / "maxrss.c")],
                          capture_output=True)
    return out if done.returncode == 0 else None


LAUNCHER = None


def measure(cmd: list[str]) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS KiB, exit status) of one child process (the RSS its own,
    through the launcher when gcc could build it)."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(LAUNCHER), *cmd] if LAUNCHER else cmd,
                            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE if LAUNCHER else subprocess.DEVNULL)
    err = proc.stderr.read() if LAUNCHER else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    rss = usage.ru_maxrss
    lines = err.decode(errors="replace").splitlines()
    if LAUNCHER and lines and lines[-1].startswith("maxrss "):
        rss = int(lines[-1].split()[1])
    return wall, usage.ru_utime + usage.ru_stime, rss, os.waitstatus_to_exitcode(status)


def hello_program() -> Path | None:
    if not shutil.which("gcc"):
        return None
    out = Path(tempfile.mkdtemp(prefix="zeros-compare-")) / "hello"
    src = out.with_suffix(".c")
    src.write_text('#include <stdio.h>\nint main(void){puts("hello");return 0;}\n')
    done = subprocess.run(["gcc", "-m32", "-static", "-O2", "-o", str(out), str(src)],
                          capture_output=True)
    return out if done.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a shorter compute loop")
    args = parser.parse_args()
    global LAUNCHER
    LAUNCHER = launcher()
    zeros = [PYTHON, "-m", "zeros.cli", "run", "--timeout", "0"]
    qemu = {32: shutil.which("qemu-i386"), 64: shutil.which("qemu-x86_64")}
    workloads = {"loop": (build("loop_x64"), 64) if args.quick else (build("loop"), 32),
                 "getpid": (build("getpid"), 32), "touch": (build("touch64"), 32)}
    hello = hello_program()
    if hello is not None:
        workloads["hello"] = (hello, 32)
    print(f"{'workload':<8} {'runner':<14} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8} "
          f"{'/ native':>9}")
    for name, (exe, bits) in workloads.items():
        runners = {"zeros run": zeros + [str(exe)]}
        if bits == 32 and name in ("loop", "getpid"):  # it answers exit and getpid only
            runners["bare Unicorn"] = [PYTHON, str(HERE / "bare_unicorn.py"), str(exe)]
        if qemu[bits]:
            runners[f"qemu-{'x86_64' if bits == 64 else 'i386'}"] = [qemu[bits], str(exe)]
        runners["native"] = [str(exe)]
        best: dict[str, tuple[float, float, int]] = {}
        for _ in range(args.repeat):
            for runner, cmd in runners.items():
                wall, cpu, rss, status = measure(cmd)
                if status != 0:
                    raise SystemExit(f"{runner} {name}: exit status {status}")
                if runner not in best or wall < best[runner][0]:
                    best[runner] = (wall, cpu, rss)
        native = best["native"][0]
        for runner, (wall, cpu, rss) in best.items():
            print(f"{name:<8} {runner:<14} {wall:8.3f} {cpu:8.3f} {rss / 1024:8.1f} "
                  f"{wall / native:9.1f}")


if __name__ == "__main__":
    main()
