"""The syscall table: ``int 0x80``, Linux i386 convention (EAX number, EBX ECX EDX ESI EDI
EBP arguments, the result or -errno in EAX).

A handler is ``handler(process, args) -> int | None``: ``args`` are the six argument
registers as unsigned 32-bit values (only as many as it registered for are read); it returns
the value for EAX, or None when the process does not return to the same code (exit, execve,
sigreturn). A handler that fails raises a :class:`zeros.errors.ZerosError`: the dispatcher
turns it into ``-errno`` (:func:`zeros.errors.errno_of`, the one mapping). A handler that
cannot complete yet raises :class:`zeros.proc.process.WouldBlock`: the process sleeps and the
scheduler runs the same call again later (it must not have changed anything before raising).
Anything else it raises is a kernel bug: the process that reached it is killed (see the
scheduler), never the host.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from emu.cpu import Cpu

from ..errors import ZerosError, errno_of
from ..proc.process import WAITING, Blocked, Process, WouldBlock
from ..proc.scheduler import Scheduler
from ..proc.table import ProcessTable
from ..uapi import errno
from ..vm.maps import note_maps

log = logging.getLogger("zeros.syscalls")

Args = tuple[int, ...]
Handler = Callable[[Process, Args], "int | None"]


class Syscalls:
    def __init__(self, cpu: Cpu, table: ProcessTable, scheduler: Scheduler):
        self.cpu = cpu
        self.table = table
        self.scheduler = scheduler
        self.handlers: dict[int, tuple[Handler, int]] = {}
        self.recorder = None  # zeros.record.Recorder: each call names the changes it makes
        self._warned: set[tuple[int, int]] = set()

    def register(self, number: int, handler: Handler, nargs: int = 6) -> None:
        """``handler`` answers syscall ``number``; it reads ``nargs`` argument registers."""
        self.handlers[number] = (handler, nargs)

    def register_all(self, handlers: dict[int, tuple[Handler, int]]) -> None:
        for number, (handler, nargs) in handlers.items():
            self.register(number, handler, nargs)

    def dispatch(self) -> None:
        """The CPU's int 0x80 handler."""
        cpu = self.cpu
        number = cpu.syscall_number()
        proc = self.table.current
        proc.syscalls += 1
        entry = self.handlers.get(number)
        recorder = self.recorder
        if entry is None:
            result = self.unknown(proc, number)
        else:
            handler, nargs = entry
            if recorder is not None:
                recorder.cause = getattr(handler, "__name__", str(number))
            args = cpu.syscall_args() if nargs else ()
            try:
                result = handler(proc, args)
            except ZerosError as error:
                result = -errno_of(error)
            except WouldBlock as wait:  # asleep until the call can complete
                proc.blocked = Blocked(functools.partial(handler, proc, args), number,
                                       wake_at=wait.wake_at)
                proc.state = WAITING
                cpu.stop()
                return
        if result is not None:
            cpu.set_result(result)
        if recorder is not None:
            note_maps(recorder, self.table.processes)
            recorder.cause = "user"
        self.scheduler.return_to_user(proc)

    def unknown(self, proc: Process, number: int) -> int:
        level = logging.DEBUG if (proc.pid, number) in self._warned else logging.WARNING
        self._warned.add((proc.pid, number))
        log.log(level, "pid %d (%s): unknown syscall %d at %#010x, returning -ENOSYS",
                proc.pid, proc.name, number, self.cpu.reg(self.cpu.pc_reg))
        return -errno.ENOSYS
