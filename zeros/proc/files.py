"""Files for guests: open file descriptions, per-process descriptor tables, paths under a root.

As in Linux, a descriptor names an *open file description* (:class:`OpenFile`): the
position and flags live there, so ``dup`` and ``fork`` share them. The kinds:

* :class:`HostFile`: a regular file under the root (read, write, seek, map);
* :class:`Directory`: a directory under the root (``getdents64``, a base for ``openat``);
* :class:`Snapshot`: a read-only file made at the first read (``/proc/self/maps``...);
* :class:`PipeEnd`: one end of a pipe, whose buffer (64 KiB) lives in the kernel;
* :class:`Console`: the standard streams the machine was given: input from bytes or a host
  descriptor, output to the writing process's capture and the machine's output hook.

Paths: the root is ``Machine(root=...)`` (``zeros run --root``, the current directory by
default) and every guest path is looked up inside it, absolute ones too, as after chroot;
relative ones start at the process's working directory. A path that resolves outside the
root (``..``, a symbolic link) gets -EACCES.

An operation that cannot complete now (reading an empty pipe that still has writers)
raises :class:`WouldBlock`; the syscall layer puts the process to sleep and retries it.
"""

from __future__ import annotations

import os
import posixpath
import select
import stat as pystat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import FileError
from ..uapi import errno
from ..uapi.fcntl import (
    O_ACCMODE,
    O_APPEND,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)
from .process import WouldBlock

MAX_FDS = 1024
PIPE_SIZE = 1 << 16
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20


@dataclass
class Stat:
    """What the stat family reports (the fields Linux's struct stat64 and statx share)."""

    mode: int
    size: int = 0
    ino: int = 0
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    dev: int = 0
    rdev: int = 0
    blksize: int = 4096
    blocks: int = 0
    atime: float = 0.0
    mtime: float = 0.0
    ctime: float = 0.0

    @classmethod
    def of(cls, st: os.stat_result) -> Stat:
        return cls(st.st_mode, st.st_size, st.st_ino & 0xFFFFFFFFFFFFFFFF, st.st_nlink,
                   st.st_uid, st.st_gid, st.st_dev, st.st_rdev, st.st_blksize or 4096,
                   st.st_blocks, st.st_atime, st.st_mtime, st.st_ctime)


# -- open file descriptions ------------------------------------------------------------------

class OpenFile:
    """An open file description: what a descriptor names."""

    kind = "file"

    def __init__(self, flags: int):
        self.flags = flags

    @property
    def readable(self) -> bool:
        return self.flags & O_ACCMODE in (O_RDONLY, O_RDWR)

    @property
    def writable(self) -> bool:
        return self.flags & O_ACCMODE in (O_WRONLY, O_RDWR)

    def read(self, count: int, proc=None) -> bytes:
        raise FileError(errno.EINVAL, f"{self.kind}: not readable")

    def write(self, data: bytes, proc=None) -> int:
        raise FileError(errno.EINVAL, f"{self.kind}: not writable")

    def pread(self, count: int, offset: int) -> bytes:
        raise FileError(errno.ESPIPE, f"{self.kind}: no position")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise FileError(errno.ESPIPE, f"{self.kind}: no position")

    def seek(self, offset: int, whence: int) -> int:
        raise FileError(errno.ESPIPE, f"{self.kind}: cannot seek")

    def stat(self) -> Stat:
        raise NotImplementedError

    def opened(self) -> None:
        """One more descriptor names this description (dup, fork)."""

    def closed(self) -> None:
        """A descriptor naming it went away."""

    def ready(self) -> bool:
        """Would a read (or write) stop blocking now?"""
        return True

    def poll(self) -> int:
        """poll()'s revents for this description: POLLIN and POLLOUT when a read or a
        write would not block, POLLHUP when the other end of a pipe is gone."""
        return (POLLIN if self.readable else 0) | (POLLOUT if self.writable else 0)


class HostFile(OpenFile):
    kind = "file"

    def __init__(self, path: str, guest_path: str, flags: int):
        super().__init__(flags)
        self.path, self.guest_path = path, guest_path
        self.position = 0

    def read(self, count: int, proc=None) -> bytes:
        if not self.readable:
            raise FileError(errno.EBADF, "not open for reading")
        data = self.pread(count, self.position)
        self.position += len(data)
        return data

    def write(self, data: bytes, proc=None) -> int:
        if not self.writable:
            raise FileError(errno.EBADF, "not open for writing")
        if self.flags & O_APPEND:
            self.position = _host(os.path.getsize, self.path)
        written = self.pwrite(data, self.position)
        self.position += written
        return written

    def pread(self, count: int, offset: int) -> bytes:
        if offset < 0:
            raise FileError(errno.EINVAL, "negative offset")
        try:
            with open(self.path, "rb") as host:
                host.seek(offset)
                return host.read(count)
        except (OSError, OverflowError) as error:
            raise _errno(error) from None

    def pwrite(self, data: bytes, offset: int) -> int:
        if offset < 0:
            raise FileError(errno.EINVAL, "negative offset")
        try:
            with open(self.path, "r+b") as host:
                host.seek(offset)
                host.write(data)
        except (OSError, OverflowError) as error:
            raise _errno(error) from None
        return len(data)

    def seek(self, offset: int, whence: int) -> int:
        if whence == SEEK_SET:
            position = offset
        elif whence == SEEK_CUR:
            position = self.position + offset
        elif whence == SEEK_END:
            position = _host(os.path.getsize, self.path) + offset
        else:
            raise FileError(errno.EINVAL, f"bad whence {whence}")
        if position < 0:
            raise FileError(errno.EINVAL, "negative position")
        self.position = position
        return position

    def stat(self) -> Stat:
        return Stat.of(_host(os.stat, self.path))

    def truncate(self, length: int) -> None:
        if not self.writable:
            raise FileError(errno.EINVAL, "not open for writing")
        _host(os.truncate, self.path, length)


class Directory(OpenFile):
    kind = "directory"

    def __init__(self, path: str, guest_path: str, flags: int):
        super().__init__(flags)
        self.path, self.guest_path = path, guest_path
        self.entries: list[tuple[str, int, int]] | None = None  # (name, ino, d_type)
        self.position = 0

    def listing(self) -> list[tuple[str, int, int]]:
        if self.entries is None:
            out = [(".", _ino(self.path), 4), ("..", _ino(os.path.dirname(self.path)), 4)]
            with os.scandir(self.path) as scan:
                for entry in sorted(scan, key=lambda e: e.name):
                    kind = 4 if entry.is_dir(follow_symlinks=False) else \
                        10 if entry.is_symlink() else \
                        8 if entry.is_file(follow_symlinks=False) else 0
                    out.append((entry.name, entry.inode(), kind))
            self.entries = out
        return self.entries

    def read(self, count: int, proc=None) -> bytes:
        raise FileError(errno.EISDIR, "is a directory")

    def seek(self, offset: int, whence: int) -> int:
        if whence != SEEK_SET or offset < 0:
            raise FileError(errno.EINVAL, "directories seek to a set position")
        self.position = offset
        return offset

    def stat(self) -> Stat:
        return Stat.of(_host(os.stat, self.path))


class Snapshot(OpenFile):
    """A read-only file whose bytes are made when it is first read (the files of /proc: as
    with Linux's seq_file, what happened between open and read shows)."""

    kind = "proc file"

    def __init__(self, make: Callable[[], bytes], guest_path: str, flags: int):
        super().__init__(flags)
        self.make, self.guest_path = make, guest_path
        self._data: bytes | None = None
        self.position = 0

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self.make()
        return self._data

    def read(self, count: int, proc=None) -> bytes:
        data = self.pread(count, self.position)
        self.position += len(data)
        return data

    def pread(self, count: int, offset: int) -> bytes:
        if offset < 0:
            raise FileError(errno.EINVAL, "negative offset")
        return self.data[offset:offset + count]

    def seek(self, offset: int, whence: int) -> int:
        base = {SEEK_SET: 0, SEEK_CUR: self.position, SEEK_END: len(self.data)}.get(whence)
        if base is None or base + offset < 0:
            raise FileError(errno.EINVAL, f"bad seek {offset} from {whence}")
        self.position = base + offset
        return self.position

    def stat(self) -> Stat:
        return Stat(pystat.S_IFREG | 0o444, 0, zlib.crc32(self.guest_path.encode()), dev=4)


class Pipe:
    """A pipe's buffer, and how many descriptions of each end are open."""

    def __init__(self):
        self.data = bytearray()
        self.readers = self.writers = 0


class PipeEnd(OpenFile):
    kind = "pipe"

    def __init__(self, pipe: Pipe, write: bool, flags: int = 0):
        super().__init__((O_WRONLY if write else O_RDONLY) | (flags & O_NONBLOCK))
        self.pipe, self.write_end = pipe, write
        self.refs = 0
        self.opened()

    def opened(self) -> None:
        self.refs += 1
        if self.refs == 1:
            if self.write_end:
                self.pipe.writers += 1
            else:
                self.pipe.readers += 1

    def closed(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            if self.write_end:
                self.pipe.writers -= 1
            else:
                self.pipe.readers -= 1

    def read(self, count: int, proc=None) -> bytes:
        if self.write_end:
            raise FileError(errno.EBADF, "the write end of a pipe")
        pipe = self.pipe
        if not pipe.data:
            if pipe.writers == 0 or count == 0:
                return b""  # end of file
            if self.flags & O_NONBLOCK:
                raise FileError(errno.EAGAIN, "pipe empty")
            raise WouldBlock()
        data = bytes(pipe.data[:count])
        del pipe.data[:count]
        return data

    def write(self, data: bytes, proc=None) -> int:
        if not self.write_end:
            raise FileError(errno.EBADF, "the read end of a pipe")
        pipe = self.pipe
        if pipe.readers == 0:
            raise BrokenPipe()
        room = PIPE_SIZE - len(pipe.data)
        if room <= 0 or (len(data) <= 4096 and room < len(data)):  # PIPE_BUF: atomic
            if self.flags & O_NONBLOCK:
                raise FileError(errno.EAGAIN, "pipe full")
            raise WouldBlock()
        pipe.data += data[:room]
        return min(room, len(data))

    def ready(self) -> bool:
        pipe = self.pipe
        if self.write_end:
            return pipe.readers == 0 or len(pipe.data) < PIPE_SIZE
        return bool(pipe.data) or pipe.writers == 0

    def poll(self) -> int:
        pipe = self.pipe
        if self.write_end:
            if pipe.readers == 0:
                return POLLERR
            return POLLOUT if len(pipe.data) < PIPE_SIZE else 0
        return (POLLIN if pipe.data else 0) | (POLLHUP if pipe.writers == 0 else 0)

    def stat(self) -> Stat:
        return Stat(pystat.S_IFIFO | 0o600, blksize=4096)


class BrokenPipe(FileError):
    """A write with no reader left: -EPIPE, and SIGPIPE for the writer."""

    def __init__(self):
        super().__init__(errno.EPIPE, "no reader on the pipe")


class Console(OpenFile):
    """A standard stream of the machine: ``source`` (bytes, or a host descriptor) for
    reading; ``output(proc, fd, data)`` for writing (fd 1 or 2 says which stream)."""

    kind = "console"

    def __init__(self, stream: int, flags: int, source=None,
                 output: Callable | None = None, host_fd: int | None = None):
        super().__init__(flags)
        self.stream = stream
        self.input = source  # bytes still to read, or an int: a host descriptor
        self.output = output
        self.host_fd = host_fd  # the host descriptor it stands for (stat, ioctl), if any

    def read(self, count: int, proc=None) -> bytes:
        if not self.readable:
            raise FileError(errno.EBADF, "not open for reading")
        source = self.input
        if source is None:
            return b""
        if isinstance(source, int):
            return _read_host(source, count)
        data, self.input = source[:count], source[count:]
        return bytes(data)

    def write(self, data: bytes, proc=None) -> int:
        if not self.writable:
            raise FileError(errno.EBADF, "not open for writing")
        if self.output is not None:
            self.output(proc, self.stream, data)
        return len(data)

    def stat(self) -> Stat:
        if self.host_fd is not None:
            try:
                return Stat.of(os.fstat(self.host_fd))
            except OSError:
                pass
        return Stat(pystat.S_IFIFO | 0o600)

    def poll(self) -> int:
        if self.writable:
            return POLLOUT
        source = self.input
        if isinstance(source, int):
            try:
                ready, _, _ = select.select([source], [], [], 0)
            except (OSError, ValueError):
                return POLLERR
            return POLLIN if ready else 0
        return POLLIN | (0 if source else POLLHUP)

    @property
    def terminal(self) -> bool:
        return self.host_fd is not None and os.isatty(self.host_fd)


def _read_host(fd: int, count: int) -> bytes:
    from .. import budget
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                return os.read(fd, count)
            except OSError as error:
                raise _errno(error) from None
        budget.check()


# -- a process's descriptors and working directory -------------------------------------------

class FdTable:
    """A process's descriptors, and its working directory (a guest path under ``root``)."""

    def __init__(self, root: str, cwd: str = "/"):
        self.root = os.path.realpath(root)
        self.cwd = cwd
        self.files: dict[int, OpenFile] = {}
        self.cloexec: set[int] = set()
        self.umask = 0o022

    # descriptors
    def get(self, fd: int) -> OpenFile:
        try:
            return self.files[fd]
        except (KeyError, TypeError):
            raise FileError(errno.EBADF, f"bad file descriptor {fd}") from None

    def install(self, file: OpenFile, lowest: int = 0, cloexec: bool = False,
                opened: bool = False) -> int:
        """Give ``file`` the lowest free descriptor >= ``lowest``. ``opened``: it already
        counts this descriptor (a fresh pipe end)."""
        fd = next((n for n in range(lowest, MAX_FDS) if n not in self.files), None)
        if fd is None:
            raise FileError(errno.EMFILE, "too many open files")
        self._set(fd, file, cloexec, opened)
        return fd

    def _set(self, fd: int, file: OpenFile, cloexec: bool, opened: bool = False) -> None:
        if not opened:
            file.opened()
        self.files[fd] = file
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def close(self, fd: int) -> None:
        file = self.get(fd)
        del self.files[fd]
        self.cloexec.discard(fd)
        file.closed()

    def dup(self, fd: int, lowest: int = 0, cloexec: bool = False) -> int:
        return self.install(self.get(fd), lowest, cloexec)

    def dup2(self, old: int, new: int, cloexec: bool = False) -> int:
        file = self.get(old)
        if not 0 <= new < MAX_FDS:
            raise FileError(errno.EBADF, f"bad file descriptor {new}")
        if old == new:
            return new
        if new in self.files:
            self.close(new)
        self._set(new, file, cloexec)
        return new

    def copy(self) -> FdTable:
        """For fork: the same descriptions (positions shared), the same directory."""
        table = FdTable(self.root, self.cwd)
        table.umask = self.umask
        for fd, file in self.files.items():
            table._set(fd, file, fd in self.cloexec)
        return table

    def exec(self) -> None:
        """execve: close-on-exec descriptors go."""
        for fd in sorted(self.cloexec):
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self.files):
            self.close(fd)

    # paths
    def guest_path(self, path: str, base: str | None = None) -> str:
        """The absolute guest path of ``path`` (relative to ``base`` or the cwd). A ``..``
        that would climb above the root is EACCES."""
        if not path:
            raise FileError(errno.ENOENT, "empty path")
        if len(path) > 4095:
            raise FileError(errno.ENAMETOOLONG, "path too long")
        depth = 0
        for part in posixpath.join(base or self.cwd, path).split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise FileError(errno.EACCES, f"{path!r} is outside the root {self.root}")
            elif part not in ("", "."):
                depth += 1
        return posixpath.normpath(posixpath.join(base or self.cwd, path))

    def host_path(self, path: str, base: str | None = None, follow: bool = True) -> str:
        """The host path of a guest path; EACCES when it escapes the root."""
        guest = self.guest_path(path, base)
        candidate = os.path.join(self.root, guest.lstrip("/"))
        resolved = os.path.realpath(candidate) if follow else os.path.join(
            os.path.realpath(os.path.dirname(candidate)), os.path.basename(candidate))
        if resolved != self.root and not resolved.startswith(self.root + os.sep):
            raise FileError(errno.EACCES, f"{path!r} is outside the root {self.root}")
        return resolved

    def base_of(self, dirfd: int) -> str | None:
        """The directory a *at() call is relative to: the cwd for AT_FDCWD."""
        if dirfd == AT_FDCWD:
            return None
        file = self.get(dirfd)
        if not isinstance(file, Directory):
            raise FileError(errno.ENOTDIR, f"descriptor {dirfd} is not a directory")
        return file.guest_path

    def open(self, path: str, flags: int, mode: int = 0o644, base: str | None = None,
             cloexec: bool = False) -> int:
        host = self.host_path(path, base)
        guest = self.guest_path(path, base)
        exists = os.path.exists(host)
        if flags & O_CREAT and flags & O_EXCL and exists:
            raise FileError(errno.EEXIST, f"{path} exists")
        if not exists and not flags & O_CREAT:
            raise FileError(errno.ENOENT, f"{path}: no such file")
        access = flags & O_ACCMODE
        if access == 3:
            raise FileError(errno.EINVAL, "bad access mode")
        if exists and os.path.isdir(host):
            if access != O_RDONLY:
                raise FileError(errno.EISDIR, f"{path} is a directory")
            return self.install(Directory(host, guest, flags), cloexec=cloexec)
        if flags & O_DIRECTORY:
            raise FileError(errno.ENOTDIR, f"{path} is not a directory")
        if not exists and not os.path.isdir(os.path.dirname(host)):
            raise FileError(errno.ENOENT, f"{path}: no such directory")
        want = (os.R_OK if access in (O_RDONLY, O_RDWR) else 0) | \
            (os.W_OK if access in (O_WRONLY, O_RDWR) else 0)
        if exists and not os.access(host, want):
            raise FileError(errno.EACCES, f"{path}: permission denied")
        if not exists or flags & O_TRUNC and access != O_RDONLY:
            try:
                with open(host, "wb" if flags & O_TRUNC or not exists else "ab"):
                    pass
                if not exists:
                    os.chmod(host, mode & 0o777 & ~self.umask)
            except OSError as error:
                raise _errno(error) from None
        return self.install(HostFile(host, guest, flags), cloexec=cloexec)


AT_FDCWD = -100
DIRENT64 = struct.Struct("<QqHB")


def dirents(directory: Directory, size: int) -> bytes:
    """getdents64: as many ``struct linux_dirent64`` as fit in ``size`` bytes."""
    out = bytearray()
    entries = directory.listing()
    while directory.position < len(entries):
        name, ino, kind = entries[directory.position]
        raw = name.encode(errors="surrogateescape") + b"\0"
        reclen = (DIRENT64.size + len(raw) + 7) & ~7
        if len(out) + reclen > size:
            if not out:
                raise FileError(errno.EINVAL, "buffer too small for an entry")
            break
        directory.position += 1
        out += DIRENT64.pack(ino, directory.position, reclen, kind) + raw
        out += bytes(reclen - DIRENT64.size - len(raw))
    return bytes(out)


def _ino(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _host(fn, *args):
    try:
        return fn(*args)
    except (OSError, OverflowError, ValueError) as error:
        raise _errno(error) from None


def _errno(error: BaseException) -> FileError:
    number = getattr(error, "errno", None)
    if not isinstance(number, int) or number <= 0 or number > 133:
        number = errno.EIO if isinstance(error, OSError) else errno.EINVAL
    return FileError(number, f"{getattr(error, 'strerror', None) or error}")
