"""Long mode against protected mode: x86-64 programs under 4-level paging, beside the same
work done by i386 programs under 32-bit paging and by bare Unicorn.

    python bench/long_mode.py [--repeat N]

1. Compute: 10^8 iterations of ``dec rcx; jnz`` in ring 3 under 4-level paging, against
   the same loop on a bare Unicorn in 64-bit mode with flat memory (no paging, ring 0).
   Target: ratio <= 1.10.
2. Syscalls: 10^6 ``getpid`` through ``syscall`` (x86-64) and through ``int 0x80`` (i386).
   Target: ``syscall`` at least as fast.
3. Page faults: 64 MiB of fresh anonymous memory touched, 16384 faults, under 4-level and
   under 32-bit paging. Target: within 10% of the 32-bit figure.

Runs are interleaved (the VM is noisy) and the best of each is reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import build, show, spread  # noqa: E402

from zeros import Machine  # noqa: E402


def zeros_run(exe: Path, paging: str) -> tuple[float, int, int]:
    """(seconds inside run(), minor faults, syscalls) of one run."""
    with Machine(ram_size=128 << 20, paging=paging) as m:
        pid = m.spawn(exe)
        start = time.perf_counter()
        result = m.run(timeout=300)[pid]
        took = time.perf_counter() - start
        assert result.exit_code == 0, result.message
        return took, result.minor_faults, result.syscalls


def bare_loop64(exe: Path) -> float:
    """The loop on bare Unicorn, 64-bit mode, flat memory, ring 0; `syscall` stops it."""
    from unicorn import UC_ARCH_X86, UC_HOOK_INSN, UC_MODE_64, Uc
    from unicorn.x86_const import UC_X86_INS_SYSCALL, UC_X86_REG_RSP

    from emu.elf import load_elf
    image = load_elf(exe.read_bytes(), str(exe))
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    for seg in image.segments:
        start, end = seg.va & ~0xFFF, (seg.end + 0xFFF) & ~0xFFF
        uc.mem_map(start, end - start)
        uc.mem_write(seg.va, seg.data)
    uc.mem_map(0x7FF000000000, 1 << 20)
    uc.reg_write(UC_X86_REG_RSP, 0x7FF000000000 + (1 << 20) - 16)
    uc.hook_add(UC_HOOK_INSN, lambda u, _d: u.emu_stop(), aux1=UC_X86_INS_SYSCALL)
    start = time.perf_counter()
    uc.emu_start(image.entry, 0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat

    loop = build("loop_x64")
    paged, flat = [], []
    for _ in range(repeat):
        paged.append(zeros_run(loop, "4-level")[0])
        flat.append(bare_loop64(loop))
    print(f"compute: 10^8 iterations of dec rcx; jnz (best of {repeat})")
    show("ZerOS, ring 3, 4-level paging", min(paged), spread(paged))
    show("bare Unicorn, 64-bit, flat, ring 0", min(flat), spread(flat))
    print(f"  ratio {min(paged) / min(flat):.2f} (target <= 1.10)")

    runs: dict[str, list[float]] = {"syscall": [], "int 0x80": []}
    programs = {"syscall": (build("getpid_x64"), "4-level"), "int 0x80": (build("getpid"), "32")}
    for _ in range(repeat):
        for kind, (exe, paging) in programs.items():
            runs[kind].append(zeros_run(exe, paging)[0])
    print(f"\nsyscalls: 10^6 getpid (best of {repeat})")
    for kind, times in runs.items():
        show(f"ZerOS, {kind}", min(times), f"{1e6 / min(times) / 1e3:.0f}k/s {spread(times)}")
    print(f"  syscall / int 0x80 time: {min(runs['syscall']) / min(runs['int 0x80']):.2f}")

    faults: dict[str, list[float]] = {"4-level": [], "32": []}
    touch = {"4-level": build("touch64_x64"), "32": build("touch64")}
    count = 0
    for _ in range(repeat):
        for paging, times in faults.items():
            took, count, _ = zeros_run(touch[paging], paging)
            times.append(took)
    print(f"\ndemand paging: 64 MiB touched, {count} faults (best of {repeat})")
    for paging, times in faults.items():
        show(f"ZerOS, {paging} paging", min(times),
             f"{count / min(times) / 1e3:.0f}k faults/s {spread(times)}")
    print(f"  4-level / 32-bit time: {min(faults['4-level']) / min(faults['32']):.2f}")


if __name__ == "__main__":
    main()
