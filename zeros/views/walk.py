"""One virtual address through one process's page tables, as Bochs's ``page`` prints it."""

from __future__ import annotations

from emu.mmu import PfError, entry_letters, split
from emu.walk import Access

from .base import View


def walk_view(machine, pid: int, va: int, access: Access | str = "r",
              user: bool = True) -> View:
    w = machine.translate(pid, va, access, user)
    d, t, o = split(va)
    steps = [{"level": s.level, "index": s.index, "entry_address": s.entry_pa,
              "entry": s.entry, "flags": entry_letters(s.level, s.entry)} for s in w.steps]
    data = {"pid": pid, "cr3": w.cr3, "va": va, "access": w.access.value, "user": user,
            "pde_index": d, "pte_index": t, "offset": o, "steps": steps,
            "pa": w.pa, "page_size": w.page_size or None, "fault": None}
    who = "user" if user else "supervisor"
    lines = [f"linear {va:#010x}: PDE index {d:#05x}, PTE index {t:#05x}, offset {o:#05x} "
             f"(pid {pid}, cr3 {w.cr3:#010x}, {who} {w.access.name.lower()})"]
    for s in steps:
        lines.append(f"{s['level']}: {s['entry']:#010x}    {s['flags']:<32} "
                     f"at {s['entry_address']:#010x} [{s['index']:#05x}]")
    if w.fault is not None:
        code = int(w.fault.error_code)
        bits = "|".join(b.name for b in PfError if code & b) or "0"
        data["fault"] = {"error_code": code, "bits": bits, "level": w.fault.level,
                         "reason": w.fault.reason}
        lines.append(f"physical address not available for linear {va:#010x}: "
                     f"{w.fault.reason}; #PF error code {code:#x} ({bits})")
    else:
        lines.append(f"linear page {va & ~(w.page_size - 1):#010x} maps to physical page "
                     f"{w.frame:#010x}")
        lines.append(f"physical address {w.pa:#010x}")
    return View("walk", data, "\n".join(lines) + "\n")
