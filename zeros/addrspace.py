"""A process's virtual address space: its page tables and its regions.

Regions say what may be mapped where; page tables say what is mapped now. A page that a
region allows but that is not present yet arrives through a page fault (:meth:`populate`),
which is how the stack, the program break and every demand-zero region grow.
"""

from __future__ import annotations

from emu.errors import TranslationError
from emu.mmu import FRAME_MASK, PAGE_SIZE, Pte, page_down, page_up
from emu.vmem import read_virt, write_virt

from .errors import MappingError
from .frames import FrameAllocator
from .layout import USER_MIN, USER_TOP
from .pagetable import PageTables
from .regions import Prot, Region, RegionMap


_PRESENT, _USER, _WRITABLE = int(Pte.P), int(Pte.US), int(Pte.RW)


def pte_flags(prot: Prot) -> int:
    """User PTE flags for a protection: x86 pages are always readable and executable once
    present, so only U/S and R/W are set here (PROT_NONE pages are never made present)."""
    return _USER | (_WRITABLE if prot & Prot.WRITE else 0)


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
        self.tlb_dirty = False  # an entry was downgraded: flush before this space runs again

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

    # -- pages ---------------------------------------------------------------------------

    def new_page(self, va: int, region: Region) -> int:
        """Map a fresh zeroed frame at ``va`` for ``region``; returns its physical address."""
        pa = self.frames.alloc(self.pid, "page", region.name or region.kind,
                               executable=bool(region.prot & Prot.EXEC))
        self.tables.map_page(page_down(va), pa, pte_flags(region.prot))
        self.resident += 1
        return pa

    def populate(self, va: int, write: bool) -> bool:
        """Resolve a not-present fault at ``va`` if a region allows the access."""
        region = self.regions.find(va)
        if region is None or not region.demand:
            return False
        if write and not region.prot & Prot.WRITE:
            return False
        if not region.prot & (Prot.READ | Prot.WRITE | Prot.EXEC):
            return False
        self.new_page(va, region)
        self.minor_faults += 1
        return True

    def fill(self, start: int, end: int, region: Region) -> None:
        """Make every page of [start, end) present now (zeroed unless already there)."""
        for va in range(page_down(start), page_up(end), PAGE_SIZE):
            if not self.tables.entry(va) & _PRESENT:
                self.new_page(va, region)

    def write(self, va: int, data: bytes) -> None:
        """Host write through the walk, faulting pages in as the kernel's copy_to_user would;
        read-only pages are written too (loading code). Marks code for re-translation.
        Nothing is written unless every page of the range can be."""
        def fill_in(page_va: int) -> bool:
            region = self.regions.find(page_va)
            if region is None:
                raise MappingError(f"write: {page_va:#010x} is in no region of pid {self.pid}")
            self.new_page(page_va, region)
            return True

        try:
            written = write_virt(self.ram, self.cr3, va, data, user=True, force=True,
                                 on_missing=fill_in)
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

    def unmap(self, start: int, end: int) -> int:
        """Remove every page in [start, end) from the page tables; returns how many."""
        count = 0
        for va, pte in list(self.tables.entries(start, end)):
            self.tables.unmap_page(va)
            if pte & _PRESENT:
                self.frames.release(pte & FRAME_MASK)
                self.resident -= 1
            count += 1
        if count:
            self.tlb_dirty = True
        return count

    def remove_region(self, region: Region) -> None:
        self.unmap(region.start, region.end)
        self.regions.remove(region)

    def destroy(self) -> None:
        """Give back every frame: pages, page tables, the page directory."""
        for region in list(self.regions):
            self.remove_region(region)
        self.unmap(USER_MIN, USER_TOP)  # anything mapped outside a region
        self.tables.destroy()

    # -- figures -------------------------------------------------------------------------

    def resident_pages(self, region: Region | None = None) -> int:
        """Present pages, in a region (counted in the tables) or in all (kept as a count)."""
        if region is None:
            return self.resident
        return sum(1 for _ in self.tables.present_pages(region.start, region.end))
