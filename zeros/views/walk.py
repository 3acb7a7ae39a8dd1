"""One virtual address through one process's page tables, as Bochs's ``page`` prints it."""

from __future__ import annotations

from emu.walk import Access
from emu.walkfmt import error_code_bits, page_lines, step_letters

from .base import View


def walk_view(machine, pid: int, va: int, access: Access | str = "r",
              user: bool = True) -> View:
    w = machine.translate(pid, va, access, user)
    fmt = machine.process(pid).space.fmt
    indexes = fmt.indexes(va)
    steps = [{"level": s.level, "index": s.index, "entry_address": s.entry_pa,
              "entry": s.entry, "flags": step_letters(s, fmt)} for s in w.steps]
    data = {"pid": pid, "cr3": w.cr3, "va": va, "access": w.access.value, "user": user,
            "format": fmt.name,
            **{f"{name.lower()}_index": index for name, index in indexes},
            "offset": va & 0xFFF, "steps": steps,
            "pa": w.pa, "page_size": w.page_size or None, "fault": None}
    if w.fault is not None:
        code = int(w.fault.error_code)
        data["fault"] = {"error_code": code, "bits": error_code_bits(code),
                         "level": w.fault.level, "reason": w.fault.reason}
    return View("walk", data, "\n".join(page_lines(w, pid, fmt)) + "\n")
