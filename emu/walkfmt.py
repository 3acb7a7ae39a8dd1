"""Words for a walk: one formatter, two layouts.

The fault report shows a walk as the kernel explains a fault (``report_lines``); the walk
view shows it as Bochs's ``page`` command does (``page_lines``). Both spell entries with the
same Bochs-style flag letters (upper case = set) and the same error-code bits.
"""

from __future__ import annotations

from .mmu import LARGE_PDE_LETTERS, PDE_LETTERS, PTE_LETTERS, PfError, flag_letters
from .paging import NX_BIT, X86_32, PagingFormat
from .walk import Step, Walk


def step_letters(step: Step, fmt: PagingFormat = X86_32) -> str:
    """The flags of one entry, with the letters that apply to its kind (and XD, the NX bit,
    first in the formats that have it)."""
    xd = ("XD " if step.entry & NX_BIT else "xd ") if fmt.nx else ""
    if step.level == "PTE":
        return xd + flag_letters(step.entry, PTE_LETTERS)
    large = step.page_size > 0
    return xd + flag_letters(step.entry, LARGE_PDE_LETTERS if large else PDE_LETTERS)


def error_code_bits(code: int) -> str:
    """'P|W|U', or '0'."""
    names = [bit.name for bit in PfError if code & bit]
    return "|".join(names) if names else "0"


def _result_line(w: Walk) -> str:
    if w.fault:
        return f"-> fault: {w.fault.reason} (error code {int(w.fault.error_code):#x})"
    return f"-> physical {w.pa:#010x}"


def report_lines(w: Walk, fmt: PagingFormat = X86_32) -> list[str]:
    """The walk as a fault report prints it: CR3, one line per entry, the outcome."""
    who = "user" if w.user else "supervisor"
    lines = [f"cr3 {w.cr3:#010x}, {who} {w.access.name.lower()} of {w.va:#010x}"]
    for step in w.steps:
        lines.append(f"{step.level}[{step.index:#05x}] at {step.entry_pa:#010x} = "
                     f"{step.entry:#0{2 + 2 * fmt.entry_size}x}  {step_letters(step, fmt)}")
    lines.append(_result_line(w))
    return lines


def page_lines(w: Walk, pid: int, fmt: PagingFormat = X86_32) -> list[str]:
    """The walk as Bochs's ``page`` prints it: the address split, each entry, the outcome."""
    who = "user" if w.user else "supervisor"
    split = ", ".join(f"{name} index {index:#05x}" for name, index in fmt.indexes(w.va))
    lines = [f"linear {w.va:#010x}: {split}, offset {w.va & 0xFFF:#05x} "
             f"(pid {pid}, cr3 {w.cr3:#010x}, {who} {w.access.name.lower()})"]
    name_width = max(len(level.name) for level in fmt.levels) + 1
    digits = 2 + 2 * fmt.entry_size
    for s in w.steps:
        lines.append(f"{s.level + ':':<{name_width}} {s.entry:#0{digits}x}    "
                     f"{step_letters(s, fmt):<32} "
                     f"at {s.entry_pa:#010x} [{s.index:#05x}]")
    if w.fault is not None:
        code = int(w.fault.error_code)
        lines.append(f"physical address not available for linear {w.va:#010x}: "
                     f"{w.fault.reason}; #PF error code {code:#x} ({error_code_bits(code)})")
    else:
        lines.append(f"linear page {w.va & ~(w.page_size - 1):#010x} maps to physical page "
                     f"{w.frame:#010x}")
        lines.append(f"physical address {w.pa:#010x}")
    return lines
