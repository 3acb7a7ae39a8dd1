"""A process's page tables: the walker, and the views built on it.

The walker is :mod:`emu.ptscan`, the one page-table iterator (Linux's ptdump shape): it reads
each table once and reports every present mapping and every hole. Two consumers here:
``pagetables`` merges runs of equal effective protection under section markers (QEMU
``info mem``, ptdump), ``tlb`` lists every present leaf with its A and D bits (QEMU
``info tlb``).
"""

from __future__ import annotations

from collections.abc import Iterator

from emu.mmu import PAGE_SIZE, Pde, Pte
from emu.paging import NX_BIT
from emu.ptscan import Leaf, scan
from emu.ptscan import leaves as scan_leaves

from .base import View, size_text

_P, _RW, _US, _PS = int(Pte.P), int(Pte.RW), int(Pte.US), int(Pde.PS)
_NX = NX_BIT
_A, _D, _G, _PCD, _PWT, _PAT = (int(Pte.A), int(Pte.D), int(Pte.G), int(Pte.PCD),
                                int(Pte.PWT), int(Pte.PAT))
SECTIONS = {"text": "program", "data": "program", "rodata": "program", "brk": "heap",
            "heap": "ZerOS heaps", "shed": "ZerOS sheds", "guard": "guards",
            "stack": "stack", "mmap": "mmap", "vm": "mmap", "vvar": "vvar", "vdso": "vdso"}


def leaves(space, start: int = 0, end: int | None = None, holes: bool = True
           ) -> Iterator[Leaf]:
    """Every mapping (and, with ``holes``, every gap) of [start, end) of ``space``."""
    return scan_leaves(space.ram.table_reader(space.fmt.entry_size), space.cr3, start, end,
                       space.fmt, holes)


class _Sections:
    """The section of an address, looked up once per region rather than once per page."""

    def __init__(self, space):
        self.space, self.start, self.end, self.name = space, 0, 0, ""
        self.user_top, self.top = space.layout.user_top, space.fmt.top

    def __call__(self, va: int) -> str:
        if self.start <= va < self.end:
            return self.name
        if va >= self.user_top:
            self.start, self.end, self.name = self.user_top, self.top, "kernel"
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
    end = space.fmt.top if kernel else space.layout.user_top
    linear = space.fmt.linear
    runs: list[dict] = []
    current = None
    section_of = _Sections(space)
    for leaf in leaves(space, 0, end, holes=False):
        section = section_of(leaf.va)
        glob = bool(leaf.entry & _G)
        key = (leaf.user, leaf.writable, leaf.executable, glob, leaf.level, section)
        if current is not None and current["key"] == key and current["end"] == leaf.va:
            current["end"] += leaf.size
            current["pages"] += 1
        else:
            current = {"key": key, "start": leaf.va, "end": leaf.va + leaf.size, "pages": 1}
            runs.append(current)
    data, lines, last_section = [], [f"cr3 {space.cr3:#010x} (pid {pid})"], None
    nx_column = (lambda x: "x  " if x else "NX ") if space.fmt.nx else (lambda x: "")
    for run in runs:
        user, writable, executable, glob, level, section = run.pop("key")
        run.update(size=run["end"] - run["start"], user=user, writable=writable,
                   executable=executable, glob=glob, level=level, section=section)
        data.append(run)
        if section != last_section:
            lines.append(f"---[ {section} ]---")
            last_section = section
        lines.append(f"{linear(run['start']):#010x}-{linear(run['end'] - 1) + 1:#010x} "
                     f"{size_text(run['size']):>7}  "
                     f"{'USR' if user else '   '} {'RW' if writable else 'ro'} "
                     f"{nx_column(executable)}"
                     f"{'GLB' if glob else '   '}  {level.lower()}  {run['pages']} present")
    return View("pagetables", {"pid": pid, "cr3": space.cr3, "runs": data},
                "\n".join(lines) + "\n")


_LETTERS: dict[tuple[int, str], str] = {}  # few flag combinations: spelled out once each


def _tlb_letters(entry: int, level: str) -> str:
    key = (entry & 0x11FF | (entry >> 63) << 16, level)
    letters = _LETTERS.get(key)
    if letters is None:
        pat = _PAT if level == "PTE" else int(Pde.PAT)
        letters = _LETTERS[key] = "".join(letter if entry & bit else "-" for letter, bit in (
            ("X", _NX), ("G", _G), ("P", pat), ("D", _D), ("A", _A), ("C", _PCD), ("T", _PWT),
            ("U", _US), ("W", _RW)))
    return letters


TLB_COLUMNS = ["va", "pa", "size", "flags"]


def tlb_view(machine, pid: int, kernel: bool = False) -> View:
    """Every present leaf: ``vaddr: paddr XGPDACTUW`` (X: NX, under PAE). The data
    has one row per entry, ``[va, pa, size, flags]`` (``TLB_COLUMNS``): a GiB of mappings is
    262,144 of them, and A, D, U and W are letters of ``flags``."""
    space = machine.process(pid).space
    fmt = space.fmt
    end = fmt.top if kernel else space.layout.user_top
    rows = []
    for span in scan(space.ram.table_reader(fmt.entry_size), space.cr3, 0, end, fmt):
        if span.leaf:  # the bulk case, kept tight: a GiB is 262,144 of these
            base, size, mask = span.va, span.page_size, fmt.addr_mask
            rows += [[base + k * size, pte & mask, size, _tlb_letters(pte, "PTE")]
                     for k, pte in enumerate(span.entries) if pte & _P]
        else:
            for k, entry in enumerate(span.entries):
                if entry & _P:
                    rows.append([span.va + k * span.page_size,
                                 fmt.frame(span.level, entry, True), span.page_size,
                                 _tlb_letters(entry, "PDE")])
    if fmt.canonical:  # the kernel half's addresses as the CPU writes them
        rows = [[fmt.linear(va), pa, size, flags] for va, pa, size, flags in rows]
    text = "".join([f"{va:#010x}: {pa:#010x} {flags}\n" for va, pa, _, flags in rows])
    return View("tlb", {"pid": pid, "columns": TLB_COLUMNS, "entries": rows}, text)
