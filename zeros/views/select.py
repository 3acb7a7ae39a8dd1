"""Views by name, as the command line asks for them: ``walk:0x12345678:w``, ``maps``...

Per-process views (for the process at hand): ``walk:ADDR[:r|w|x]``, ``pagetables``, ``tlb``,
``maps``, ``pmap``, ``x:ADDR[:SIZE]``, ``regs``. Machine-wide views: ``frames``, ``creg``,
``ps``, ``memory`` (check_memory), ``xp:ADDR[:SIZE]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .base import View
from .cpustate import creg_view, regs_view
from .examine import x_view, xp_view
from .frames import frames_view
from .maps import maps_view, pmap_view
from .ptdump import pagetables_view, tlb_view
from .walk import walk_view

PER_PROCESS = {"walk", "pagetables", "tlb", "maps", "pmap", "x", "regs"}
MACHINE_WIDE = {"frames", "creg", "ps", "memory", "xp"}
NEEDS_ADDRESS = {"walk", "x", "xp"}
MAX_DUMP = 1 << 20  # bytes an x or xp view shows at most


@dataclass(frozen=True)
class ViewSpec:
    name: str
    address: int | None = None
    extra: str | None = None  # access for walk, size for x/xp

    @property
    def per_process(self) -> bool:
        return self.name in PER_PROCESS


def parse(text: str) -> list[ViewSpec]:
    """'maps,walk:0x12345678:w' -> specs; ValueError with a clear message otherwise."""
    specs = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, *args = item.split(":")
        if name not in PER_PROCESS | MACHINE_WIDE:
            raise ValueError(f"unknown view {name!r}; views: "
                             f"{', '.join(sorted(PER_PROCESS | MACHINE_WIDE))}")
        address = extra = None
        if name in NEEDS_ADDRESS:
            if not args:
                raise ValueError(f"view {name} needs an address: {name}:0x08048000")
            try:
                address = int(args[0], 0)
            except ValueError:
                raise ValueError(f"view {name}: {args[0]!r} is not an address") from None
            if not 0 <= address < 1 << 64:
                raise ValueError(f"view {name}: {args[0]} is outside the address space")
            if len(args) > 2:
                raise ValueError(f"view {name} takes at most two arguments")
            if len(args) > 1:
                extra = args[1]
                if name == "walk" and extra not in ("r", "w", "x"):
                    raise ValueError(f"view walk: access is r, w or x, not {extra!r}")
                if name != "walk" and (not extra.isdigit() or
                                       not 0 < int(extra) <= MAX_DUMP):
                    raise ValueError(f"view {name}: size {extra!r} is not a number of bytes "
                                     f"from 1 to {MAX_DUMP}")
        elif args:
            raise ValueError(f"view {name} takes no argument")
        specs.append(ViewSpec(name, address, extra))
    return specs


def render(machine, spec: ViewSpec, pid: int | None) -> View:
    if spec.name == "walk":
        return walk_view(machine, pid, spec.address, spec.extra or "r")
    if spec.name == "x":
        return x_view(machine, pid, spec.address, int(spec.extra or 64))
    if spec.name == "xp":
        return xp_view(machine, spec.address, int(spec.extra or 64))
    if spec.name == "regs":
        return regs_view(machine, pid)
    if spec.name == "creg":
        return creg_view(machine, pid)
    if spec.name == "ps":
        from ..zmm.ps import ps_data, ps_text
        rows = ps_data(machine.processes, machine.memory_manager_if_started, everything=True)
        return View("ps", rows, ps_text(rows, long=True))
    if spec.name == "memory":
        info = machine.memory_manager.check_memory(-1)
        return View("memory", info, json.dumps(info, indent=2) + "\n")
    return {"pagetables": pagetables_view, "tlb": tlb_view, "maps": maps_view,
            "pmap": pmap_view}[spec.name](machine, pid) if spec.per_process else \
        frames_view(machine)
