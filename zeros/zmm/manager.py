"""The ZerOS MemoryManager (``shared/seeds/000_*``) on real page tables.

``allocateMemory``, ``freeMemory``, ``checkMemory``, ``registerProgramName``,
``getProgramName``, ``setLogLevel``, with Python names. Heaps and sheds are ranges of the
process's own virtual address space, backed by frames through its page directory; a pid
that has no address space yet gets one (a "memory-only" program, as ZerOS programs are).
Every heap and shed window is followed by an unmapped guard page of its own region.

The management tables live in the memory of the Exploit program (PID 10000), kept by
:class:`zeros.kernel_memory.KernelMemory` and rewritten on every change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from emu.mmu import PAGE_SIZE, page_up

from ..errors import HeapError, MappingError, MemoryManagerError
from ..layout import EXPLOIT_NAME, EXPLOIT_PID
from ..proc.process import Process
from ..proc.table import ProcessTable
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, Region, RegionKind
from .heap import Heap
from .shed import Shed

log = logging.getLogger("zeros.memory")
HEAP_WINDOW_MIN = 4 << 20
SHED_AREA_SIZE = 512 << 10  # code area, and again for the resource links
LOG_LEVELS = {0: logging.CRITICAL + 10, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
MEMORY_ONLY = "memory"  # the status of a program that has memory but runs no code


@dataclass(frozen=True)
class Allocation:
    """What ``allocate_memory`` returns: ``{heapId, shedId, heap, shed}`` in the seed."""

    heap_id: int | None
    shed_id: int | None
    heap: Heap | None
    shed: Shed | None


@dataclass(eq=False)
class ProgramMemory:
    pid: int
    heaps: dict[int, Heap]
    sheds: dict[int, Shed]


class MemoryManager:
    """Given the process table (programs are its processes; a pid with none becomes a
    memory-only process). The composer tells it when a process is reaped
    (:meth:`process_ended`)."""

    def __init__(self, table: ProcessTable):
        self.table = table
        self._programs: dict[int, ProgramMemory] = {}
        self._names: dict[int, str] = {}
        self._fragments: dict[int, str] = {}  # pid -> its APPLICATION_SOP entry, as JSON
        self.next_heap_id = 1
        self.next_shed_id = 1
        from .kernel_memory import KernelMemory

        self.kernel_memory = KernelMemory(self)
        self._sync_all()

    # -- the seed's API ------------------------------------------------------------------

    def allocate_memory(self, pid: int, heap_size: int = -1, shed_size: int = -1,
                        heap_id: int | None = None, shed_id: int | None = None) -> Allocation:
        """A heap when ``heap_size`` > 0, a shed when ``shed_size`` >= 0 (-1: none). An id
        that exists in this pid returns that heap or shed instead of making one."""
        self._check_pid(pid, "allocate")
        for name, value in (("heap_size", heap_size), ("shed_size", shed_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise MemoryManagerError(f"{name} must be an integer, not {value!r}")
        for name, value in (("heap_id", heap_id), ("shed_id", shed_id)):
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise MemoryManagerError(f"{name} must be a positive integer or None, "
                                         f"not {value!r}")
        program = self._program(pid)
        heap = shed = None
        changed = False
        if heap_size > 0 or (heap_id is not None and heap_id in program.heaps):
            if heap_id in program.heaps:
                heap = program.heaps[heap_id]
            else:
                heap = self._new_heap(program, heap_id, heap_size)
                changed = True
        if shed_size >= 0 or (shed_id is not None and shed_id in program.sheds):
            if shed_id in program.sheds:
                shed = program.sheds[shed_id]
            else:
                shed = self._new_shed(program, shed_id, shed_size)
                changed = True
        if changed:
            self._sync_partitions(pid)
        log.info("allocate_memory(%d, %d, %d) -> heap %s, shed %s", pid, heap_size, shed_size,
                 heap and heap.heap_id, shed and shed.shed_id)
        return Allocation(heap.heap_id if heap else None, shed.shed_id if shed else None,
                          heap, shed)

    def free_memory(self, pid: int) -> bool:
        """Free every heap and shed of ``pid``; a program that runs no code loses its whole
        address space (page tables and page directory included). False for an unknown pid."""
        self._check_pid(pid, "free")
        program = self._programs.pop(pid, None)
        proc = self.table.processes.get(pid)
        if program is None and (proc is None or proc.context is not None or proc.path):
            return False
        if program is not None:
            self._drop(program)
        if proc is not None and proc.context is None and not proc.path:
            self.table.remove(proc)
        self._sync_partitions(pid)
        log.info("free_memory(%d)", pid)
        return True

    def check_memory(self, pid: int = -1) -> dict | None:
        """The seed's shape, plus residentPages, pageTableFrames and cr3 per program."""
        if pid == -1:
            programs = [self._info(p) for p in sorted(self._listed())]
            return {"totalPrograms": len(programs), "programs": programs}
        if pid not in self._listed():
            return None
        return {"totalPrograms": 1, "programs": [self._info(pid)]}

    def register_program_name(self, pid: int, name: str) -> bool:
        if not isinstance(pid, int) or not isinstance(name, str) or not name:
            raise MemoryManagerError(f"register_program_name needs a pid and a non-empty "
                                     f"name, not ({pid!r}, {name!r})")
        if pid == EXPLOIT_PID and name != EXPLOIT_NAME:
            raise MemoryManagerError(f"PID {EXPLOIT_PID} is {EXPLOIT_NAME}: it cannot be "
                                     f"renamed")
        self._names[pid] = name
        proc = self.table.processes.get(pid)
        if proc is not None:
            proc.name = name
        self.kernel_memory.save_data("PROGRAM_NAMES", {str(p): n for p, n in
                                                       sorted(self._names.items())})
        return True

    def get_program_name(self, pid: int) -> str:
        if pid in self._names:
            return self._names[pid]
        proc = self.table.processes.get(pid)
        if proc is not None and proc.path:
            return proc.name
        return f"Program-{pid}"

    def set_log_level(self, level: int) -> None:
        """0 silent, 1 warnings, 2 info, 3 debug (the ``zeros.memory`` logger)."""
        if level not in LOG_LEVELS:
            raise MemoryManagerError(f"log level must be 0, 1, 2 or 3, not {level!r}")
        log.setLevel(LOG_LEVELS[level])

    # -- more ----------------------------------------------------------------------------

    def heaps(self, pid: int) -> dict[int, Heap]:
        return dict(self._programs[pid].heaps) if pid in self._programs else {}

    def sheds(self, pid: int) -> dict[int, Shed]:
        return dict(self._programs[pid].sheds) if pid in self._programs else {}

    def process_ended(self, pid: int) -> None:
        """A guest exited or was killed: its heaps and sheds went with its address space."""
        program = self._programs.pop(pid, None)
        if program is not None:
            for item in list(program.heaps.values()) + list(program.sheds.values()):
                item.freed = True
            self._sync_partitions(pid)

    def heap_resized(self, heap: Heap) -> None:
        self._sync_partitions(heap.pid)

    # -- internals -----------------------------------------------------------------------

    def _check_pid(self, pid, what: str) -> None:
        if not isinstance(pid, int) or isinstance(pid, bool) or pid < 0:
            raise MemoryManagerError(f"pid must be a non-negative integer, not {pid!r}")
        if pid == EXPLOIT_PID:
            raise MemoryManagerError(f"users cannot {what} the memory of PID {EXPLOIT_PID} "
                                     f"({EXPLOIT_NAME}): KernelMemory manages it")

    def _program(self, pid: int) -> ProgramMemory:
        program = self._programs.get(pid)
        if program is None:
            proc = self.table.processes.get(pid)
            if proc is None:
                proc = self.table.adopt(pid, self.get_program_name(pid))
            elif not proc.alive:
                raise MemoryManagerError(f"pid {pid} has {proc.state}: its memory is gone")
            program = self._programs[pid] = ProgramMemory(pid, {}, {})
        return program

    def _space(self, pid: int) -> AddressSpace:
        return self.table.processes[pid].space

    def _new_heap(self, program: ProgramMemory, heap_id: int | None, size: int) -> Heap:
        if heap_id is None:
            heap_id = self._next_id("heap", program.heaps)
        space = self._space(program.pid)
        window = max(HEAP_WINDOW_MIN, 2 * page_up(size))
        layout = space.layout
        region, guard = self._place(space, window, layout.heap_base, layout.heap_top,
                                    Prot.READ | Prot.WRITE,
                                    RegionKind.HEAP, f"heap {heap_id}")
        try:
            heap = Heap(heap_id, space, region, size, layout.heap_top, guard)
        except BaseException:
            space.remove_region(region)
            space.remove_region(guard)
            raise
        heap.on_resize = self.heap_resized
        program.heaps[heap_id] = heap
        return heap

    def _new_shed(self, program: ProgramMemory, shed_id: int | None, size: int) -> Shed:
        if shed_id is None:
            shed_id = self._next_id("shed", program.sheds)
        space = self._space(program.pid)
        layout = space.layout
        code, code_guard = self._place(space, SHED_AREA_SIZE, layout.shed_base, layout.shed_top,
                                       Prot.READ | Prot.EXEC, RegionKind.SHED,
                                       f"shed {shed_id} code")
        links, links_guard = self._place(space, SHED_AREA_SIZE, layout.shed_base,
                                         layout.shed_top,
                                         Prot.READ, RegionKind.SHED, f"shed {shed_id} links")
        shed = Shed(shed_id, space, code, links, size)
        shed.guards = (code_guard, links_guard)
        program.sheds[shed_id] = shed
        return shed

    def _next_id(self, kind: str, taken: dict) -> int:
        attribute = f"next_{kind}_id"
        number = getattr(self, attribute)
        while number in taken:
            number += 1
        setattr(self, attribute, number + 1)
        return number

    def _place(self, space: AddressSpace, size: int, low: int, high: int, prot: Prot,
               kind: RegionKind, name: str) -> tuple[Region, Region]:
        """A region of ``size`` bytes in [low, high), lowest first, and its guard page."""
        start = space.regions.free_gap(size + PAGE_SIZE, low, high, top_down=False)
        if start is None:
            raise MemoryManagerError(f"pid {space.pid}: no room for a {size >> 10} KiB "
                                     f"{kind} between {low:#010x} and {high:#010x}")
        region = space.add_region(start, start + size, prot, kind, name, demand=False)
        guard = space.add_region(start + size, start + size + PAGE_SIZE, Prot.NONE,
                                 RegionKind.GUARD, f"guard {name}", demand=False)
        return region, guard

    def _drop(self, program: ProgramMemory) -> None:
        space = self._space(program.pid)
        for item in list(program.heaps.values()) + list(program.sheds.values()):
            item.freed = True
            for region in _regions_of(item):
                if space.alive:
                    space.remove_region(region)

    def _listed(self) -> set[int]:
        return {pid for pid, p in self.table.processes.items() if p.alive} | \
            set(self._programs)

    def _info(self, pid: int) -> dict:
        program = self._programs.get(pid)
        heaps = [h.stats() for h in program.heaps.values()] if program else []
        sheds = [s.stats() for s in program.sheds.values()] if program else []
        proc = self.table.processes.get(pid)
        space = proc.space if proc is not None else None
        return {
            "pid": pid,
            "programName": self.get_program_name(pid),
            "heaps": [{k: h[k] for k in ("heapId", "heapSize", "heapUsed", "heapFree")}
                      for h in heaps],
            "sheds": [{k: s[k] for k in ("shedId", "shedSize")} for s in sheds],
            "totalHeapSize": sum(h["heapSize"] for h in heaps),
            "totalHeapUsed": sum(h["heapUsed"] for h in heaps),
            "totalHeapFree": sum(h["heapFree"] for h in heaps),
            "totalShedSize": sum(s["shedSize"] for s in sheds),
            "status": _status(proc),
            "residentPages": space.resident if space else 0,
            "pageTableFrames": (space.tables.table_count + 1) if space and space.cr3 else 0,
            "cr3": space.cr3 if space else None,
            "heapDetails": heaps,
            "shedDetails": sheds,
        }

    def _partition(self, pid: int) -> str | None:
        """One program's entry of APPLICATION_SOP, as JSON text."""
        program = self._programs.get(pid)
        if program is None:
            return None
        entry = {"heaps": [{"heapId": h.heap_id, "address": h.start, "size": h.size}
                           for h in program.heaps.values()],
                 "sheds": [{"shedId": s.shed_id, "codeAddress": s.code_va,
                            "linksAddress": s.links_va} for s in program.sheds.values()]}
        return f'"{pid}":' + json.dumps(entry, separators=(",", ":"))

    def partitions_json(self) -> bytes:
        """APPLICATION_SOP as JSON text, joined from per-program pieces: a change re-encodes
        only the program that changed (the whole text is still rewritten in the heap)."""
        return ("{" + ",".join(self._fragments[p] for p in sorted(self._fragments)) +
                "}").encode()

    def _sync_partitions(self, *changed: int) -> None:
        for pid in changed:
            fragment = self._partition(pid)
            if fragment is None:
                self._fragments.pop(pid, None)
            else:
                self._fragments[pid] = fragment
        self.kernel_memory.save_many({"APPLICATION_SOP": self.partitions_json(),
                                      "NEXT_HEAP_ID": self.next_heap_id,
                                      "NEXT_SHED_ID": self.next_shed_id})

    def _sync_all(self) -> None:
        self._sync_partitions(*self._programs)
        self.kernel_memory.save_data("PROGRAM_NAMES", {str(p): n for p, n in
                                                       sorted(self._names.items())})


def _regions_of(item) -> list[Region]:
    if isinstance(item, Heap):
        return [item.region, item.guard]
    return [item.code_region, item.links_region, *item.guards]


def _status(proc: Process | None) -> str:
    if proc is None:
        return "freed"
    if proc.alive and proc.context is None:
        return MEMORY_ONLY
    return proc.state


__all__ = ["MemoryManager", "Allocation", "EXPLOIT_PID", "HeapError", "MappingError"]
