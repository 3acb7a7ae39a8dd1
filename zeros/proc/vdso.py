"""[vvar] and [vdso]: kernel variables and code a guest uses without a trap.

[vvar] is one read-only user page per process, at VVAR_BASE::

    +0x00  u32  pid
    +0x04  u32  page size (4096)
    +0x08  u64  milliseconds since the machine booted (updated at every time slice and
                every kernel entry: there is no timer interrupt)
    +0x10  u32  scheduler slices so far

[vdso] is one read-only executable page at VDSO_BASE, one frame shared by every process,
with functions at fixed offsets (the header names them): +0x00 getpid, +0x10 clock in
milliseconds (EDX:EAX), +0x20 page size.
"""

from __future__ import annotations

import struct
import time
from functools import lru_cache

from emu.asm import assemble
from emu.mmu import PAGE_SIZE, Pte

from ..layout import VDSO_BASE, VVAR_BASE
from ..mm.frames import KERNEL, FrameAllocator, FrameKind
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, RegionKind

VDSO_SOURCE = f"""
    mov eax, dword ptr [{VVAR_BASE:#x}]          ; +0x00 getpid
    ret
    .align 16
    mov eax, dword ptr [{VVAR_BASE + 8:#x}]      ; +0x10 clock_ms (EDX:EAX)
    mov edx, dword ptr [{VVAR_BASE + 12:#x}]
    ret
    .align 16
    mov eax, dword ptr [{VVAR_BASE + 4:#x}]      ; +0x20 page size
    ret
"""
_USER_RO = int(Pte.US)


@lru_cache(maxsize=1)
def _vdso_code() -> bytes:
    """The [vdso] page's code, assembled once per Python process."""
    return assemble(VDSO_SOURCE, VDSO_BASE).segments[0].data


class Vdso:
    def __init__(self, frames: FrameAllocator):
        self.frames = frames
        self.boot = time.monotonic()
        self.ticks = 0
        code = _vdso_code()
        self.frame = self.frames.alloc(KERNEL, FrameKind.VDSO, "[vdso]", executable=True)
        self.frames.ram.write(self.frame, code)

    def setup(self, space: AddressSpace) -> None:
        """Give a new address space its [vvar] page and the shared [vdso] page."""
        self.add_vvar(space)
        region = space.add_region(VDSO_BASE, VDSO_BASE + PAGE_SIZE, Prot.READ | Prot.EXEC,
                                  RegionKind.VDSO, "[vdso]", demand=False)
        space.map_frame(region.start, self.frame, _USER_RO)

    def add_vvar(self, space: AddressSpace) -> None:
        region = space.add_region(VVAR_BASE, VVAR_BASE + PAGE_SIZE, Prot.READ, RegionKind.VVAR,
                                  "[vvar]", demand=False)
        pa = space.map_new(region.start, region)
        self.frames.info(pa).kind = FrameKind.VVAR  # the kernel writes it: never paged out
        self.frames.ram.write(pa, struct.pack("<II", space.pid, PAGE_SIZE))
        self._write_clock(pa)

    def update(self, space: AddressSpace) -> None:
        """Refresh the clock in a process's [vvar] (before it runs, and at kernel entries)."""
        pte = space.tables.entry(VVAR_BASE)
        if pte & 1:
            self._write_clock(pte & space.fmt.addr_mask)

    def _write_clock(self, pa: int) -> None:
        ms = int((time.monotonic() - self.boot) * 1000)
        self.frames.ram.write(pa + 8, struct.pack("<QI", ms, self.ticks))
