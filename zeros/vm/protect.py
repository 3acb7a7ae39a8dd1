"""Changing a region's rights: the one primitive both the mmap family (mprotect) and the
VirtualAlloc family (VirtualProtect) use."""

from __future__ import annotations

from emu.mmu import Pte

from ..mm.frames import FrameKind
from .addrspace import AddressSpace
from .objects import FileObject
from .regions import Prot, Region

_WRITABLE = int(Pte.RW)


def set_protection(space: AddressSpace, region: Region, prot: Prot) -> None:
    """New rights for a region and its present pages. Pages shared copy-on-write stay
    read-only until written; PROT_NONE pages keep their frame but lose U/S."""
    region.prot = prot
    if isinstance(region.backing, FileObject) and region.shared and prot & Prot.WRITE:
        region.backing.written = True
    frames = space.frames
    for va, pte in list(space.tables.present_pages(region.start, region.end)):
        flags = space.pte_flags(prot) if prot else 0
        if flags & _WRITABLE and not region.shared:
            frame = frames.info(pte & space.fmt.addr_mask)
            if frame.refs > 1 or frame.kind is not FrameKind.PAGE:
                flags &= ~_WRITABLE  # still copy-on-write
        space.set_flags(va, flags)
