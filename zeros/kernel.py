"""Boot: the kernel half of every address space, and the GDT.

The kernel half maps all of physical RAM (up to 1 GiB) at KERNEL_BASE + pa, supervisor-only,
read-write, global (G), through page tables made once here. Every page directory copies
these PDEs (xv6's ``setupkvm``), so the kernel page tables are shared, never duplicated.
"""

from __future__ import annotations

import struct
from array import array

from emu.cpu import Cpu
from emu.mmu import LARGE_PAGE_SIZE, PAGE_SIZE, Pde, Pte

from .frames import KERNEL, FrameAllocator
from .layout import KERNEL_BASE, MAX_DIRECT_MAP, kernel_va
from .pagetable import KERNEL_PDX

KERNEL_PTE_FLAGS = Pte.P | Pte.RW | Pte.G
KERNEL_PDE_FLAGS = Pde.P | Pde.RW


class Kernel:
    def __init__(self, cpu: Cpu, frames: FrameAllocator):
        ram = frames.ram
        self.gdt_pa = frames.alloc(KERNEL, "gdt", "GDT")
        self.direct_map_size = min(ram.size, MAX_DIRECT_MAP)
        pdes = bytearray(4 * (1024 - KERNEL_PDX))
        self.page_tables = []
        for t in range((self.direct_map_size + LARGE_PAGE_SIZE - 1) // LARGE_PAGE_SIZE):
            table = frames.alloc(KERNEL, "pagetable", "kernel direct map")
            first = t * LARGE_PAGE_SIZE
            last = min(first + LARGE_PAGE_SIZE, self.direct_map_size)
            entries = array("I", range(first | KERNEL_PTE_FLAGS, last, PAGE_SIZE))
            ram.write(table, entries.tobytes())
            struct.pack_into("<I", pdes, 4 * t, table | KERNEL_PDE_FLAGS)
            self.page_tables.append(table)
        self.kernel_pdes = bytes(pdes)
        cpu.install_gdt(self.gdt_pa, kernel_va(self.gdt_pa))

    @property
    def direct_map_end(self) -> int:
        return KERNEL_BASE + self.direct_map_size
