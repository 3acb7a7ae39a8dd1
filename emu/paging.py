"""x86 paging formats as data: how many levels, how wide an entry, which bits index each
level, where a large page may end the walk.

The reference walk (:mod:`emu.walk`), the page-table iterator (:mod:`emu.ptscan`) and the
OS's page-table writer all take a :class:`PagingFormat` instead of hard-coding one::

    32-bit (CR4.PAE=0), 4-byte entries:
     31        22 21        12 11           0
    | PDE index  | PTE index  |   offset     |       4 KiB pages, or 4 MiB with PDE.PS

    PAE (CR4.PAE=1, 32-bit mode), 8-byte entries:
     31 30 29     21 20     12 11           0
    |PDPT| PDE idx  | PTE idx  |   offset    |       4 KiB pages, or 2 MiB with PDE.PS

    IA-32e 4-level (long mode), 8-byte entries, 48-bit canonical addresses:
     47      39 38      30 29      21 20      12 11        0
    | PML4 idx | PDPT idx | PDE idx  | PTE idx  |  offset  |  4 KiB, 2 MiB, 1 GiB pages

Names follow the Intel SDM, volume 3, chapter 4. The format says what is the same for every
entry of a level; what depends on CPU state (CR4.PSE, EFER.NXE, CR0.WP) is given to the walk.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .mmu import PAGE_SHIFT, Pde, Pte

# Bits of 64-bit entries (PAE and IA-32e) beyond the 32-bit ones.
NX_BIT = 1 << 63  # execute-disable, honoured with EFER.NXE
HIGH_IGNORED = 0x7FF0_0000_0000_0000  # bits 62:52: ignored in 4-level entries, reserved in PAE
# MAXPHYADDR of the emulated CPU (CPUID 0x80000008 EAX[7:0]); entries with address bits at
# or above it set are reserved-bit faults.
PHYS_BITS = 40


@dataclass(frozen=True)
class Level:
    """One level of paging structures."""

    name: str  # the entry's name: "PML4E", "PDPTE", "PDE", "PTE"
    shift: int  # lowest virtual-address bit this level indexes
    bits: int  # index bits (10, 9, or 2 for the PAE PDPT)
    large: bool = False  # an entry with PS=1 here maps a page of 1 << shift bytes
    rights: bool = True  # R/W and U/S mean something here (not in a PAE PDPTE)
    accessed: bool = True  # the CPU sets A when it walks through (not in a PAE PDPTE)
    table_flags: int = int(Pde.P | Pde.RW | Pde.US)  # an OS entry pointing at a user table
    ps_reserved: bool = False  # bit 7 (PS) must be clear (a PML4E): else a RSVD fault
    # A is set as soon as the entry is read, before PS says it maps a page: a 1 GiB PDPTE
    # gets A even when the access then faults on its rights (QEMU's walk, as Unicorn runs it)
    accessed_on_read: bool = False

    @property
    def entries(self) -> int:
        return 1 << self.bits

    @property
    def reach(self) -> int:
        """Bytes of virtual address space one entry of this level covers."""
        return 1 << self.shift

    def index(self, va: int) -> int:
        return (va >> self.shift) & ((1 << self.bits) - 1)


@dataclass(frozen=True)
class PagingFormat:
    name: str
    levels: tuple[Level, ...]  # from the one CR3 points at down to the one mapping 4 KiB
    entry_size: int  # bytes per entry: 4 or 8
    va_bits: int  # width of a linear address: 32 or 48
    cr3_mask: int  # bits of CR3 that locate the top table
    pse36: bool = False  # 32-bit 4 MiB PDEs: bits 20:13 are physical bits 39:32
    canonical: bool = False  # addresses must be sign-extended from bit va_bits-1
    nx: bool = False  # entries have an execute-disable bit (bit 63)
    high_reserved: bool = False  # bits 62:52 are reserved in every entry (PAE), not ignored
    entry_struct: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entry_struct",
                           struct.Struct("<I" if self.entry_size == 4 else "<Q"))

    # -- addresses -------------------------------------------------------------------------

    @property
    def top(self) -> int:
        """One past the highest linear address (2**32, or 2**48 before sign extension)."""
        return 1 << self.va_bits

    def is_canonical(self, va: int) -> bool:
        if not self.canonical:
            return 0 <= va < 1 << self.va_bits
        high = va >> (self.va_bits - 1)
        return high == 0 or high == (1 << (64 - self.va_bits + 1)) - 1

    def linear(self, va: int) -> int:
        """A table-walk address (0 .. top) as the CPU writes it: sign-extended from bit
        va_bits-1 in the formats with canonical addresses (the kernel half at 0xffff...)."""
        if self.canonical and va >> (self.va_bits - 1) & 1:
            return va | ((1 << 64) - (1 << self.va_bits))
        return va

    def indexes(self, va: int) -> list[tuple[str, int]]:
        """(level name, index) for each level, top first; the page offset is va & 0xfff."""
        return [(level.name, level.index(va)) for level in self.levels]

    @property
    def leaf(self) -> Level:
        return self.levels[-1]

    @property
    def leaf_table_shift(self) -> int:
        """va >> this names the leaf (PTE) table holding va's entry."""
        return self.levels[-2].shift

    # -- entries ---------------------------------------------------------------------------

    @property
    def addr_mask(self) -> int:
        """Bits of an entry holding a 4 KiB-aligned physical address."""
        if self.entry_size == 4:
            return 0xFFFF_F000
        return ((1 << PHYS_BITS) - 1) & ~0xFFF

    def reserved_mask(self, level: Level, large: bool, nxe: bool) -> int:
        """Bits that must be clear in a present entry of ``level`` (else a RSVD fault)."""
        if self.entry_size == 4:
            return 1 << 21 if large else 0  # 4 MiB PDE under PSE-36 with 40 address bits
        mask = ((1 << 52) - 1) & ~((1 << PHYS_BITS) - 1)  # address bits the CPU lacks
        if not nxe:
            mask |= NX_BIT
        if large:  # bits between PAT (12) and the page's alignment
            mask |= ((1 << level.shift) - 1) & ~0x1FFF
        if level.ps_reserved:
            mask |= int(Pde.PS)
        if self.high_reserved:  # PAE: bits 62:MAXPHYADDR are reserved (SDM tables 4-8..11)
            mask |= HIGH_IGNORED
        if not level.rights:  # the PAE PDPTE: QEMU refuses bits 62:52 and NX there (the
            mask |= HIGH_IGNORED | NX_BIT  # SDM's bits 2:1 and 8:5 it ignores: we follow it)
        return mask

    def frame(self, level: Level, entry: int, large: bool) -> int:
        """The physical address an entry points at (a table, a 4 KiB or a large frame)."""
        if not large:
            return entry & self.addr_mask
        if self.pse36:
            high = (entry >> 13) & 0xFF
            return (high << 32) | (entry & 0xFFC0_0000)
        return entry & self.addr_mask & ~(level.reach - 1)

    def page_sizes(self) -> list[int]:
        return [1 << PAGE_SHIFT] + [lv.reach for lv in self.levels if lv.large]


X86_32 = PagingFormat(
    "32-bit",
    (Level("PDE", 22, 10, large=True), Level("PTE", 12, 10)),
    entry_size=4, va_bits=32, cr3_mask=0xFFFF_F000, pse36=True)

PAE = PagingFormat(
    "PAE",
    (Level("PDPTE", 30, 2, rights=False, accessed=False, table_flags=int(Pte.P)),
     Level("PDE", 21, 9, large=True), Level("PTE", 12, 9)),
    entry_size=8, va_bits=32, cr3_mask=0xFFFF_FFE0, nx=True, high_reserved=True)

IA32E = PagingFormat(
    "4-level",
    (Level("PML4E", 39, 9, ps_reserved=True),
     Level("PDPTE", 30, 9, large=True, accessed_on_read=True),
     Level("PDE", 21, 9, large=True), Level("PTE", 12, 9)),
    entry_size=8, va_bits=48, cr3_mask=((1 << PHYS_BITS) - 1) & ~0xFFF, canonical=True,
    nx=True)

FORMATS = {"32-bit": X86_32, "pae": PAE, "4-level": IA32E}
