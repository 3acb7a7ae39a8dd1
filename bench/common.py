"""Helpers for the benchmarks: building the i386 programs, timing, printing figures."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROGRAMS = HERE / "programs"
_BUILD = Path(tempfile.mkdtemp(prefix="zeros-bench-"))


def build(name: str) -> Path:
    """Assemble and link bench/programs/NAME.s with GNU as and ld (static; i386, or x86-64
    for the names ending in _x64)."""
    if not (shutil.which("as") and shutil.which("ld")):
        sys.exit("the benchmarks need GNU binutils (as, ld): apt-get install binutils")
    exe = _BUILD / name
    wide = name.endswith("_x64")
    if not exe.exists():
        subprocess.run(["as", "--64" if wide else "--32", "-o", f"{exe}.o",
                        str(PROGRAMS / f"{name}.s")], check=True)
        subprocess.run(["ld", "-m", "elf_x86_64" if wide else "elf_i386", "-o", str(exe),
                        f"{exe}.o"], check=True)
    return exe


def best_of(fn, repeat: int = 3) -> tuple[float, list[float]]:
    """Run fn() repeat times; (fastest, all) wall times in seconds. The machine is shared
    and noisy: the fastest run is the one least disturbed."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times


def time_command(cmd: list[str], repeat: int = 3, expect_status: int = 0) -> float:
    def once():
        done = subprocess.run(cmd, capture_output=True)
        if done.returncode != expect_status:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: "
                             f"{done.stderr.decode()[-500:]}")
    return best_of(once, repeat)[0]


def show(label: str, seconds: float, extra: str = "") -> None:
    print(f"  {label:<42} {seconds:9.3f} s  {extra}")


def spread(times: list[float]) -> str:
    return f"(runs: {', '.join(f'{t:.2f}' for t in times)}; median {statistics.median(times):.2f})"
