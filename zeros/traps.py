"""CPU exceptions raised by user code: page faults resolved or fatal, and every other trap."""

from __future__ import annotations

import signal as _signal
from typing import TYPE_CHECKING

from emu.cpu import Trap
from emu.mmu import PfError

from . import linux
from .errors import OutOfMemory
from .layout import USER_TOP
from .process import Fault
from .report import describe, fault_report, fault_walk

if TYPE_CHECKING:
    from .machine import Machine


_WRITE, _PRESENT = int(PfError.W), int(PfError.P)  # ints: IntFlag math is slow


class Traps:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.vm = machine.vm

    def page_fault(self, cr2: int, code: int) -> bool:
        """The CPU's fast path for #PF: True when resolved (the instruction runs again);
        False sends it on to handle() as a Trap, for the report."""
        machine = self.machine
        scheduler = machine.scheduler
        proc = scheduler.current
        try:
            if cr2 >= USER_TOP or not self.vm.resolve(proc.space, cr2, code & _WRITE != 0,
                                                      code & _PRESENT != 0):
                return False
        except OutOfMemory:
            return False
        if machine.frames.code_dirty or proc.space.tlb_dirty:
            machine.after_kernel_entry(proc)
        if scheduler.slice_over():
            scheduler.preempt_if_due()
        return True

    def handle(self, trap: Trap) -> None:
        """The CPU's trap handler. Page faults first, and quickly: they are most traps."""
        machine = self.machine
        scheduler = machine.scheduler
        proc = scheduler.current
        if trap.vector == 14 and not trap.software:
            code, cr2 = trap.error_code, trap.cr2
            try:
                if cr2 < USER_TOP and self.vm.resolve(proc.space, cr2, code & _WRITE != 0,
                                                      code & _PRESENT != 0):
                    if machine.frames.code_dirty or proc.space.tlb_dirty:
                        machine.after_kernel_entry(proc)
                    if scheduler.slice_over():
                        scheduler.preempt_if_due()
                    return
            except OutOfMemory as error:
                machine.kill(proc, linux.SIGKILL, f"out of memory: {error}")
                return
        if trap.vector == 3 and trap.software and machine.breakpoint_handlers:
            for handler in machine.breakpoint_handlers:
                handler(proc)
            return
        if trap.software and trap.vector not in (3, 4):
            # `int n` towards a gate of DPL 0: the CPU raises #GP(n*8+2) instead
            what = f"int {trap.vector:#x} from ring 3: no interrupt gate of DPL 3"
            self.kill(proc, Trap(13, trap.eip - 2, trap.vector * 8 + 2, 0, True), what)
            return
        self.kill(proc, trap)

    def kill(self, proc, trap: Trap, what: str | None = None) -> None:
        signal = linux.VECTOR_SIGNALS.get(trap.vector, linux.SIGSEGV)
        signal_name = _signal.Signals(signal).name
        w = fault_walk(proc, trap) if trap.vector == 14 else None
        what = what or describe(trap, w)
        report = fault_report(proc, trap, signal_name, w, what)
        fault = Fault(trap.vector, trap.name, trap.eip, trap.cr2, trap.error_code, signal,
                      report, w, what)
        self.machine.kill(proc, signal, f"killed by {signal_name}: {what}", fault)
