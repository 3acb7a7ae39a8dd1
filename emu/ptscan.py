"""The page-table iterator: every entry and hole of a range, in address order.

Shaped like Linux's ``mm/ptdump.c``: the walker knows nothing of what its consumers do. It
descends from the top table through every present entry that points at a table and reports
the rest (leaves, large pages and holes) as :class:`Span` s: runs of entries of one table,
read in bulk (one unpack per table). The debug dumps, the address space's bulk unmap and the
page file's scans all consume it; the single-address reference walk is :mod:`emu.walk`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from .mmu import Pde, Pte
from .paging import NX_BIT, X86_32, Level, PagingFormat

ReadTable = Callable[[int, int], tuple]  # (pa, count) -> count entries

_P, _RW, _US, _PS = int(Pte.P), int(Pte.RW), int(Pte.US), int(Pde.PS)


class Span(NamedTuple):
    """Consecutive entries of one table: each maps (or would map) ``page_size`` bytes, the
    first at ``va``. At the lowest level a span is a whole table's share of the range; above
    it, a run of holes and large pages between two entries that point at tables."""

    va: int
    page_size: int
    level: Level
    entry_pa: int  # physical address of entries[0]
    entries: tuple  # the entry values (0: empty)
    user: bool  # U/S of every level above (the leaf's own bit still decides)
    writable: bool  # R/W of every level above
    leaf: bool  # the lowest level (PTEs): entries name 4 KiB frames or are holes
    executable: bool = True  # no NX bit in any level above

    def large(self, entry: int) -> bool:
        """Whether ``entry`` of this span maps a large page (not a table, not a hole)."""
        return not self.leaf and bool(entry & _P) and bool(entry & _PS)


def scan(read_table: ReadTable, root: int, start: int = 0, end: int | None = None,
         fmt: PagingFormat = X86_32, pse: bool = True) -> Iterator[Span]:
    """Spans covering [start, end) of the tables under ``root`` (CR3's table)."""
    if end is None:
        end = fmt.top
    if start >= end:
        return
    yield from _descend(read_table, fmt, 0, root & fmt.cr3_mask, 0, start, end, True, True,
                        pse, True)


def _descend(read_table, fmt: PagingFormat, depth: int, table: int, base: int, start: int,
             end: int, user: bool, writable: bool, pse: bool, executable: bool
             ) -> Iterator[Span]:
    level = fmt.levels[depth]
    reach = level.reach
    leaf = depth == len(fmt.levels) - 1
    first = (start - base) // reach
    last = (end - 1 - base) // reach + 1
    size = fmt.entry_size
    entries = read_table(table + first * size, last - first)
    if leaf:
        yield Span(base + first * reach, reach, level, table + first * size, entries, user,
                   writable, True, executable)
        return
    run_from = None  # start of a run of non-table entries, as an index into `entries`
    for k, entry in enumerate(entries):
        index = first + k
        is_table = entry & _P and not (level.large and entry & _PS and (pse or size == 8))
        if not is_table:
            if run_from is None:
                run_from = k
            continue
        if run_from is not None:
            yield Span(base + (first + run_from) * reach, reach, level,
                       table + (first + run_from) * size, entries[run_from:k], user, writable,
                       False, executable)
            run_from = None
        child_base = base + index * reach
        if level.rights:
            child_user, child_writable = user and bool(entry & _US), writable and bool(
                entry & _RW)
        else:
            child_user, child_writable = user, writable
        child_executable = executable and not (fmt.nx and level.rights and entry & NX_BIT)
        yield from _descend(read_table, fmt, depth + 1, entry & fmt.addr_mask, child_base,
                            max(start, child_base), min(end, child_base + reach), child_user,
                            child_writable, pse, child_executable)
    if run_from is not None:
        yield Span(base + (first + run_from) * reach, reach, level,
                   table + (first + run_from) * size, entries[run_from:], user, writable,
                   False, executable)


class Leaf(NamedTuple):
    """One mapping (or hole) as the dumps show it."""

    va: int
    size: int  # 4 KiB, or the large page's size, or an upper-level hole's reach
    level: str  # "PTE", "PDE", ...
    entry: int  # the entry (0 for an empty one)
    pa: int | None  # the frame, when present
    user: bool  # effective U/S over every level
    writable: bool  # effective R/W over every level
    executable: bool = True  # no NX bit at any level (always, without PAE)


def leaves(read_table: ReadTable, root: int, start: int = 0, end: int | None = None,
           fmt: PagingFormat = X86_32, holes: bool = True, pse: bool = True
           ) -> Iterator[Leaf]:
    """Every mapping (and, with ``holes``, every not-present entry) of [start, end)."""
    for span in scan(read_table, root, start, end, fmt, pse):
        name = span.level.name
        for k, entry in enumerate(span.entries):
            va = span.va + k * span.page_size
            if entry & _P:
                pa = fmt.frame(span.level, entry, not span.leaf)
                yield Leaf(va, span.page_size, name, entry, pa,
                           span.user and bool(entry & _US),
                           span.writable and bool(entry & _RW),
                           span.executable and not (fmt.nx and entry & NX_BIT))
            elif holes:
                yield Leaf(va, span.page_size, name, entry, None, False, False)
