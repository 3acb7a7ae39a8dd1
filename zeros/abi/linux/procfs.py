"""/proc for guests: the files of ``/proc/self`` (or ``/proc/PID``) a program reads about its
own memory, made when it first reads them, in Linux's formats (fs/proc/task_mmu.c, array.c).

* ``maps``: one line per region, the same text as ``zeros run --show maps``;
* ``status``: name, pids and the Vm* lines (VmSize, VmRSS, VmData, VmStk, VmExe) in kB;
* ``statm``: size, resident, shared, text, lib, data and dt, in pages;
* ``cmdline``: the arguments, each ending in a NUL.

``/proc/self/exe`` is the running program: readlink answers its host path, open and stat
and execve reach the file itself (busybox's shell runs its applets through it). Nothing else
of /proc exists (ENOENT), and nothing in it can be written (EACCES).
"""

from __future__ import annotations

import os

from ...errors import FileError, NoSuchProcess
from ...proc.files import HostFile, OpenFile, Snapshot, Stat
from ...proc.process import Process
from ...proc.table import ProcessTable
from ...uapi import errno
from ...uapi.fcntl import O_ACCMODE, O_RDONLY
from ...vm.maps import maps_rows, maps_text
from ...vm.regions import IMAGE_KINDS, Prot, RegionKind

PAGE_KB = 4


def is_proc(guest_path: str) -> bool:
    return guest_path == "/proc" or guest_path.startswith("/proc/")


def _sizes(proc: Process) -> dict[str, int]:
    """Pages per Vm* line: total, data (private writable, not the stack), stack, text."""
    out = {"size": 0, "data": 0, "stack": 0, "exe": 0}
    for region in proc.space.regions:
        pages = region.size // 4096
        out["size"] += pages
        if region.kind is RegionKind.STACK:
            out["stack"] += pages
        elif region.kind in IMAGE_KINDS and not region.prot & Prot.WRITE:
            out["exe"] += pages if region.prot & Prot.EXEC else 0
        elif region.prot & Prot.WRITE and not region.shared:
            out["data"] += pages
    return out


def _status(proc: Process) -> str:
    sizes = _sizes(proc)
    kb = {name: pages * PAGE_KB for name, pages in sizes.items()}
    state = "R (running)" if proc.runnable else "S (sleeping)"
    return (f"Name:\t{proc.name[:15]}\nUmask:\t{proc.files.umask:04o}\nState:\t{state}\n"
            f"Tgid:\t{proc.pid}\nPid:\t{proc.pid}\nPPid:\t{proc.parent}\n"
            f"VmSize:\t{kb['size']:8} kB\nVmRSS:\t{proc.space.resident * PAGE_KB:8} kB\n"
            f"VmData:\t{kb['data']:8} kB\nVmStk:\t{kb['stack']:8} kB\n"
            f"VmExe:\t{kb['exe']:8} kB\nThreads:\t1\n")


def _statm(proc: Process) -> str:
    sizes = _sizes(proc)
    return (f"{sizes['size']} {proc.space.resident} 0 {sizes['exe']} 0 "
            f"{sizes['data'] + sizes['stack']} 0\n")


FILES = {
    "maps": lambda proc: maps_text(maps_rows(proc.space), proc.space.layout.word),
    "status": _status,
    "statm": _statm,
    "cmdline": lambda proc: "".join(arg + "\0" for arg in proc.argv),
}


class ProcFiles:
    def __init__(self, table: ProcessTable):
        self.table = table

    def exe(self, proc: Process, guest_path: str) -> str | None:
        """The host path of the program ``/proc/self/exe`` (or ``/proc/PID/exe``) names, or
        None when ``guest_path`` is not such a link."""
        parts = guest_path.split("/")[2:]
        if len(parts) != 2 or parts[1] != "exe":
            return None
        target, _ = self._target(proc, guest_path)
        return os.path.abspath(target.path)

    def _target(self, proc: Process, guest_path: str) -> tuple[Process, str]:
        parts = guest_path.split("/")[2:]
        if len(parts) != 2 or parts[1] not in FILES and parts[1] != "exe":
            raise FileError(errno.ENOENT, f"{guest_path}: no such file in ZerOS's /proc")
        if parts[0] == "self":
            return proc, parts[1]
        try:
            other = self.table.get(int(parts[0]))
        except (ValueError, NoSuchProcess):
            raise FileError(errno.ENOENT, f"{guest_path}: no such process") from None
        if not other.alive or not other.space.alive:
            raise FileError(errno.ENOENT, f"{guest_path}: the process has exited")
        return other, parts[1]

    def open(self, proc: Process, guest_path: str, flags: int) -> OpenFile:
        exe = self.exe(proc, guest_path)
        if exe is not None:
            if flags & O_ACCMODE != O_RDONLY:
                raise FileError(errno.ETXTBSY, f"{guest_path} is a running program")
            return HostFile(exe, guest_path, flags)
        target, name = self._target(proc, guest_path)
        if flags & O_ACCMODE != O_RDONLY:
            raise FileError(errno.EACCES, f"{guest_path} is read-only")
        return Snapshot(lambda: FILES[name](target).encode(errors="surrogateescape"),
                        guest_path, flags)

    def stat(self, proc: Process, guest_path: str) -> Stat:
        exe = self.exe(proc, guest_path)
        if exe is not None:  # the link, followed
            try:
                return Stat.of(os.stat(exe))
            except OSError as error:
                raise FileError(error.errno or errno.ENOENT, f"{exe}: {error.strerror}") \
                    from None
        return self.open(proc, guest_path, O_RDONLY).stat()
