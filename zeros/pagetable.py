"""One process's page directory and page tables, in physical RAM.

The only code that writes user page-table entries. Two primitives, as in xv6's ``vm.c``:
:meth:`PageTables.pte_address` (walk, and create the page table if asked) and
:meth:`PageTables.map_page` (refuses to remap a present entry). Everything else (regions,
heaps, sheds, mmap) is built on them.

The kernel half (PDE 768..1023) is a copy of the kernel's PDEs, pointing at page tables shared
by every page directory; it is set once, at creation, and never written here.
"""

from __future__ import annotations

import struct

from emu.mmu import FRAME_MASK, PAGE_SIZE, Pde, Pte, pdx, ptx

from .errors import MappingError
from .frames import FrameAllocator
from .layout import KERNEL_BASE

KERNEL_PDX = pdx(KERNEL_BASE)  # 768: the first kernel PDE
USER_PDE_FLAGS = Pde.P | Pde.RW | Pde.US  # a user page table; its PTEs decide the rights
_USER_PDE = int(USER_PDE_FLAGS)
_ENTRY = struct.Struct("<I")
_PRESENT = int(Pte.P)


class PageTables:
    def __init__(self, frames: FrameAllocator, owner: int, kernel_pdes: bytes):
        self.frames = frames
        self.ram = frames.ram
        self.owner = owner
        self.pd = frames.alloc(owner, "pagedir")
        self.ram.write(self.pd + 4 * KERNEL_PDX, kernel_pdes)
        self.tables: dict[int, int] = {}  # PDE index -> page table physical address
        self._map = self.ram._map  # the RAM mapping itself: entries are read in place

    # -- the two primitives ------------------------------------------------------------

    def pte_address(self, va: int, create: bool = False) -> int | None:
        """Physical address of the PTE for ``va``; with ``create``, add the page table."""
        index = va >> 22
        if index >= KERNEL_PDX:
            raise MappingError(f"{va:#010x} is in kernel space")
        table = self.tables.get(index)
        if table is None:
            if not create:
                return None
            table = self.frames.alloc(self.owner, "pagetable")
            self.tables[index] = table
            _ENTRY.pack_into(self._map, self.pd + 4 * index, table | _USER_PDE)
        return table + 4 * ((va >> 12) & 0x3FF)

    def map_page(self, va: int, pa: int, flags: int) -> None:
        """Map one 4 KiB page; an existing present entry is an error, never overwritten."""
        slot = self.pte_address(va, create=True)
        old = _ENTRY.unpack_from(self._map, slot)[0]
        if old & _PRESENT:
            raise MappingError(f"map_page: {va:#010x} is already mapped to "
                               f"{old & FRAME_MASK:#010x}")
        _ENTRY.pack_into(self._map, slot, pa | flags | _PRESENT)

    # -- built on them -----------------------------------------------------------------

    def entry(self, va: int) -> int:
        """The PTE for ``va`` (0 when there is no page table)."""
        slot = self.pte_address(va)
        return 0 if slot is None else _ENTRY.unpack_from(self._map, slot)[0]

    def set_entry(self, va: int, value: int) -> int:
        """Overwrite the PTE for ``va`` (creating its table); returns the old value.
        Callers that downgrade a live entry flush the TLB."""
        slot = self.pte_address(va, create=True)
        old = _ENTRY.unpack_from(self._map, slot)[0]
        _ENTRY.pack_into(self._map, slot, value)
        return old

    def unmap_page(self, va: int) -> int:
        """Clear the PTE for ``va``; returns the old entry (0 when nothing was there)."""
        slot = self.pte_address(va)
        if slot is None:
            return 0
        old = _ENTRY.unpack_from(self._map, slot)[0]
        if old:
            _ENTRY.pack_into(self._map, slot, 0)
        return old

    def present_pages(self, start: int, end: int):
        """(va, pte) of present entries in [start, end), skipping missing tables."""
        return ((va, pte) for va, pte in self.entries(start, end) if pte & _PRESENT)

    def entries(self, start: int, end: int):
        """(va, pte) of every non-zero entry in [start, end): present or not (swap slots)."""
        va = start
        while va < end:
            index = va >> 22
            table = self.tables.get(index)
            next_table = (index + 1) << 22
            if table is None:
                va = next_table
                continue
            stop = min(end, next_table)
            first, last = ptx(va), ptx(stop - 1) + 1
            raw = self.ram.read(table + 4 * first, 4 * (last - first))
            for k, pte in enumerate(struct.unpack(f"<{last - first}I", raw)):
                if pte:
                    yield (index << 22) | ((first + k) << 12), pte
            va = stop

    def destroy(self) -> None:
        """Free the page tables and the page directory (the pages must be unmapped first)."""
        for table in self.tables.values():
            self.frames.free(table)
        self.tables.clear()
        self.frames.free(self.pd)
        self.pd = 0

    @property
    def table_count(self) -> int:
        return len(self.tables)


def pages(start: int, end: int):
    return range(start, end, PAGE_SIZE)

