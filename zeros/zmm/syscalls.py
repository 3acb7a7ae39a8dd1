"""Guests use the ZerOS MemoryManager through syscalls 1000-1008 (docs/syscalls.md).

Pointers are guest virtual addresses of the caller; strings are NUL-terminated UTF-8. Results
are EAX: a value or -errno. Text results (check_memory, ps, a link's value) are copied into
the caller's buffer with a NUL when it fits, and the full length is returned, as snprintf
does, so a guest can retry with a larger buffer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import MemoryManagerError, SyscallError
from ..proc.process import Process
from ..uapi import errno
from ..uapi import unistd_32 as nr
from ..uapi.types import signed32
from ..vm.uaccess import copy_from_user, copy_to_user, text_from_user

if TYPE_CHECKING:  # (the MemoryManager is made, and its module imported, on first use)
    from .manager import MemoryManager

MAX_STRING = 4096
MAX_LINK_VALUE = 1 << 20


class ZerosCalls:
    """``manager()`` gives the MemoryManager (made on first use); ``ps(long)`` the table."""

    def __init__(self, manager: Callable[[], MemoryManager], ps: Callable[[bool], str]):
        self._manager = manager
        self._ps = ps

    def handlers(self) -> dict:
        return {nr.NR_zeros_allocate_memory: (self.allocate_memory, 5),
                nr.NR_zeros_heap_allocate: (self.heap_allocate, 2),
                nr.NR_zeros_heap_free: (self.heap_free, 2),
                nr.NR_zeros_link_write: (self.link_write, 4),
                nr.NR_zeros_link_read: (self.link_read, 4),
                nr.NR_zeros_register_name: (self.register_name, 1),
                nr.NR_zeros_check_memory: (self.check_memory, 3),
                nr.NR_zeros_free_memory: (self.free_memory, 0),
                nr.NR_zeros_ps: (self.ps, 3)}

    @property
    def manager(self) -> MemoryManager:
        return self._manager()

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def string(proc: Process, va: int) -> str:
        return text_from_user(proc.space, va, MAX_STRING)

    @staticmethod
    def put(proc: Process, buf: int, size: int, text: bytes) -> int:
        data = text + b"\0"
        if size:
            copy_to_user(proc.space, buf, data[:size])
        return len(text)

    def _heap(self, proc: Process, heap_id: int):
        heap = self.manager.heaps(proc.pid).get(heap_id)
        if heap is None:
            raise MemoryManagerError(f"pid {proc.pid} has no heap {heap_id}")
        return heap

    def _shed(self, proc: Process, shed_id: int):
        shed = self.manager.sheds(proc.pid).get(shed_id)
        if shed is None:
            raise MemoryManagerError(f"pid {proc.pid} has no shed {shed_id}")
        return shed

    # -- handlers ------------------------------------------------------------------------

    def allocate_memory(self, proc: Process, args) -> int:
        heap_size, shed_size, heap_id, shed_id, out = args[:5]
        got = self.manager.allocate_memory(proc.pid, signed32(heap_size), signed32(shed_size),
                                           heap_id or None, shed_id or None)
        if out:
            heap, shed = got.heap, got.shed
            record = struct.pack("<6Q" if proc.space.layout.word == 8 else "<6I",
                                 got.heap_id or 0, got.shed_id or 0,
                                 heap.start if heap else 0, heap.size if heap else 0,
                                 shed.code_va if shed else 0, shed.links_va if shed else 0)
            copy_to_user(proc.space, out, record)
        return got.heap_id or got.shed_id or 0

    def heap_allocate(self, proc: Process, args) -> int:
        heap_id, size = args[:2]
        return self._heap(proc, heap_id).allocate(signed32(size))

    def heap_free(self, proc: Process, args) -> int:
        heap_id, address = args[:2]
        self._heap(proc, heap_id).free(address)
        return 0

    def link_write(self, proc: Process, args) -> int:
        shed_id, name_va, value_va, length = args[:4]
        name = self.string(proc, name_va)
        if length > MAX_LINK_VALUE:
            raise SyscallError(errno.EINVAL, f"link value of {length} bytes is too long")
        raw = copy_from_user(proc.space, value_va, length)
        try:
            value = raw.decode()
        except UnicodeDecodeError:
            raise SyscallError(errno.EINVAL, "link value is not UTF-8") from None
        self._shed(proc, shed_id).write_resource_link(name, value)
        return 0

    def link_read(self, proc: Process, args) -> int:
        shed_id, name_va, buf, size = args[:4]
        links = self._shed(proc, shed_id).resource_links()
        name = self.string(proc, name_va)
        if name not in links:
            return -errno.ENOENT
        value = links[name]
        import json  # (json is imported when first needed: start-up)
        text = value if isinstance(value, str) else json.dumps(value)
        return self.put(proc, buf, size, text.encode())

    def register_name(self, proc: Process, args) -> int:
        self.manager.register_program_name(proc.pid, self.string(proc, args[0]))
        return 0

    def check_memory(self, proc: Process, args) -> int:
        pid, buf, size = args[:3]
        info = self.manager.check_memory(signed32(pid))
        if info is None:
            return -errno.ESRCH
        for program in info["programs"]:  # the seed's fields, for the guest
            for extra in ("heapDetails", "shedDetails"):
                program.pop(extra)
        import json
        return self.put(proc, buf, size, json.dumps(info).encode())

    def free_memory(self, proc: Process, args) -> int:
        self.manager.free_memory(proc.pid)
        return 0

    def ps(self, proc: Process, args) -> int:
        buf, size, flags = args[:3]
        return self.put(proc, buf, size, self._ps(bool(flags & 1)).encode())
