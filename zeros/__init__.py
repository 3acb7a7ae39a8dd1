"""ZerOS: the operating system side of the paging emulator.

``Machine`` composes the parts (docs/architecture.md): ``mm`` (frames, page tables, boot),
``vm`` (address spaces, faults, the page file), ``proc`` (processes, scheduler, loader),
``entry`` (traps and syscalls), ``abi`` (the Linux and Windows families), ``zmm`` (the ZerOS
MemoryManager), ``views`` (debug views), on ``uapi`` (the Linux ABI's numbers).
"""

from .errors import (
                     AddressError,
                     FileError,
                     MachineError,
                     MappingError,
                     MemoryManagerError,
                     NoSuchProcess,
                     OutOfMemory,
                     ProgramError,
                     SyscallError,
                     VmError,
                     Win32Error,
                     ZerosError,
)
from .machine import Machine

__all__ = ["Machine", "ZerosError", "ProgramError", "OutOfMemory", "NoSuchProcess",
           "AddressError", "MappingError", "MemoryManagerError", "SyscallError", "VmError",
           "FileError", "Win32Error", "MachineError"]
