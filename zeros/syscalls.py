"""The syscall table: ``int 0x80``, Linux i386 convention (EAX number, EBX.. arguments,
result or -errno in EAX). Handlers take the calling process and return the value for EAX,
or None when the process does not return (exit)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from emu.cpu import Reg
from emu.mmu import page_up

from . import linux, sysno
from .errors import AddressError, MappingError, OutOfMemory
from .files import FileError
from .layout import BRK_MAX
from .process import Process
from .regions import Prot

if TYPE_CHECKING:
    from .machine import Machine

log = logging.getLogger("zeros.syscalls")
MAX_WRITE = 1 << 20  # bytes moved by one write(); more is a short write, as POSIX allows

Handler = Callable[[Process], "int | None"]


class Syscalls:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.cpu = machine.cpu
        self.table: dict[int, Handler] = {}
        self._warned: set[tuple[int, int]] = set()
        self.register(sysno.SYS_exit, self.sys_exit)
        self.register(sysno.SYS_exit_group, self.sys_exit)
        self.register(sysno.SYS_write, self.sys_write)
        self.register(sysno.SYS_getpid, self.sys_getpid)
        self.register(sysno.SYS_brk, self.sys_brk)
        self.register(sysno.SYS_sched_yield, self.sys_sched_yield)
        self.register(sysno.SYS_fork, self.sys_fork)
        self.register(sysno.SYS_waitpid, self.sys_waitpid)

    def register(self, number: int, handler: Handler) -> None:
        self.table[number] = handler

    def dispatch(self) -> None:
        """The CPU's int 0x80 handler."""
        cpu = self.cpu
        number = cpu.syscall_number()
        machine = self.machine
        proc = machine.current
        proc.syscalls += 1
        handler = self.table.get(number)
        result = handler(proc) if handler is not None else self.unknown(proc, number)
        if result is not None:
            cpu.set_result(result)
        if machine.frames.code_dirty or proc.space.tlb_dirty:
            machine.after_kernel_entry(proc)
        if machine.scheduler.slice_over():
            machine.scheduler.preempt_if_due()

    def unknown(self, proc: Process, number: int) -> int:
        level = logging.DEBUG if (proc.pid, number) in self._warned else logging.WARNING
        self._warned.add((proc.pid, number))
        log.log(level, "pid %d (%s): unknown syscall %d at %#010x, returning -ENOSYS",
                proc.pid, proc.name, number, self.cpu.reg(Reg.EIP))
        return -linux.ENOSYS

    # -- handlers ------------------------------------------------------------------------

    def sys_exit(self, proc: Process) -> None:
        status = self.cpu.reg(Reg.EBX)
        self.machine.exit_process(proc, status & 0xFF)
        return None

    def sys_getpid(self, proc: Process) -> int:
        return proc.pid

    def user_string(self, proc: Process, va: int, limit: int = 4096) -> str:
        """A NUL-terminated UTF-8 string of the guest (AddressError, ValueError if too long,
        UnicodeDecodeError)."""
        out = b""
        while len(out) < limit:
            at = va + len(out)
            chunk = self.machine.copy_from_user(proc, at, min(256, 0x1000 - (at & 0xFFF)))
            end = chunk.find(b"\0")
            if end >= 0:
                return (out + chunk[:end]).decode()
            out += chunk
        raise ValueError("string too long")

    def sys_write(self, proc: Process) -> int:
        fd, buf, count = self.cpu.syscall_args()[:3]
        if fd not in (1, 2) and (proc.files is None or fd not in proc.files.files):
            return -linux.EBADF
        count = min(count, MAX_WRITE)
        try:
            data = self.machine.copy_from_user(proc, buf, count)
        except AddressError:
            return -linux.EFAULT
        if fd in (1, 2):
            self.machine.emit_output(proc, fd, data)
            return len(data)
        try:
            return proc.files.write(fd, data)
        except FileError as error:
            return -error.errno

    def sys_fork(self, proc: Process) -> int:
        try:
            return self.machine.table.fork(proc)
        except OutOfMemory:
            return -linux.ENOMEM

    def sys_waitpid(self, proc: Process) -> int | None:
        pid, status_va, options = self.cpu.syscall_args()[:3]
        pid = pid - (1 << 32) if pid & 0x80000000 else pid
        try:
            return self.machine.table.waitpid(proc, pid, status_va, options)
        except AddressError:
            return -linux.EFAULT

    def sys_sched_yield(self, proc: Process) -> int:
        self.machine.request_switch()
        return 0

    def sys_brk(self, proc: Process) -> int:
        """Linux semantics: returns the new break, or the old one when it cannot move."""
        space = proc.space
        want = self.cpu.reg(Reg.EBX)
        if want < space.brk_start or want > BRK_MAX:
            return space.brk
        old_end, new_end = page_up(space.brk), page_up(want)
        region = next((r for r in space.regions if r.kind == "brk"), None)
        try:
            if new_end > old_end:
                if region is None:
                    space.add_region(old_end, new_end, Prot.READ | Prot.WRITE, "brk", "[heap]")
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
