"""x86 32-bit paging structures: bit definitions and address helpers, nothing else.

A linear (virtual) address under two-level paging with 4 KiB pages::

    31            22 21            12 11                     0
    +---------------+----------------+------------------------+
    |  PDE index    |   PTE index    |    offset in page      |
    |  (10 bits)    |   (10 bits)    |       (12 bits)        |
    +---------------+----------------+------------------------+
      pdx(va)          ptx(va)          va & 0xfff

and with a 4 MiB page (PDE.PS = 1, CR4.PSE = 1)::

    31            22 21                                      0
    +---------------+----------------------------------------+
    |  PDE index    |          offset in 4 MiB page          |
    +---------------+----------------------------------------+

CR3 holds the physical address of the page directory (1024 PDEs); a PDE holds the
physical address of a page table (1024 PTEs) or, with PS set, of a 4 MiB frame; a PTE
holds the physical address of a 4 KiB frame. Names follow the Intel SDM, volume 3, 4.3.
"""

from __future__ import annotations

import enum
from typing import NewType

VirtAddr = NewType("VirtAddr", int)
PhysAddr = NewType("PhysAddr", int)

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT  # 4 KiB
PAGE_MASK = PAGE_SIZE - 1
PDE_SHIFT = 22
LARGE_PAGE_SIZE = 1 << PDE_SHIFT  # 4 MiB, one PDE's reach
LARGE_PAGE_MASK = LARGE_PAGE_SIZE - 1
ENTRIES = 1024  # entries in a page directory or a page table
ENTRY_SIZE = 4
ADDRESS_SPACE = 1 << 32


class Pte(enum.IntFlag):
    """Flags of a page-table entry (and the low bits of a page-directory entry)."""

    P = 0x001  # Present
    RW = 0x002  # Read/Write: writes allowed
    US = 0x004  # User/Supervisor: ring 3 allowed
    PWT = 0x008  # Page-level write-through
    PCD = 0x010  # Page-level cache disable
    A = 0x020  # Accessed: set by the CPU on any use
    D = 0x040  # Dirty: set by the CPU on a write (leaf entries only)
    PAT = 0x080  # Page attribute table (in a 4 KiB PTE)
    G = 0x100  # Global: kept in the TLB across CR3 loads when CR4.PGE = 1
    AVL0 = 0x200  # available to software
    AVL1 = 0x400  # available to software
    AVL2 = 0x800  # available to software


class Pde(enum.IntFlag):
    """Flags of a page-directory entry."""

    P = 0x001  # Present
    RW = 0x002  # Read/Write
    US = 0x004  # User/Supervisor
    PWT = 0x008  # Page-level write-through
    PCD = 0x010  # Page-level cache disable
    A = 0x020  # Accessed
    D = 0x040  # Dirty (4 MiB pages only)
    PS = 0x080  # Page size: 1 = this entry maps a 4 MiB page
    G = 0x100  # Global (4 MiB pages only)
    AVL0 = 0x200
    AVL1 = 0x400
    AVL2 = 0x800
    PAT = 0x1000  # Page attribute table (4 MiB pages only)


FLAGS_MASK = 0xFFF  # low 12 bits of an entry: flags
FRAME_MASK = ~FLAGS_MASK & 0xFFFFFFFF  # bits 31:12: physical frame address
LARGE_FRAME_MASK = ~LARGE_PAGE_MASK & 0xFFFFFFFF  # bits 31:22 of a 4 MiB PDE
# A 4 MiB PDE under PSE-36: bits 20:13 give physical address bits 39:32, bit 21 is reserved.
PSE36_HIGH_MASK = 0x001FE000
PSE36_HIGH_SHIFT = 13
LARGE_RESERVED_MASK = 0x00200000


class PfError(enum.IntFlag):
    """The page-fault error code pushed by the CPU (Intel SDM vol. 3, 4.7)."""

    P = 0x01  # 0: the page was not present; 1: a protection violation
    W = 0x02  # the access was a write
    U = 0x04  # the access was made in user mode (CPL 3)
    RSVD = 0x08  # a reserved bit was set in a paging-structure entry
    ID = 0x10  # instruction fetch (only reported with PAE+NXE or SMEP)


class Cr0(enum.IntFlag):
    PE = 1 << 0  # Protection enable
    MP = 1 << 1  # Monitor coprocessor
    EM = 1 << 2  # Emulation
    TS = 1 << 3  # Task switched
    ET = 1 << 4  # Extension type
    NE = 1 << 5  # Numeric error
    WP = 1 << 16  # Write protect: ring 0 obeys R/W too
    AM = 1 << 18  # Alignment mask
    NW = 1 << 29  # Not write-through
    CD = 1 << 30  # Cache disable
    PG = 1 << 31  # Paging


class Efer(enum.IntFlag):
    """The extended feature enable register (MSR 0xC0000080)."""

    SCE = 1 << 0  # syscall/sysret
    LME = 1 << 8  # long mode enable
    LMA = 1 << 10  # long mode active
    NXE = 1 << 11  # the NX bit (63) of PAE and 4-level entries


class Cr4(enum.IntFlag):
    VME = 1 << 0
    PVI = 1 << 1
    TSD = 1 << 2
    DE = 1 << 3
    PSE = 1 << 4  # Page size extensions: 4 MiB pages
    PAE = 1 << 5
    MCE = 1 << 6
    PGE = 1 << 7  # Global pages
    PCE = 1 << 8
    OSFXSR = 1 << 9
    OSXMMEXCPT = 1 << 10
    UMIP = 1 << 11
    VMXE = 1 << 13
    SMXE = 1 << 14
    FSGSBASE = 1 << 16
    PCIDE = 1 << 17
    OSXSAVE = 1 << 18
    SMEP = 1 << 20
    SMAP = 1 << 21


def pdx(va: int) -> int:
    """Page-directory index of a virtual address (bits 31:22)."""
    return (va >> PDE_SHIFT) & 0x3FF


def ptx(va: int) -> int:
    """Page-table index of a virtual address (bits 21:12)."""
    return (va >> PAGE_SHIFT) & 0x3FF


def split(va: int) -> tuple[int, int, int]:
    """(PDE index, PTE index, offset) of a virtual address."""
    return pdx(va), ptx(va), va & PAGE_MASK


def join(pde_index: int, pte_index: int, offset: int = 0) -> int:
    """The virtual address with these indexes: the inverse of split()."""
    return (pde_index << PDE_SHIFT) | (pte_index << PAGE_SHIFT) | offset


def page_down(addr: int) -> int:
    return addr & ~PAGE_MASK


def page_up(addr: int) -> int:
    return (addr + PAGE_MASK) & ~PAGE_MASK


def entry_frame(entry: int) -> int:
    """Physical address held by a PTE, or by a PDE pointing at a page table."""
    return entry & FRAME_MASK


def large_frame(pde: int) -> int:
    """Physical address of the 4 MiB frame of a PS=1 PDE (PSE-36 high bits included)."""
    high = (pde & PSE36_HIGH_MASK) >> PSE36_HIGH_SHIFT
    return (high << 32) | (pde & LARGE_FRAME_MASK)


def make_entry(pa: int, flags: int) -> int:
    """Encode a PTE (or a table-pointing PDE): 4 KiB aligned address plus flags."""
    if pa & PAGE_MASK or not 0 <= pa < ADDRESS_SPACE:
        raise ValueError(f"make_entry: {pa:#x} is not a 4 KiB aligned 32-bit physical address")
    if flags & ~FLAGS_MASK:
        raise ValueError(f"make_entry: flags {flags:#x} spill outside bits 11:0")
    return pa | int(flags)


def make_large_pde(pa: int, flags: int) -> int:
    """Encode a 4 MiB PDE (PS is added); pa must be 4 MiB aligned and below 4 GiB."""
    if pa & LARGE_PAGE_MASK or not 0 <= pa < ADDRESS_SPACE:
        raise ValueError(f"make_large_pde: {pa:#x} is not a 4 MiB aligned 32-bit physical address")
    if flags & ~0x1FFF:
        raise ValueError(f"make_large_pde: flags {flags:#x} spill outside bits 12:0")
    return pa | int(flags) | Pde.PS


def decode_pte(entry: int) -> tuple[int, Pte]:
    """(physical frame address, flags) of a PTE."""
    return entry & FRAME_MASK, Pte(entry & FLAGS_MASK)


def decode_pde(entry: int, pse: bool = True) -> tuple[int, Pde]:
    """(physical address, flags) of a PDE: a 4 MiB frame when PS (and CR4.PSE), else a table."""
    if pse and entry & Pde.PS:
        return large_frame(entry), Pde(entry & 0x1FFF)
    return entry & FRAME_MASK, Pde(entry & FLAGS_MASK)


# Letters for flag dumps, most significant first, as Bochs prints them (upper case = set).
PTE_LETTERS = (("G", Pte.G), ("PAT", Pte.PAT), ("D", Pte.D), ("A", Pte.A),
               ("PCD", Pte.PCD), ("PWT", Pte.PWT), ("U", Pte.US), ("W", Pte.RW), ("P", Pte.P))
# A PDE pointing at a page table has no PAT: its bit 12 is an address bit.
PDE_LETTERS = (("PS", Pde.PS), ("G", Pde.G), ("D", Pde.D), ("A", Pde.A), ("PCD", Pde.PCD),
               ("PWT", Pde.PWT), ("U", Pde.US), ("W", Pde.RW), ("P", Pde.P))
LARGE_PDE_LETTERS = (("PS", Pde.PS), ("G", Pde.G), ("PAT", Pde.PAT), ("D", Pde.D),
                     ("A", Pde.A), ("PCD", Pde.PCD), ("PWT", Pde.PWT), ("U", Pde.US),
                     ("W", Pde.RW), ("P", Pde.P))


def flag_letters(entry: int, letters=PTE_LETTERS) -> str:
    """Bochs-style flags: 'g pat D A pcd pwt U W P' (upper case set, lower case clear)."""
    return " ".join(name if entry & bit else name.lower() for name, bit in letters)


def entry_letters(level: str, entry: int, pse: bool = True) -> str:
    """Flags of a PDE or PTE with the letters that apply to it."""
    if level == "PTE":
        return flag_letters(entry, PTE_LETTERS)
    large = pse and entry & Pde.PS
    return flag_letters(entry, LARGE_PDE_LETTERS if large else PDE_LETTERS)
