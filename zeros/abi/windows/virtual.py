"""The Windows family: VirtualAlloc, VirtualFree, VirtualProtect, VirtualQuery.

``machine.windows.virtual_alloc(pid, address, size, allocation_type, protect)`` and the
others raise :class:`Win32Error` (``winerror`` is what GetLastError would say); guests
call syscalls 1010-1013, which return -errno.

* A reservation starts on a 64 KiB boundary (the allocation granularity) and covers whole
  pages; commits are page-granular and must stay inside one reservation.
* Committed memory is zero-filled and charged to the process at once (commit accounting,
  against RAM + page file), but a frame is taken only at the first touch.
* Touching reserved-but-uncommitted memory, or PAGE_NOACCESS memory, is an access
  violation: the process is killed with SIGSEGV.
* PAGE_GUARD is a one-shot alarm: the first touch of such a page is recorded
  (``machine.vm.alarms``, the process's ``alarms``), the guard is cleared, the access goes on.
* The VirtualAlloc state of each region is a :class:`zeros.vm.regions.Reservation`.
* MEM_RELEASE takes size 0 and the reservation's base; MEM_DECOMMIT of pages that were not
  committed succeeds, as on Windows.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from emu.mmu import PAGE_SIZE, page_down, page_up

from ...errors import Win32Error
from ...proc.table import ProcessTable
from ...uapi.winnt import (
    ERROR_COMMITMENT_LIMIT,
    ERROR_INVALID_ADDRESS,
    ERROR_INVALID_PARAMETER,
    ERROR_NOT_ENOUGH_MEMORY,
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_FREE,
    MEM_IMAGE,
    MEM_MAPPED,
    MEM_PRIVATE,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_TOP_DOWN,
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_GUARD,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
)
from ...vm.objects import FileObject
from ...vm.protect import set_protection
from ...vm.regions import IMAGE_KINDS, KERNEL_KINDS, Prot, RegionKind, Reservation

__all__ = ["WindowsMemory", "MemoryBasicInformation", "Win32Error", "MEM_COMMIT",
           "MEM_RESERVE", "MEM_DECOMMIT", "MEM_RELEASE", "MEM_FREE", "MEM_PRIVATE",
           "MEM_MAPPED", "MEM_IMAGE", "MEM_TOP_DOWN", "PAGE_NOACCESS", "PAGE_READONLY",
           "PAGE_READWRITE", "PAGE_EXECUTE", "PAGE_EXECUTE_READ", "PAGE_EXECUTE_READWRITE",
           "PAGE_GUARD", "ERROR_NOT_ENOUGH_MEMORY", "ERROR_INVALID_PARAMETER",
           "ERROR_INVALID_ADDRESS", "ERROR_COMMITMENT_LIMIT"]

GRANULARITY = 0x10000
LOWEST, HIGHEST = 0x00010000, 0x7FFF0000  # the 32-bit Windows user range


def _highest(space) -> int:
    """The top of the range reservations are made in: 32-bit Windows' for a 32-bit process,
    the whole user space (below the stack area and mmap's) for a 64-bit one."""
    return HIGHEST if space.layout.word == 4 else space.layout.mmap_bottom
PROTECTIONS = {PAGE_NOACCESS: Prot.NONE, PAGE_READONLY: Prot.READ,
               PAGE_READWRITE: Prot.READ | Prot.WRITE, PAGE_EXECUTE: Prot.EXEC,
               PAGE_EXECUTE_READ: Prot.READ | Prot.EXEC,
               PAGE_EXECUTE_READWRITE: Prot.READ | Prot.WRITE | Prot.EXEC}


@dataclass(frozen=True)
class MemoryBasicInformation:
    BaseAddress: int
    AllocationBase: int
    AllocationProtect: int
    RegionSize: int
    State: int
    Protect: int
    Type: int

    def pack(self, wide: bool = False) -> bytes:
        """The MEMORY_BASIC_INFORMATION a guest receives: 28 bytes for a 32-bit process,
        48 for a 64-bit one (8-byte addresses and size, PartitionId and padding)."""
        if wide:
            return struct.pack("<QQIHxxQIII4x", self.BaseAddress, self.AllocationBase,
                               self.AllocationProtect, 0, self.RegionSize, self.State,
                               self.Protect, self.Type)
        return struct.pack("<7I", self.BaseAddress, self.AllocationBase,
                           self.AllocationProtect, self.RegionSize, self.State,
                           self.Protect, self.Type)


def protection(protect: int) -> tuple[Prot, bool]:
    """(region rights, guard) of a PAGE_* value; ERROR_INVALID_PARAMETER if it is none."""
    base = protect & ~PAGE_GUARD
    if base not in PROTECTIONS or (protect & PAGE_GUARD and base == PAGE_NOACCESS):
        raise Win32Error(ERROR_INVALID_PARAMETER, f"bad protection {protect:#x}")
    return PROTECTIONS[base], bool(protect & PAGE_GUARD)


def page_protect(prot: Prot) -> int:
    """The PAGE_* value of a region's rights."""
    for value, rights in PROTECTIONS.items():
        if rights == prot:
            return value
    return PAGE_EXECUTE_READWRITE if prot & Prot.WRITE else PAGE_EXECUTE_READ


class WindowsMemory:
    """The VirtualAlloc family from Python, by pid; raises Win32Error."""

    def __init__(self, table: ProcessTable, commit_limit: int):
        self.table = table
        self.commit_limit = commit_limit  # RAM + page file: what may be committed at once

    def _space(self, pid: int):
        proc = self.table.get(pid)
        if not proc.space.alive:
            raise Win32Error(ERROR_INVALID_PARAMETER, f"pid {pid} has no address space")
        return proc.space

    def commit_total(self) -> int:
        return sum(p.space.commit_charge for p in self.table.processes.values()
                   if p.space.alive)

    # -- VirtualAlloc --------------------------------------------------------------------

    def virtual_alloc(self, pid: int, address: int, size: int, allocation_type: int,
                      protect: int) -> int:
        space = self._space(pid)
        known = MEM_COMMIT | MEM_RESERVE | MEM_TOP_DOWN
        if allocation_type & ~known or not allocation_type & (MEM_COMMIT | MEM_RESERVE):
            raise Win32Error(ERROR_INVALID_PARAMETER,
                               f"bad allocation type {allocation_type:#x}")
        prot, guard = protection(protect)
        if size <= 0 or size > _highest(space):
            raise Win32Error(ERROR_INVALID_PARAMETER, f"bad size {size:#x}")
        reserve = allocation_type & MEM_RESERVE or not address
        if reserve:
            base = self._reserve(space, address, size, allocation_type & MEM_TOP_DOWN, protect)
            if not allocation_type & MEM_COMMIT:
                return base
            start = base
            end = page_up((address or base) + size)
        else:
            start, end = page_down(address), page_up(address + size)
        try:
            self._commit(space, start, end, prot, guard, protect)
        except Win32Error:
            if reserve:
                self.virtual_free(pid, start, 0, MEM_RELEASE)
            raise
        return start

    def _reserve(self, space, address: int, size: int, top_down: bool, protect: int) -> int:
        if address:
            base = address & ~(GRANULARITY - 1)
            end = page_up(address + size)
            if base < LOWEST or end > _highest(space) or space.regions.overlapping(base, end):
                raise Win32Error(ERROR_INVALID_ADDRESS,
                                   f"{base:#010x}-{end:#010x} is not free to reserve")
        else:
            span = page_up(size)
            base = self._free_granule(space, span, top_down)
            end = base + span
        space.add_region(base, end, Prot.NONE, RegionKind.VM, "", demand=False,
                         reservation=Reservation(base, MEM_RESERVE, 0, protect))
        space.reservations[base] = end
        return base

    def _free_granule(self, space, span: int, top_down: bool) -> int:
        """A 64 KiB-aligned start where ``span`` bytes are free."""
        holes = []
        cursor, highest = LOWEST, _highest(space)
        for region in list(space.regions) + [None]:
            stop = highest if region is None else min(region.start, highest)
            start = (cursor + GRANULARITY - 1) & ~(GRANULARITY - 1)
            if stop - start >= span:
                holes.append((start, stop))
            if region is not None:
                cursor = max(cursor, region.end)
        if not holes:
            raise Win32Error(ERROR_NOT_ENOUGH_MEMORY, f"no free {span:#x} bytes to reserve")
        if top_down:
            start, stop = holes[-1]
            return (stop - span) & ~(GRANULARITY - 1)
        return holes[0][0]

    def _reservation(self, space, start: int, end: int) -> int:
        """The base of the one reservation holding [start, end)."""
        for base, stop in space.reservations.items():
            if base <= start and end <= stop:
                return base
        raise Win32Error(ERROR_INVALID_ADDRESS,
                           f"{start:#010x}-{end:#010x} is not inside one reservation")

    def _commit(self, space, start: int, end: int, prot: Prot, guard: bool,
                protect: int) -> None:
        self._reservation(space, start, end)
        new_pages = sum(r.size for r in space.regions.overlapping(start, end)
                        if _state(r) == MEM_RESERVE) // PAGE_SIZE
        new_pages -= self._outside(space, start, end, MEM_RESERVE)
        if self.commit_total() + new_pages * PAGE_SIZE > self.commit_limit:
            raise Win32Error(ERROR_COMMITMENT_LIMIT, f"committing {new_pages} pages passes "
                                                       f"the commit limit")
        for region in space.carve(start, end):
            if _state(region) == MEM_COMMIT:
                continue  # already committed: left as it is, as Windows does
            region.reservation = dataclasses.replace(region.reservation, state=MEM_COMMIT,
                                                     protect=protect)
            region.guard = guard
            region.prot, region.demand = prot, True
            space.commit_charge += region.size

    def _outside(self, space, start: int, end: int, state: int) -> int:
        """Pages of regions in state that overlap [start, end) but lie outside it."""
        extra = 0
        for region in space.regions.overlapping(start, end):
            if _state(region) == state:
                extra += (max(0, start - region.start) + max(0, region.end - end)) // PAGE_SIZE
        return extra

    # -- VirtualFree ---------------------------------------------------------------------

    def virtual_free(self, pid: int, address: int, size: int, free_type: int) -> None:
        space = self._space(pid)
        if free_type == MEM_RELEASE:
            if size != 0:
                raise Win32Error(ERROR_INVALID_PARAMETER, "MEM_RELEASE takes size 0")
            if address not in space.reservations:
                raise Win32Error(ERROR_INVALID_ADDRESS,
                                   f"{address:#010x} is not the base of a reservation")
            end = space.reservations.pop(address)
            for region in space.regions.overlapping(address, end):
                if _state(region) == MEM_COMMIT:
                    space.commit_charge -= region.size
                space.remove_region(region)
        elif free_type == MEM_DECOMMIT:
            if size == 0 and address in space.reservations:
                start, end = address, space.reservations[address]
            else:
                start, end = page_down(address), page_up(address + size)
            if size == 0 and address not in space.reservations:
                raise Win32Error(ERROR_INVALID_PARAMETER, "size 0 needs a reservation base")
            self._reservation(space, start, end)
            for region in space.carve(start, end):
                if _state(region) == MEM_COMMIT:
                    space.commit_charge -= region.size
                    space.unmap(region.start, region.end)
                if region.reservation is not None:
                    region.reservation = dataclasses.replace(region.reservation,
                                                             state=MEM_RESERVE, protect=0)
                region.guard = False
                region.prot, region.demand = Prot.NONE, False
        else:
            raise Win32Error(ERROR_INVALID_PARAMETER,
                               f"free type must be MEM_DECOMMIT or MEM_RELEASE, "
                               f"not {free_type:#x}")

    # -- VirtualProtect ------------------------------------------------------------------

    def virtual_protect(self, pid: int, address: int, size: int, new_protect: int) -> int:
        """New protection for committed pages; returns the old protection of the first."""
        space = self._space(pid)
        prot, guard = protection(new_protect)
        start, end = page_down(address), page_up(address + max(size, 1))
        regions = space.regions.overlapping(start, end)
        covered = start
        for region in regions:
            if region.start > covered:
                break
            covered = region.end
        if covered < end or any(r.kind is RegionKind.VM and _state(r) != MEM_COMMIT
                                for r in regions):
            raise Win32Error(ERROR_INVALID_ADDRESS,
                               f"{start:#010x}-{end:#010x} is not all committed")
        first = regions[0]
        old = (first.reservation.protect if first.reservation else 0) or \
            page_protect(first.prot)
        if any(r.kind in KERNEL_KINDS for r in regions):
            raise Win32Error(ERROR_INVALID_PARAMETER, "the kernel's memory")
        for region in space.carve(start, end):
            if region.reservation is not None:
                region.reservation = dataclasses.replace(region.reservation,
                                                         protect=new_protect)
            region.guard = guard
            set_protection(space, region, prot)
            if guard:  # present pages lose U/S so that the next touch raises the alarm
                for va, _ in list(space.tables.present_pages(region.start, region.end)):
                    space.set_flags(va, 0)
        return old

    # -- VirtualQuery --------------------------------------------------------------------

    def virtual_query(self, pid: int, address: int) -> MemoryBasicInformation:
        space = self._space(pid)
        if not 0 <= address < space.layout.user_top:
            raise Win32Error(ERROR_INVALID_PARAMETER, f"{address:#010x} is above user space")
        base = page_down(address)
        region = space.find(base)
        if region is None:
            above = space.regions.after(base)
            end = above.start if above is not None else space.layout.user_top
            if above is not None and above.grows_down:
                floor = space.regions.growth_floor(above)
                if base >= floor:  # where the stack grows: reserved, as a Windows stack is
                    return MemoryBasicInformation(base, floor, PAGE_READWRITE, end - base,
                                                  MEM_RESERVE, 0, MEM_PRIVATE)
                end = floor
            return MemoryBasicInformation(base, 0, 0, end - base, MEM_FREE, PAGE_NOACCESS, 0)
        info = self._describe(space, region)
        end = region.end
        while True:  # pages that follow with the same attributes are one answer
            nxt = space.find(end)
            if nxt is None or self._describe(space, nxt) != info:
                break
            end = nxt.end
        state, protect, alloc_base, alloc_protect, kind = info
        return MemoryBasicInformation(base, alloc_base, alloc_protect, end - base, state,
                                      protect, kind)

    def _describe(self, space, region) -> tuple:
        if region.kind is RegionKind.VM:
            r = region.reservation
            protect = r.protect if r.state == MEM_COMMIT else 0
            return (r.state, protect, r.base, r.alloc_protect, MEM_PRIVATE)
        kind = MEM_IMAGE if region.kind in IMAGE_KINDS else (
            MEM_MAPPED if isinstance(region.backing, FileObject) else MEM_PRIVATE)
        if region.kind is RegionKind.GUARD:
            return (MEM_RESERVE, 0, region.start, PAGE_NOACCESS, MEM_PRIVATE)
        protect = page_protect(region.prot) if region.prot else PAGE_NOACCESS
        base = space.regions.growth_floor(region) if region.grows_down else region.start
        return (MEM_COMMIT, protect, base, protect, kind)


def _state(region) -> int | None:
    return region.reservation.state if region.reservation is not None else None
