"""KernelMemory: the Exploit program, PID 10000, whose memory holds the MemoryManager's tables.

As in ZerOS, each table is JSON in the Exploit heap (heap 1), and its address and size are
resource links of the Exploit shed (shed 1): ``APPLICATION_SOP_ADDR``,
``APPLICATION_SOP_SIZE``, and so on. Every change rewrites them, so reading PID 10000's
memory through its page tables, with no help from Python, gives the current state::

    links = json of the NUL-terminated table at shed.links_va
    sop = json of links["APPLICATION_SOP_SIZE"] bytes at links["APPLICATION_SOP_ADDR"]

Keys: ``APPLICATION_SOP`` (every program's heaps and sheds), ``PROGRAM_NAMES``,
``NEXT_HEAP_ID``, ``NEXT_SHED_ID``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..errors import MemoryManagerError
from ..layout import EXPLOIT_NAME, EXPLOIT_PID
from .heap import encode

if TYPE_CHECKING:
    from .manager import MemoryManager

HEAP_SIZE = 1 << 20  # as in ZerOS's code (its document says 2 MiB)


class KernelMemory:
    def __init__(self, manager: MemoryManager):
        from .manager import ProgramMemory

        self.manager = manager
        table = manager.table
        if EXPLOIT_PID in table.processes:
            raise MemoryManagerError(f"pid {EXPLOIT_PID} is taken")
        table.adopt(EXPLOIT_PID, EXPLOIT_NAME)
        program = manager._programs[EXPLOIT_PID] = ProgramMemory(EXPLOIT_PID, {}, {})
        manager._names[EXPLOIT_PID] = EXPLOIT_NAME
        self.pid = EXPLOIT_PID
        self.heap = manager._new_heap(program, 1, HEAP_SIZE)  # ids 1, not from the counters
        self.heap.on_resize = None  # save_many resyncs after its own growth
        self.shed = manager._new_shed(program, 1, 0)
        self._blocks: dict[str, int] = {}

    def save_data(self, key: str, data) -> None:
        self.save_many({key: data})

    def save_many(self, items: dict) -> None:
        """JSON-encode each value into the Exploit heap (a bytes value is taken as JSON text
        already); record where in the shed's links."""
        links = {}
        size_before = self.heap.size
        for key, data in items.items():
            payload = data if isinstance(data, bytes) else encode(
                json.dumps(data) if isinstance(data, str) else data)
            old = self._blocks.pop(key, None)
            if old is not None:
                self.heap.free(old)
            address = self.heap.allocate(len(payload) + 1, zero=False)
            self.heap.write_data(address, payload + b"\0")
            self._blocks[key] = address
            links[f"{key}_ADDR"] = address
            links[f"{key}_SIZE"] = len(payload)
        self.shed.write_resource_links(links)
        if self.heap.size != size_before:  # the Exploit heap itself is in APPLICATION_SOP
            self.manager._sync_partitions(self.pid)

    def load_data(self, key: str):
        """The value of ``key``, read back from the Exploit heap through the shed's links."""
        if not self.has_data(key):
            raise MemoryManagerError(f"KernelMemory has no {key!r}")
        address = self.shed.read_resource_link(f"{key}_ADDR")
        size = self.shed.read_resource_link(f"{key}_SIZE")
        return json.loads(self.heap.read_data(address, size))

    def has_data(self, key: str) -> bool:
        return f"{key}_ADDR" in self.shed.resource_links()

    def delete_data(self, key: str) -> None:
        if key not in self._blocks:
            raise MemoryManagerError(f"KernelMemory has no {key!r}")
        self.heap.free(self._blocks.pop(key))
        self.shed.delete_resource_link(f"{key}_ADDR")
        self.shed.delete_resource_link(f"{key}_SIZE")

    def get_memory_usage(self) -> dict:
        return {"heap": self.heap.stats(), "shed": self.shed.stats(),
                "keys": sorted(self._blocks)}
