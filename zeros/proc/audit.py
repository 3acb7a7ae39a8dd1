"""The whole memory state, checked: nothing lost, nothing aliased, nothing stale.

:func:`audit` returns every broken invariant it finds (an empty list when all hold):

* frames: ``used + free == total``; a free frame has no record; no frame is free twice;
* every present user entry of every live address space maps an allocated frame whose
  reverse map lists that (space, va); every reverse-map entry is such a present entry;
* every frame in use is reachable: a top table or a lower table of a live space, a kernel
  table, the GDT, the zero page, the vdso, a memory object's page, or a mapped page; and its
  reference count equals its mappings (plus one for the object or kernel part holding it);
* each page-file slot counts the swap entries naming it (fork copies them), and the page
  file uses exactly the slots named;
* each space's resident and swapped counters match its entries;
* the kernel half is the same in every top table (but for the A and D bits the CPU sets);
* processes are in possible states: a live process has a live space; a finished process
  that was reaped has none.
"""

from __future__ import annotations

from collections import Counter

from ..mm.frames import FrameKind
from ..mm.pagetable import is_swap_entry, swap_slot
from ..vm.memory import VirtualMemory
from .process import Process
from .vdso import Vdso

_PRESENT = 1
_HELD = (FrameKind.SHARED, FrameKind.PAGECACHE, FrameKind.ZERO, FrameKind.VDSO)


def audit(processes: dict[int, Process], vm: VirtualMemory, vdso: Vdso,
          current: Process | None = None) -> list[str]:
    frames = vm.frames
    problems: list[str] = []
    used = list(frames.used())
    if len(used) + frames.free_count != frames.total:
        problems.append(f"frames: {len(used)} used + {frames.free_count} free != "
                        f"{frames.total} total")
    free = frames.free_numbers()
    if len(set(free)) != len(free):
        problems.append("frames: a frame is on the free list twice")
    for number in free:
        if frames.at(number) is not None:
            problems.append(f"frames: free frame {number << 12:#010x} has a record")
    returned = frames.returned_numbers()
    if len(returned) != frames.returned_count or not set(returned) <= set(free):
        problems.append(f"frames: {frames.returned_count} counted as given back to the host, "
                        f"{len(set(returned) - set(free))} of {len(returned)} not free")

    # what holds each frame, apart from mappings
    holders: Counter = Counter()
    tables: dict[int, str] = {}
    spaces = [p.space for p in processes.values() if p.space.alive]
    for space in spaces:
        tables[space.tables.root] = f"pid {space.pid} top table"
        for table in space.tables.lower.values():
            tables[table] = f"pid {space.pid} table"
    for table in vm.kernel.tables:
        tables[table] = "kernel table"
    holders[vm.zero_page] += 1
    for frame in vdso.image_frames:
        holders[frame] += 1
    objects = {id(r.backing): r.backing for space in spaces for r in space.regions
               if r.backing is not None}
    for obj in objects.values():
        for pa in obj.pages.values():
            holders[pa] += 1

    # every present entry maps a frame that knows it; counters match
    mapped: Counter = Counter()
    slots: Counter = Counter()
    seen_rmap: set = set()
    for space in spaces:
        top = space.tables
        half = frames.ram.read(top.root + top.kernel_index * space.fmt.entry_size,
                               len(vm.kernel.entries))
        if half != vm.kernel.entries and \
                _without_ad(half, space.fmt.entry_size) != \
                _without_ad(vm.kernel.entries, space.fmt.entry_size):
            problems.append(f"pid {space.pid}: the kernel half of its top table differs")
        resident = swapped = 0
        for va, entry in top.entries(0, space.layout.user_top):
            if entry & _PRESENT:
                resident += 1
                pa = entry & space.fmt.addr_mask
                frame = frames.info(pa)
                if frame is None:
                    problems.append(f"pid {space.pid}: {va:#010x} maps free frame {pa:#010x}")
                    continue
                if pa in tables:
                    problems.append(f"pid {space.pid}: {va:#010x} maps {tables[pa]} "
                                    f"{pa:#010x}")
                if (space, va) not in frame.rmap:
                    problems.append(f"pid {space.pid}: {va:#010x} -> {pa:#010x}, but the "
                                    f"frame's reverse map does not list it")
                mapped[pa] += 1
                seen_rmap.add((id(space), va, pa))
            elif is_swap_entry(entry):
                swapped += 1
                slots[swap_slot(entry)] += 1
            if space.find(va) is None:
                problems.append(f"pid {space.pid}: {va:#010x} is mapped outside any region")
        if resident != space.resident or swapped != space.swapped:
            problems.append(f"pid {space.pid}: counts {space.resident} resident, "
                            f"{space.swapped} swapped; entries say {resident}, {swapped}")

    # every frame in use is reachable, with as many references as holders
    for pa, frame in used:
        kind = frame.kind
        if kind is FrameKind.RESERVED:
            continue
        if kind in (FrameKind.PAGEDIR, FrameKind.PAGETABLE):
            if pa not in tables:
                problems.append(f"frame {pa:#010x} ({kind}, pid {frame.owner}) is a table "
                                f"no live space or kernel uses: leaked")
            continue
        if kind is FrameKind.GDT:
            continue
        for space, va in frame.rmap:
            if (id(space), va, pa) not in seen_rmap:
                problems.append(f"frame {pa:#010x}: reverse map lists pid {space.pid} "
                                f"{va:#010x}, which does not map it")
        want = mapped[pa] + holders[pa]
        if frame.refs != want:
            problems.append(f"frame {pa:#010x} ({kind} {frame.label!r}): {frame.refs} "
                            f"references, {mapped[pa]} mappings + {holders[pa]} holders")
        if want == 0:
            problems.append(f"frame {pa:#010x} ({kind} {frame.label!r}) is held by "
                            f"nothing: leaked")
        if kind not in _HELD and holders[pa]:
            problems.append(f"frame {pa:#010x}: a {kind} frame held by a memory object")

    # the page file: a slot counts the swap entries naming it (fork copies them)
    miscounted = [slot for slot, n in slots.items() if n != vm.pagefile.slot_refs(slot)]
    if miscounted:
        problems.append(f"page file: slots {miscounted[:5]} are named by "
                        f"{[slots[s] for s in miscounted[:5]]} entries but count "
                        f"{[vm.pagefile.slot_refs(s) for s in miscounted[:5]]}")
    if len(slots) != vm.pagefile.used_slots:
        problems.append(f"page file: {vm.pagefile.used_slots} slots in use, "
                        f"{len(slots)} named by swap entries")
    for slot in vm.pagefile.free_slots():
        if slot in slots:
            problems.append(f"page file: free slot {slot} is named by a swap entry")

    # processes
    for pid, proc in processes.items():
        if proc.alive and not proc.space.alive:
            problems.append(f"pid {pid} is {proc.state} but has no address space")
        if not proc.alive and proc.space.alive and proc is not current:
            problems.append(f"pid {pid} is {proc.state} but still holds its memory")
        if proc.state == "waiting" and proc.waiting_for is None:
            problems.append(f"pid {pid} waits for nothing")
        if proc.path and proc.alive and proc.context is None:
            problems.append(f"pid {pid} is {proc.state} with no CPU state")
    return problems


def _without_ad(entries: bytes, size: int) -> list[int]:
    """Paging entries without the Accessed and Dirty bits: the CPU sets them in the kernel
    half of the running process's top table as it walks kernel addresses (the GDT)."""
    return [int.from_bytes(entries[i:i + size], "little") & ~0x60
            for i in range(0, len(entries), size)]
