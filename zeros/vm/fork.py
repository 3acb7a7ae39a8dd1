"""fork's copy of an address space: regions copied, private pages shared copy-on-write."""

from __future__ import annotations

import dataclasses

from emu.mmu import Pte

from .addrspace import AddressSpace
from .pagefile import PageFile
from .regions import RegionKind

_WRITABLE, _USER = int(Pte.RW), int(Pte.US)


def copy_space(parent: AddressSpace, child: AddressSpace, pagefile: PageFile) -> None:
    """The child gets the parent's regions; private pages are shared copy-on-write
    (read-only in both until one writes), shared pages are shared. [vvar] is not copied:
    every process has its own."""
    pagefile.swap_in_all(parent)
    mask = parent.fmt.addr_mask
    for region in parent.regions:
        if region.kind is RegionKind.VVAR:
            continue
        copy = dataclasses.replace(region)
        child.regions.insert(copy)
        if region.backing is not None:
            region.backing.mapped_region()
        for va, pte in list(parent.tables.present_pages(region.start, region.end)):
            flags = pte & (_WRITABLE | _USER)
            if not region.shared and flags & _WRITABLE:
                parent.set_flags(va, flags & ~_WRITABLE)
                flags &= ~_WRITABLE
            child.map_frame(va, pte & mask, flags)
    child.brk_start, child.brk = parent.brk_start, parent.brk
    child.commit_charge = parent.commit_charge
    child.reservations = dict(parent.reservations)
