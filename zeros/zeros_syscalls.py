"""Guests use the ZerOS MemoryManager through syscalls 1000-1008 (docs/syscalls.md).

Pointers are guest virtual addresses of the caller; strings are NUL-terminated UTF-8. Results
are EAX: a value or -errno. Text results (check_memory, ps, a link's value) are copied into
the caller's buffer with a NUL when it fits, and the full length is returned, as snprintf
does, so a guest can retry with a larger buffer.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

from emu.cpu import Reg

from . import linux, sysno
from .errors import AddressError, MemoryManagerError, OutOfMemory, ZerosError
from .process import Process

if TYPE_CHECKING:
    from .machine import Machine

MAX_STRING = 4096


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


class ZerosSyscalls:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.cpu = machine.cpu

    @property
    def manager(self):
        return self.machine.memory_manager

    # -- helpers -------------------------------------------------------------------------

    def string(self, proc: Process, va: int) -> str:
        return self.machine.syscalls.user_string(proc, va, MAX_STRING)

    def put(self, proc: Process, buf: int, size: int, text: bytes) -> int:
        data = text + b"\0"
        if size:
            self.machine.write_virt(proc.pid, buf, data[:size])
        return len(text)

    def call(self, proc: Process, fn) -> int:
        try:
            return fn()
        except AddressError:
            return -linux.EFAULT
        except OutOfMemory:
            return -linux.ENOMEM
        except UnicodeDecodeError:
            return -linux.EINVAL
        except ValueError:
            return -linux.ENAMETOOLONG
        except MemoryManagerError:
            return -linux.EINVAL
        except ZerosError:
            return -linux.EINVAL

    # -- handlers ------------------------------------------------------------------------

    def allocate_memory(self, proc: Process) -> int:
        heap_size, shed_size, heap_id, shed_id, out, _ = self.cpu.syscall_args()

        def go():
            got = self.manager.allocate_memory(proc.pid, _signed(heap_size), _signed(shed_size),
                                               heap_id or None, shed_id or None)
            if out:
                heap, shed = got.heap, got.shed
                record = struct.pack("<6I", got.heap_id or 0, got.shed_id or 0,
                                     heap.start if heap else 0, heap.size if heap else 0,
                                     shed.code_va if shed else 0, shed.links_va if shed else 0)
                self.machine.write_virt(proc.pid, out, record)
            return got.heap_id or got.shed_id or 0
        return self.call(proc, go)

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

    def heap_allocate(self, proc: Process) -> int:
        heap_id, size = self.cpu.syscall_args()[:2]
        return self.call(proc, lambda: self._heap(proc, heap_id).allocate(_signed(size)))

    def heap_free(self, proc: Process) -> int:
        heap_id, address = self.cpu.syscall_args()[:2]
        return self.call(proc, lambda: self._heap(proc, heap_id).free(address) or 0)

    def link_write(self, proc: Process) -> int:
        shed_id, name_va, value_va, length = self.cpu.syscall_args()[:4]

        def go():
            name = self.string(proc, name_va)
            value = self.machine.copy_from_user(proc, value_va, length).decode()
            self._shed(proc, shed_id).write_resource_link(name, value)
            return 0
        return self.call(proc, go)

    def link_read(self, proc: Process) -> int:
        shed_id, name_va, buf, size = self.cpu.syscall_args()[:4]

        def go():
            shed = self._shed(proc, shed_id)
            links = shed.resource_links()
            name = self.string(proc, name_va)
            if name not in links:
                return -linux.ENOENT
            value = links[name]
            text = value if isinstance(value, str) else json.dumps(value)
            return self.put(proc, buf, size, text.encode())
        return self.call(proc, go)

    def register_name(self, proc: Process) -> int:
        name_va = self.cpu.reg(Reg.EBX)
        return self.call(proc, lambda: self.manager.register_program_name(
            proc.pid, self.string(proc, name_va)) and 0)

    def check_memory(self, proc: Process) -> int:
        pid, buf, size = self.cpu.syscall_args()[:3]

        def go():
            info = self.manager.check_memory(_signed(pid))
            if info is None:
                return -linux.ESRCH
            for program in info["programs"]:  # the seed's fields, for the guest
                for extra in ("heapDetails", "shedDetails"):
                    program.pop(extra)
            return self.put(proc, buf, size, json.dumps(info).encode())
        return self.call(proc, go)

    def free_memory(self, proc: Process) -> int:
        return self.call(proc, lambda: self.manager.free_memory(proc.pid) and 0)

    def ps(self, proc: Process) -> int:
        buf, size, flags = self.cpu.syscall_args()[:3]
        return self.call(proc, lambda: self.put(
            proc, buf, size, self.machine.ps(long=bool(flags & 1)).encode()))


def register_zeros_syscalls(machine: "Machine") -> None:
    handlers = ZerosSyscalls(machine)
    for name in ("allocate_memory", "heap_allocate", "heap_free", "link_write", "link_read",
                 "register_name", "check_memory", "free_memory", "ps"):
        machine.syscalls.register(sysno.NUMBERS[f"zeros_{name}"], getattr(handlers, name))
