"""The page file: when frames run out, a clock over the Accessed bits sends user pages to a
host file, and the next fault brings them back.

The clock hand sweeps physical frames. A candidate is a private user page (one mapping);
page tables, page directories, shared and page-cache frames stay resident. If the page's
PTE has A set, the clock clears it (a second chance, and the TLB is flushed before that
process runs again so the CPU will set it anew); if not, the page is written to a free slot
and its PTE becomes a swap entry: not present, bit 10 set, the slot in bits 31:12. A fault on
a swap entry reads the slot back into a new frame (a major fault) and frees the slot.

With no frame to take and no slot to write to, allocation fails with OutOfMemory: a syscall
returns -ENOMEM, a page fault kills the process; nothing is overwritten.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

from emu.mmu import PAGE_SIZE, Pte

from ..layout import USER_TOP
from ..mm.frames import FrameAllocator, FrameKind
from ..mm.pagetable import is_swap_entry, swap_entry, swap_slot
from .regions import Region

if TYPE_CHECKING:
    from .addrspace import AddressSpace

_ACCESSED = int(Pte.A)


class PageFile:
    """``size`` bytes of page file for the pages of ``frames``; 0 for none."""

    def __init__(self, frames: FrameAllocator, size: int):
        self.frames = frames
        self.size = size - size % PAGE_SIZE
        self.slots = self.size // PAGE_SIZE
        self._free: list[int] = []  # slots given back; never-used ones come from _next
        self._next = 0
        self._file = tempfile.TemporaryFile(prefix="zeros-pagefile-") if self.slots else None
        self.hand = 1
        self.page_outs = self.page_ins = 0
        if self.slots:
            self.frames.on_exhausted = self.evict_one

    @property
    def used_slots(self) -> int:
        return self._next - len(self._free)

    def free_slots(self) -> list[int]:
        """Slots given back and not yet reused (for the audit)."""
        return list(self._free)

    def _take_slot(self) -> int | None:
        if self._free:
            return self._free.pop()
        if self._next < self.slots:
            self._next += 1
            return self._next - 1
        return None

    def evict_one(self) -> bool:
        """Free one frame by sending a page out; False when nothing can go."""
        if not self._free and self._next >= self.slots:
            return False
        frames = self.frames
        total = frames.total
        for _ in range(2 * total):  # two sweeps: the first may only clear A bits
            number = self.hand
            self.hand = self.hand + 1 if self.hand + 1 < total else 1
            frame = frames.at(number)
            if frame is None or frame.kind is not FrameKind.PAGE or frame.refs != 1 or \
                    len(frame.rmap) != 1:
                continue
            space, va = frame.rmap[0]
            pte = space.tables.entry(va)
            if pte & _ACCESSED:
                space.tables.set_entry(va, pte & ~_ACCESSED)
                space.tlb_dirty = True
                continue
            self._page_out(space, va, number << 12)
            return True
        return False

    def _page_out(self, space: AddressSpace, va: int, pa: int) -> None:
        slot = self._take_slot()
        self._file.seek(slot * PAGE_SIZE)
        self._file.write(self.frames.ram.read(pa, PAGE_SIZE))
        space.tables.set_entry(va, swap_entry(slot))
        space.resident -= 1
        space.swapped += 1
        space.tlb_dirty = True
        self.frames.unmapped(pa, space, va)
        self.page_outs += 1

    def swap_in(self, space: AddressSpace, va: int, region: Region, pte: int) -> bool:
        slot = swap_slot(pte)
        self._file.seek(slot * PAGE_SIZE)
        data = self._file.read(PAGE_SIZE)
        space.map_new(va, region, content=data)  # replaces the swap entry, frees the slot
        space.major_faults += 1
        self.page_ins += 1
        return True

    def release(self, slot: int) -> None:
        """A swap entry was dropped (its page unmapped): the slot is free again."""
        self._free.append(slot)

    def swap_in_all(self, space: AddressSpace) -> None:
        for va, pte in list(space.tables.entries(0, USER_TOP)):
            if is_swap_entry(pte):
                self.swap_in(space, va, space.find(va), pte)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

