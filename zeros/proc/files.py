"""Host files for guests: open, read, write, lseek, close, confined to one root directory.

The root is ``Machine(root=...)`` (``zeros run --root``, the current directory by default).
Guest paths are looked up inside it, absolute ones too, as after chroot; a path that
resolves outside it (``..``, a symbolic link) gets -EACCES. Descriptors 0, 1 and 2 are the
standard streams; files get 3 and up, per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import FileError
from ..uapi import errno
from ..uapi.fcntl import (
    O_ACCMODE,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)

MAX_FDS = 64


@dataclass
class OpenFile:
    path: str  # the host path, resolved inside the root
    flags: int
    position: int = 0

    @property
    def readable(self) -> bool:
        return self.flags & O_ACCMODE in (O_RDONLY, O_RDWR)

    @property
    def writable(self) -> bool:
        return self.flags & O_ACCMODE in (O_WRONLY, O_RDWR)


def resolve(root: str, path: str) -> str:
    """The host path of a guest path, or FileError(EACCES) when it escapes the root."""
    if not path:
        raise FileError(errno.ENOENT, "empty path")
    root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(root, path.lstrip("/")))
    if candidate != root and not candidate.startswith(root + os.sep):
        raise FileError(errno.EACCES, f"{path!r} is outside the root {root}")
    return candidate


class FileTable:
    def __init__(self, root: str):
        self.root = root
        self.files: dict[int, OpenFile] = {}

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        host = resolve(self.root, path)
        exists = os.path.exists(host)
        if flags & O_CREAT and flags & O_EXCL and exists:
            raise FileError(errno.EEXIST, f"{path} exists")
        if not exists and not flags & O_CREAT:
            raise FileError(errno.ENOENT, f"{path}: no such file")
        if os.path.isdir(host):
            raise FileError(errno.EISDIR, f"{path} is a directory")
        access = flags & O_ACCMODE
        if access == 3:
            raise FileError(errno.EINVAL, "bad access mode")
        want = (os.R_OK if access in (O_RDONLY, O_RDWR) else 0) | \
            (os.W_OK if access in (O_WRONLY, O_RDWR) else 0)
        if exists and not os.access(host, want):
            raise FileError(errno.EACCES, f"{path}: permission denied")
        if not exists or flags & O_TRUNC:
            try:
                with open(host, "wb" if flags & O_TRUNC or not exists else "ab"):
                    pass
                if not exists:
                    os.chmod(host, mode & 0o777)
            except OSError as error:
                raise FileError(errno.EACCES, str(error)) from None
        fd = next((n for n in range(3, MAX_FDS) if n not in self.files), None)
        if fd is None:
            raise FileError(errno.EMFILE, "too many open files")
        self.files[fd] = OpenFile(host, flags)
        return fd

    def get(self, fd: int) -> OpenFile:
        try:
            return self.files[fd]
        except KeyError:
            raise FileError(errno.EBADF, f"bad file descriptor {fd}") from None

    def read(self, fd: int, count: int) -> bytes:
        f = self.get(fd)
        if not f.readable:
            raise FileError(errno.EBADF, f"fd {fd} is not open for reading")
        with open(f.path, "rb") as host:
            host.seek(f.position)
            data = host.read(count)
        f.position += len(data)
        return data

    def write(self, fd: int, data: bytes) -> int:
        f = self.get(fd)
        if not f.writable:
            raise FileError(errno.EBADF, f"fd {fd} is not open for writing")
        with open(f.path, "r+b") as host:
            if f.flags & O_APPEND:
                f.position = host.seek(0, os.SEEK_END)
            host.seek(f.position)
            host.write(data)
        f.position += len(data)
        return len(data)

    def lseek(self, fd: int, offset: int, whence: int) -> int:
        f = self.get(fd)
        if whence == SEEK_SET:
            position = offset
        elif whence == SEEK_CUR:
            position = f.position + offset
        elif whence == SEEK_END:
            position = os.path.getsize(f.path) + offset
        else:
            raise FileError(errno.EINVAL, f"bad whence {whence}")
        if position < 0:
            raise FileError(errno.EINVAL, "negative position")
        f.position = position
        return position

    def close(self, fd: int) -> None:
        self.get(fd)
        del self.files[fd]

    def copy(self) -> FileTable:
        """For fork: the same files, positions of their own (a simplification of Linux's
        shared file descriptions)."""
        table = FileTable(self.root)
        table.files = {fd: OpenFile(f.path, f.flags, f.position) for fd, f in self.files.items()}
        return table
