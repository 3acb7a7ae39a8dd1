"""The page file: when frames run out, a clock over the Accessed bits sends user pages to a
host file, and the next fault brings them back.

The clock hand sweeps physical frames. A candidate is a private user page: every holder of
its frame is a mapping (one, or several after fork shared it copy-on-write); page tables,
shared and page-cache frames, the zero page and [vvar] stay resident, and so does a frame the
kernel has pinned while it works on it. If any of the page's entries has A set, the clock
clears them (a second chance; the TLB is flushed before those processes run again so that
the CPU sets A anew); if not, the page is written to a free slot and every entry that mapped
it becomes a swap entry: not present, bit 10 set, the slot number from bit 12. A slot counts
the entries naming it (fork copies swap entries, as Linux's swap count does); a fault on one
reads the slot back into a new frame of that process's own (a major fault) and drops the
entry's reference; the slot is free with the last one.

With no frame to take and no slot to write to, allocation fails with OutOfMemory: a syscall
returns -ENOMEM, a page fault kills the process; nothing is overwritten.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from typing import TYPE_CHECKING

from emu.mmu import PAGE_SIZE, Pte

from ..mm.frames import FrameAllocator, FrameKind
from ..mm.pagetable import swap_entry, swap_slot
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
        self._refs: Counter = Counter()  # slot -> swap entries naming it
        self._file = tempfile.TemporaryFile(prefix="zeros-pagefile-") if self.slots else None
        self.hand = 1
        self.page_outs = self.page_ins = 0

    @property
    def used_slots(self) -> int:
        return self._next - len(self._free)

    def free_slots(self) -> list[int]:
        """Slots given back and not yet reused (for the audit)."""
        return list(self._free)

    def slot_refs(self, slot: int) -> int:
        return self._refs[slot]

    def _take_slot(self) -> int | None:
        if self._free:
            return self._free.pop()
        if self._next < self.slots:
            self._next += 1
            return self._next - 1
        return None

    def evict_one(self) -> bool:
        """Page one frame out (the clock sweep); True if one was freed."""
        recorder = self.frames.recorder
        if recorder is None:
            return self._evict_one()
        prior, recorder.cause = recorder.cause, "page-out"
        try:
            return self._evict_one()
        finally:
            recorder.cause = prior

    def _evict_one(self) -> bool:
        """Free one frame by sending a page out; False when nothing can go."""
        if not self._free and self._next >= self.slots:
            return False
        frames = self.frames
        total = frames.total
        for _ in range(2 * total):  # two sweeps: the first may only clear A bits
            number = self.hand
            self.hand = self.hand + 1 if self.hand + 1 < total else 1
            frame = frames.at(number)
            if frame is None or frame.kind is not FrameKind.PAGE or frame.pinned or \
                    not frame.rmap or frame.refs != len(frame.rmap):
                continue
            young = False
            for space, va in frame.rmap:
                pte = space.tables.entry(va)
                if pte & _ACCESSED:
                    space.tables.set_entry(va, pte & ~_ACCESSED)
                    space.tlb_dirty = True
                    young = True
            if young:
                continue
            self._page_out(number << 12, frame)
            return True
        return False

    def _page_out(self, pa: int, frame) -> None:
        slot = self._take_slot()
        self._file.seek(slot * PAGE_SIZE)
        self._file.write(self.frames.ram.read(pa, PAGE_SIZE))
        for space, va in list(frame.rmap):
            space.tables.set_entry(va, swap_entry(slot))
            space.resident -= 1
            space.swapped += 1
            space.tlb_dirty = True
            self._refs[slot] += 1
            self.frames.unmapped(pa, space, va)
        self.page_outs += 1

    def swap_in(self, space: AddressSpace, va: int, region: Region, pte: int) -> bool:
        """Read the page a swap entry names into a new frame of ``space``'s own."""
        slot = swap_slot(pte)
        self._file.seek(slot * PAGE_SIZE)
        data = self._file.read(PAGE_SIZE)
        space.map_new(va, region, content=data)  # replaces the swap entry, drops its ref
        space.major_faults += 1
        self.page_ins += 1
        return True

    def peek(self, slot: int) -> bytes:
        """The page in ``slot``, read without bringing it in (a debugger's read)."""
        self._file.seek(slot * PAGE_SIZE)
        return self._file.read(PAGE_SIZE)

    def share(self, slot: int) -> None:
        """One more swap entry names ``slot`` (fork copied it)."""
        self._refs[slot] += 1

    def release(self, slot: int) -> None:
        """A swap entry naming ``slot`` went away; the slot is free with the last one."""
        self._refs[slot] -= 1
        if self._refs[slot] <= 0:
            del self._refs[slot]
            self._free.append(slot)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
