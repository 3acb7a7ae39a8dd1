"""/proc/PID/maps lines and ``pmap -x``: regions, with RSS and Dirty counted in the tables."""

from __future__ import annotations

import os

from emu.mmu import Pte

from ..vm.objects import FileObject
from ..vm.regions import IMAGE_KINDS
from .base import View
from .ptdump import leaves

_D = int(Pte.D)


def _pathname(region) -> str:
    kind, name = region.kind, region.name
    if kind in ("stack", "vvar", "vdso") or kind == "brk":
        return name
    if kind in ("text", "data", "rodata"):
        return name
    if kind == "mmap":
        return name if name and not name.startswith("[") else (name or "")
    if kind == "vm":
        return "[anon:VirtualAlloc]"
    return f"[anon:{name}]"


def _perms(region) -> str:
    return region.prot.letters + ("s" if region.shared else "p")


def maps_view(machine, pid: int) -> View:
    space = machine.process(pid).space
    rows, lines = [], []
    for region in space.regions:
        offset = region.offset if isinstance(region.backing, FileObject) or \
            region.kind in IMAGE_KINDS else 0
        row = {"start": region.start, "end": region.end, "perms": _perms(region),
               "offset": offset, "dev": "00:00", "inode": 0,
               "pathname": _pathname(region), "kind": region.kind}
        rows.append(row)
        head = f"{region.start:08x}-{region.end:08x} {row['perms']} {offset:08x} 00:00 0"
        lines.append(f"{head:<48} {row['pathname']}".rstrip())  # the column Linux pads to
    return View("maps", {"pid": pid, "regions": rows}, "\n".join(lines) + "\n")


def pmap_view(machine, pid: int) -> View:
    """``pmap -x``: Kbytes, RSS (present entries), Dirty (D bits), Mode, Mapping."""
    proc = machine.process(pid)
    space = proc.space
    rows, lines = [], [f"{pid}:   {proc.name}",
                       "Address   Kbytes     RSS   Dirty Mode  Mapping"]
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
        lines.append(f"{region.start:08x} {row['kbytes']:>7} {row['rss']:>7} {row['dirty']:>7} "
                     f"{mode} {mapping}")
    lines.append("-------- ------- ------- -------")
    lines.append(f"total kB {total:>7} {rss_total:>7} {dirty_total:>7}")
    return View("pmap", {"pid": pid, "regions": rows, "total_kbytes": total,
                         "total_rss": rss_total, "total_dirty": dirty_total},
                "\n".join(lines) + "\n")
