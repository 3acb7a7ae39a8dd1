"""The process calls of the Linux family: the life of a process and what it asks about itself.

exit, exit_group, fork, vfork, clone (fork's flags: CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID,
CLONE_PARENT_SETTID, a new stack; threads are not supported), execve, waitpid, wait4,
getpid, getppid, gettid, set_tid_address, set_thread_area, get_thread_area, the uid and gid
calls (everyone is root), uname, prctl, getrlimit/ugetrlimit/prlimit64/setrlimit, sysinfo,
getrandom, times, sched_yield, and the process-group calls. set_robust_list, rseq, futex and
modify_ldt answer -ENOSYS, as qemu-user does.
"""

from __future__ import annotations

import os
import struct

from ...errors import FileError, ProgramError, SyscallError
from ...proc.process import Process
from ...proc.scheduler import Scheduler
from ...proc.table import ProcessTable
from ...proc.tls import USER_DESC, ThreadAreas, get_area, set_area
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...uapi.types import signed32
from ...vm.uaccess import copy_from_user, copy_to_user, string_from_user
from .procfs import ProcFiles

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_SETTLS = 0x4000, 0x8000, 0x10000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
STACK_LIMIT = 8 << 20
LIMITS = {3: (STACK_LIMIT, RLIM_INFINITY), 7: (1024, 1024)}  # RLIMIT_STACK, RLIMIT_NOFILE
MAX_STRINGS = 1 << 16
PR_SET_NAME, PR_GET_NAME = 15, 16


class ProcessCalls:
    def __init__(self, table: ProcessTable, scheduler: Scheduler, tls: ThreadAreas,
                 deterministic: bool = False):
        self.table = table
        self.scheduler = scheduler
        self.tls = tls
        self.deterministic = deterministic
        self.procfs = ProcFiles(table)  # execve of /proc/self/exe

    def handlers(self) -> dict:
        enosys = self.enosys
        return {
            nr.NR_exit: (self.exit, 1), nr.NR_exit_group: (self.exit, 1),
            nr.NR_fork: (self.fork, 0), nr.NR_vfork: (self.fork, 0),
            nr.NR_clone: (self.clone, 5), nr.NR_execve: (self.execve, 3),
            nr.NR_waitpid: (self.waitpid, 3), nr.NR_wait4: (self.wait4, 4),
            nr.NR_getpid: (self.getpid, 0), nr.NR_gettid: (self.getpid, 0),
            nr.NR_getppid: (self.getppid, 0), nr.NR_set_tid_address: (self.set_tid_address, 1),
            nr.NR_set_thread_area: (self.set_thread_area, 1),
            nr.NR_get_thread_area: (self.get_thread_area, 1),
            nr.NR_getuid: (self.zero, 0), nr.NR_geteuid: (self.zero, 0),
            nr.NR_getgid: (self.zero, 0), nr.NR_getegid: (self.zero, 0),
            nr.NR_getuid32: (self.zero, 0), nr.NR_geteuid32: (self.zero, 0),
            nr.NR_getgid32: (self.zero, 0), nr.NR_getegid32: (self.zero, 0),
            nr.NR_setuid32: (self.set_id, 1), nr.NR_setgid32: (self.set_id, 1),
            nr.NR_getgroups32: (self.zero, 0),
            nr.NR_getpgrp: (self.getpgid_self, 0), nr.NR_getpgid: (self.getpgid, 1),
            nr.NR_setpgid: (self.zero, 0), nr.NR_getsid: (self.getpgid, 1),
            nr.NR_setsid: (self.getpgid_self, 0),
            nr.NR_uname: (self.uname, 1), nr.NR_prctl: (self.prctl, 2),
            nr.NR_getrlimit: (self.getrlimit, 2), nr.NR_ugetrlimit: (self.getrlimit, 2),
            nr.NR_setrlimit: (self.zero, 0), nr.NR_prlimit64: (self.prlimit64, 4),
            nr.NR_sysinfo: (self.sysinfo, 1), nr.NR_getrandom: (self.getrandom, 3),
            nr.NR_sched_yield: (self.sched_yield, 0), nr.NR_personality: (self.zero, 0),
            nr.NR_set_robust_list: (enosys, 0), nr.NR_get_robust_list: (enosys, 0),
            nr.NR_rseq: (enosys, 0), nr.NR_futex: (enosys, 0), nr.NR_modify_ldt: (enosys, 0),
        }

    # -- trivial -----------------------------------------------------------------------

    def enosys(self, proc: Process, args) -> int:
        return -errno.ENOSYS

    def zero(self, proc: Process, args) -> int:
        return 0

    def set_id(self, proc: Process, args) -> int:
        if args[0] != 0:
            raise SyscallError(errno.EPERM, "only root here")
        return 0

    def getpid(self, proc: Process, args) -> int:
        return proc.pid

    def getppid(self, proc: Process, args) -> int:
        return proc.parent

    def getpgid_self(self, proc: Process, args) -> int:
        return proc.pid

    def getpgid(self, proc: Process, args) -> int:
        pid = args[0] or proc.pid
        self.table.get(pid)
        return pid

    def sched_yield(self, proc: Process, args) -> int:
        self.scheduler.request_switch()
        return 0

    # -- birth and death ---------------------------------------------------------------

    def exit(self, proc: Process, args) -> None:
        self.table.exit(proc, args[0] & 0xFF)
        return None

    def fork(self, proc: Process, args) -> int:
        return self.table.fork(proc).pid

    def clone(self, proc: Process, args) -> int:
        flags, stack, parent_tid, _tls, child_tid = args[:5]
        if flags & (CLONE_THREAD | CLONE_SIGHAND) or flags & CLONE_VM and \
                not flags & CLONE_VFORK:
            raise SyscallError(errno.ENOSYS, "clone: threads are not supported")
        child = self.table.fork(proc)
        if stack:
            self.table.cpu.set_context_reg(child.context, self.table.cpu.sp_reg, stack)
        if flags & CLONE_PARENT_SETTID:
            copy_to_user(proc.space, parent_tid, struct.pack("<I", child.pid))
            copy_to_user(child.space, parent_tid, struct.pack("<I", child.pid))
        if flags & CLONE_CHILD_SETTID:
            copy_to_user(child.space, child_tid, struct.pack("<I", child.pid))
        if flags & CLONE_CHILD_CLEARTID:
            child.clear_tid = child_tid
        return child.pid

    def execve(self, proc: Process, args) -> None:
        path_va, argv_va, envp_va = args[:3]
        path = os.fsdecode(string_from_user(proc.space, path_va))
        argv = self._strings(proc, argv_va)
        env = self._strings(proc, envp_va)
        host = self.procfs.exe(proc, proc.files.guest_path(path)) or \
            proc.files.host_path(path)
        if not os.path.exists(host):
            raise FileError(errno.ENOENT, f"{path}: no such file")
        if os.path.isdir(host) or not os.access(host, os.X_OK):
            raise FileError(errno.EACCES, f"{path}: not executable")
        with open(host, "rb") as f:
            if f.read(4) != b"\x7fELF":
                raise FileError(errno.ENOEXEC, f"{path}: not an executable")
        try:
            self.table.exec(proc, host, argv, env)
        except ProgramError as error:
            raise FileError(errno.ENOEXEC, str(error)) from None
        return None

    def _strings(self, proc: Process, va: int) -> list[str]:
        out: list[str] = []
        if not va:
            return out
        total = 0
        word = proc.space.layout.word
        while len(out) < MAX_STRINGS:
            pointer = int.from_bytes(copy_from_user(proc.space, va + word * len(out), word),
                                     "little")
            if not pointer:
                return out
            raw = string_from_user(proc.space, pointer, 128 << 10)
            total += len(raw) + 1
            if total > 128 << 10:
                raise SyscallError(errno.E2BIG, "argument list too long")
            out.append(raw.decode(errors="surrogateescape"))
        raise SyscallError(errno.E2BIG, "too many arguments")

    def waitpid(self, proc: Process, args) -> int:
        pid, status_va, options = args[:3]
        return self._wait(proc, signed32(pid), status_va, options, 0)

    def wait4(self, proc: Process, args) -> int:
        pid, status_va, options, rusage = args[:4]
        return self._wait(proc, signed32(pid), status_va, options, rusage)

    def _wait(self, proc: Process, pid: int, status_va: int, options: int,
              rusage: int) -> int:
        got = self.table.wait(proc, pid, options)  # WouldBlock: asleep until a child ends
        if got is None:
            return 0
        child, status = got
        # the child is collected whatever happens to the pointers (as Linux does)
        if status_va:
            copy_to_user(proc.space, status_va, struct.pack("<i", status))
        if rusage:
            copy_to_user(proc.space, rusage, bytes(72))
        return child

    def set_tid_address(self, proc: Process, args) -> int:
        proc.clear_tid = args[0]
        return proc.pid

    # -- thread-local storage ------------------------------------------------------------

    def set_thread_area(self, proc: Process, args) -> int:
        raw = copy_from_user(proc.space, args[0], USER_DESC.size)
        proc.tls, entry = set_area(proc.tls, raw)
        copy_to_user(proc.space, args[0], struct.pack("<I", entry))
        self.tls.install(proc.tls)  # the very next instruction may load %gs
        return 0

    def get_thread_area(self, proc: Process, args) -> int:
        entry = struct.unpack("<I", copy_from_user(proc.space, args[0], 4))[0]
        copy_to_user(proc.space, args[0], get_area(proc.tls, entry))
        return 0

    # -- about the system --------------------------------------------------------------

    def uname(self, proc: Process, args) -> int:
        if self.deterministic:
            release, version = "6.1.0-zeros", "#1 SMP PREEMPT_DYNAMIC ZerOS"
        else:
            import platform  # here: its import costs start-up time
            host = platform.uname()
            release, version = host.release, host.version
        fields = ["Linux", "zeros", release, version, "i686", "(none)"]
        copy_to_user(proc.space, args[0], b"".join(
            f.encode()[:64].ljust(65, b"\0") for f in fields))
        return 0

    def prctl(self, proc: Process, args) -> int:
        option, arg = args[:2]
        if option == PR_GET_NAME:
            copy_to_user(proc.space, arg, proc.name.encode()[:15].ljust(16, b"\0"))
            return 0
        if option == PR_SET_NAME:
            proc.name = string_from_user(proc.space, arg, 16).decode(errors="replace")
            return 0
        raise SyscallError(errno.EINVAL, f"prctl: option {option}")

    def _limit(self, resource: int) -> tuple[int, int]:
        if resource > 15:
            raise SyscallError(errno.EINVAL, f"no resource {resource}")
        return LIMITS.get(resource, (RLIM_INFINITY, RLIM_INFINITY))

    def getrlimit(self, proc: Process, args) -> int:
        soft, hard = self._limit(args[0])
        copy_to_user(proc.space, args[1], struct.pack("<II", min(soft, 0xFFFFFFFF),
                                                      min(hard, 0xFFFFFFFF)))
        return 0

    def prlimit64(self, proc: Process, args) -> int:
        pid, resource, new, old = args[:4]
        if pid and pid != proc.pid:
            self.table.get(pid)
        soft, hard = self._limit(resource)
        if old:
            copy_to_user(proc.space, old, struct.pack("<QQ", soft, hard))
        if new:
            copy_from_user(proc.space, new, 16)  # accepted, not enforced
        return 0

    def sysinfo(self, proc: Process, args) -> int:
        frames = self.table.vm.frames
        pagefile = self.table.vm.pagefile
        uptime = self.table.vdso.clock.monotonic_ns() // 10**9
        procs = sum(1 for p in self.table.processes.values() if p.alive)
        info = struct.pack("<i3I6IHHIII8x", uptime, 0, 0, 0, frames.total, frames.free_count,
                           0, 0, pagefile.slots, pagefile.slots - pagefile.used_slots,
                           procs, 0, 0, 0, 4096)
        copy_to_user(proc.space, args[0], info)
        return 0

    def getrandom(self, proc: Process, args) -> int:
        buf, count, flags = args[:3]
        if flags & ~7:
            raise SyscallError(errno.EINVAL, "getrandom: bad flags")
        count = min(count, 1 << 20)
        copy_to_user(proc.space, buf, self.table.random(count))
        return count

