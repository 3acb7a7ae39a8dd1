"""A process's virtual address space: its page tables and its regions.

Regions say what may be mapped where; page tables say what is mapped now. A page that a
region allows but that is not present yet arrives through a page fault (:mod:`zeros.vm.fault`),
which is how the stack, the program break, mmap and every demand-zero region grow.

Every mapping goes through :meth:`AddressSpace.map_new` or :meth:`AddressSpace.map_frame`
and every removal through :meth:`AddressSpace.unmap`, so each frame knows who maps it (its
reverse map) and is freed with the last holder. Entries themselves are written only by
:class:`zeros.mm.pagetable.PageTables`.
"""

from __future__ import annotations

from collections.abc import Callable

from emu.mmu import PAGE_SIZE, Pte, page_down, page_up
from emu.paging import NX_BIT

from ..errors import MappingError
from ..layout import LAYOUT32, Layout
from ..mm.frames import FrameAllocator, FrameKind
from ..mm.pagetable import PageTables, is_swap_entry, swap_slot
from .regions import Prot, Region, RegionKind, RegionMap

_PRESENT, _USER, _WRITABLE, _ACCESSED = int(Pte.P), int(Pte.US), int(Pte.RW), int(Pte.A)
_PROT_WRITE, _PROT_EXEC = int(Prot.WRITE), int(Prot.EXEC)

# (space, va, write, present) -> resolved?: the fault resolver, as the space is given it
Resolve = Callable[["AddressSpace", int, bool, bool], bool]


def pte_flags(prot: Prot | int, nx: int = 0) -> int:
    """User PTE flags for a protection: present pages are always readable, so U/S, R/W and
    (``nx``: the NX bit, under PAE paging; 0: there is none, every page can be run) NX
    say everything; a PROT_NONE page keeps its frame but not U/S."""
    prot = int(prot)
    if not prot:
        return 0
    return _USER | (_WRITABLE if prot & _PROT_WRITE else 0) | (0 if prot & _PROT_EXEC else nx)


class AddressSpace:
    def __init__(self, frames: FrameAllocator, pid: int, tables: PageTables,
                 resolve: Resolve | None = None,
                 on_swap_release: Callable[[int], None] | None = None,
                 layout: Layout = LAYOUT32):
        self.frames = frames
        self.layout = layout  # where user space, the stack, mmap... are (32 or 64-bit)
        self.ram = frames.ram
        self.pid = pid
        self.tables = tables
        self.fmt = tables.fmt
        self.nx = NX_BIT if self.fmt.nx else 0  # what a page that may not be run carries
        self.rights = _WRITABLE | _USER | self.nx  # the bits of an entry that grant access
        # the entry a first-touch fault writes, by protection (0-7): looked up, not computed
        self._fresh_flags = [_PRESENT | _ACCESSED | pte_flags(prot, self.nx) for prot in range(8)]
        self.regions = RegionMap()
        self.resolve = resolve  # the fault resolver: host accesses bring pages in with it
        self.on_swap_release = on_swap_release  # a swap entry went away: free its slot
        self.auxv = b""  # the auxiliary vector the loader put on the stack
        self.brk_start = 0
        self.brk = 0
        self.minor_faults = 0
        self.major_faults = 0
        self.resident = 0  # present user pages, kept as pages are mapped and unmapped
        self.swapped = 0  # pages in the page file
        self.commit_charge = 0  # bytes of committed private memory (the Windows family)
        self.reservations: dict[int, int] = {}  # VirtualAlloc reservations: base -> end
        self.alarms: list[int] = []  # Windows guard pages that went off
        self.tlb_dirty = False  # an entry was downgraded: flush before this space runs again

    @property
    def cr3(self) -> int:
        return self.tables.root

    @property
    def alive(self) -> bool:
        return bool(self.tables.root)

    # -- regions -------------------------------------------------------------------------

    def add_region(self, start: int, end: int, prot: Prot, kind: RegionKind, name: str = "",
                   demand: bool = True, **fields) -> Region:
        if start % PAGE_SIZE or end % PAGE_SIZE:
            raise MappingError(f"region {start:#x}-{end:#x} is not page aligned")
        low, high = self.layout.user_min, self.layout.user_top
        if start < low or end > high:
            raise MappingError(f"region {start:#010x}-{end:#010x} is outside user space "
                               f"({low:#010x}-{high:#010x})")
        return self.regions.insert(Region(start, end, Prot(prot), RegionKind(kind), name,
                                          demand, **fields))

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
        ``old``: the entry there, when the caller has just read it."""
        prot = int(region.prot)
        pa = self.frames.alloc(self.pid, FrameKind.PAGE, region.name or region.kind,
                               zero=content is None, executable=bool(prot & _PROT_EXEC))
        if content is not None:
            self.ram.write(pa, content)
        try:
            self._map(va, pa, pte_flags(prot, self.nx) if flags is None else flags, True,
                      old)
        except BaseException:  # no table for it (out of memory): the frame goes back
            self.frames.free(pa)
            raise
        return pa

    def map_zero_page(self, va: int, region: Region, prot: int) -> bool:
        """The common page fault, in one piece: a zeroed frame at an empty ``va`` of a
        private region whose protection is ``prot`` (an int). False when the entry is not
        empty (the general path decides)."""
        if not self.tables.map_fresh(va, self._fresh_flags[prot], region.name or region.kind,
                                     prot & _PROT_EXEC != 0, self):
            return False
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
            self.tables.clear(va)
            self.swapped -= 1
            if self.on_swap_release is not None:
                self.on_swap_release(swap_slot(old))
        self.tables.map_page(va, pa, flags | _ACCESSED)  # young: the access is about to come
        self.frames.mapped(pa, self, va, new)
        self.resident += 1

    def pte_flags(self, prot: Prot | int) -> int:
        """The rights bits of a user page with protection ``prot`` in this space."""
        return pte_flags(prot, self.nx)

    def set_flags(self, va: int, flags: int) -> None:
        """Change the rights of a present page (R/W, U/S, NX); the frame stays."""
        pte = self.tables.entry(va)
        if not pte & _PRESENT:
            return
        new = (pte & ~self.rights) | flags
        if new != pte:
            self.tables.set_entry(va, new)
            if pte & ~new & (_WRITABLE | _USER) or new & ~pte & self.nx:  # fewer rights
                self.tlb_dirty = True

    def fill(self, start: int, end: int, region: Region) -> None:
        """Map a zeroed page at every page of [start, end) that has nothing yet (a page in
        the page file is left there)."""
        for va in range(page_down(start), page_up(end), PAGE_SIZE):
            if not self.tables.entry(va):
                self.map_new(va, region)

    def unmap(self, start: int, end: int) -> int:
        """Remove every page in [start, end) from the page tables; returns how many. Each
        table's share of the range is cleared with one write."""
        frames, mask, count = self.frames, self.fmt.addr_mask, 0
        for span in list(self.tables.spans(start, end)):
            va, size, cleared = span.va, span.page_size, False
            for k, entry in enumerate(span.entries):
                if not entry:
                    continue
                cleared = True
                count += 1
                if entry & _PRESENT:
                    frames.unmapped(entry & mask, self, va + k * size)
                    self.resident -= 1
                elif is_swap_entry(entry):
                    self.swapped -= 1
                    if self.on_swap_release is not None:
                        self.on_swap_release(swap_slot(entry))
            if cleared:
                self.tables.clear_span(span)
        if count:
            self.tlb_dirty = True
        return count

    # -- host access (bringing pages in as copy_to_user does) -----------------------------

    def write(self, va: int, data: bytes, mark: bool = True) -> None:
        """Host write through the walk, faulting pages in; read-only pages are written too
        (loading code). ``mark=False`` leaves the Accessed and Dirty bits alone (a loader
        filling pages, not a program writing). MappingError if a page cannot be had."""
        from .uaccess import kernel_write
        kernel_write(self, va, data, mark)

    def read(self, va: int, n: int) -> bytes:
        """Host read through the walk, as ring 3 would read; pages in the page file come
        back first."""
        from .uaccess import kernel_read
        return kernel_read(self, va, n)

    # -- lifetime ------------------------------------------------------------------------

    def remove_region(self, region: Region) -> None:
        self.unmap(region.start, region.end)
        self.regions.remove(region)
        if region.backing is not None:
            region.backing.unmapped_region(region)

    def destroy(self) -> None:
        """Give back every frame: pages, page tables, the page directory."""
        recorder = self.frames.recorder
        if recorder is not None:  # the tables' end says it for every entry
            recorder.quiet = True
        try:
            for region in list(self.regions):
                self.remove_region(region)
            self.unmap(self.layout.user_min, self.layout.user_top)  # outside any region
        finally:
            if recorder is not None:
                recorder.quiet = False
        self.tables.destroy()
