"""The baseline: a static i386 ELF on bare Unicorn, flat memory, no paging, ring 0.

Usage: python bench/bare_unicorn.py ELF -> prints {"seconds": emulation time}; exits with the
guest's status. int 0x80 handles exit (1, 252) and getpid (20); anything else returns 0.
"""

import json
import sys
import time
from pathlib import Path

from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc
from unicorn.x86_const import UC_X86_REG_EAX, UC_X86_REG_EBX, UC_X86_REG_ESP

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from emu.elf import load_elf  # noqa: E402 - the project's own reader, no pyelftools


def main(path: str) -> int:
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    with open(path, "rb") as f:
        image = load_elf(f.read(), path)
    entry = image.entry
    for seg in image.segments:
        start = seg.va & ~0xFFF
        end = (seg.end + 0xFFF) & ~0xFFF
        uc.mem_map(start, end - start)
        uc.mem_write(seg.va, seg.data)
    uc.mem_map(0xBF000000, 0x800000)
    uc.reg_write(UC_X86_REG_ESP, 0xBF7FFFF0)
    status = [0]

    def on_int(uc, vector, _):
        number = uc.reg_read(UC_X86_REG_EAX)
        if number in (1, 252):
            status[0] = uc.reg_read(UC_X86_REG_EBX)
            uc.emu_stop()
        else:
            uc.reg_write(UC_X86_REG_EAX, 1 if number == 20 else 0)

    uc.hook_add(UC_HOOK_INTR, on_int)
    start = time.perf_counter()
    uc.emu_start(entry, 0)
    print(json.dumps({"seconds": time.perf_counter() - start}))
    return status[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
