"""The reference page walk: a pure function over physical memory, for every paging format.

It follows the hardware order (Intel SDM vol. 3, 4.4-4.6; QEMU's ``mmu_translate``, Bochs's
``translate_linear``), one level at a time from the table CR3 points at:

1. a non-canonical address (4-level paging) is not translated at all: #GP, not #PF;
2. read the entry at ``table + entry_size * index(va)``; not present -> fault (P=0);
3. a reserved bit set in a present entry -> fault (P=1, RSVD=1);
4. collect the rights: U/S and R/W must allow the access at every level that has them,
   NX (with EFER.NXE) at any level forbids instruction fetches;
5. an entry with PS=1 where the format allows large pages (and, in 32-bit paging,
   CR4.PSE) ends the walk with a large page; otherwise descend, until the PTE;
6. check the combined rights: user access needs U/S everywhere; a write needs R/W everywhere
   when in user mode or CR0.WP=1; a fetch from an NX page faults with I/D set.

The walk never writes. What the CPU would write afterwards (Accessed and Dirty bits) is given
by :func:`accessed_dirty_updates`, applied by whoever wants the hardware's side effects.

Page-fault error code (pushed by the CPU, see :class:`emu.mmu.PfError`)::

    bit 0  P     0 = not-present page, 1 = protection violation
    bit 1  W     the access was a write
    bit 2  U     the access came from CPL 3
    bit 3  RSVD  a reserved bit was set
    bit 4  ID    instruction fetch (only with PAE/4-level paging and EFER.NXE)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

from .mmu import PAGE_MASK, PAGE_SIZE, Pde, PfError, Pte
from .paging import NX_BIT, X86_32, PagingFormat

ReadEntry = Callable[[int], int]

# Plain-int masks for the walk itself: arithmetic on IntFlag members builds enum values,
# which made the walk ten times slower. Derived from the named flags.
_P, _RW, _US, _A, _D = int(Pte.P), int(Pte.RW), int(Pte.US), int(Pte.A), int(Pte.D)
_PS = int(Pde.PS)
PF_VECTOR, GP_VECTOR = 14, 13


class Access(enum.Enum):
    """The kind of memory access being translated."""

    READ = "r"
    WRITE = "w"
    EXECUTE = "x"

    @classmethod
    def parse(cls, value: Access | str) -> Access:
        if isinstance(value, Access):
            return value
        try:
            return {"r": cls.READ, "read": cls.READ, "w": cls.WRITE, "write": cls.WRITE,
                    "x": cls.EXECUTE, "exec": cls.EXECUTE, "execute": cls.EXECUTE}[value]
        except (KeyError, TypeError):
            raise ValueError(f"access must be 'r', 'w' or 'x', not {value!r}") from None


class Step(NamedTuple):
    """One paging-structure entry the walk read."""

    level: str  # "PDE", "PTE", "PDPTE", "PML4E"
    index: int  # index into its table
    entry_pa: int  # physical address of the entry
    entry: int  # its value
    frame: int = 0  # the physical address it points at (a table or a page)
    page_size: int = 0  # a leaf: the bytes it maps; 0 for an entry pointing at a table

    @property
    def present(self) -> bool:
        return bool(self.entry & _P)


class PageFault(NamedTuple):
    """A fault the CPU would raise for this access: vector 14 with CR2 and an error code
    (or, for a non-canonical address, vector 13 with error code 0 and no CR2)."""

    cr2: int
    error_code: PfError
    level: str  # the level at which the walk stopped ("" for a #GP)
    reason: str  # in words: "user write to a read-only page"
    vector: int = PF_VECTOR


class Walk(NamedTuple):
    """The result of a walk: the steps taken and either a physical address or a fault.
    (Named tuples: immutable, and built several times faster than frozen dataclasses.)"""

    cr3: int
    va: int
    access: Access
    user: bool
    steps: tuple[Step, ...]
    pa: int | None = None
    fault: PageFault | None = None
    page_size: int = 0  # 4 KiB, or the large page's size, when translated
    writable: bool = False  # effective R/W of the leaf for this privilege and CR0.WP
    user_ok: bool = False  # effective U/S of the leaf
    executable: bool = True  # no NX on the way (always True without NX)
    # a leaf the CPU marked Accessed as it read it, although the access then faulted (the
    # entry's physical address; see Level.accessed_on_read)
    read_a: int | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def frame(self) -> int | None:
        """Physical address of the start of the page (4 KiB or large) that va maps to."""
        if self.pa is None:
            return None
        return self.pa & ~(self.page_size - 1)


def _who(user: bool) -> str:
    return "user" if user else "supervisor"


_VERB = {Access.READ: "read of", Access.WRITE: "write to",
         Access.EXECUTE: "instruction fetch from"}


def error_code_for(access: Access, user: bool, present: bool, rsvd: bool = False,
                   fetch_bit: bool = False) -> PfError:
    code = 0
    if present or rsvd:
        code |= 0x01
    if rsvd:
        code |= 0x08
    if access is Access.WRITE:
        code |= 0x02
    if user:
        code |= 0x04
    if fetch_bit and access is Access.EXECUTE:
        code |= 0x10
    return PfError(code)


def describe_error_code(code: int) -> str:
    """Words for an error code alone: 'user write to a protected page'."""
    code = PfError(code & 0x1F)
    who = "user" if code & PfError.U else "supervisor"
    if code & PfError.ID:
        verb = "instruction fetch from"
    else:
        verb = "write to" if code & PfError.W else "read of"
    if code & PfError.RSVD:
        what = "a page whose entry has a reserved bit set"
    elif code & PfError.P:
        what = "a protected page"
    else:
        what = "a not-present page"
    return f"{who} {verb} {what}"


def walk(read: ReadEntry, cr3: int, va: int, access: Access | str = Access.READ,
         user: bool = True, wp: bool = True, pse: bool = True,
         fmt: PagingFormat = X86_32, nxe: bool | None = None) -> Walk:
    """Translate ``va`` through the tables at ``cr3``; see the module docstring. ``read``
    returns the entry (of ``fmt.entry_size`` bytes) at a physical address. ``nxe``:
    EFER.NXE (default: on for the formats that have an NX bit)."""
    if access.__class__ is not Access:
        access = Access.parse(access)
    if nxe is None:
        nxe = fmt.nx
    fetch_bit = nxe and fmt.nx
    if not fmt.is_canonical(va):
        fault = PageFault(0, PfError(0), "", f"non-canonical address {va:#x}: #GP",
                          GP_VECTOR)
        return Walk(cr3, va, access, user, (), fault=fault)
    table = cr3 & fmt.cr3_mask
    size = fmt.entry_size
    steps: tuple[Step, ...] = ()
    rights = _RW | _US
    nx = False
    last = len(fmt.levels) - 1
    for depth, level in enumerate(fmt.levels):
        index = (va >> level.shift) & ((1 << level.bits) - 1)
        entry_pa = table + index * size
        entry = read(entry_pa)
        if not entry & _P:
            steps += (Step(level.name, index, entry_pa, entry),)
            return _fault(cr3, va, access, user, steps, level.name,
                          f"{_who(user)} {_VERB[access]} a not-present page "
                          f"({level.name} {index:#05x} not present)", False, False, fetch_bit)
        large = level.large and entry & _PS and depth < last and (pse or fmt.entry_size == 8)
        read_a = entry_pa if level.accessed_on_read and large and \
            not entry & fmt.reserved_mask(level, False, nxe) else None
        if entry & fmt.reserved_mask(level, bool(large), nxe):
            steps += (Step(level.name, index, entry_pa, entry),)
            return _fault(cr3, va, access, user, steps, level.name,
                          f"reserved bit set in a {level.name}", True, True,
                          fetch_bit)._replace(read_a=read_a)
        if level.rights:
            rights &= entry
        if fetch_bit and entry & NX_BIT:
            nx = True
        if large or depth == last:
            page_size = level.reach
            frame = fmt.frame(level, entry, bool(large))
            steps += (Step(level.name, index, entry_pa, entry, frame, page_size),)
            result = _check(cr3, va, access, user, wp, steps, level.name, frame, page_size,
                            rights, nx, fetch_bit)
            return result if read_a is None or result.ok else result._replace(read_a=read_a)
        table = entry & fmt.addr_mask
        steps += (Step(level.name, index, entry_pa, entry, table),)
    raise AssertionError("unreachable: the last level is a leaf")


def _fault(cr3, va, access, user, steps, level, reason, present, rsvd, fetch_bit) -> Walk:
    code = error_code_for(access, user, present, rsvd, fetch_bit)
    return Walk(cr3, va, access, user, steps, fault=PageFault(va, code, level, reason))


def _check(cr3, va, access, user, wp, steps, level, frame, page_size, rights, nx,
           fetch_bit) -> Walk:
    user_ok = bool(rights & _US)
    writable = bool(rights & _RW) or (not user and not wp)
    if user and not user_ok:
        return _fault(cr3, va, access, user, steps, level,
                      f"user {_VERB[access]} a supervisor page", True, False, fetch_bit)
    if access is Access.WRITE and not writable:
        reason = f"{_who(user)} write to a read-only page"
        if not user:
            reason += " (CR0.WP=1)"
        return _fault(cr3, va, access, user, steps, level, reason, True, False, fetch_bit)
    if access is Access.EXECUTE and nx:
        return _fault(cr3, va, access, user, steps, level,
                      f"{_who(user)} instruction fetch from a no-execute page", True, False,
                      fetch_bit)
    offset = va & (PAGE_MASK if page_size == PAGE_SIZE else page_size - 1)
    return Walk(cr3, va, access, user, steps, pa=frame | offset, page_size=page_size,
                writable=writable, user_ok=user_ok, executable=not nx)


def accessed_dirty_updates(result: Walk, write: bool | None = None,
                           fmt: PagingFormat = X86_32) -> list[tuple[int, int]]:
    """The entry writes the CPU makes for this walk: (entry physical address, new value).

    An entry that points at a table gets A as soon as the walk reads through it, even when
    a lower level then faults (not a PAE PDPTE: those have no A bit). The leaf entry gets A,
    and D on a write, only when the translation succeeds. Entries that already hold the bits
    are not rewritten. ``write`` overrides the walk's access kind (a host write that was
    checked as a read).
    """
    if write is None:
        write = result.access is Access.WRITE
    accessed = {level.name: level.accessed for level in fmt.levels}
    updates = []
    last = len(result.steps) - 1
    for k, step in enumerate(result.steps):
        if k < last:
            if accessed.get(step.level, True) and not step.entry & _A:
                updates.append((step.entry_pa, step.entry | _A))
            continue
        if result.fault is not None:
            if result.read_a == step.entry_pa and not step.entry & _A:
                updates.append((step.entry_pa, step.entry | _A))  # read, then refused
            break
        want = _A | (_D if write else 0)
        if step.entry & want != want:
            updates.append((step.entry_pa, step.entry | want))
    return updates
