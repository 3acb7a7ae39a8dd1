"""A process's page tables: the walker, and the views built on it.

The walker knows nothing about output (Linux's ptdump): it reads the page directory and each
page table once and yields a :class:`Leaf` for every present mapping and every hole. Two
consumers: ``pagetables`` merges runs of equal effective protection under section markers
(QEMU ``info mem``, ptdump), ``tlb`` lists every present leaf with its A and D bits (QEMU
``info tlb``).
"""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple

from emu.mmu import FRAME_MASK, LARGE_PAGE_SIZE, PAGE_SIZE, Pde, Pte, large_frame

from ..addrspace import is_swap_entry
from ..layout import KERNEL_BASE
from .base import View, size_text

_P, _RW, _US, _PS = int(Pte.P), int(Pte.RW), int(Pte.US), int(Pde.PS)
_A, _D, _G, _PCD, _PWT, _PAT = (int(Pte.A), int(Pte.D), int(Pte.G), int(Pte.PCD),
                                int(Pte.PWT), int(Pte.PAT))
SECTIONS = {"text": "program", "data": "program", "rodata": "program", "brk": "heap",
            "heap": "ZerOS heaps", "shed": "ZerOS sheds", "guard": "guards",
            "stack": "stack", "mmap": "mmap", "vm": "mmap", "vvar": "vvar", "vdso": "vdso"}


class Leaf(NamedTuple):
    va: int
    size: int  # 4 KiB or 4 MiB
    level: str  # "PTE" or "PDE"
    entry: int  # the leaf entry (0 for a hole)
    pa: int | None
    user: bool  # effective U/S over both levels
    writable: bool  # effective R/W over both levels
    swap: bool = False  # a not-present PTE that names a page-file slot


def tables(ram, cr3: int, start: int = 0, end: int = 1 << 32):
    """Per PDE of [start, end): (base va, PDE, its page table's 1024 entries or None). The
    lower layer, read in bulk: one unpack per page table."""
    pd = struct.unpack("<1024I", ram.read(cr3 & FRAME_MASK, 4096))
    for index in range(start >> 22, ((end - 1) >> 22) + 1):
        pde = pd[index]
        table = None
        if pde & _P and not pde & _PS:
            table = struct.unpack("<1024I", ram.read(pde & FRAME_MASK, 4096))
        yield index << 22, pde, table


def leaves(ram, cr3: int, start: int = 0, end: int = 1 << 32,
           holes: bool = True) -> Iterator[Leaf]:
    """Every mapping (and, with ``holes``, every gap) of [start, end) in hardware order."""
    for base, pde, table in tables(ram, cr3, start, end):
        if not pde & _P:
            if holes:
                yield Leaf(base, LARGE_PAGE_SIZE, "PDE", 0, None, False, False)
            continue
        if table is None:  # a 4 MiB page
            yield Leaf(base, LARGE_PAGE_SIZE, "PDE", pde, large_frame(pde), bool(pde & _US),
                       bool(pde & _RW))
            continue
        lo = max(0, (start - base) >> 12)
        hi = min(1024, ((end - base) + PAGE_SIZE - 1) >> 12)
        pde_user, pde_rw = pde & _US, pde & _RW
        for k in range(lo, hi):
            pte = table[k]
            if pte & _P:
                yield Leaf(base | (k << 12), PAGE_SIZE, "PTE", pte, pte & FRAME_MASK,
                           bool(pde_user and pte & _US), bool(pde_rw and pte & _RW))
            elif holes:
                yield Leaf(base | (k << 12), PAGE_SIZE, "PTE", pte, None, False, False,
                           is_swap_entry(pte))


class _Sections:
    """The section of an address, looked up once per region rather than once per page."""

    def __init__(self, space):
        self.space, self.start, self.end, self.name = space, 0, 0, ""

    def __call__(self, va: int) -> str:
        if self.start <= va < self.end:
            return self.name
        if va >= KERNEL_BASE:
            self.start, self.end, self.name = KERNEL_BASE, 1 << 32, "kernel"
        else:
            region = self.space.find(va)
            if region is None:
                self.start, self.end, self.name = va, va + PAGE_SIZE, "no region"
            else:
                self.start, self.end = region.start, region.end
                self.name = SECTIONS.get(region.kind, region.kind)
        return self.name


def pagetables_view(machine, pid: int, kernel: bool = True) -> View:
    """Runs of contiguous present pages with the same effective rights, within a section."""
    space = machine.process(pid).space
    end = 1 << 32 if kernel else KERNEL_BASE
    runs: list[dict] = []
    current = None
    section_of = _Sections(space)
    for leaf in leaves(machine.ram, space.cr3, 0, end, holes=False):
        section = section_of(leaf.va)
        glob = bool(leaf.entry & _G)
        key = (leaf.user, leaf.writable, glob, leaf.level, section)
        if current is not None and current["key"] == key and current["end"] == leaf.va:
            current["end"] += leaf.size
            current["pages"] += 1
        else:
            current = {"key": key, "start": leaf.va, "end": leaf.va + leaf.size, "pages": 1}
            runs.append(current)
    data, lines, last_section = [], [f"cr3 {space.cr3:#010x} (pid {pid})"], None
    for run in runs:
        user, writable, glob, level, section = run.pop("key")
        run.update(size=run["end"] - run["start"], user=user, writable=writable,
                   glob=glob, level=level, section=section)
        data.append(run)
        if section != last_section:
            lines.append(f"---[ {section} ]---")
            last_section = section
        lines.append(f"{run['start']:#010x}-{run['end']:#010x} {size_text(run['size']):>7}  "
                     f"{'USR' if user else '   '} {'RW' if writable else 'ro'} "
                     f"{'GLB' if glob else '   '}  {level.lower()}  {run['pages']} present")
    return View("pagetables", {"pid": pid, "cr3": space.cr3, "runs": data},
                "\n".join(lines) + "\n")


_LETTERS: dict[tuple[int, str], str] = {}  # few flag combinations: spelled out once each


def _tlb_letters(entry: int, level: str) -> str:
    key = (entry & 0x11FF, level)
    letters = _LETTERS.get(key)
    if letters is None:
        pat = _PAT if level == "PTE" else int(Pde.PAT)
        letters = _LETTERS[key] = "".join(letter if entry & bit else "-" for letter, bit in (
            ("X", 0), ("G", _G), ("P", pat), ("D", _D), ("A", _A), ("C", _PCD), ("T", _PWT),
            ("U", _US), ("W", _RW)))
    return letters


TLB_COLUMNS = ["va", "pa", "size", "flags"]


def tlb_view(machine, pid: int, kernel: bool = False) -> View:
    """Every present leaf: ``vaddr: paddr XGPDACTUW`` (X never: no NX without PAE). The data
    has one row per entry, ``[va, pa, size, flags]`` (``TLB_COLUMNS``): a GiB of mappings is
    262,144 of them, and A, D, U and W are letters of ``flags``."""
    space = machine.process(pid).space
    end = 1 << 32 if kernel else KERNEL_BASE
    rows = []
    for base, pde, table in tables(machine.ram, space.cr3, 0, end):
        if table is not None:  # the bulk case, kept tight: a GiB is 262,144 of these
            rows += [[base | (k << 12), pte & FRAME_MASK, PAGE_SIZE, _tlb_letters(pte, "PTE")]
                     for k, pte in enumerate(table) if pte & _P]
        elif pde & _P:
            rows.append([base, large_frame(pde), LARGE_PAGE_SIZE, _tlb_letters(pde, "PDE")])
    text = "".join([f"{va:#010x}: {pa:#010x} {flags}\n" for va, pa, _, flags in rows])
    return View("tlb", {"pid": pid, "columns": TLB_COLUMNS, "entries": rows}, text)
