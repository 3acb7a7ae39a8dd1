"""Errors of the OS layer.

::

    ZerosError
     ├── ProgramError          a program cannot be loaded (missing file, assembly error,
     │                         not a static i386 ELF, a segment in kernel space)
     ├── OutOfMemory           no physical frame left (and nothing could be paged out)
     ├── NoSuchProcess         an unknown pid
     ├── AddressError          a host access to guest virtual memory faulted (``.walk``)
     ├── MappingError          a range is already mapped, or is not valid for the request
     └── MemoryManagerError    the ZerOS MemoryManager API refused a request
          ├── HeapError        bad heap address, double free, write past a block
          └── ShedError        bad code offset or resource link
"""

from __future__ import annotations


class ZerosError(Exception):
    """Base of every error raised by the zeros package."""


class ProgramError(ZerosError):
    pass


class OutOfMemory(ZerosError):
    pass


class NoSuchProcess(ZerosError):
    def __init__(self, pid):
        super().__init__(f"no process with pid {pid}")
        self.pid = pid


class AddressError(ZerosError):
    def __init__(self, message: str, walk=None):
        super().__init__(message)
        self.walk = walk


class MappingError(ZerosError):
    pass


class MemoryManagerError(ZerosError):
    pass


class HeapError(MemoryManagerError):
    pass


class ShedError(MemoryManagerError):
    pass
