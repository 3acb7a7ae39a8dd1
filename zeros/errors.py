"""Errors of the OS layer, and the one mapping from an error to the errno a guest sees.

::

    ZerosError
     ├── ProgramError          a program cannot be loaded (missing file, assembly error,
     │                         not a static i386 ELF, a segment in kernel space)
     ├── OutOfMemory           no physical frame left (and nothing could be paged out)
     ├── NoSuchProcess         an unknown pid, or one without an address space
     ├── AddressError          a guest virtual address does not translate (``.walk``)
     ├── MappingError          a range is already mapped, or is not valid for the request
     ├── SyscallError          an OS call refused, with Linux's ``errno``
     │    ├── VmError          the mmap family (mmap, munmap, mprotect, ...)
     │    └── FileError        files and descriptors
     ├── Win32Error            the VirtualAlloc family refused, with ``winerror``
     ├── MachineError          the machine cannot do that now (closed, re-entered)
     ├── HandlerError          a hook the caller gave (breakpoint, output) raised: run()
     │                         re-raises the original exception
     ├── IntegrityError        Machine.check() found a broken invariant (a kernel bug)
     └── MemoryManagerError    the ZerOS MemoryManager API refused a request
          ├── HeapError        bad heap address, double free, write past a block
          └── ShedError        bad code offset or resource link

Python callers get these exceptions; a guest's syscall gets ``-errno_of(error)``.
"""

from __future__ import annotations

from .uapi import errno, winnt


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


class SyscallError(ZerosError):
    """An OS call failed; ``errno`` is what Linux returns (negated, for a guest)."""

    def __init__(self, errno_value: int, message: str):
        super().__init__(message)
        self.errno = int(errno_value)


class VmError(SyscallError):
    pass


class FileError(SyscallError):
    pass


class Win32Error(ZerosError):
    """A VirtualAlloc-family call failed; ``winerror`` is what GetLastError would say."""

    def __init__(self, winerror: int, message: str):
        super().__init__(f"{message} (error {winerror})")
        self.winerror = winerror


class MachineError(ZerosError):
    pass


class HandlerError(ZerosError):
    """A caller's hook raised while the machine ran; ``__cause__`` is what it raised."""


class IntegrityError(ZerosError):
    """The memory state breaks an invariant; ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                           if len(problems) > 5 else "")
        super().__init__(f"{len(problems)} broken invariant(s): {shown}")
        self.problems = problems


class MemoryManagerError(ZerosError):
    pass


class HeapError(MemoryManagerError):
    pass


class ShedError(MemoryManagerError):
    pass


_WINERROR_ERRNO = {winnt.ERROR_NOT_ENOUGH_MEMORY: errno.ENOMEM,
                   winnt.ERROR_COMMITMENT_LIMIT: errno.ENOMEM,
                   winnt.ERROR_INVALID_PARAMETER: errno.EINVAL,
                   winnt.ERROR_INVALID_ADDRESS: errno.EINVAL}


def errno_of(error: ZerosError) -> int:
    """The errno a guest gets for ``error`` (positive; the syscall returns it negated)."""
    if isinstance(error, SyscallError):
        return error.errno
    if isinstance(error, AddressError):
        return errno.EFAULT
    if isinstance(error, OutOfMemory):
        return errno.ENOMEM
    if isinstance(error, Win32Error):
        return _WINERROR_ERRNO.get(error.winerror, errno.EINVAL)
    if isinstance(error, NoSuchProcess):
        return errno.ESRCH
    return errno.EINVAL
