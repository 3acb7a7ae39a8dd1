"""Regions of a virtual address space: typed, sorted, never overlapping.

A region says what may be mapped where and how (Linux's ``vm_area_struct``); the page tables
say what is mapped now.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import MappingError
from ..layout import STACK_MAX

if TYPE_CHECKING:
    from .objects import MemoryObject


class Prot(enum.IntFlag):
    """Protection of a region, with the values of Linux's PROT_* constants."""

    NONE = 0
    READ = 1
    WRITE = 2
    EXEC = 4

    @property
    def letters(self) -> str:
        return (("r" if self & Prot.READ else "-") + ("w" if self & Prot.WRITE else "-")
                + ("x" if self & Prot.EXEC else "-"))


class RegionKind(enum.StrEnum):
    """What a region is for."""

    TEXT = "text"  # program code (r-x)
    DATA = "data"  # program data and bss (rw-)
    RODATA = "rodata"  # program constants (r--)
    BRK = "brk"  # the program break: [heap]
    STACK = "stack"
    MMAP = "mmap"  # the mmap family
    VM = "vm"  # the VirtualAlloc family
    HEAP = "heap"  # a ZerOS heap window
    SHED = "shed"  # a ZerOS shed area (code, or resource links)
    GUARD = "guard"  # the unmapped page after a ZerOS heap or shed
    VVAR = "vvar"
    VDSO = "vdso"


IMAGE_KINDS = frozenset({RegionKind.TEXT, RegionKind.DATA, RegionKind.RODATA})
# The kernel's own mappings: a guest may not remap, unmap or reprotect them.
KERNEL_KINDS = frozenset({RegionKind.HEAP, RegionKind.SHED, RegionKind.GUARD,
                          RegionKind.VVAR, RegionKind.VDSO})


@dataclass(frozen=True)
class Reservation:
    """The VirtualAlloc state of a region (MEM_RESERVE or MEM_COMMIT, PAGE_* values)."""

    base: int  # the reservation this region belongs to
    state: int  # MEM_RESERVE or MEM_COMMIT
    protect: int  # PAGE_* of committed pages (0 while only reserved)
    alloc_protect: int  # PAGE_* given when the reservation was made


@dataclass(eq=False)
class Region:
    start: int  # page aligned
    end: int  # page aligned, exclusive
    prot: Prot
    kind: RegionKind
    name: str = ""  # what /proc/PID/maps shows: "[stack]", "/path/prog", "heap 1"
    demand: bool = True  # not-present pages inside are filled with zeros on first touch
    grows_down: bool = False
    backing: MemoryObject | None = None  # shared memory or a file; None: private anonymous
    offset: int = 0  # bytes into ``backing`` where the region starts
    shared: bool = False  # MAP_SHARED: writes reach the object (and the file)
    guard: bool = False  # Windows PAGE_GUARD: the next touch raises a one-shot alarm
    reservation: Reservation | None = None  # the VirtualAlloc family's state

    @property
    def size(self) -> int:
        return self.end - self.start

    def __contains__(self, va: int) -> bool:
        return self.start <= va < self.end

    def __repr__(self) -> str:
        return (f"Region({self.start:#010x}-{self.end:#010x} {self.prot.letters} "
                f"{self.kind} {self.name!r})")


class RegionMap:
    """Regions sorted by start address, looked up by bisection."""

    def __init__(self):
        self._starts: list[int] = []
        self._regions: list[Region] = []

    def __iter__(self):
        return iter(list(self._regions))

    def __len__(self) -> int:
        return len(self._regions)

    def find(self, va: int) -> Region | None:
        i = bisect.bisect_right(self._starts, va) - 1
        if i >= 0 and va < self._regions[i].end:
            return self._regions[i]
        return None

    def after(self, va: int) -> Region | None:
        """The first region that starts above ``va``."""
        i = bisect.bisect_right(self._starts, va)
        return self._regions[i] if i < len(self._regions) else None

    def growth_floor(self, region: Region) -> int:
        """How far down a region that grows down (the stack) may grow: STACK_MAX below its
        end, and never into the region below it."""
        i = bisect.bisect_left(self._starts, region.start)
        below = self._regions[i - 1].end if i > 0 else 0
        return max(region.end - STACK_MAX, below)

    def overlapping(self, start: int, end: int) -> list[Region]:
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        while i < len(self._regions) and self._regions[i].start < end:
            if self._regions[i].end > start:
                out.append(self._regions[i])
            i += 1
        return out

    def insert(self, region: Region) -> Region:
        if region.start >= region.end:
            raise MappingError(f"empty region {region!r}")
        clash = self.overlapping(region.start, region.end)
        if clash:
            raise MappingError(f"{region.start:#010x}-{region.end:#010x} overlaps "
                               f"{clash[0].name or clash[0].kind} at "
                               f"{clash[0].start:#010x}-{clash[0].end:#010x}")
        i = bisect.bisect_left(self._starts, region.start)
        self._starts.insert(i, region.start)
        self._regions.insert(i, region)
        return region

    def remove(self, region: Region) -> None:
        i = self._regions.index(region)
        del self._starts[i]
        del self._regions[i]

    def split(self, region: Region, at: int) -> Region:
        """Cut ``region`` at ``at``: it keeps [start, at); a new region gets [at, end), with
        the same attributes (a file offset moves along)."""
        if not region.start < at < region.end or at % 0x1000:
            raise MappingError(f"cannot split {region!r} at {at:#x}")
        right = dataclasses.replace(region, start=at,
                                    offset=region.offset + (at - region.start))
        region.end = at
        i = self._regions.index(region) + 1
        self._starts.insert(i, at)
        self._regions.insert(i, right)
        if right.backing is not None:
            right.backing.mapped_region()
        return right

    def merge(self, start: int, end: int) -> None:
        """Join the regions in [start, end) with each other and with their neighbours where
        Linux's vma_merge would: adjacent mmap regions with the same rights and flags, both
        private anonymous or consecutive pieces of the same object (after mprotect, or an
        mmap next to a like mapping, /proc/PID/maps shows one line, as on Linux)."""
        i = max(bisect.bisect_right(self._starts, start - 1) - 1, 0)
        while i + 1 < len(self._regions) and self._regions[i].start <= end:
            left, right = self._regions[i], self._regions[i + 1]
            if not _mergeable(left, right):
                i += 1
                continue
            left.end = right.end
            del self._starts[i + 1]
            del self._regions[i + 1]
            if right.backing is not None:
                right.backing.merged_region()

    def resize(self, region: Region, start: int, end: int) -> None:
        """Move a region's bounds; refuses to overlap a neighbour."""
        clash = [r for r in self.overlapping(start, end) if r is not region]
        if clash:
            raise MappingError(f"{start:#010x}-{end:#010x} overlaps "
                               f"{clash[0].name or clash[0].kind}")
        self.remove(region)
        region.start, region.end = start, end
        self.insert(region)

    def free_gap(self, size: int, low: int, high: int, top_down: bool = True) -> int | None:
        """Start of a free range of ``size`` bytes inside [low, high), highest first."""
        inside = [r for r in self._regions if r.end > low and r.start < high]
        bounds = [low] + [x for r in inside for x in (r.start, r.end)] + [high]
        gaps = [(max(bounds[k], low), min(bounds[k + 1], high)) for k in range(0, len(bounds), 2)]
        gaps = [(a, b) for a, b in gaps if b - a >= size]
        if not gaps:
            return None
        a, b = gaps[-1] if top_down else gaps[0]
        return b - size if top_down else a


def _mergeable(left: Region, right: Region) -> bool:
    return (left.end == right.start and left.kind is RegionKind.MMAP and
            right.kind is RegionKind.MMAP and left.prot == right.prot and
            left.name == right.name and left.shared == right.shared and
            left.demand == right.demand and not (left.grows_down or right.grows_down or
                                                 left.guard or right.guard) and
            left.reservation is None and right.reservation is None and
            left.backing is right.backing and
            (left.backing is None or left.offset + left.size == right.offset))
