"""Thread-local storage: each process's three TLS descriptors (GDT entries 6-8, selectors
0x33, 0x3B, 0x43), as Linux keeps them (``set_thread_area``, ``get_thread_area``).

A process's descriptors live with the process and are written into the GDT whenever it is
about to run: a ``mov gs`` reads the GDT, so it must hold the running process's entries. The
hidden base of a segment register already loaded travels in the saved CPU context.

``struct user_desc`` (asm/ldt.h), 16 bytes::

    +0  u32 entry_number      -1: pick a free entry and write its number back
    +4  u32 base_addr
    +8  u32 limit
    +12 u32 seg_32bit:1 contents:2 read_exec_only:1 limit_in_pages:1 seg_not_present:1
            useable:1
"""

from __future__ import annotations

import struct

from emu import gdt
from emu.ram import PhysicalMemory

from ..errors import SyscallError
from ..uapi import errno

EMPTY = bytes(gdt.DESCRIPTOR_SIZE)
USER_DESC = struct.Struct("<IIII")


def empty_areas() -> list[bytes]:
    return [EMPTY] * gdt.TLS_COUNT


class ThreadAreas:
    """Writes processes' TLS descriptors into the GDT at physical ``gdt_pa``."""

    def __init__(self, ram: PhysicalMemory, gdt_pa: int):
        self.ram = ram
        self.gdt_pa = gdt_pa
        self._installed: list[bytes] | None = None

    def install(self, areas: list[bytes]) -> None:
        """Make the GDT hold these descriptors (before the process they belong to runs)."""
        if areas is self._installed:
            return
        self.ram.write(self.gdt_pa + gdt.TLS_FIRST * gdt.DESCRIPTOR_SIZE, b"".join(areas))
        self._installed = areas

    def forget(self) -> None:
        self._installed = None


def set_area(areas: list[bytes], raw: bytes) -> tuple[list[bytes], int]:
    """set_thread_area: the new list of descriptors and the entry number used."""
    entry, base, limit, flags = USER_DESC.unpack(raw)
    if entry == 0xFFFFFFFF:
        free = [k for k, d in enumerate(areas) if d == EMPTY]
        if not free:
            raise SyscallError(errno.ESRCH, "set_thread_area: no free TLS entry")
        entry = gdt.TLS_FIRST + free[0]
    if not gdt.TLS_FIRST <= entry < gdt.TLS_FIRST + gdt.TLS_COUNT:
        raise SyscallError(errno.EINVAL, f"set_thread_area: entry {entry} is not a TLS entry")
    fields = dict(seg_32bit=bool(flags & 1), contents=(flags >> 1) & 3,
                  read_exec_only=bool(flags & 8), limit_in_pages=bool(flags & 16),
                  present=not flags & 32, useable=bool(flags & 64))
    empty = base == 0 and limit == 0 and fields["contents"] == 0 and \
        fields["read_exec_only"] and not fields["seg_32bit"] and \
        not fields["limit_in_pages"] and not fields["present"] and not fields["useable"]
    descriptor = EMPTY if empty else gdt.tls_descriptor(base, limit, **fields)
    new = list(areas)
    new[entry - gdt.TLS_FIRST] = descriptor
    return new, entry


def get_area(areas: list[bytes], entry: int) -> bytes:
    """get_thread_area: the ``struct user_desc`` of entry ``entry``."""
    if not gdt.TLS_FIRST <= entry < gdt.TLS_FIRST + gdt.TLS_COUNT:
        raise SyscallError(errno.EINVAL, f"get_thread_area: entry {entry} is not a TLS entry")
    descriptor = areas[entry - gdt.TLS_FIRST]
    if descriptor == EMPTY:
        return USER_DESC.pack(entry, 0, 0, 8 | 32)  # read_exec_only, seg_not_present
    f = gdt.descriptor_fields(descriptor)
    flags = (f["seg_32bit"] | f["contents"] << 1 | f["read_exec_only"] << 3 |
             f["limit_in_pages"] << 4 | f["seg_not_present"] << 5 | f["useable"] << 6)
    return USER_DESC.pack(entry, f["base"], f["limit"], flags)
