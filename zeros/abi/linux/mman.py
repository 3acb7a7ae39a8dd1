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

import dataclasses
import struct

from emu.mmu import PAGE_SIZE, page_down, page_up

from ... import budget
from ...errors import FileError, MappingError, OutOfMemory, SyscallError, VmError
from ...layout import STACK_MAX
from ...proc.files import HostFile
from ...proc.process import Process
from ...proc.table import ProcessTable
from ...uapi import errno as linux
from ...uapi import unistd_32 as nr
from ...uapi.mman import (
    MADV_DONTNEED,
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_TYPE,
    MS_ASYNC,
    MS_INVALIDATE,
    MS_SYNC,
)
from ...uapi.types import signed32
from ...vm.fork import move_pages
from ...vm.memory import VirtualMemory
from ...vm.objects import FileObject
from ...vm.protect import set_protection
from ...vm.regions import KERNEL_KINDS, Prot, RegionKind
from ...vm.uaccess import copy_from_user, copy_to_user

MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2

__all__ = ["LinuxMemory", "MemoryCalls", "VmError", "MAP_SHARED", "MAP_PRIVATE",
           "MAP_ANONYMOUS", "MAP_FIXED", "MAP_FIXED_NOREPLACE", "MAP_POPULATE", "MS_SYNC",
           "MADV_DONTNEED"]


def _prot(prot: int) -> Prot:
    if prot & ~7:
        raise VmError(linux.EINVAL, f"unknown protection bits {prot:#x}")
    return Prot(prot)


class LinuxMemory:
    """The mmap family from Python, by pid; raises VmError (``errno`` is Linux's)."""

    def __init__(self, table: ProcessTable, vm: VirtualMemory):
        self.table = table
        self.vm = vm

    def _space(self, pid: int):
        proc = self.table.get(pid)
        if not proc.space.alive:
            raise VmError(linux.ESRCH, f"pid {pid} has no address space")
        return proc, proc.space

    def _aligned(self, space, addr: int, length: int, what: str) -> int:
        if addr % PAGE_SIZE:
            raise VmError(linux.EINVAL, f"{what}: address {addr:#x} is not page aligned")
        if length < 0 or addr + length > space.fmt.top:
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
        layout = space.layout
        if size > layout.user_top - layout.user_min:
            raise VmError(linux.ENOMEM, "mmap: larger than the address space")
        shared = kind != MAP_PRIVATE
        opened = None
        name = "[anon:shared]" if shared else ""
        if not flags & MAP_ANONYMOUS:
            try:
                opened = proc.files.get(fd)
            except FileError as error:
                raise VmError(error.errno, f"mmap: {error}") from None
            if not isinstance(opened, HostFile):  # a pipe, a terminal, a directory, /proc
                raise VmError(linux.ENODEV, f"mmap: fd {fd} is a {opened.kind}: no mapping")
            if not opened.readable:
                raise VmError(linux.EACCES, f"mmap: fd {fd} is not open for reading")
            if shared and prot & Prot.WRITE and not opened.writable:
                raise VmError(linux.EACCES, f"mmap: fd {fd} is read-only: no shared writes")
            name = opened.path
        start = self._place(space, addr, size, flags)  # from here on nothing can refuse
        fields: dict = {"shared": shared}
        if opened is not None:
            backing = self.vm.cache.file_object(opened.path)
            if shared and prot & Prot.WRITE:
                backing.written = True
            fields.update(backing=backing, offset=offset)
        elif shared:
            fields.update(backing=self.vm.cache.shared_memory(), offset=offset)
        region = space.add_region(start, start + size, prot, RegionKind.MMAP, name, **fields)
        if region.backing is not None:
            region.backing.mapped_region()
        if flags & MAP_POPULATE and prot:
            # as Linux: a private writable mapping is prefaulted for writing (its own pages)
            write = bool(prot & Prot.WRITE) and not shared
            try:
                for k, va in enumerate(range(start, start + size, PAGE_SIZE)):
                    if k % 256 == 255:
                        budget.check()
                    self.vm.resolve(space, va, write=write, present=False)
            except (OutOfMemory, SyscallError) as error:
                space.remove_region(region)
                if isinstance(error, SyscallError):
                    raise
                raise VmError(linux.ENOMEM, "mmap: MAP_POPULATE ran out of memory") from None
        space.regions.merge(start, start + size)
        return start

    def _place(self, space, addr: int, size: int, flags: int) -> int:
        layout = space.layout
        user_min, user_top = layout.user_min, layout.user_top
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr % PAGE_SIZE:
                raise VmError(linux.EINVAL, f"mmap: fixed address {addr:#x} is not aligned")
            if addr < user_min:
                raise VmError(linux.EPERM, f"mmap: {addr:#x} is below {user_min:#x}")
            if addr + size > user_top:
                raise VmError(linux.ENOMEM, f"mmap: {addr:#x}+{size:#x} reaches kernel space")
            clash = space.regions.overlapping(addr, addr + size)
            if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED:
                stack = space.regions.after(addr + size - 1)
                if stack is not None and stack.grows_down and \
                        addr + size > stack.end - STACK_MAX:  # where the stack grows into
                    clash = clash or [stack]
                if clash:
                    raise VmError(linux.EEXIST, f"mmap: {addr:#010x} overlaps "
                                                f"{clash[0].name or clash[0].kind}")
            if clash:
                self._unmap(space, addr, addr + size, "mmap")
            return addr
        hint = page_down(addr)
        if hint and user_min <= hint and hint + size <= user_top and \
                not space.regions.overlapping(hint, hint + size):
            return hint
        start = space.regions.free_gap(size, layout.mmap_bottom, layout.mmap_top,
                                       top_down=True)
        if start is None:
            start = space.regions.free_gap(size, user_min, layout.mmap_bottom, top_down=True)
        if start is None:
            raise VmError(linux.ENOMEM, f"mmap: no free {size:#x} bytes left")
        return start

    # -- the others ----------------------------------------------------------------------

    def munmap(self, pid: int, addr: int, length: int) -> None:
        proc, space = self._space(pid)
        if length <= 0:
            raise VmError(linux.EINVAL, "munmap: length must be positive")
        end = self._aligned(space, addr, length, "munmap")
        if end > space.layout.user_top:
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
        backing = region.backing
        if not isinstance(backing, FileObject) or not region.shared:
            return 0
        start = region.start if start is None else max(start, region.start)
        end = region.end if end is None else min(end, region.end)
        first = (region.offset + start - region.start) // PAGE_SIZE
        return backing.write_back(first, first + (end - start) // PAGE_SIZE)

    def mprotect(self, pid: int, addr: int, length: int, prot: int) -> None:
        proc, space = self._space(pid)
        prot = _prot(prot)
        end = self._aligned(space, addr, length, "mprotect")
        self._mapped(space, addr, end, "mprotect")
        regions = space.regions.overlapping(addr, end)
        for region in regions:
            if region.kind in KERNEL_KINDS:
                raise VmError(linux.EACCES, f"mprotect: {region.name or region.kind} is the "
                                            f"kernel's")
            backing = region.backing
            if isinstance(backing, FileObject) and region.shared and \
                    prot & Prot.WRITE and not self._writable_file(proc, backing.path):
                raise VmError(linux.EACCES, "mprotect: the file is not open for writing")
        for region in space.carve(addr, end):
            set_protection(space, region, prot)
        space.regions.merge(addr, end)

    def _writable_file(self, proc: Process, path: str) -> bool:
        return any(getattr(f, "path", None) == path and f.writable
                   for f in proc.files.files.values())

    def brk(self, pid: int, want: int) -> int:
        """Linux semantics: returns the new break, or the old one when it cannot move."""
        _, space = self._space(pid)
        if want < space.brk_start or want > space.layout.brk_max:
            return space.brk
        old_end, new_end = page_up(space.brk), page_up(want)
        region = next((r for r in space.regions if r.kind is RegionKind.BRK), None)
        try:
            if new_end > old_end:
                if region is None:
                    space.add_region(old_end, new_end, Prot.READ | Prot.WRITE, RegionKind.BRK,
                                     "[heap]")
                else:
                    space.regions.resize(region, region.start, new_end)
            elif new_end < old_end and region is not None:
                space.unmap(new_end, old_end)
                if new_end <= region.start:
                    space.regions.remove(region)
                else:
                    space.regions.resize(region, region.start, new_end)
        except MappingError:
            return space.brk
        space.brk = want
        return want

    def mremap(self, pid: int, addr: int, old_size: int, new_size: int, flags: int,
               new_addr: int = 0) -> int:
        """Grow or shrink a mapping, in place when the space after it is free, else moved
        (MREMAP_MAYMOVE; MREMAP_FIXED: to ``new_addr``); its pages keep their frames."""
        _, space = self._space(pid)
        if addr % PAGE_SIZE or not new_size or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED) or \
                flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
            raise VmError(linux.EINVAL, "mremap: bad address, size or flags")
        old_end = addr + page_up(old_size)
        new_size = page_up(new_size)
        region = space.find(addr)
        user_top = space.layout.user_top
        if not old_size or region is None or old_end > region.end or old_end > user_top:
            raise VmError(linux.EFAULT, f"mremap: {addr:#010x}+{old_size:#x} is not one "
                                        f"mapping")
        if region.kind in KERNEL_KINDS:
            raise VmError(linux.EINVAL, "mremap: the kernel's mapping")
        old_size = old_end - addr
        if flags & MREMAP_FIXED:
            return self._move(space, region, addr, old_size, new_size, new_addr)
        if new_size <= old_size:
            if new_size < old_size:
                self._unmap(space, addr + new_size, old_end, "mremap")
            return addr
        grow_end = addr + new_size
        if old_end == region.end and grow_end <= user_top and \
                not space.regions.overlapping(old_end, grow_end):
            space.carve(addr, old_end)
            space.regions.resize(space.find(addr), space.find(addr).start, grow_end)
            return addr
        if not flags & MREMAP_MAYMOVE:
            raise VmError(linux.ENOMEM, "mremap: no room to grow in place")
        layout = space.layout
        target = space.regions.free_gap(new_size, layout.mmap_bottom, layout.mmap_top,
                                        top_down=True)
        if target is None:
            target = space.regions.free_gap(new_size, layout.user_min, layout.mmap_bottom,
                                            top_down=True)
        if target is None:
            raise VmError(linux.ENOMEM, "mremap: no room anywhere")
        return self._move(space, region, addr, old_size, new_size, target)

    def _move(self, space, region, addr: int, old_size: int, new_size: int,
              target: int) -> int:
        layout = space.layout
        if target % PAGE_SIZE or target < layout.user_min or \
                target + new_size > layout.user_top or \
                target < addr + old_size and addr < target + new_size:
            raise VmError(linux.EINVAL, "mremap: bad new address")
        if space.regions.overlapping(target, target + new_size):
            self._unmap(space, target, target + new_size, "mremap")
        (piece,) = space.carve(addr, addr + old_size)
        moved = dataclasses.replace(piece, start=target, end=target + new_size)
        space.regions.insert(moved)
        if moved.backing is not None:
            moved.backing.mapped_region()
        move_pages(space, addr, target, min(old_size, new_size), self.vm.pagefile)
        space.remove_region(piece)
        space.regions.merge(target, target + new_size)
        return target

    def mincore(self, pid: int, addr: int, length: int) -> bytes:
        """One byte per page of [addr, addr+length): 1 if it is in RAM. Faults nothing in."""
        _, space = self._space(pid)
        end = self._aligned(space, addr, length, "mincore")
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
        end = self._aligned(space, addr, length, "msync")
        self._mapped(space, addr, end, "msync")
        return sum(self.sync_region(r, addr, end) for r in space.regions.overlapping(addr, end))

    def madvise(self, pid: int, addr: int, length: int, advice: int) -> None:
        proc, space = self._space(pid)
        end = self._aligned(space, addr, length, "madvise")
        if advice not in (MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
                          MADV_DONTNEED):
            raise VmError(linux.EINVAL, f"madvise: unknown advice {advice}")
        self._mapped(space, addr, end, "madvise")
        if advice == MADV_DONTNEED:  # private pages are dropped: zeros or the file next time
            for region in space.regions.overlapping(addr, end):
                if region.kind in KERNEL_KINDS:
                    raise VmError(linux.EINVAL, "madvise: not for the kernel's mappings")
            space.unmap(addr, end)


class MemoryCalls:
    """The guest side: mmap2 (and the old mmap), munmap, mremap, mprotect, mincore, msync,
    madvise, brk."""

    def __init__(self, linux_memory: LinuxMemory):
        self.linux = linux_memory

    def handlers(self) -> dict:
        return {nr.NR_mmap2: (self.mmap2, 6), nr.NR_mmap: (self.old_mmap, 1),
                nr.NR_munmap: (self.munmap, 2),
                nr.NR_mremap: (self.mremap, 5),
                nr.NR_mprotect: (self.mprotect, 3), nr.NR_mincore: (self.mincore, 3),
                nr.NR_msync: (self.msync, 3), nr.NR_madvise: (self.madvise, 3),
                nr.NR_brk: (self.brk, 1)}

    def mmap2(self, proc: Process, args) -> int:
        addr, length, prot, flags, fd, pgoff = args
        return self.linux.mmap(proc.pid, addr, length, prot, flags, signed32(fd),
                               pgoff * PAGE_SIZE)

    def old_mmap(self, proc: Process, args) -> int:
        """i386's first mmap: its six arguments in a block in memory, the offset in bytes
        (old_mmap in arch/x86/kernel/sys_i386_32.c: EINVAL unless page-aligned)."""
        addr, length, prot, flags, fd, offset = struct.unpack(
            "<6I", copy_from_user(proc.space, args[0], 24))
        if offset % PAGE_SIZE:
            raise VmError(linux.EINVAL, f"mmap: offset {offset:#x} is not page-aligned")
        return self.linux.mmap(proc.pid, addr, length, prot, flags, signed32(fd), offset)

    def munmap(self, proc: Process, args) -> int:
        self.linux.munmap(proc.pid, args[0], args[1])
        return 0

    def mremap(self, proc: Process, args) -> int:
        return self.linux.mremap(proc.pid, *args[:5])

    def mprotect(self, proc: Process, args) -> int:
        self.linux.mprotect(proc.pid, args[0], args[1], args[2])
        return 0

    def mincore(self, proc: Process, args) -> int:
        addr, length, vec = args[:3]
        copy_to_user(proc.space, vec, self.linux.mincore(proc.pid, addr, length))
        return 0

    def msync(self, proc: Process, args) -> int:
        self.linux.msync(proc.pid, args[0], args[1], args[2])
        return 0

    def madvise(self, proc: Process, args) -> int:
        self.linux.madvise(proc.pid, args[0], args[1], args[2])
        return 0

    def brk(self, proc: Process, args) -> int:
        return self.linux.brk(proc.pid, args[0])
