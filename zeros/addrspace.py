"""A process's virtual address space: its page tables and its regions.

Regions say what may be mapped where; page tables say what is mapped now. A page that a
region allows but that is not present yet arrives through a page fault (``zeros.vm``), which
is how the stack, the program break, mmap and every demand-zero region grow.

Every mapping goes through :meth:`map_new` or :meth:`map_frame` and every removal through
:meth:`unmap`, so each frame knows who maps it (its reverse map) and is freed with the last
holder. A page sent to the page file leaves a swap entry: not present, bit 10 set, the slot
number in bits 31:12.
"""

from __future__ import annotations

import struct

from emu.errors import TranslationError
from emu.mmu import FRAME_MASK, PAGE_SIZE, Pte, page_down, page_up
from emu.vmem import read_virt, write_virt

from .errors import MappingError
from .frames import FrameAllocator
from .layout import USER_MIN, USER_TOP
from .pagetable import PageTables
from .regions import Prot, Region, RegionMap

_PRESENT, _USER, _WRITABLE, _ACCESSED = int(Pte.P), int(Pte.US), int(Pte.RW), int(Pte.A)
SWAP_MARK = int(Pte.AVL1)  # in a not-present PTE: the page is in the page file
_ENTRY = struct.Struct("<I")


_PROT_WRITE, _PROT_EXEC = int(Prot.WRITE), int(Prot.EXEC)


def pte_flags(prot: Prot | int) -> int:
    """User PTE flags for a protection: x86 pages are always readable and executable once
    present, so only U/S and R/W say anything; a PROT_NONE page keeps its frame but not U/S."""
    prot = int(prot)
    if not prot:
        return 0
    return _USER | (_WRITABLE if prot & _PROT_WRITE else 0)


def is_swap_entry(pte: int) -> bool:
    return bool(pte) and not pte & _PRESENT and bool(pte & SWAP_MARK)


class AddressSpace:
    def __init__(self, frames: FrameAllocator, pid: int, kernel_pdes: bytes):
        self.frames = frames
        self.ram = frames.ram
        self.pid = pid
        self.tables = PageTables(frames, pid, kernel_pdes)
        self.regions = RegionMap()
        self.brk_start = 0
        self.brk = 0
        self.minor_faults = 0
        self.major_faults = 0
        self.resident = 0  # present user pages, kept as pages are mapped and unmapped
        self.swapped = 0  # pages in the page file
        self.commit_charge = 0  # bytes of committed private memory (the Windows family)
        self.reservations: dict[int, int] = {}  # VirtualAlloc reservations: base -> end
        self.tlb_dirty = False  # an entry was downgraded: flush before this space runs again
        self.on_swap_release = None  # callable(slot): a swap entry went away
        self.resolver = None  # callable(space, va, write, present) -> bool: zeros.vm

    @property
    def cr3(self) -> int:
        return self.tables.pd

    # -- regions -------------------------------------------------------------------------

    def add_region(self, start: int, end: int, prot: Prot, kind: str, name: str = "",
                   demand: bool = True, **extra) -> Region:
        if start % PAGE_SIZE or end % PAGE_SIZE:
            raise MappingError(f"region {start:#x}-{end:#x} is not page aligned")
        if start < USER_MIN or end > USER_TOP:
            raise MappingError(f"region {start:#010x}-{end:#010x} is outside user space "
                               f"({USER_MIN:#010x}-{USER_TOP:#010x})")
        return self.regions.insert(Region(start, end, Prot(prot), kind, name, demand,
                                          extra=extra))

    def find(self, va: int) -> Region | None:
        return self.regions.find(va)

    def carve(self, start: int, end: int) -> list[Region]:
        """The regions inside [start, end), split at start and end where they cross them."""
        for at in (start, end):
            region = self.regions.find(at)
            if region is not None and region.start < at:
                self.regions.split(region, at)
        return self.regions.overlapping(start, end)

    # -- mapping primitives --------------------------------------------------------------

    def map_new(self, va: int, region: Region, flags: int | None = None,
                content: bytes | None = None, old: int | None = None) -> int:
        """Map a fresh frame (zeroed, or holding ``content``) at ``va``; returns its address.
        ``old``: the PTE there, when the caller has just read it."""
        prot = int(region.prot)
        pa = self.frames.alloc(self.pid, "page", region.name or region.kind,
                               zero=content is None, executable=bool(prot & _PROT_EXEC))
        if content is not None:
            self.ram.write(pa, content)
        self._map(va, pa, pte_flags(prot) if flags is None else flags, True, old)
        return pa

    def map_zero_page(self, va: int, region: Region) -> bool:
        """The common page fault, in one piece: a zeroed frame at an empty ``va`` of a
        private region. False when the entry is not empty (the general path decides)."""
        tables = self.tables
        index = va >> 22
        table = tables.tables.get(index)
        slot = tables.pte_address(va, create=True) if table is None else \
            table + ((va >> 10) & 0xFFC)
        ram_map = tables._map
        if _ENTRY.unpack_from(ram_map, slot)[0]:
            return False
        prot = int(region.prot)
        va &= ~0xFFF
        pa = self.frames.alloc_page(self.pid, region.name or region.kind,
                                    bool(prot & _PROT_EXEC), self, va)
        flags = _USER | _PRESENT | _ACCESSED | (_WRITABLE if prot & _PROT_WRITE else 0)
        _ENTRY.pack_into(ram_map, slot, pa | flags)
        self.resident += 1
        self.minor_faults += 1
        return True

    def map_frame(self, va: int, pa: int, flags: int) -> None:
        """Map a frame that has other holders (shared memory, a file's page, a COW page)."""
        self._map(va, pa, flags, new=False)

    def _map(self, va: int, pa: int, flags: int, new: bool, old: int | None = None) -> None:
        va = page_down(va)
        if old is None:
            old = self.tables.entry(va)
        if old and is_swap_entry(old):  # the page came back from the page file
            self.tables.unmap_page(va)
            self.swapped -= 1
            if self.on_swap_release is not None:
                self.on_swap_release(old >> 12)
        self.tables.map_page(va, pa, flags | _ACCESSED)  # young: the access is about to come
        self.frames.mapped(pa, self, va, new)
        self.resident += 1

    def set_flags(self, va: int, flags: int) -> None:
        """Change the rights of a present page (R/W, U/S); the frame stays."""
        pte = self.tables.entry(va)
        if not pte & _PRESENT:
            return
        new = (pte & ~(_WRITABLE | _USER)) | flags
        if new != pte:
            self.tables.set_entry(va, new)
            if pte & ~new & (_WRITABLE | _USER):
                self.tlb_dirty = True

    def fill(self, start: int, end: int, region: Region) -> None:
        """Map a zeroed page at every page of [start, end) that has nothing yet (a page in
        the page file is left there)."""
        for va in range(page_down(start), page_up(end), PAGE_SIZE):
            if not self.tables.entry(va):
                self.map_new(va, region)

    def unmap(self, start: int, end: int) -> int:
        """Remove every page in [start, end) from the page tables; returns how many. Each
        page table is read once and its range cleared with one write."""
        count = 0
        frames, tables, ram = self.frames, self.tables, self.ram
        va = start
        while va < end:
            index = va >> 22
            stop = min(end, (index + 1) << 22)
            table = tables.tables.get(index)
            if table is not None:
                first = (va >> 12) & 0x3FF
                last = ((stop - 1) >> 12 & 0x3FF) + 1
                raw = ram.read(table + 4 * first, 4 * (last - first))
                cleared = False
                for k, pte in enumerate(struct.unpack(f"<{last - first}I", raw)):
                    if not pte:
                        continue
                    cleared = True
                    count += 1
                    page = (index << 22) | ((first + k) << 12)
                    if pte & _PRESENT:
                        frames.unmapped(pte & FRAME_MASK, self, page)
                        self.resident -= 1
                    elif is_swap_entry(pte):
                        self.swapped -= 1
                        if self.on_swap_release is not None:
                            self.on_swap_release(pte >> 12)
                if cleared:
                    ram.write(table + 4 * first, bytes(4 * (last - first)))
            va = stop
        if count:
            self.tlb_dirty = True
        return count

    # -- host access ---------------------------------------------------------------------

    def write(self, va: int, data: bytes, mark: bool = True) -> None:
        """Host write through the walk, faulting pages in as the kernel's copy_to_user would;
        read-only pages are written too (loading code). Marks code for re-translation.
        Nothing is written unless every page of the range can be. ``mark=False`` leaves the
        Accessed and Dirty bits alone (a loader filling pages, not a program writing)."""
        def bring_in(w) -> bool:
            page = page_down(w.va)
            region = self.regions.find(page)
            if region is None:
                raise MappingError(f"write: {page:#010x} is in no region of pid {self.pid}")
            if self.resolver is not None and self.resolver(self, page, False, False):
                return True
            if not self.tables.entry(page):  # a region that does not fill itself in
                self.map_new(page, region)
                return True
            return False

        try:
            written = write_virt(self.ram, self.cr3, va, data, user=True, force=True,
                                 on_fault=bring_in, mark=mark)
        except TranslationError as error:
            raise MappingError(f"write: {error}") from None
        frames = self.frames
        if any(frames.info(pa).executable for pa in written):
            frames.code_dirty = True

    def read(self, va: int, n: int) -> bytes:
        """Host read through the walk, as ring 3 would read (pages must be present)."""
        try:
            return read_virt(self.ram, self.cr3, va, n, user=True)
        except TranslationError as error:
            raise MappingError(str(error)) from None

    # -- lifetime ------------------------------------------------------------------------

    def remove_region(self, region: Region) -> None:
        self.unmap(region.start, region.end)
        self.regions.remove(region)
        backing = region.extra.get("backing")
        if backing is not None:
            backing.unmapped_region(region)

    def destroy(self) -> None:
        """Give back every frame: pages, page tables, the page directory."""
        for region in list(self.regions):
            self.remove_region(region)
        self.unmap(USER_MIN, USER_TOP)  # anything mapped outside a region
        self.tables.destroy()
