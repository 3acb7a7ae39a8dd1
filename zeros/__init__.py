"""ZerOS: the operating system side of the paging emulator.

``Machine`` (RAM, CPU, kernel, processes, scheduler), address spaces and regions, the
syscall table, fault handling and reports, and the ZerOS MemoryManager on top.
"""

from .errors import (AddressError, MappingError, MemoryManagerError, NoSuchProcess,
                     OutOfMemory, ProgramError, ZerosError)
from .machine import Machine

__all__ = ["Machine", "ZerosError", "ProgramError", "OutOfMemory", "NoSuchProcess",
           "AddressError", "MappingError", "MemoryManagerError"]
