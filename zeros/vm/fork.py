"""fork's copy of an address space (regions copied, private pages shared copy-on-write),
and mremap's move of pages within one.

Memory may be full while it runs: making the child's tables can send any page out, the
parent's included. So each entry is read only after the child's table for it exists, and
nothing is allocated between reading it and copying it. A page in the page file is not
brought back: the child gets the same swap entry, and the slot counts both.
"""

from __future__ import annotations

import dataclasses

from emu.mmu import Pte

from .. import budget
from ..mm.pagetable import is_swap_entry, swap_slot
from .addrspace import AddressSpace
from .pagefile import PageFile
from .regions import RegionKind

_PRESENT, _WRITABLE = int(Pte.P), int(Pte.RW)


def copy_space(parent: AddressSpace, child: AddressSpace, pagefile: PageFile) -> None:
    """The child gets the parent's regions; private pages are shared copy-on-write
    (read-only in both until one writes), shared pages are shared. [vvar] is not copied:
    every process has its own."""
    mask = parent.fmt.addr_mask
    for region in parent.regions:
        if region.kind is RegionKind.VVAR:
            continue
        child.regions.insert(dataclasses.replace(region))
        if region.backing is not None:
            region.backing.mapped_region()
        for k, (va, _) in enumerate(list(parent.tables.entries(region.start, region.end))):
            if k % 256 == 255:
                budget.check()
            child.tables.slot(va, create=True)  # may evict: read the entry after this
            entry = parent.tables.entry(va)
            if is_swap_entry(entry):
                child.tables.set_entry(va, entry)
                child.swapped += 1
                pagefile.share(swap_slot(entry))
                continue
            if not entry & _PRESENT:
                continue
            flags = entry & parent.rights
            if not region.shared and flags & _WRITABLE:
                parent.set_flags(va, flags & ~_WRITABLE)
                flags &= ~_WRITABLE
            child.map_frame(va, entry & mask, flags)
    child.brk_start, child.brk = parent.brk_start, parent.brk
    child.commit_charge = parent.commit_charge
    child.reservations = dict(parent.reservations)


def move_pages(space: AddressSpace, old: int, new: int, size: int, pagefile: PageFile) -> None:
    """mremap's move: the entries of [old, old+size) appear at [new, new+size) with the same
    frames (or page-file slots); the caller then unmaps the old range."""
    mask = space.fmt.addr_mask
    for va, _ in list(space.tables.entries(old, old + size)):
        target = new + (va - old)
        space.tables.slot(target, create=True)  # may evict: read the entry after this
        entry = space.tables.entry(va)
        if is_swap_entry(entry):
            space.tables.set_entry(target, entry)
            space.swapped += 1
            pagefile.share(swap_slot(entry))
        elif entry & _PRESENT:
            space.map_frame(target, entry & mask, entry & space.rights)
