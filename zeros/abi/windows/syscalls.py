"""The guest side of the Windows family: 1010 VirtualAlloc, 1011 VirtualFree,
1012 VirtualProtect, 1013 VirtualQuery (docs/syscalls.md). Results are addresses or values,
or -errno (Win32Error maps to ENOMEM or EINVAL)."""

from __future__ import annotations

import struct

from ...errors import SyscallError
from ...proc.process import Process
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...vm.uaccess import copy_to_user
from .virtual import WindowsMemory


class VirtualCalls:
    def __init__(self, windows: WindowsMemory):
        self.windows = windows

    def handlers(self) -> dict:
        return {nr.NR_zeros_virtual_alloc: (self.virtual_alloc, 4),
                nr.NR_zeros_virtual_free: (self.virtual_free, 3),
                nr.NR_zeros_virtual_protect: (self.virtual_protect, 4),
                nr.NR_zeros_virtual_query: (self.virtual_query, 3)}

    def virtual_alloc(self, proc: Process, args) -> int:
        address, size, kind, protect = args[:4]
        return self.windows.virtual_alloc(proc.pid, address, size, kind, protect)

    def virtual_free(self, proc: Process, args) -> int:
        address, size, kind = args[:3]
        self.windows.virtual_free(proc.pid, address, size, kind)
        return 0

    def virtual_protect(self, proc: Process, args) -> int:
        address, size, protect, old_va = args[:4]
        old = self.windows.virtual_protect(proc.pid, address, size, protect)
        if old_va:
            copy_to_user(proc.space, old_va, struct.pack("<I", old))
        return 0

    def virtual_query(self, proc: Process, args) -> int:
        address, buf, length = args[:3]
        info = self.windows.virtual_query(proc.pid, address).pack(proc.space.layout.word == 8)
        if length < len(info):
            raise SyscallError(errno.EINVAL, "VirtualQuery: buffer too small")
        copy_to_user(proc.space, buf, info)
        return len(info)
