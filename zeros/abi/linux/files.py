"""The file calls of the Linux family, with Linux's semantics and errno values.

Descriptors and descriptions: read, write, readv, writev, pread64, pwrite64, lseek, _llseek,
close, dup, dup2, dup3, pipe, pipe2, fcntl64, ioctl (TCGETS, TIOCGWINSZ: -ENOTTY unless the
host descriptor behind it is a terminal), sendfile64, ftruncate64, fsync.
Paths (under the root, from the working directory): open, openat, stat64, lstat64, fstat64,
fstatat64, statx, access, faccessat, readlink (``/proc/self/exe``), readlinkat, getcwd,
chdir, fchdir, mkdir(at), rmdir, unlink(at), rename(at/at2), getdents64, umask.
Paths under ``/proc`` go to :mod:`.procfs` (``/proc/self/maps`` and its kin).

A call that cannot complete yet (reading an empty pipe) raises :class:`WouldBlock`: the
syscall table puts the process to sleep and runs the call again later.
"""

from __future__ import annotations

import fcntl as hostfcntl
import os
import struct
import termios

from ...errors import FileError
from ...proc.clock import Clock
from ...proc.files import (
    AT_FDCWD,
    POLLERR,
    POLLHUP,
    POLLNVAL,
    Console,
    Directory,
    HostFile,
    Pipe,
    PipeEnd,
    Stat,
    dirents,
)
from ...proc.process import Process, WouldBlock
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...uapi.fcntl import (
    AT_EMPTY_PATH,
    AT_REMOVEDIR,
    AT_SYMLINK_NOFOLLOW,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_GETLK64,
    F_SETFD,
    F_SETFL,
    F_SETLK,
    F_SETLK64,
    F_SETLKW,
    F_SETLKW64,
    FD_CLOEXEC,
    O_APPEND,
    O_CLOEXEC,
    O_NONBLOCK,
    R_OK,
    W_OK,
    X_OK,
)
from ...uapi.types import signed32
from ...vm.uaccess import copy_from_user, copy_to_user, string_from_user
from .procfs import ProcFiles, is_proc

MAX_IO = 1 << 20  # bytes moved by one call at most; more is a short count, as POSIX allows
TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD = 0x5401, 0x5413, 0x540F, 0x541B
STAT64 = struct.Struct("<Q4xIIIIIQ4xqIQIIIIIIQ")
STATX_BASIC_STATS = 0x7FF


def _path(proc: Process, va: int) -> str:
    path = os.fsdecode(string_from_user(proc.space, va))
    if not path:
        raise FileError(errno.ENOENT, "empty path")
    return path


def stat64_bytes(st: Stat) -> bytes:
    def split(t):
        return int(t), int((t - int(t)) * 1e9)
    at, mt, ct = split(st.atime), split(st.mtime), split(st.ctime)
    return STAT64.pack(st.dev & 0xFFFFFFFFFFFFFFFF, st.ino & 0xFFFFFFFF, st.mode, st.nlink,
                       st.uid, st.gid, st.rdev, st.size, st.blksize, st.blocks,
                       at[0] & 0xFFFFFFFF, at[1], mt[0] & 0xFFFFFFFF, mt[1],
                       ct[0] & 0xFFFFFFFF, ct[1], st.ino)


def statx_bytes(st: Stat) -> bytes:
    def stamp(t):
        return struct.pack("<qIi", int(t), int((t - int(t)) * 1e9), 0)
    head = struct.pack("<IIQIIIHHQQQQ", STATX_BASIC_STATS, st.blksize, 0, st.nlink, st.uid,
                       st.gid, st.mode & 0xFFFF, 0, st.ino, st.size, st.blocks, 0)
    times = stamp(st.atime) + stamp(st.ctime) + stamp(st.ctime) + stamp(st.mtime)
    devs = struct.pack("<IIII", os.major(st.rdev), os.minor(st.rdev), os.major(st.dev),
                       os.minor(st.dev))
    out = head + times + devs
    return out + bytes(256 - len(out))


class FileCalls:
    def __init__(self, clock: Clock, procfs: ProcFiles):
        self.clock = clock
        self.procfs = procfs

    def handlers(self) -> dict:
        return {
            nr.NR_read: (self.read, 3), nr.NR_write: (self.write, 3),
            nr.NR_readv: (self.readv, 3), nr.NR_writev: (self.writev, 3),
            nr.NR_pread64: (self.pread64, 5), nr.NR_pwrite64: (self.pwrite64, 5),
            nr.NR_open: (self.open, 3), nr.NR_openat: (self.openat, 4),
            nr.NR_close: (self.close, 1), nr.NR_lseek: (self.lseek, 3),
            nr.NR__llseek: (self.llseek, 5), nr.NR_dup: (self.dup, 1),
            nr.NR_dup2: (self.dup2, 2), nr.NR_dup3: (self.dup3, 3),
            nr.NR_pipe: (self.pipe, 1), nr.NR_pipe2: (self.pipe2, 2),
            nr.NR_fcntl: (self.fcntl, 3), nr.NR_fcntl64: (self.fcntl, 3),
            nr.NR_ioctl: (self.ioctl, 3), nr.NR_stat64: (self.stat64, 2),
            nr.NR_lstat64: (self.lstat64, 2), nr.NR_fstat64: (self.fstat64, 2),
            nr.NR_fstatat64: (self.fstatat64, 4), nr.NR_statx: (self.statx, 5),
            nr.NR_access: (self.access, 2), nr.NR_faccessat: (self.faccessat, 3),
            nr.NR_faccessat2: (self.faccessat, 4), nr.NR_readlink: (self.readlink, 3),
            nr.NR_readlinkat: (self.readlinkat, 4), nr.NR_getcwd: (self.getcwd, 2),
            nr.NR_chdir: (self.chdir, 1), nr.NR_fchdir: (self.fchdir, 1),
            nr.NR_mkdir: (self.mkdir, 2), nr.NR_mkdirat: (self.mkdirat, 3),
            nr.NR_rmdir: (self.rmdir, 1), nr.NR_unlink: (self.unlink, 1),
            nr.NR_unlinkat: (self.unlinkat, 3), nr.NR_rename: (self.rename, 2),
            nr.NR_renameat: (self.renameat, 4), nr.NR_renameat2: (self.renameat, 5),
            nr.NR_getdents64: (self.getdents64, 3), nr.NR_umask: (self.umask, 1),
            nr.NR_sendfile: (self.sendfile, 4), nr.NR_sendfile64: (self.sendfile, 4),
            nr.NR_ftruncate: (self.ftruncate, 2), nr.NR_ftruncate64: (self.ftruncate64, 3),
            nr.NR_fsync: (self.fsync, 1), nr.NR_fdatasync: (self.fsync, 1),
            nr.NR_poll: (self.poll, 3), nr.NR_ppoll: (self.ppoll, 3),
        }

    # -- data ------------------------------------------------------------------------------

    def read(self, proc: Process, args) -> int:
        fd, buf, count = args[:3]
        file = proc.files.get(fd)
        data = file.read(min(count, MAX_IO), proc)
        if data:
            copy_to_user(proc.space, buf, data)
        return len(data)

    def write(self, proc: Process, args) -> int:
        fd, buf, count = args[:3]
        file = proc.files.get(fd)
        return file.write(copy_from_user(proc.space, buf, min(count, MAX_IO)), proc)

    def _iovecs(self, proc: Process, va: int, count: int) -> list[tuple[int, int]]:
        if count > 1024:
            raise FileError(errno.EINVAL, "too many iovecs")
        word = proc.space.layout.word  # struct iovec: a pointer and a size_t
        raw = copy_from_user(proc.space, va, 2 * word * count)
        return [struct.unpack_from("<QQ" if word == 8 else "<II", raw, 2 * word * k)
                for k in range(count)]

    def readv(self, proc: Process, args) -> int:
        fd, iov, count = args[:3]
        file = proc.files.get(fd)
        vectors = self._iovecs(proc, iov, count)
        total = sum(length for _, length in vectors)
        data = file.read(min(total, MAX_IO), proc)
        offset = 0
        for base, length in vectors:
            piece = data[offset:offset + length]
            if piece:
                copy_to_user(proc.space, base, piece)
            offset += len(piece)
        return len(data)

    def writev(self, proc: Process, args) -> int:
        fd, iov, count = args[:3]
        file = proc.files.get(fd)
        data = b"".join(copy_from_user(proc.space, base, min(length, MAX_IO))
                        for base, length in self._iovecs(proc, iov, count) if length)
        if not data:
            return 0
        return file.write(data[:MAX_IO], proc)

    def pread64(self, proc: Process, args) -> int:
        fd, buf, count, low, high = args[:5]
        data = proc.files.get(fd).pread(min(count, MAX_IO), low | high << 32)
        if data:
            copy_to_user(proc.space, buf, data)
        return len(data)

    def pwrite64(self, proc: Process, args) -> int:
        fd, buf, count, low, high = args[:5]
        file = proc.files.get(fd)
        return file.pwrite(copy_from_user(proc.space, buf, min(count, MAX_IO)),
                           low | high << 32)

    def lseek(self, proc: Process, args) -> int:
        fd, offset, whence = args[:3]
        position = proc.files.get(fd).seek(signed32(offset), whence)
        if position >= 1 << 31:
            raise FileError(errno.EOVERFLOW, "position does not fit in 32 bits")
        return position

    def llseek(self, proc: Process, args) -> int:
        fd, high, low, result, whence = args[:5]
        offset = (high << 32 | low) - ((1 << 64) if high & 0x80000000 else 0)
        position = proc.files.get(fd).seek(offset, whence)
        copy_to_user(proc.space, result, struct.pack("<q", position))
        return 0

    def sendfile(self, proc: Process, args) -> int:
        out_fd, in_fd, offset_va, count = args[:4]
        source, sink = proc.files.get(in_fd), proc.files.get(out_fd)
        count = min(count, MAX_IO)
        if offset_va:
            offset = struct.unpack("<q", copy_from_user(proc.space, offset_va, 8))[0] \
                if isinstance(source, HostFile) else 0
            data = source.pread(count, offset)
            copy_to_user(proc.space, offset_va, struct.pack("<q", offset + len(data)))
        else:
            data = source.read(count, proc)
        return sink.write(data, proc) if data else 0

    def ftruncate(self, proc: Process, args) -> int:
        return self._truncate(proc, args[0], args[1])

    def ftruncate64(self, proc: Process, args) -> int:
        return self._truncate(proc, args[0], args[1] | args[2] << 32)

    def _truncate(self, proc: Process, fd: int, length: int) -> int:
        file = proc.files.get(fd)
        if not isinstance(file, HostFile):
            raise FileError(errno.EINVAL, "not a regular file")
        file.truncate(length)
        return 0

    def fsync(self, proc: Process, args) -> int:
        proc.files.get(args[0])
        return 0

    def poll(self, proc: Process, args) -> int:
        fds, count, timeout = args[:3]
        timeout = signed32(timeout)
        return self._poll(proc, fds, count, None if timeout < 0 else timeout * 1_000_000)

    def ppoll(self, proc: Process, args) -> int:
        fds, count, timeout_va = args[:3]
        limit = None
        if timeout_va:
            seconds, nanoseconds = struct.unpack("<iI", copy_from_user(proc.space,
                                                                      timeout_va, 8))
            limit = seconds * 1_000_000_000 + nanoseconds
        return self._poll(proc, fds, count, limit)

    def _poll(self, proc: Process, fds: int, count: int, limit: int | None) -> int:
        """Ready descriptors now, or sleep until one is (or the time limit, in ns)."""
        if count > 1024:
            raise FileError(errno.EINVAL, "poll: too many descriptors")
        raw = bytearray(copy_from_user(proc.space, fds, 8 * count))
        ready = 0
        for k in range(count):
            fd, events, _ = struct.unpack_from("<ihh", raw, 8 * k)
            revents = 0
            if fd >= 0:
                file = proc.files.files.get(fd)
                revents = POLLNVAL if file is None else \
                    file.poll() & (events | POLLERR | POLLHUP)
            struct.pack_into("<h", raw, 8 * k + 6, revents)
            ready += bool(revents)
        clock = self.clock
        if ready or limit == 0:
            proc.sleep_until = None
            copy_to_user(proc.space, fds, bytes(raw))
            return ready
        now = clock.monotonic_ns()
        if proc.sleep_until is None and limit is not None:
            proc.sleep_until = now + limit
        if proc.sleep_until is not None and now >= proc.sleep_until:
            proc.sleep_until = None
            copy_to_user(proc.space, fds, bytes(raw))
            return 0
        # asleep until something is ready: come back soon to look (a host descriptor can
        # become readable without anything in the machine happening)
        wake = now + 10_000_000
        raise WouldBlock(wake_at=min(wake, proc.sleep_until or wake))

    # -- descriptors -----------------------------------------------------------------------

    def open(self, proc: Process, args) -> int:
        path_va, flags, mode = args[:3]
        return self._open(proc, _path(proc, path_va), flags, mode, None)

    def openat(self, proc: Process, args) -> int:
        dirfd, path_va, flags, mode = args[:4]
        path = _path(proc, path_va)
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        return self._open(proc, path, flags, mode, base)

    def _open(self, proc: Process, path: str, flags: int, mode: int, base: str | None) -> int:
        cloexec = bool(flags & O_CLOEXEC)
        guest = proc.files.guest_path(path, base)
        if is_proc(guest):
            return proc.files.install(self.procfs.open(proc, guest, flags), cloexec=cloexec)
        return proc.files.open(path, flags, mode, base, cloexec=cloexec)

    def close(self, proc: Process, args) -> int:
        proc.files.close(args[0])
        return 0

    def dup(self, proc: Process, args) -> int:
        return proc.files.dup(args[0])

    def dup2(self, proc: Process, args) -> int:
        return proc.files.dup2(args[0], args[1])

    def dup3(self, proc: Process, args) -> int:
        old, new, flags = args[:3]
        if old == new or flags & ~O_CLOEXEC:
            raise FileError(errno.EINVAL, "dup3: same descriptor or bad flags")
        return proc.files.dup2(old, new, cloexec=bool(flags & O_CLOEXEC))

    def pipe(self, proc: Process, args) -> int:
        return self._pipe(proc, args[0], 0)

    def pipe2(self, proc: Process, args) -> int:
        return self._pipe(proc, args[0], args[1])

    def _pipe(self, proc: Process, va: int, flags: int) -> int:
        if flags & ~(O_CLOEXEC | O_NONBLOCK):
            raise FileError(errno.EINVAL, "pipe2: bad flags")
        copy_to_user(proc.space, va, bytes(8))  # EFAULT before anything is made
        pipe = Pipe()
        cloexec = bool(flags & O_CLOEXEC)
        reader = proc.files.install(PipeEnd(pipe, False, flags), cloexec=cloexec, opened=True)
        try:
            writer = proc.files.install(PipeEnd(pipe, True, flags), cloexec=cloexec,
                                        opened=True)
        except FileError:
            proc.files.close(reader)
            raise
        copy_to_user(proc.space, va, struct.pack("<ii", reader, writer))
        return 0

    def fcntl(self, proc: Process, args) -> int:
        fd, cmd, arg = args[:3]
        files = proc.files
        file = files.get(fd)
        if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
            return files.dup(fd, arg, cloexec=cmd == F_DUPFD_CLOEXEC)
        if cmd == F_GETFD:
            return FD_CLOEXEC if fd in files.cloexec else 0
        if cmd == F_SETFD:
            (files.cloexec.add if arg & FD_CLOEXEC else files.cloexec.discard)(fd)
            return 0
        if cmd == F_GETFL:
            return file.flags
        if cmd == F_SETFL:
            file.flags = (file.flags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND |
                                                                             O_NONBLOCK))
            return 0
        if cmd in (F_GETLK, F_GETLK64):  # no locks are ever held: F_UNLCK
            offset = 0
            copy_to_user(proc.space, arg + offset, struct.pack("<h", 2))
            return 0
        if cmd in (F_SETLK, F_SETLKW, F_SETLK64, F_SETLKW64):
            return 0  # one machine, advisory locks always granted
        raise FileError(errno.EINVAL, f"fcntl: command {cmd}")

    def ioctl(self, proc: Process, args) -> int:
        fd, request, arg = args[:3]
        file = proc.files.get(fd)
        if request == FIONREAD and isinstance(file, PipeEnd):
            copy_to_user(proc.space, arg, struct.pack("<i", len(file.pipe.data)))
            return 0
        if not (isinstance(file, Console) and file.terminal):
            raise FileError(errno.ENOTTY, "not a terminal")
        if request == TCGETS:
            raw = hostfcntl.ioctl(file.host_fd, termios.TCGETS, bytes(36))
            copy_to_user(proc.space, arg, raw[:36])
            return 0
        if request == TIOCGWINSZ:
            raw = hostfcntl.ioctl(file.host_fd, termios.TIOCGWINSZ, bytes(8))
            copy_to_user(proc.space, arg, raw[:8])
            return 0
        if request == TIOCGPGRP:
            copy_to_user(proc.space, arg, struct.pack("<i", proc.pid))
            return 0
        raise FileError(errno.ENOTTY, f"ioctl {request:#x} on a terminal")

    # -- paths -----------------------------------------------------------------------------

    def _stat_path(self, proc: Process, path: str, base: str | None, follow: bool) -> Stat:
        guest = proc.files.guest_path(path, base)
        if is_proc(guest):
            return self.procfs.stat(proc, guest)
        host = proc.files.host_path(path, base, follow=follow)
        try:
            return Stat.of(os.stat(host) if follow else os.lstat(host))
        except OSError as error:
            raise FileError(error.errno or errno.ENOENT, f"{path}: {error.strerror}") from None

    def stat64(self, proc: Process, args) -> int:
        st = self._stat_path(proc, _path(proc, args[0]), None, True)
        copy_to_user(proc.space, args[1], stat64_bytes(st))
        return 0

    def lstat64(self, proc: Process, args) -> int:
        st = self._stat_path(proc, _path(proc, args[0]), None, False)
        copy_to_user(proc.space, args[1], stat64_bytes(st))
        return 0

    def fstat64(self, proc: Process, args) -> int:
        copy_to_user(proc.space, args[1], stat64_bytes(proc.files.get(args[0]).stat()))
        return 0

    def _at(self, proc: Process, dirfd: int, path_va: int, flags: int) -> Stat:
        path = os.fsdecode(string_from_user(proc.space, path_va))
        if not path:
            if not flags & AT_EMPTY_PATH:
                raise FileError(errno.ENOENT, "empty path")
            if signed32(dirfd) == AT_FDCWD:
                return self._stat_path(proc, ".", None, True)
            return proc.files.get(dirfd).stat()
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        return self._stat_path(proc, path, base, not flags & AT_SYMLINK_NOFOLLOW)

    def fstatat64(self, proc: Process, args) -> int:
        dirfd, path_va, buf, flags = args[:4]
        copy_to_user(proc.space, buf, stat64_bytes(self._at(proc, dirfd, path_va, flags)))
        return 0

    def statx(self, proc: Process, args) -> int:
        dirfd, path_va, flags, _mask, buf = args[:5]
        copy_to_user(proc.space, buf, statx_bytes(self._at(proc, dirfd, path_va, flags)))
        return 0

    def _access(self, proc: Process, path: str, base: str | None, mode: int) -> int:
        guest = proc.files.guest_path(path, base)
        if is_proc(guest):
            self.procfs.stat(proc, guest)
            if mode & (W_OK | X_OK):
                raise FileError(errno.EACCES, f"{path} is read-only")
            return 0
        host = proc.files.host_path(path, base)
        if not os.path.exists(host):
            raise FileError(errno.ENOENT, f"{path}: no such file")
        want = (os.R_OK if mode & R_OK else 0) | (os.W_OK if mode & W_OK else 0) | \
            (os.X_OK if mode & X_OK else 0)
        if want and not os.access(host, want):
            raise FileError(errno.EACCES, f"{path}: permission denied")
        return 0

    def access(self, proc: Process, args) -> int:
        return self._access(proc, _path(proc, args[0]), None, args[1])

    def faccessat(self, proc: Process, args) -> int:
        dirfd, path_va, mode = args[:3]
        path = _path(proc, path_va)
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        return self._access(proc, path, base, mode)

    def _readlink(self, proc: Process, path: str, base: str | None, buf: int,
                  size: int) -> int:
        exe = self.procfs.exe(proc, proc.files.guest_path(path, base))
        if exe is not None:
            target = os.fsencode(exe)
        else:
            host = proc.files.host_path(path, base, follow=False)
            try:
                target = os.fsencode(os.readlink(host))
            except OSError as error:
                raise FileError(error.errno or errno.EINVAL, str(error.strerror)) from None
        if signed32(size) <= 0:
            raise FileError(errno.EINVAL, "readlink: bad size")
        copy_to_user(proc.space, buf, target[:size])
        return min(len(target), size)

    def readlink(self, proc: Process, args) -> int:
        return self._readlink(proc, _path(proc, args[0]), None, args[1], args[2])

    def readlinkat(self, proc: Process, args) -> int:
        dirfd, path_va, buf, size = args[:4]
        path = _path(proc, path_va)
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        return self._readlink(proc, path, base, buf, size)

    def getcwd(self, proc: Process, args) -> int:
        buf, size = args[:2]
        cwd = os.fsencode(proc.files.cwd) + b"\0"
        if size < len(cwd):
            raise FileError(errno.ERANGE, "getcwd: buffer too small")
        copy_to_user(proc.space, buf, cwd)
        return len(cwd)

    def _enter(self, proc: Process, guest: str) -> int:
        host = proc.files.host_path(guest)
        if not os.path.exists(host):
            raise FileError(errno.ENOENT, f"{guest}: no such directory")
        if not os.path.isdir(host):
            raise FileError(errno.ENOTDIR, f"{guest}: not a directory")
        proc.files.cwd = proc.files.guest_path(guest)
        return 0

    def chdir(self, proc: Process, args) -> int:
        return self._enter(proc, _path(proc, args[0]))

    def fchdir(self, proc: Process, args) -> int:
        file = proc.files.get(args[0])
        if not isinstance(file, Directory):
            raise FileError(errno.ENOTDIR, "not a directory")
        return self._enter(proc, file.guest_path)

    def _host_call(self, fn, *paths) -> int:
        try:
            fn(*paths)
        except OSError as error:
            raise FileError(error.errno or errno.EIO, str(error.strerror)) from None
        return 0

    def mkdir(self, proc: Process, args) -> int:
        host = proc.files.host_path(_path(proc, args[0]), follow=False)
        return self._host_call(os.mkdir, host, args[1] & 0o777 & ~proc.files.umask)

    def mkdirat(self, proc: Process, args) -> int:
        dirfd, path_va, mode = args[:3]
        path = _path(proc, path_va)
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        host = proc.files.host_path(path, base, follow=False)
        return self._host_call(os.mkdir, host, mode & 0o777 & ~proc.files.umask)

    def rmdir(self, proc: Process, args) -> int:
        host = proc.files.host_path(_path(proc, args[0]), follow=False)
        if host == proc.files.root:
            raise FileError(errno.EBUSY, "the root")
        return self._host_call(os.rmdir, host)

    def unlink(self, proc: Process, args) -> int:
        host = proc.files.host_path(_path(proc, args[0]), follow=False)
        if os.path.isdir(host) and not os.path.islink(host):
            raise FileError(errno.EISDIR, "is a directory")
        return self._host_call(os.unlink, host)

    def unlinkat(self, proc: Process, args) -> int:
        dirfd, path_va, flags = args[:3]
        path = _path(proc, path_va)
        base = None if path.startswith("/") else proc.files.base_of(signed32(dirfd))
        host = proc.files.host_path(path, base, follow=False)
        if flags & AT_REMOVEDIR:
            return self._host_call(os.rmdir, host)
        if os.path.isdir(host) and not os.path.islink(host):
            raise FileError(errno.EISDIR, "is a directory")
        return self._host_call(os.unlink, host)

    def rename(self, proc: Process, args) -> int:
        old = proc.files.host_path(_path(proc, args[0]), follow=False)
        new = proc.files.host_path(_path(proc, args[1]), follow=False)
        return self._host_call(os.rename, old, new)

    def renameat(self, proc: Process, args) -> int:
        olddir, old_va, newdir, new_va = args[:4]
        flags = args[4] if len(args) > 4 else 0
        if flags:
            raise FileError(errno.EINVAL, "renameat2: flags are not supported")
        old, new = _path(proc, old_va), _path(proc, new_va)
        old_base = None if old.startswith("/") else proc.files.base_of(signed32(olddir))
        new_base = None if new.startswith("/") else proc.files.base_of(signed32(newdir))
        return self._host_call(os.rename, proc.files.host_path(old, old_base, follow=False),
                               proc.files.host_path(new, new_base, follow=False))

    def getdents64(self, proc: Process, args) -> int:
        fd, buf, count = args[:3]
        file = proc.files.get(fd)
        if not isinstance(file, Directory):
            raise FileError(errno.ENOTDIR, "not a directory")
        data = dirents(file, min(count, MAX_IO))
        if data:
            copy_to_user(proc.space, buf, data)
        return len(data)

    def umask(self, proc: Process, args) -> int:
        old, proc.files.umask = proc.files.umask, args[0] & 0o777
        return old


