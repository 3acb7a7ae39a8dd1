"""The page-fault resolver: every lazily backed page arrives through a real #PF that lands in
:meth:`FaultResolver.resolve`.

=====================  ===========================================  ===========
fault                  what happens                                 counted as
=====================  ===========================================  ===========
not present, private   read: the shared zero page, read-only;       minor
                       write: a zeroed frame of its own
not present, shared    the object's frame (made zeroed if new)      minor
not present, file      the page cache frame, read from the file     major (read)
  MAP_PRIVATE read     ... mapped read-only: copy-on-write          major/minor
  MAP_PRIVATE write    ... copied into a private frame              major/minor
swap entry             read back from the page file                 major
present, write, COW    frame copied (or made writable when alone)   minor
Windows guard page     one-shot alarm, then the access goes on      minor
=====================  ===========================================  ===========

It is given the frame allocator and the page file, and nothing else: the region of the
address says what the page should be.
"""

from __future__ import annotations

import dataclasses
import logging

from emu.mmu import PAGE_SIZE, Pte, page_down

from ..errors import MappingError
from ..mm.frames import KERNEL, FrameAllocator, FrameKind
from ..mm.pagetable import is_swap_entry
from ..uapi.winnt import PAGE_GUARD
from .addrspace import AddressSpace
from .objects import FileObject
from .pagefile import PageFile
from .regions import Prot, Region

log = logging.getLogger("zeros.vm")
_PRESENT, _WRITABLE, _USER = int(Pte.P), int(Pte.RW), int(Pte.US)
_R, _W, _X = int(Prot.READ), int(Prot.WRITE), int(Prot.EXEC)  # ints: IntFlag math is slow
_R_OR_W = _R | _W


class FaultResolver:
    def __init__(self, frames: FrameAllocator, pagefile: PageFile):
        self.frames = frames
        self.pagefile = pagefile
        self.alarms: list[tuple[int, int]] = []  # (pid, va) of Windows guard-page alarms
        # Reads of untouched private memory map this one read-only frame; the first write
        # copies it (Linux's ZERO_PAGE). A 1 GiB region can be read through with one frame.
        self.zero_page = frames.alloc(KERNEL, FrameKind.ZERO, "zero page")

    def resolve(self, space: AddressSpace, va: int, write: bool, present: bool,
                fetch: bool = False) -> bool:
        """Make the access possible if the region allows it; False means a real fault.
        ``fetch``: an instruction fetch (the I/D bit, reported under PAE paging)."""
        recorder = self.frames.recorder
        region = space.regions.find(va)
        if region is None:
            region = self._grow_stack(space, va)
            if region is None:
                return False
            if recorder is not None:
                recorder.cause = "stack"
        prot = int(region.prot)
        if fetch and not prot & _X:
            return False
        if not present and region.demand and region.backing is None and not region.guard \
                and prot & _R_OR_W:
            if write:
                if recorder is not None and recorder.cause != "stack":
                    recorder.cause = "zero-fill"
                if prot & _W and space.map_zero_page(va, region, prot):
                    return True  # the common fault: private, zero-filled, first write
            elif not space.tables.entry(va):  # a first read: the shared zero page, as Linux
                if recorder is not None:
                    recorder.cause = "zero page"
                space.map_frame(va, self.zero_page, space.pte_flags(prot) & ~_WRITABLE)
                space.minor_faults += 1
                return True
        if region.guard:
            if recorder is not None:
                recorder.cause = "guard"
            self._guard_alarm(space, va)
            region = space.regions.find(va)
        prot = int(region.prot)
        if write and not prot & _W or not prot & (_R | _W | _X):
            return False
        pte = space.tables.entry(va)
        if pte & _PRESENT:
            if recorder is not None:
                recorder.cause = "cow" if write else "restored"
            return self._write_protected(space, va, pte, region) if write else \
                self._user_restored(space, va, pte, region)
        if is_swap_entry(pte):
            if recorder is not None:
                recorder.cause = "swap-in"
            return self.pagefile.swap_in(space, va, region, pte)
        if not region.demand:
            return False
        backing = region.backing
        if recorder is not None and recorder.cause not in ("stack", "guard"):
            recorder.cause = "zero-fill" if backing is None else \
                "shared" if region.shared else "file"
        if backing is None:
            space.map_new(va, region, old=pte)
            space.minor_faults += 1
            return True
        index = (region.offset + page_down(va) - region.start) // PAGE_SIZE
        pa, major = backing.page(index)
        if region.shared:
            space.map_frame(va, pa, space.pte_flags(prot))
            if prot & _W and isinstance(backing, FileObject):
                backing.written = True
        elif write:  # a private write: copy now
            space.map_new(va, region, content=self.frames.ram.read(pa, PAGE_SIZE))
        else:  # a private read: share the cache page read-only until a write
            space.map_frame(va, pa, space.pte_flags(prot) & ~_WRITABLE)
        if major:
            space.major_faults += 1
        else:
            space.minor_faults += 1
        return True

    @staticmethod
    def _grow_stack(space: AddressSpace, va: int) -> Region | None:
        """A fault below a region that grows down (the stack), within its limit and not
        into another region: the region grows to take it in (Linux's expand_stack)."""
        above = space.regions.after(va)
        if above is None or not above.grows_down or va < space.regions.growth_floor(above):
            return None
        try:
            space.regions.resize(above, page_down(va), above.end)
        except MappingError:
            return None
        return above

    def _write_protected(self, space: AddressSpace, va: int, pte: int, region: Region) -> bool:
        """A write to a present read-only page of a writable private region: copy-on-write."""
        if region.shared:
            space.set_flags(va, space.pte_flags(region.prot))  # a shared page made writable
            return True
        pa = pte & space.fmt.addr_mask
        frame = self.frames.info(pa)
        if frame.refs == 1 and frame.kind is FrameKind.PAGE:  # the only holder: writable
            space.set_flags(va, space.pte_flags(region.prot))
        else:
            content = self.frames.ram.read(pa, PAGE_SIZE)
            space.unmap(page_down(va), page_down(va) + PAGE_SIZE)
            space.map_new(va, region, content=content)
        space.minor_faults += 1
        return True

    def _user_restored(self, space: AddressSpace, va: int, pte: int, region: Region) -> bool:
        """A read of a present page the user may not touch: a guard page that went off."""
        if not pte & _USER and region.prot & (Prot.READ | Prot.EXEC):
            space.set_flags(va, space.pte_flags(region.prot))
            return True
        return False

    def _guard_alarm(self, space: AddressSpace, va: int) -> None:
        """PAGE_GUARD: the first touch of a page raises a one-shot alarm and clears the
        guard of that page; the access then goes on."""
        page = page_down(va)
        for piece in space.carve(page, page + PAGE_SIZE):
            piece.guard = False
            if piece.reservation is not None:
                piece.reservation = dataclasses.replace(
                    piece.reservation, protect=piece.reservation.protect & ~PAGE_GUARD)
        if space.tables.entry(page) & _PRESENT:
            space.set_flags(page, space.pte_flags(space.regions.find(page).prot))
        self.alarms.append((space.pid, page))
        space.alarms.append(page)
        log.info("pid %d: guard page %#010x touched: alarm", space.pid, page)

