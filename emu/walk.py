"""The reference page walk: a pure function over physical memory.

It follows the hardware order of 32-bit (non-PAE) paging, as QEMU's ``get_physical_address``
and Bochs's ``translate_linear`` do it:

1. read the PDE at ``(CR3 & ~0xfff) + 4 * pdx(va)``; not present -> fault (P=0);
2. a PDE with PS=1 (and CR4.PSE) maps a 4 MiB page: bit 21 must be clear (reserved, RSVD
   fault), bits 20:13 are physical address bits 39:32 (PSE-36);
3. otherwise read the PTE at ``PDE.frame + 4 * ptx(va)``; not present -> fault (P=0);
4. combine the levels: user access needs U/S at both levels, a write needs R/W at both
   levels when in user mode or when CR0.WP=1; a failed check is a protection fault (P=1).
   There is no NX in non-PAE paging, so an instruction fetch is checked like a read.

The walk never writes. What the CPU would write afterwards (Accessed and Dirty bits) is given
by :func:`accessed_dirty_updates`, applied by whoever wants the hardware's side effects.

Page-fault error code (pushed by the CPU, see :class:`emu.mmu.PfError`)::

    bit 0  P     0 = not-present page, 1 = protection violation
    bit 1  W     the access was a write
    bit 2  U     the access came from CPL 3
    bit 3  RSVD  a reserved bit was set
    bit 4  ID    instruction fetch (never set here: needs PAE+NXE or SMEP)
"""

from __future__ import annotations

import enum
from typing import Callable, NamedTuple

from .mmu import (
    ENTRY_SIZE, FRAME_MASK, LARGE_PAGE_MASK, LARGE_PAGE_SIZE, LARGE_RESERVED_MASK, PAGE_MASK,
    PAGE_SIZE, Pde, PfError, Pte, large_frame,
)

ReadU32 = Callable[[int], int]

# Plain-int masks for the walk itself: arithmetic on IntFlag members builds enum values,
# which made the walk ten times slower. Derived from the named flags.
_P, _RW, _US, _A, _D = int(Pte.P), int(Pte.RW), int(Pte.US), int(Pte.A), int(Pte.D)
_PS = int(Pde.PS)


class Access(enum.Enum):
    """The kind of memory access being translated."""

    READ = "r"
    WRITE = "w"
    EXECUTE = "x"

    @classmethod
    def parse(cls, value: "Access | str") -> "Access":
        if isinstance(value, Access):
            return value
        try:
            return {"r": cls.READ, "read": cls.READ, "w": cls.WRITE, "write": cls.WRITE,
                    "x": cls.EXECUTE, "exec": cls.EXECUTE, "execute": cls.EXECUTE}[value]
        except (KeyError, TypeError):
            raise ValueError(f"access must be 'r', 'w' or 'x', not {value!r}") from None


class Step(NamedTuple):
    """One paging-structure entry the walk read."""

    level: str  # "PDE" or "PTE"
    index: int  # index into the directory or table
    entry_pa: int  # physical address of the entry
    entry: int  # its 32-bit value

    @property
    def present(self) -> bool:
        return bool(self.entry & Pte.P)

    @property
    def frame(self) -> int:
        """The physical address this entry points at (table or frame)."""
        if self.level == "PDE" and self.entry & Pde.PS:
            return large_frame(self.entry)
        return self.entry & FRAME_MASK


class PageFault(NamedTuple):
    """A fault the CPU would raise for this access: vector 14 with CR2 and an error code."""

    cr2: int
    error_code: PfError
    level: str  # the level at which the walk stopped: "PDE" or "PTE"
    reason: str  # in words: "user write to a read-only page"

    @property
    def vector(self) -> int:
        return 14


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
    page_size: int = 0  # 4 KiB or 4 MiB when translated
    writable: bool = False  # effective R/W of the leaf for this privilege and CR0.WP
    user_ok: bool = False  # effective U/S of the leaf

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def frame(self) -> int | None:
        """Physical address of the start of the page (4 KiB or 4 MiB) that va maps to."""
        if self.pa is None:
            return None
        return self.pa & ~(self.page_size - 1)


def _who(user: bool) -> str:
    return "user" if user else "supervisor"


def _verb(access: Access) -> str:
    return {Access.READ: "read of", Access.WRITE: "write to",
            Access.EXECUTE: "instruction fetch from"}[access]


def error_code_for(access: Access, user: bool, present: bool, rsvd: bool = False) -> PfError:
    code = PfError(0)
    if present or rsvd:
        code |= PfError.P
    if rsvd:
        code |= PfError.RSVD
    if access is Access.WRITE:
        code |= PfError.W
    if user:
        code |= PfError.U
    return code


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


def walk(read_u32: ReadU32, cr3: int, va: int, access: Access | str = Access.READ,
         user: bool = True, wp: bool = True, pse: bool = True) -> Walk:
    """Translate ``va`` through the page directory at ``cr3``; see the module docstring."""
    if access.__class__ is not Access:
        access = Access.parse(access)
    va &= 0xFFFFFFFF
    pde_index = va >> 22
    pde_pa = (cr3 & FRAME_MASK) + pde_index * ENTRY_SIZE
    pde = read_u32(pde_pa)
    steps: tuple[Step, ...] = (Step("PDE", pde_index, pde_pa, pde),)

    def fault(level: str, reason: str, present: bool, rsvd: bool = False) -> Walk:
        code = error_code_for(access, user, present, rsvd)
        return Walk(cr3, va, access, user, steps, fault=PageFault(va, code, level, reason))

    if not pde & _P:
        return fault("PDE", f"{_who(user)} {_verb(access)} a not-present page "
                            f"(PDE {pde_index:#05x} not present)", present=False)
    if pse and pde & _PS:
        if pde & LARGE_RESERVED_MASK:
            return fault("PDE", "reserved bit 21 set in a 4 MiB PDE", present=True, rsvd=True)
        level, size = "PDE", LARGE_PAGE_SIZE
        pa = large_frame(pde) | (va & LARGE_PAGE_MASK)
        combined = pde
    else:
        pte_index = (va >> 12) & 0x3FF
        pte_pa = (pde & FRAME_MASK) + pte_index * ENTRY_SIZE
        pte = read_u32(pte_pa)
        steps += (Step("PTE", pte_index, pte_pa, pte),)
        if not pte & _P:
            return fault("PTE", f"{_who(user)} {_verb(access)} a not-present page "
                                f"(PTE {pte_index:#05x} not present)", present=False)
        level, size = "PTE", PAGE_SIZE
        pa = (pte & FRAME_MASK) | (va & PAGE_MASK)
        combined = pde & pte
    user_ok = bool(combined & _US)
    writable = bool(combined & _RW) or (not user and not wp)
    if user and not user_ok:
        return fault(level, f"user {_verb(access)} a supervisor page", present=True)
    if access is Access.WRITE and not writable:
        reason = f"{_who(user)} write to a read-only page"
        if not user:
            reason += " (CR0.WP=1)"
        return fault(level, reason, present=True)
    return Walk(cr3, va, access, user, steps, pa=pa, page_size=size,
                writable=writable, user_ok=user_ok)


def accessed_dirty_updates(result: Walk, write: bool | None = None) -> list[tuple[int, int]]:
    """The entry writes the CPU makes for this walk: (entry physical address, new value).

    A PDE that points at a page table gets A as soon as the walk reads through it, even when
    the PTE then faults. The leaf entry (PTE, or a 4 MiB PDE) gets A, and D on a write, only
    when the translation succeeds. Entries that already hold the bits are not rewritten.
    ``write`` overrides the walk's access kind (a host write that was checked as a read).
    """
    if write is None:
        write = result.access is Access.WRITE
    updates = []
    for step in result.steps:
        is_leaf = step is result.steps[-1]
        if not is_leaf:
            if not step.entry & _A:
                updates.append((step.entry_pa, step.entry | _A))
            continue
        if result.fault is not None:
            break
        want = _A | (_D if write else 0)
        if step.entry & want != want:
            updates.append((step.entry_pa, step.entry | want))
    return updates
