"""/proc/PID/maps lines and ``pmap -x``: regions, with RSS and Dirty counted in the tables."""

from __future__ import annotations

import os

from emu.mmu import Pte

from ..vm.maps import maps_rows, maps_text
from .base import View
from .ptdump import leaves

_D = int(Pte.D)


def maps_view(machine, pid: int) -> View:
    space = machine.process(pid).space
    rows = maps_rows(space)
    return View("maps", {"pid": pid, "regions": rows}, maps_text(rows, space.layout.word))


def pmap_view(machine, pid: int) -> View:
    """``pmap -x``: Kbytes, RSS (present entries), Dirty (D bits), Mode, Mapping."""
    proc = machine.process(pid)
    space = proc.space
    digits = 2 * space.layout.word  # pmap -x prints addresses in 8 or 16 digits
    rows, lines = [], [f"{pid}:   {proc.name}",
                       f"{'Address':<{2 * space.layout.word}}  Kbytes     RSS   Dirty Mode  "
                       f"Mapping"]
    total = rss_total = dirty_total = 0
    for region in space.regions:
        present = dirty = 0
        for leaf in leaves(space, region.start, region.end, holes=False):
            present += 1
            dirty += bool(leaf.entry & _D)
        mode = region.prot.letters + ("s" if region.shared else "-") + "-"
        mapping = os.path.basename(region.name) if region.kind in ("text", "data", "rodata",
                                                                    "mmap") and region.name \
            and not region.name.startswith("[") else (
            "[ stack ]" if region.kind == "stack" else region.name or "[ anon ]")
        row = {"address": region.start, "kbytes": region.size >> 10, "rss": present * 4,
               "dirty": dirty * 4, "mode": mode, "mapping": mapping}
        rows.append(row)
        total += row["kbytes"]
        rss_total += row["rss"]
        dirty_total += row["dirty"]
        lines.append(f"{region.start:0{digits}x} {row['kbytes']:>7} {row['rss']:>7} "
                     f"{row['dirty']:>7} {mode} {mapping}")
    lines.append("-" * digits + " ------- ------- -------")
    lines.append(f"{'total kB':<{digits}} {total:>7} {rss_total:>7} {dirty_total:>7}")
    return View("pmap", {"pid": pid, "regions": rows, "total_kbytes": total,
                         "total_rss": rss_total, "total_dirty": dirty_total},
                "\n".join(lines) + "\n")
