"""The file calls of the Linux family: write, read, open, close, lseek.

Descriptors 0, 1 and 2 are the standard streams: what a guest writes to 1 and 2 goes to its
process's ``stdout``/``stderr`` and to the ``output`` hook the composer gives (the command
line forwards it); reading 0 gives end of file. Files are host files under the root
(:class:`zeros.proc.files.FileTable`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ...errors import FileError, HandlerError
from ...proc.process import Process
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...uapi.types import signed32
from ...vm.uaccess import copy_from_user, copy_to_user, string_from_user

MAX_IO = 1 << 20  # bytes moved by one read() or write(); more is a short count, as POSIX allows

Output = Callable[[Process, int, bytes], None]


class FileCalls:
    def __init__(self, output: Output | None = None):
        self.output = output

    def handlers(self) -> dict:
        return {nr.NR_write: (self.write, 3), nr.NR_read: (self.read, 3),
                nr.NR_open: (self.open, 3), nr.NR_close: (self.close, 1),
                nr.NR_lseek: (self.lseek, 3)}

    def emit(self, proc: Process, fd: int, data: bytes) -> None:
        (proc.stdout if fd == 1 else proc.stderr).extend(data)
        if self.output is not None:
            try:
                self.output(proc, fd, data)
            except Exception as error:  # the caller's (the command line's): run() re-raises
                raise HandlerError("output hook raised") from error

    def write(self, proc: Process, args) -> int:
        fd, buf, count = args[:3]
        if fd not in (1, 2) and fd not in proc.files.files:
            return -errno.EBADF
        data = copy_from_user(proc.space, buf, min(count, MAX_IO))
        if fd in (1, 2):
            self.emit(proc, fd, data)
            return len(data)
        return proc.files.write(fd, data)

    def read(self, proc: Process, args) -> int:
        fd, buf, count = args[:3]
        if fd == 0:
            return 0  # stdin is empty
        data = proc.files.read(fd, min(count, MAX_IO))
        if data:
            copy_to_user(proc.space, buf, data)
        return len(data)

    def open(self, proc: Process, args) -> int:
        path_va, flags, mode = args[:3]
        path = os.fsdecode(string_from_user(proc.space, path_va))
        if "\0" in path:
            raise FileError(errno.EINVAL, "path holds a NUL")
        return proc.files.open(path, flags, mode)

    def close(self, proc: Process, args) -> int:
        proc.files.close(args[0])
        return 0

    def lseek(self, proc: Process, args) -> int:
        fd, offset, whence = args[:3]
        return proc.files.lseek(fd, signed32(offset), whence)
