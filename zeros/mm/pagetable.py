"""Paging structures in physical RAM, for any paging format: the only code that writes them.

One :class:`PageTables` per address space. Two primitives, as in xv6's ``vm.c``:
:meth:`PageTables.slot` (walk, and create the missing tables if asked) and
:meth:`PageTables.map_page` (refuses to remap a present entry); everything else (regions,
heaps, sheds, mmap, the page file, fork) is built on them. The bulk operations (clearing a
range, scanning it) go through the page-table iterator :mod:`emu.ptscan`.

The kernel half is built once at boot by :func:`build_kernel_half` (tables shared by every
address space, xv6's ``setupkvm``) and copied into each new top table; it is never written
through a :class:`PageTables`.

A page sent to the page file leaves a *swap entry*: not present, bit 10 (AVL1) set, the slot
number from bit 12 up.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from emu.mmu import PAGE_SIZE, Pte
from emu.paging import PagingFormat
from emu.ptscan import Span, scan

from ..errors import MappingError
from .frames import KERNEL, FrameAllocator, FrameKind

_PRESENT = int(Pte.P)
SWAP_MARK = int(Pte.AVL1)  # in a not-present entry: the page is in the page file
KERNEL_PTE_FLAGS = int(Pte.P | Pte.RW | Pte.G)
KERNEL_TABLE_FLAGS = int(Pte.P | Pte.RW)


def is_swap_entry(entry: int) -> bool:
    return bool(entry) and not entry & _PRESENT and bool(entry & SWAP_MARK)


def swap_entry(slot: int) -> int:
    return (slot << 12) | SWAP_MARK


def swap_slot(entry: int) -> int:
    return entry >> 12


@dataclass(frozen=True)
class KernelHalf:
    """The top-table entries every address space shares, from ``index`` on."""

    index: int
    entries: bytes
    tables: tuple[int, ...]  # physical addresses of the shared kernel tables


def build_kernel_half(frames: FrameAllocator, fmt: PagingFormat, base: int,
                      size: int) -> KernelHalf:
    """Map physical [0, size) at virtual ``base``, supervisor-only, writable, global, with
    4 KiB pages in tables shared by every address space."""
    ram = frames.ram
    leaf = fmt.levels[-1]
    per_table = leaf.entries * PAGE_SIZE
    code = "I" if fmt.entry_size == 4 else "Q"
    tables, pointers = [], []
    for first in range(0, size, per_table):
        table = frames.alloc(KERNEL, FrameKind.PAGETABLE, "kernel direct map")
        last = min(first + per_table, size)
        ram.write(table, array(code, range(first | KERNEL_PTE_FLAGS, last, PAGE_SIZE)).tobytes())
        tables.append(table)
        pointers.append(table | KERNEL_TABLE_FLAGS)
    # above the leaf tables: one more level of shared tables until the top one's entries
    depth = len(fmt.levels) - 2
    while depth > 0:
        level = fmt.levels[depth]
        grouped = []
        for k in range(0, len(pointers), level.entries):
            table = frames.alloc(KERNEL, FrameKind.PAGETABLE, "kernel direct map")
            chunk = pointers[k:k + level.entries]
            ram.write(table + level.index(base) * fmt.entry_size,
                      struct.pack(f"<{len(chunk)}{code}", *chunk))
            tables.append(table)
            grouped.append(table | fmt.levels[depth - 1].table_flags & ~int(Pte.US))
        pointers, depth = grouped, depth - 1
    index = fmt.levels[0].index(base)
    pointers += [0] * (fmt.levels[0].entries - index - len(pointers))  # the rest: empty
    return KernelHalf(index, struct.pack(f"<{len(pointers)}{code}", *pointers), tuple(tables))


class PageTables:
    """One address space's paging structures, in format ``fmt``."""

    def __init__(self, frames: FrameAllocator, owner: int, fmt: PagingFormat,
                 kernel: KernelHalf):
        self.frames = frames
        self.ram = frames.ram
        self.owner = owner
        self.fmt = fmt
        self.kernel_index = kernel.index  # top-table entries from here on are the kernel's
        self.root = frames.alloc(owner, FrameKind.PAGEDIR)
        self.ram.write(self.root + kernel.index * fmt.entry_size, kernel.entries)
        self.lower: dict[tuple[int, int], int] = {}  # (depth, va >> reach) -> a table below
        self.leaf_tables: dict[int, int] = {}  # va >> leaf_shift -> its PTE table
        self._leaf_shift = fmt.leaf_table_shift
        self._leaf_mask = fmt.leaf.entries - 1
        self._size = fmt.entry_size
        self._entry = fmt.entry_struct
        self._map = self.ram._map  # entries are read and written in place
        self._read_table = self.ram.table_reader(fmt.entry_size)
        self._user_top = kernel.index << fmt.levels[0].shift

    # a snapshot keeps what the tables are, not the host's handles on RAM (made again)
    _HANDLES = ("_entry", "_map", "_read_table")

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._HANDLES}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._entry = self.fmt.entry_struct
        self._map = self.ram._map
        self._read_table = self.ram.table_reader(self.fmt.entry_size)

    @property
    def pd(self) -> int:
        """The top table's physical address (0 once destroyed); what CR3 holds."""
        return self.root

    @property
    def table_count(self) -> int:
        """Paging structures below the top one."""
        return len(self.lower)

    # -- the two primitives ------------------------------------------------------------

    def slot(self, va: int, create: bool = False) -> int | None:
        """Physical address of the leaf entry for ``va``; with ``create``, add the tables
        on the way. None when a table is missing and ``create`` is False."""
        table = self.leaf_tables.get(va >> self._leaf_shift)
        if table is None:
            if not create:
                return None
            table = self._make_path(va)
        return table + ((va >> 12) & self._leaf_mask) * self._size

    def _make_path(self, va: int) -> int:
        if va >= self._user_top or va < 0:
            raise MappingError(f"{va:#010x} is in kernel space")
        parent = self.root
        levels = self.fmt.levels
        for depth in range(len(levels) - 1):
            level = levels[depth]
            key = (depth + 1, va >> level.shift)
            child = self.lower.get(key)
            if child is None:
                child = self.frames.alloc(self.owner, FrameKind.PAGETABLE)
                self.lower[key] = child
                self._entry.pack_into(self._map, parent + level.index(va) * self._size,
                                      child | level.table_flags)
                if self.frames.recorder is not None:
                    self.frames.recorder.entry(self.owner, level.name,
                                               va >> level.shift << level.shift, 0,
                                               child | level.table_flags)
            parent = child
        self.leaf_tables[va >> self._leaf_shift] = parent
        return parent

    def map_page(self, va: int, pa: int, flags: int) -> None:
        """Map one 4 KiB page; an existing present entry is an error, never overwritten."""
        slot = self.slot(va, create=True)
        old = self._entry.unpack_from(self._map, slot)[0]
        if old & _PRESENT:
            raise MappingError(f"map_page: {va:#010x} is already mapped to "
                               f"{old & self.fmt.addr_mask:#010x}")
        self._entry.pack_into(self._map, slot, pa | flags | _PRESENT)
        if self.frames.recorder is not None:
            self._recorded(va, old, pa | flags | _PRESENT)

    # -- single entries ----------------------------------------------------------------

    def entry(self, va: int) -> int:
        """The leaf entry for ``va`` (0 when there is no table)."""
        slot = self.slot(va)
        return 0 if slot is None else self._entry.unpack_from(self._map, slot)[0]

    def map_fresh(self, va: int, flags: int, label: str, executable: bool, space) -> int:
        """The page fault's fast path: a new frame (from the allocator, recorded as mapped
        by ``space`` at ``va``) mapped at an empty entry. Returns its address, or 0 when the
        entry is not empty (the general path decides)."""
        table = self.leaf_tables.get(va >> self._leaf_shift)
        slot = self.slot(va, create=True) if table is None else \
            table + ((va >> 12) & self._leaf_mask) * self._size
        if self._entry.unpack_from(self._map, slot)[0]:
            return 0
        pa = self.frames.alloc_page(self.owner, label, executable, space, va & ~0xFFF)
        self._entry.pack_into(self._map, slot, pa | flags)
        if self.frames.recorder is not None:
            self._recorded(va, 0, pa | flags)
        return pa

    def _recorded(self, va: int, old: int, new: int) -> None:
        self.frames.recorder.entry(self.owner, self.fmt.leaf.name, va & ~0xFFF, old, new)

    def set_entry(self, va: int, value: int) -> int:
        """Overwrite the entry for ``va`` (creating its tables); returns the old value.
        Callers that downgrade a live entry flush the TLB."""
        slot = self.slot(va, create=True)
        old = self._entry.unpack_from(self._map, slot)[0]
        self._entry.pack_into(self._map, slot, value)
        if self.frames.recorder is not None:
            self._recorded(va, old, value)
        return old

    def clear(self, va: int) -> int:
        """Clear the entry for ``va``; returns the old entry (0 when nothing was there)."""
        slot = self.slot(va)
        if slot is None:
            return 0
        old = self._entry.unpack_from(self._map, slot)[0]
        if old:
            self._entry.pack_into(self._map, slot, 0)
            if self.frames.recorder is not None:
                self._recorded(va, old, 0)
        return old

    # -- ranges, through the page-table iterator -----------------------------------------

    def spans(self, start: int, end: int) -> Iterator[Span]:
        """Leaf-level spans of [start, end) of the user half (see :mod:`emu.ptscan`)."""
        end = min(end, self._user_top)
        for span in scan(self._read_table, self.root, start, end, self.fmt):
            if span.leaf:
                yield span

    def entries(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """(va, entry) of every non-zero leaf entry in [start, end): present or not (swap
        entries)."""
        for span in self.spans(start, end):
            va, size = span.va, span.page_size
            for k, entry in enumerate(span.entries):
                if entry:
                    yield va + k * size, entry

    def present_pages(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """(va, entry) of present leaf entries in [start, end)."""
        return ((va, e) for va, e in self.entries(start, end) if e & _PRESENT)

    def clear_span(self, span: Span) -> None:
        """Clear every entry of a span (from :meth:`spans`) with one write."""
        self.ram.write(span.entry_pa, bytes(len(span.entries) * self._size))
        if self.frames.recorder is not None:
            for k, old in enumerate(span.entries):
                if old:
                    self._recorded(span.va + k * span.page_size, old, 0)

    # -- lifetime ------------------------------------------------------------------------

    def destroy(self) -> None:
        """Free every table and the top one (the pages must be unmapped first)."""
        if self.frames.recorder is not None:
            self.frames.recorder.gone(self.owner)
        for table in self.lower.values():
            self.frames.free(table)
        self.lower.clear()
        self.leaf_tables.clear()
        self.frames.free(self.root)
        self.root = 0


def pages(start: int, end: int) -> range:
    return range(start, end, PAGE_SIZE)
