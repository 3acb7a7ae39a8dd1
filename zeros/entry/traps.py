"""CPU exceptions raised by user code: the one page-fault entry, and every other trap.

A page fault reaches :meth:`Traps.page_fault` exactly once: it is resolved (the instruction
runs again) or it is not, and then the CPU hands the same fault to :meth:`Traps.handle` as a
:class:`Trap`, which kills the process with a report. Every other exception goes straight to
:meth:`Traps.handle`: int3 to the breakpoint handlers when there are any, the rest to a
signal.
"""

from __future__ import annotations

from collections.abc import Callable

from emu.cpu import Reg, Reg64, Trap, Vector
from emu.mmu import PfError

from ..errors import HandlerError, OutOfMemory, ZerosError
from ..proc.process import Fault, Process
from ..proc.scheduler import Scheduler
from ..proc.signals import SEGV_ACCERR, SEGV_MAPERR, Signals, siginfo
from ..proc.table import ProcessTable
from ..uapi.signals import SIGKILL, SIGSEGV, VECTOR_SIGNALS, signal_name
from ..vm.fault import FaultResolver
from ..vm.maps import note_maps
from ..vm.uaccess import copy_from_user
from .report import describe, fault_report, fault_walk

_WRITE, _PRESENT, _FETCH = int(PfError.W), int(PfError.P), int(PfError.ID)  # ints: fast
_BP, _OF, _PF, _GP = int(Vector.BP), int(Vector.OF), int(Vector.PF), int(Vector.GP)


class Traps:
    def __init__(self, table: ProcessTable, resolver: FaultResolver, scheduler: Scheduler,
                 signals: Signals, counter: Callable[[], int] | None = None):
        self.table = table
        self.resolver = resolver
        self.scheduler = scheduler
        self.signals = signals
        # the time-stamp counter ring 3's rdtsc reads when CR4.TSD makes it trap (None: the
        # CPU's own, and no trap)
        self.counter = counter
        # int3 calls these with the process and then goes on (no handler: SIGTRAP)
        self.breakpoint_handlers: list[Callable[[Process], None]] = []
        # a debugger: called with (process, trap, signal) before the signal a trap raises is
        # sent; True holds it: the CPU stops with the process on the trapping instruction,
        # and the debugger later sends it with release() (or drops it)
        self.debugger: Callable[[Process, Trap, int], bool] | None = None
        self.held: dict[int, tuple[Trap, str | None]] = {}  # pid -> the held trap

    def page_fault(self, cr2: int, code: int) -> bool:
        """The one fault entry: True when resolved (the instruction runs again)."""
        proc = self.table.current
        try:
            if cr2 >= proc.space.layout.user_top or not self.resolver.resolve(
                    proc.space, cr2, code & _WRITE != 0, code & _PRESENT != 0,
                    code & _FETCH != 0):
                return False
        except OutOfMemory as error:
            self.table.kill(proc, SIGKILL, f"out of memory: {error}")
            return False
        self.scheduler.return_to_user(proc)
        return True

    def recorded_page_fault(self, cr2: int, code: int) -> bool:
        """page_fault() while a history is recorded (the machine wires this one instead):
        the resolver names its resolution, and the fault is a row of its own."""
        proc, recorder = self.table.current, self.resolver.frames.recorder
        recorder.cause = "unresolved"
        eip = self.table.cpu.reg(self.table.cpu.pc_reg)
        try:
            resolved = cr2 < proc.space.layout.user_top and self.resolver.resolve(
                proc.space, cr2, code & _WRITE != 0, code & _PRESENT != 0,
                code & _FETCH != 0)
        except OutOfMemory as error:
            recorder.fault(proc.pid, cr2, code, eip, "out of memory")
            recorder.cause = "kill"
            self.table.kill(proc, SIGKILL, f"out of memory: {error}")
            return False
        recorder.fault(proc.pid, cr2, code, eip, recorder.cause if resolved else "unresolved")
        if recorder.cause == "stack":  # the stack region grew
            note_maps(recorder, self.table.processes)
        recorder.cause = "user"
        if resolved:
            self.scheduler.return_to_user(proc)
        return resolved

    def handle(self, trap: Trap) -> None:
        """The CPU's trap handler: a page fault that was not resolved, or any other trap."""
        proc = self.table.current
        if proc is None or not proc.alive:
            return
        if trap.vector == _BP and trap.software and self.breakpoint_handlers:
            for handler in self.breakpoint_handlers:
                try:
                    handler(proc)
                except Exception as error:  # the caller's: run() re-raises it
                    raise HandlerError(f"breakpoint handler {handler!r} raised") from error
            return
        if trap.vector == _GP and self.counter is not None and self._rdtsc(proc, trap.eip):
            return
        if trap.software and trap.vector not in (_BP, _OF):
            # `int n` towards a gate of DPL 0: the CPU raises #GP(n*8+2) instead
            what = f"int {trap.vector:#x} from ring 3: no interrupt gate of DPL 3"
            self.kill(proc, Trap(_GP, trap.eip - 2, trap.vector * 8 + 2, 0, True), what)
            return
        self.kill(proc, trap)

    def _rdtsc(self, proc: Process, eip: int) -> bool:
        """A #GP on ``rdtsc`` (0F 31) or ``rdtscp`` (0F 01 F9) with CR4.TSD set: answer
        EDX:EAX (and ECX, the processor number, for rdtscp) and go on after it."""
        try:
            code = copy_from_user(proc.space, eip, 2)
            if code == b"\x0f\x01":
                code += copy_from_user(proc.space, eip + 2, 1)
        except ZerosError:
            return False
        if code not in (b"\x0f\x31", b"\x0f\x01\xf9"):
            return False
        self.scheduler.return_to_user(proc)  # a kernel entry: the clock moves, [vvar] may
        value, cpu = self.counter(), self.table.cpu  # be refreshed: read the counter after
        ax, dx, cx = (Reg64.RAX, Reg64.RDX, Reg64.RCX) if cpu.mode == 64 else \
            (Reg.EAX, Reg.EDX, Reg.ECX)  # the high halves of RAX, RDX, RCX are cleared
        cpu.set_reg(ax, value & 0xFFFFFFFF)
        cpu.set_reg(dx, value >> 32 & 0xFFFFFFFF)
        if len(code) == 3:
            cpu.set_reg(cx, 0)
        cpu.set_reg(cpu.pc_reg, eip + len(code))
        return True

    def kill(self, proc: Process, trap: Trap, what: str | None = None) -> None:
        """Send ``proc`` the signal Linux sends for ``trap``: to its handler when it has one
        (the faulting instruction runs again after the handler returns), else it dies of it,
        with a fault report."""
        signal = VECTOR_SIGNALS.get(trap.vector, SIGSEGV)
        if self.debugger is not None:
            try:
                held = self.debugger(proc, trap, signal)
            except Exception as error:  # the caller's: run() re-raises it
                raise HandlerError("debugger hook raised") from error
            if held:
                self.held[proc.pid] = (trap, what)
                self.table.cpu.stop()
                return
        self.deliver(proc, trap, what)

    def release(self, proc: Process, send: bool) -> None:
        """A held trap: send its signal now (``send``), or drop it (the instruction runs
        again, and traps again unless the debugger changed something)."""
        held = self.held.pop(proc.pid, None)
        if held is not None and send and proc.alive:
            self.deliver(proc, *held)

    @staticmethod
    def signal_of(proc: Process, trap: Trap) -> tuple[int, int, int]:
        """(signal, si_code, si_addr) Linux sends for ``trap``."""
        signal = VECTOR_SIGNALS.get(trap.vector, SIGSEGV)
        if trap.vector == _PF:
            code = SEGV_ACCERR if proc.space.find(trap.cr2) is not None else SEGV_MAPERR
            return signal, code, trap.cr2
        return signal, 128, trap.eip  # SI_KERNEL

    @staticmethod
    def report(proc: Process, trap: Trap, what: str | None = None):
        """(walk, what, the fault report) for ``trap`` in ``proc``."""
        w = fault_walk(proc, trap) if trap.vector == _PF else None
        what = what or describe(trap, w)
        name = signal_name(VECTOR_SIGNALS.get(trap.vector, SIGSEGV))
        return w, what, fault_report(proc, trap, name, w, what)

    def deliver(self, proc: Process, trap: Trap, what: str | None = None) -> None:
        """Send the signal of ``trap`` now (to its handler, or the process dies of it)."""
        signal, code, address = self.signal_of(proc, trap)
        if self.signals.wants(proc, signal):
            self.signals.send(proc, signal, siginfo(signal, code, addr=address),
                              trapno=trap.vector, error=trap.error_code)
            self.table.cpu.stop()
            return
        name = signal_name(signal)
        w, what, report = self.report(proc, trap, what)
        fault = Fault(trap.vector, trap.name, trap.eip, trap.cr2, trap.error_code, signal,
                      report, w, what)
        self.table.kill(proc, signal, f"killed by {name}: {what}", fault)
