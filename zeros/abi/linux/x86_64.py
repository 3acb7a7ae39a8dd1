"""The x86-64 syscall table: Linux's x86-64 numbers (``zeros.uapi.unistd_64``) for the same
handlers as i386, entered with ``syscall`` (RAX the number; RDI, RSI, RDX, R10, R8, R9 the
arguments, as 64-bit values).

Most calls read and write the same bytes in both ABIs (strings, file data, int arrays,
``struct pollfd``, ``linux_dirent64``, ``statx``, ``struct rlimit64``, ``utsname``, 8-byte
signal sets) and go to the i386 handlers unchanged; those that read pointer arrays
(``writev``'s iovecs, ``execve``'s argv) read words of the process's size, and
``sigaction``/``sigaltstack`` read the ABI's own structure. The rest differ
here and are adapted: ``struct stat`` (144 bytes), ``timespec``/``timeval`` with 64-bit
fields, ``mmap``'s offset in bytes,
``pread64``/``pwrite64``/``lseek``/``ftruncate`` offsets in one register, ``clone``'s
argument order, ``struct sysinfo``, ``struct rusage``. ``arch_prctl`` sets and reads the FS
base (thread-local storage). Signals reach x86-64 handlers through x86-64's frame
(:mod:`zeros.proc.sigframe64`).
"""

from __future__ import annotations

import struct

from emu.cpu import Cpu, Reg64

from ...errors import FileError, SyscallError
from ...proc.files import Stat
from ...proc.process import Process
from ...uapi import errno
from ...uapi import unistd_64 as nr
from ...uapi.types import signed32
from ...vm.uaccess import copy_from_user, copy_to_user
from .files import FileCalls
from .mman import MemoryCalls
from .process import ProcessCalls
from .signals import SignalCalls
from .time import NS, TimeCalls

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
STAT = struct.Struct("<QQQIIIIQqqqQQQQQQ24x")  # struct stat of x86-64: 144 bytes


def _signed64(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


def stat_bytes(st: Stat) -> bytes:
    """``struct stat`` as x86-64 Linux writes it (arch/x86/include/uapi/asm/stat.h)."""
    def split(t):
        return int(t) & 0xFFFFFFFFFFFFFFFF, int((t - int(t)) * 1e9)
    (at, an), (mt, mn), (ct, cn) = split(st.atime), split(st.mtime), split(st.ctime)
    return STAT.pack(st.dev & 0xFFFFFFFFFFFFFFFF, st.ino, st.nlink, st.mode, st.uid, st.gid, 0,
                     st.rdev, st.size, st.blksize, st.blocks, at, an, mt, mn, ct, cn)


class X86_64Calls:
    """The adapters, and the table that puts everything under x86-64 numbers."""

    def __init__(self, cpu: Cpu, process: ProcessCalls, files: FileCalls,
                 signals: SignalCalls, time: TimeCalls, memory: MemoryCalls,
                 *extra):
        """``extra``: more families whose numbers x86-64 keeps as they are (ZerOS's own
        calls, 1000 up, and the VirtualAlloc family: no Linux number is that high)."""
        self.cpu = cpu
        self.process, self.files, self.signals = process, files, signals
        self.time, self.memory = time, memory
        self.extra = extra

    def handlers(self) -> dict:
        p, f, s, t, m = self.process, self.files, self.signals, self.time, self.memory
        same = {
            nr.NR_read: (f.read, 3), nr.NR_write: (f.write, 3), nr.NR_open: (f.open, 3),
            nr.NR_close: (f.close, 1), nr.NR_poll: (f.poll, 3),
            nr.NR_mprotect: (m.mprotect, 3), nr.NR_munmap: (m.munmap, 2),
            nr.NR_brk: (m.brk, 1), nr.NR_rt_sigprocmask: (s.rt_sigprocmask, 4),
            nr.NR_ioctl: (f.ioctl, 3), nr.NR_readv: (f.readv, 3),
            nr.NR_writev: (f.writev, 3), nr.NR_access: (f.access, 2),
            nr.NR_pipe: (f.pipe, 1), nr.NR_sched_yield: (p.sched_yield, 0),
            nr.NR_mremap: (m.mremap, 5), nr.NR_msync: (m.msync, 3),
            nr.NR_mincore: (m.mincore, 3), nr.NR_madvise: (m.madvise, 3),
            nr.NR_dup: (f.dup, 1), nr.NR_dup2: (f.dup2, 2), nr.NR_pause: (s.pause, 0),
            nr.NR_getpid: (p.getpid, 0), nr.NR_sendfile: (f.sendfile, 4),
            nr.NR_fork: (p.fork, 0), nr.NR_vfork: (p.fork, 0),
            nr.NR_execve: (p.execve, 3), nr.NR_exit: (p.exit, 1),
            nr.NR_kill: (s.kill, 2), nr.NR_uname: (p.uname, 1), nr.NR_fcntl: (f.fcntl, 3),
            nr.NR_fsync: (f.fsync, 1), nr.NR_fdatasync: (f.fsync, 1),
            nr.NR_getcwd: (f.getcwd, 2), nr.NR_chdir: (f.chdir, 1),
            nr.NR_fchdir: (f.fchdir, 1), nr.NR_rename: (f.rename, 2),
            nr.NR_mkdir: (f.mkdir, 2), nr.NR_rmdir: (f.rmdir, 1),
            nr.NR_unlink: (f.unlink, 1), nr.NR_readlink: (f.readlink, 3),
            nr.NR_umask: (f.umask, 1), nr.NR_times: (t.times, 1),
            nr.NR_getuid: (p.zero, 0), nr.NR_getgid: (p.zero, 0),
            nr.NR_geteuid: (p.zero, 0), nr.NR_getegid: (p.zero, 0),
            nr.NR_getgroups: (p.zero, 2), nr.NR_setuid: (p.set_id, 1),
            nr.NR_setgid: (p.set_id, 1), nr.NR_setpgid: (p.zero, 2),
            nr.NR_getppid: (p.getppid, 0), nr.NR_getpgrp: (p.getpgid_self, 0),
            nr.NR_setsid: (p.getpgid_self, 0), nr.NR_getpgid: (p.getpgid, 1),
            nr.NR_getsid: (p.getpgid, 1), nr.NR_rt_sigpending: (s.rt_sigpending, 2),
            nr.NR_rt_sigsuspend: (s.rt_sigsuspend, 2), nr.NR_personality: (p.zero, 1),
            nr.NR_prctl: (p.prctl, 5), nr.NR_setrlimit: (p.zero, 2),
            nr.NR_gettid: (p.getpid, 0), nr.NR_tkill: (s.tkill, 2),
            nr.NR_futex: (p.enosys, 6), nr.NR_getdents64: (f.getdents64, 3),
            nr.NR_set_tid_address: (p.set_tid_address, 1),
            nr.NR_clock_gettime: (t.clock_gettime64, 2),
            nr.NR_clock_getres: (t.clock_getres64, 2),
            nr.NR_clock_nanosleep: (t.clock_nanosleep64, 4),
            nr.NR_exit_group: (p.exit, 1), nr.NR_tgkill: (s.tgkill, 3),
            nr.NR_openat: (f.openat, 4), nr.NR_mkdirat: (f.mkdirat, 3),
            nr.NR_unlinkat: (f.unlinkat, 3), nr.NR_renameat: (f.renameat, 4),
            nr.NR_readlinkat: (f.readlinkat, 4), nr.NR_faccessat: (f.faccessat, 3),
            nr.NR_set_robust_list: (p.enosys, 2), nr.NR_get_robust_list: (p.enosys, 3),
            nr.NR_dup3: (f.dup3, 3), nr.NR_pipe2: (f.pipe2, 2),
            nr.NR_prlimit64: (p.prlimit64, 4), nr.NR_renameat2: (f.renameat, 5),
            nr.NR_getrandom: (p.getrandom, 3), nr.NR_statx: (f.statx, 5),
            nr.NR_rseq: (p.enosys, 4), nr.NR_faccessat2: (f.faccessat, 4),
        }
        adapted = {
            nr.NR_stat: (self.stat, 2), nr.NR_fstat: (self.fstat, 2),
            nr.NR_lstat: (self.lstat, 2), nr.NR_newfstatat: (self.newfstatat, 4),
            nr.NR_lseek: (self.lseek, 3), nr.NR_mmap: (self.mmap, 6),
            nr.NR_rt_sigaction: (s.rt_sigaction, 4),
            nr.NR_rt_sigreturn: (self.rt_sigreturn, 0),
            nr.NR_pread64: (self.pread64, 4), nr.NR_pwrite64: (self.pwrite64, 4),
            nr.NR_nanosleep: (self.nanosleep, 2), nr.NR_clone: (self.clone, 5),
            nr.NR_wait4: (self.wait4, 4), nr.NR_ftruncate: (self.ftruncate, 2),
            nr.NR_gettimeofday: (self.gettimeofday, 2), nr.NR_getrlimit: (self.getrlimit, 2),
            nr.NR_sysinfo: (self.sysinfo, 1), nr.NR_sigaltstack: (s.sigaltstack, 2),
            nr.NR_arch_prctl: (self.arch_prctl, 2), nr.NR_time: (self.time_, 1),
            nr.NR_ppoll: (self.ppoll, 4),
        }
        kept = {}
        for family in self.extra:
            kept.update(family.handlers())
        return {**kept, **same, **adapted}

    # -- the stat family: struct stat of x86-64 ------------------------------------------

    def fstat(self, proc: Process, args) -> int:
        copy_to_user(proc.space, args[1], stat_bytes(proc.files.get(signed32(args[0])).stat()))
        return 0

    def _path_stat(self, proc: Process, path_va: int, buf: int, follow: bool) -> int:
        from .files import _path
        st = self.files._stat_path(proc, _path(proc, path_va), None, follow)
        copy_to_user(proc.space, buf, stat_bytes(st))
        return 0

    def stat(self, proc: Process, args) -> int:
        return self._path_stat(proc, args[0], args[1], True)

    def lstat(self, proc: Process, args) -> int:
        return self._path_stat(proc, args[0], args[1], False)

    def newfstatat(self, proc: Process, args) -> int:
        dirfd, path_va, buf, flags = args[:4]
        copy_to_user(proc.space, buf, stat_bytes(self.files._at(proc, dirfd, path_va, flags)))
        return 0

    # -- offsets in one register ----------------------------------------------------------

    def lseek(self, proc: Process, args) -> int:
        fd, offset, whence = args[:3]
        return proc.files.get(signed32(fd)).seek(_signed64(offset), whence)

    def pread64(self, proc: Process, args) -> int:
        fd, buf, count, offset = args[:4]
        return self.files.pread64(proc, (fd, buf, count, offset & 0xFFFFFFFF, offset >> 32))

    def pwrite64(self, proc: Process, args) -> int:
        fd, buf, count, offset = args[:4]
        return self.files.pwrite64(proc, (fd, buf, count, offset & 0xFFFFFFFF, offset >> 32))

    def ftruncate(self, proc: Process, args) -> int:
        return self.files._truncate(proc, args[0], _signed64(args[1]))

    def mmap(self, proc: Process, args) -> int:
        addr, length, prot, flags, fd, offset = args
        return self.memory.linux.mmap(proc.pid, addr, length, prot & 0xFFFFFFFF,
                                      flags & 0xFFFFFFFF, signed32(fd & 0xFFFFFFFF),
                                      _signed64(offset))

    # -- processes ------------------------------------------------------------------------

    def clone(self, proc: Process, args) -> int:
        flags, stack, parent_tid, child_tid, tls = args[:5]  # x86-64's order
        return self.process.clone(proc, (flags, stack, parent_tid, tls, child_tid))

    def wait4(self, proc: Process, args) -> int:
        pid, status_va, options, rusage = args[:4]
        child = self.process._wait(proc, signed32(pid & 0xFFFFFFFF), status_va, options, 0)
        if rusage:
            copy_to_user(proc.space, rusage, bytes(144))  # struct rusage: 144 bytes here
        return child

    def getrlimit(self, proc: Process, args) -> int:
        soft, hard = self.process._limit(args[0])
        copy_to_user(proc.space, args[1], struct.pack("<QQ", soft, hard))
        return 0

    def sysinfo(self, proc: Process, args) -> int:
        table = self.process.table
        frames, pagefile = table.vm.frames, table.vm.pagefile
        uptime = table.vdso.clock.monotonic_ns() // NS
        procs = sum(1 for q in table.processes.values() if q.alive)
        info = struct.pack("<q3Q6QHH4xQQI", uptime, 0, 0, 0, frames.total, frames.free_count,
                           0, 0, pagefile.slots, pagefile.slots - pagefile.used_slots,
                           procs, 0, 0, 0, 4096)
        copy_to_user(proc.space, args[0], info + bytes(112 - len(info)))
        return 0

    def arch_prctl(self, proc: Process, args) -> int:
        """ARCH_SET_FS / ARCH_GET_FS (and GS): the base thread-local storage hangs from."""
        code, address = args[:2]
        reg = Reg64.FS_BASE if code in (ARCH_SET_FS, ARCH_GET_FS) else Reg64.GS_BASE
        if code in (ARCH_SET_FS, ARCH_SET_GS):
            if address >= proc.space.layout.user_top:
                raise SyscallError(errno.EPERM, f"arch_prctl: {address:#x} is not a user "
                                                f"address")
            self.cpu.set_reg(reg, address)
            return 0
        if code in (ARCH_GET_FS, ARCH_GET_GS):
            copy_to_user(proc.space, address, struct.pack("<Q", self.cpu.reg(reg)))
            return 0
        raise SyscallError(errno.EINVAL, f"arch_prctl: code {code:#x}")

    # -- time: 64-bit seconds -------------------------------------------------------------

    def nanosleep(self, proc: Process, args) -> int:
        duration = None if proc.sleep_until is not None else \
            self.time._request(proc, args[0], True)
        return self.time._sleep(proc, duration, None)

    def gettimeofday(self, proc: Process, args) -> int:
        tv, tz = args[:2]
        ns = self.time.clock.realtime_ns()
        if tv:
            copy_to_user(proc.space, tv, struct.pack("<qq", ns // NS, ns % NS // 1000))
        if tz:
            copy_to_user(proc.space, tz, bytes(8))
        return 0

    def time_(self, proc: Process, args) -> int:
        seconds = self.time.clock.realtime_ns() // NS
        if args[0]:
            copy_to_user(proc.space, args[0], struct.pack("<q", seconds))
        return seconds

    def ppoll(self, proc: Process, args) -> int:
        fds, count, timeout_va = args[:3]
        limit = None
        if timeout_va:
            seconds, nanoseconds = struct.unpack("<qq", copy_from_user(proc.space,
                                                                      timeout_va, 16))
            if seconds < 0 or not 0 <= nanoseconds < NS:
                raise FileError(errno.EINVAL, "ppoll: bad timespec")
            limit = seconds * NS + nanoseconds
        return self.files._poll(proc, fds, count, limit)

    # -- signals ------------------------------------------------------------------------

    def rt_sigreturn(self, proc: Process, args) -> None:
        self.signals.signals.sigreturn(proc, self.cpu.reg(Reg64.RSP), rt=True)
        self.cpu.stop()  # the saved context changed: the process resumes from it
        return None
