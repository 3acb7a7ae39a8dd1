"""The Linux family: mmap, munmap, mprotect, mincore, msync, madvise, and the file calls.

From Python, ``machine.linux.mmap(pid, ...)`` and the others raise :class:`VmError`, whose
``errno`` is what Linux returns; from a guest, the syscalls (Linux i386 numbers) return
-errno. Semantics follow Linux:

* ``mmap``: MAP_SHARED or MAP_PRIVATE (exactly one), MAP_ANONYMOUS (fd -1), MAP_FIXED (the
  range is unmapped first), MAP_FIXED_NOREPLACE (EEXIST over a mapping), MAP_POPULATE (the
  pages are faulted in now). A hint address is used when it is free; else the mmap area is
  searched top-down. EINVAL for a zero length, an unaligned offset or fixed address, a bad
  type; EBADF for a bad fd; EACCES when the file's mode forbids the mapping; ENOMEM when
  no room is left.
* ``munmap``/``mprotect``/``mincore``/``msync``/``madvise``: EINVAL for an unaligned address;
  ENOMEM when (part of) the range is not mapped (not for munmap, which ignores holes).

Mappings of the ZerOS MemoryManager, the guard pages, [vvar] and [vdso] belong to the kernel:
MAP_FIXED and munmap refuse to touch them (EINVAL), mprotect too (EACCES).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.cpu import Reg
from emu.mmu import PAGE_SIZE, Pte, page_down, page_up

from . import linux, sysno
from .addrspace import pte_flags
from .errors import AddressError, OutOfMemory, ZerosError
from .files import FileError
from .layout import MMAP_BOTTOM, MMAP_TOP, USER_MIN, USER_TOP
from .process import Process
from .regions import Prot
from .vm import FileObject, SharedMemory

if TYPE_CHECKING:
    from .machine import Machine

MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE = 0x01, 0x02, 0x03, 0x0F
MAP_FIXED, MAP_ANONYMOUS, MAP_POPULATE, MAP_FIXED_NOREPLACE = 0x10, 0x20, 0x8000, 0x100000
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED = 0, 1, 2, 3, 4
KERNEL_KINDS = {"heap", "shed", "guard", "vvar", "vdso"}  # not for the guest to remap
_PRESENT, _WRITABLE, _USER = int(Pte.P), int(Pte.RW), int(Pte.US)


class VmError(ZerosError):
    """A virtual-memory call failed; ``errno`` is Linux's."""

    def __init__(self, errno: int, message: str):
        super().__init__(message)
        self.errno = errno


def _prot(prot: int) -> Prot:
    if prot & ~7:
        raise VmError(linux.EINVAL, f"unknown protection bits {prot:#x}")
    return Prot(prot)


class LinuxMemory:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.vm = machine.vm

    def _space(self, pid: int):
        proc = self.machine.process(pid)
        if not proc.space.tables.pd:
            raise VmError(linux.ESRCH, f"pid {pid} has no address space")
        return proc, proc.space

    def _aligned(self, addr: int, length: int, what: str) -> int:
        if addr % PAGE_SIZE:
            raise VmError(linux.EINVAL, f"{what}: address {addr:#x} is not page aligned")
        if length < 0 or addr + length > 1 << 32:
            raise VmError(linux.EINVAL, f"{what}: bad length {length:#x}")
        return addr + page_up(length)

    def _mapped(self, space, start: int, end: int, what: str) -> None:
        va = start
        for region in space.regions.overlapping(start, end):
            if region.start > va:
                break
            va = region.end
        if va < end:
            raise VmError(linux.ENOMEM, f"{what}: {max(va, start):#010x} is not mapped")

    # -- mmap ----------------------------------------------------------------------------

    def mmap(self, pid: int, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> int:
        proc, space = self._space(pid)
        prot = _prot(prot)
        kind = flags & MAP_TYPE
        if length <= 0:
            raise VmError(linux.EINVAL, "mmap: length must be positive")
        if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
            raise VmError(linux.EINVAL, "mmap: exactly one of MAP_SHARED and MAP_PRIVATE")
        if offset % PAGE_SIZE or offset < 0:
            raise VmError(linux.EINVAL, f"mmap: offset {offset:#x} is not page aligned")
        size = page_up(length)
        if size > USER_TOP - USER_MIN:
            raise VmError(linux.ENOMEM, "mmap: larger than the address space")
        shared = kind != MAP_PRIVATE
        backing = None
        name = "[anon:shared]" if shared else ""
        if not flags & MAP_ANONYMOUS:
            try:
                opened = proc.files.get(fd)
            except FileError as error:
                raise VmError(error.errno, f"mmap: {error}") from None
            if not opened.readable:
                raise VmError(linux.EACCES, f"mmap: fd {fd} is not open for reading")
            if shared and prot & Prot.WRITE and not opened.writable:
                raise VmError(linux.EACCES, f"mmap: fd {fd} is read-only: no shared writes")
            backing, name = self.vm.file_object(opened.path), opened.path
        elif shared:
            backing = SharedMemory(self.vm, "[anon:shared]")
        start = self._place(space, addr, size, flags)
        extra = {"shared": shared}
        if backing is not None:
            extra.update(backing=backing, offset=offset)
            backing.mapped_region()
            if isinstance(backing, FileObject) and shared and prot & Prot.WRITE:
                backing.written = True
        region = space.add_region(start, start + size, prot, "mmap", name, **extra)
        if flags & MAP_POPULATE and prot:
            # as Linux: a private writable mapping is prefaulted for writing (its own pages)
            write = bool(prot & Prot.WRITE) and not shared
            try:
                for va in range(start, start + size, PAGE_SIZE):
                    self.vm.resolve(space, va, write=write, present=False)
            except OutOfMemory:
                space.remove_region(region)
                raise VmError(linux.ENOMEM, "mmap: MAP_POPULATE ran out of memory") from None
        return start

    def _place(self, space, addr: int, size: int, flags: int) -> int:
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr % PAGE_SIZE:
                raise VmError(linux.EINVAL, f"mmap: fixed address {addr:#x} is not aligned")
            if addr < USER_MIN:
                raise VmError(linux.EPERM, f"mmap: {addr:#x} is below {USER_MIN:#x}")
            if addr + size > USER_TOP:
                raise VmError(linux.ENOMEM, f"mmap: {addr:#x}+{size:#x} reaches kernel space")
            clash = space.regions.overlapping(addr, addr + size)
            if clash and flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED:
                raise VmError(linux.EEXIST, f"mmap: {addr:#010x} overlaps "
                                            f"{clash[0].name or clash[0].kind}")
            if clash:
                self._unmap(space, addr, addr + size, "mmap")
            return addr
        hint = page_down(addr)
        if hint and USER_MIN <= hint and hint + size <= USER_TOP and \
                not space.regions.overlapping(hint, hint + size):
            return hint
        start = space.regions.free_gap(size, MMAP_BOTTOM, MMAP_TOP, top_down=True)
        if start is None:
            start = space.regions.free_gap(size, USER_MIN, MMAP_BOTTOM, top_down=True)
        if start is None:
            raise VmError(linux.ENOMEM, f"mmap: no free {size:#x} bytes left")
        return start

    # -- the others ----------------------------------------------------------------------

    def munmap(self, pid: int, addr: int, length: int) -> None:
        proc, space = self._space(pid)
        if length <= 0:
            raise VmError(linux.EINVAL, "munmap: length must be positive")
        end = self._aligned(addr, length, "munmap")
        if end > USER_TOP:
            raise VmError(linux.EINVAL, "munmap: the range reaches kernel space")
        self._unmap(space, addr, end, "munmap")

    def _unmap(self, space, start: int, end: int, what: str) -> None:
        for region in space.regions.overlapping(start, end):
            if region.kind in KERNEL_KINDS:
                raise VmError(linux.EINVAL, f"{what}: {region.start:#010x} is "
                                            f"{region.name or region.kind}, the kernel's")
        for region in space.carve(start, end):
            space.remove_region(region)  # a shared file mapping writes back as it goes

    def sync_region(self, region, start: int | None = None, end: int | None = None) -> int:
        """Write a shared file mapping's pages in [start, end) back to the file."""
        backing = region.extra.get("backing")
        if not isinstance(backing, FileObject) or not region.extra.get("shared"):
            return 0
        start = region.start if start is None else max(start, region.start)
        end = region.end if end is None else min(end, region.end)
        first = (region.extra["offset"] + start - region.start) // PAGE_SIZE
        return backing.write_back(first, first + (end - start) // PAGE_SIZE)

    def mprotect(self, pid: int, addr: int, length: int, prot: int) -> None:
        proc, space = self._space(pid)
        prot = _prot(prot)
        end = self._aligned(addr, length, "mprotect")
        self._mapped(space, addr, end, "mprotect")
        regions = space.regions.overlapping(addr, end)
        for region in regions:
            if region.kind in KERNEL_KINDS:
                raise VmError(linux.EACCES, f"mprotect: {region.name or region.kind} is the "
                                            f"kernel's")
            backing = region.extra.get("backing")
            if isinstance(backing, FileObject) and region.extra.get("shared") and \
                    prot & Prot.WRITE and not self._writable_file(proc, backing.path):
                raise VmError(linux.EACCES, "mprotect: the file is not open for writing")
        for region in space.carve(addr, end):
            self.set_protection(space, region, prot)

    def _writable_file(self, proc: Process, path: str) -> bool:
        return any(f.path == path and f.writable for f in proc.files.files.values())

    def set_protection(self, space, region, prot: Prot) -> None:
        """New rights for a region and its present pages. Pages shared copy-on-write stay
        read-only until written; PROT_NONE pages keep their frame but lose U/S."""
        region.prot = prot
        backing = region.extra.get("backing")
        if isinstance(backing, FileObject) and region.extra.get("shared") and prot & Prot.WRITE:
            backing.written = True
        frames = self.machine.frames
        for va, pte in list(space.tables.present_pages(region.start, region.end)):
            flags = pte_flags(prot) if prot else 0
            if flags & _WRITABLE and not region.extra.get("shared"):
                frame = frames.info(pte & ~0xFFF)
                if frame.refs > 1 or frame.kind != "page":
                    flags &= ~_WRITABLE  # still copy-on-write
            space.set_flags(va, flags)

    def mincore(self, pid: int, addr: int, length: int) -> bytes:
        """One byte per page of [addr, addr+length): 1 if it is in RAM. Faults nothing in."""
        _, space = self._space(pid)
        end = self._aligned(addr, length, "mincore")
        self._mapped(space, addr, end, "mincore")
        out = bytearray((end - addr) // PAGE_SIZE)
        for va, _ in space.tables.present_pages(addr, end):
            out[(va - addr) // PAGE_SIZE] = 1
        return bytes(out)

    def msync(self, pid: int, addr: int, length: int, flags: int = MS_SYNC) -> int:
        _, space = self._space(pid)
        if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or \
                flags & MS_ASYNC and flags & MS_SYNC:
            raise VmError(linux.EINVAL, f"msync: bad flags {flags:#x}")
        end = self._aligned(addr, length, "msync")
        self._mapped(space, addr, end, "msync")
        return sum(self.sync_region(r, addr, end) for r in space.regions.overlapping(addr, end))

    def madvise(self, pid: int, addr: int, length: int, advice: int) -> None:
        proc, space = self._space(pid)
        end = self._aligned(addr, length, "madvise")
        if advice not in (MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
                          MADV_DONTNEED):
            raise VmError(linux.EINVAL, f"madvise: unknown advice {advice}")
        self._mapped(space, addr, end, "madvise")
        if advice == MADV_DONTNEED:  # private pages are dropped: zeros or the file next time
            for region in space.regions.overlapping(addr, end):
                if region.kind in KERNEL_KINDS:
                    raise VmError(linux.EINVAL, "madvise: not for the kernel's mappings")
            space.unmap(addr, end)
    

class LinuxSyscalls:
    """Guest side: mmap2, munmap, mprotect, mincore, msync, madvise, open, read, close,
    lseek (and write to files)."""

    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.cpu = machine.cpu
        self.linux = machine.linux

    def _call(self, fn) -> int:
        try:
            result = fn()
        except VmError as error:
            return -error.errno
        except FileError as error:
            return -error.errno
        except AddressError:
            return -linux.EFAULT
        except OutOfMemory:
            return -linux.ENOMEM
        return 0 if result is None else result

    def mmap2(self, proc: Process) -> int:
        addr, length, prot, flags, fd, pgoff = self.cpu.syscall_args()
        fd = fd - (1 << 32) if fd & 0x80000000 else fd
        return self._call(lambda: self.linux.mmap(proc.pid, addr, length, prot, flags, fd,
                                                  pgoff * PAGE_SIZE))

    def munmap(self, proc: Process) -> int:
        addr, length = self.cpu.syscall_args()[:2]
        return self._call(lambda: self.linux.munmap(proc.pid, addr, length))

    def mprotect(self, proc: Process) -> int:
        addr, length, prot = self.cpu.syscall_args()[:3]
        return self._call(lambda: self.linux.mprotect(proc.pid, addr, length, prot))

    def mincore(self, proc: Process) -> int:
        addr, length, vec = self.cpu.syscall_args()[:3]

        def go():
            flags = self.linux.mincore(proc.pid, addr, length)
            self.machine.write_virt(proc.pid, vec, flags)
        return self._call(go)

    def msync(self, proc: Process) -> int:
        addr, length, flags = self.cpu.syscall_args()[:3]
        return self._call(lambda: self.linux.msync(proc.pid, addr, length, flags) and None)

    def madvise(self, proc: Process) -> int:
        addr, length, advice = self.cpu.syscall_args()[:3]
        return self._call(lambda: self.linux.madvise(proc.pid, addr, length, advice))

    def open(self, proc: Process) -> int:
        path_va, flags, mode = self.cpu.syscall_args()[:3]

        def go():
            path = self.machine.syscalls.user_string(proc, path_va)
            return proc.files.open(path, flags, mode)
        return self._call(go)

    def read(self, proc: Process) -> int:
        fd, buf, count = self.cpu.syscall_args()[:3]

        def go():
            if fd == 0:
                return 0  # stdin is empty
            data = proc.files.read(fd, min(count, 1 << 20))
            if data:
                self.machine.write_virt(proc.pid, buf, data)
            return len(data)
        return self._call(go)

    def close(self, proc: Process) -> int:
        fd = self.cpu.reg(Reg.EBX)
        return self._call(lambda: proc.files.close(fd))

    def lseek(self, proc: Process) -> int:
        fd, offset, whence = self.cpu.syscall_args()[:3]
        offset = offset - (1 << 32) if offset & 0x80000000 else offset
        return self._call(lambda: proc.files.lseek(fd, offset, whence))


def register_linux_syscalls(machine: "Machine") -> None:
    calls = LinuxSyscalls(machine)
    for name in ("mmap2", "munmap", "mprotect", "mincore", "msync", "madvise", "open",
                 "read", "close", "lseek"):
        machine.syscalls.register(sysno.NUMBERS[name], getattr(calls, name))
