"""Physical frames: who owns each, how many per owner, and aliases (one frame mapped at
several addresses, or in several processes)."""

from __future__ import annotations

from collections import Counter

from ..mm.frames import KERNEL
from .base import View

KINDS = ("pagedir", "pagetable", "page")


def frames_view(machine, long: bool = False) -> View:
    frames = machine.frames
    per_owner: dict[int, Counter] = {}
    entries, aliases = [], []
    for pa, frame in frames.used():
        per_owner.setdefault(frame.owner, Counter())[frame.kind] += 1
        mappings = [[space.pid, va] for space, va in frame.rmap]
        if long:
            entries.append({"pa": pa, "owner": frame.owner, "kind": frame.kind,
                            "label": frame.label, "refs": frame.refs, "mappings": mappings})
        if len(mappings) > 1:
            aliases.append({"pa": pa, "kind": frame.kind, "label": frame.label,
                            "mappings": mappings})

    def owner_name(owner: int) -> str:
        if owner == KERNEL:
            return "kernel"
        proc = machine.processes.get(owner)
        return f"pid {owner} ({proc.name})" if proc else f"pid {owner}"

    owners = [{"owner": owner, "name": owner_name(owner), "kinds": dict(counts),
               "total": sum(counts.values())} for owner, counts in sorted(per_owner.items())]
    data = {"total": frames.total, "free": frames.free_count, "used": frames.used_count,
            "owners": owners, "aliases": aliases}
    if long:
        data["frames"] = entries
    lines = [f"frames: {frames.total} total, {frames.used_count} used, "
             f"{frames.free_count} free ({frames.total * 4} KiB of RAM)",
             f"{'owner':<28} {'pagedir':>7} {'pagetable':>9} {'page':>7} {'other':>6}"]
    for row in owners:
        kinds = row["kinds"]
        other = {k: v for k, v in kinds.items() if k not in KINDS}
        other_text = ", ".join(f"{k} {v}" for k, v in sorted(other.items()))
        lines.append(f"{row['name']:<28} {kinds.get('pagedir', 0):>7} "
                     f"{kinds.get('pagetable', 0):>9} {kinds.get('page', 0):>7} "
                     f"{sum(other.values()):>6}" + (f"  ({other_text})" if other else ""))
    lines.append(f"{'free':<28} {'':>7} {'':>9} {'':>7} {frames.free_count:>6}")
    if aliases:
        lines.append("aliases: one frame, several mappings")
        for alias in aliases:
            shown = ", ".join(f"pid {p} {va:#010x}" for p, va in alias["mappings"][:4])
            more = len(alias["mappings"]) - 4
            lines.append(f"  {alias['pa']:#010x} {alias['label'] or alias['kind']}: {shown}" +
                         (f" (+{more} more)" if more > 0 else ""))
    if long:
        lines.append("every frame in use:")
        for e in entries:
            where = ", ".join(f"pid {p} {va:#010x}" for p, va in e["mappings"][:2])
            lines.append(f"  {e['pa']:#010x} {owner_name(e['owner']):<24} {e['kind']:<10} "
                         f"{e['label']:<24} {where}".rstrip())
    return View("frames", data, "\n".join(lines) + "\n")
