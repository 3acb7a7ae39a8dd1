"""The scheduler: round-robin over the runnable processes, with budgets.

Every slice is one ``emu_start``. A slice ends when the process stops by itself (exit, a
fatal fault, sched_yield, a call that has to wait), at its first kernel entry (syscall or
page fault) after its 10 ms are up when someone else is runnable (with the virtual clock:
after 1000 kernel entries, so that runs repeat), or, with an instruction budget, after an
instruction slice (Unicorn counts with a hook of its own, about ten times slower: only when
asked).

Why not a timer: Unicorn 2.1.4 can stop asynchronously (``emu_start``'s timeout, or
``emu_stop`` from another thread) in the middle of an instruction, after its store and
before its register write-back, with EIP still on it: resuming runs it again on half-updated
state (docs/unicorn.md). Stops from hooks, and counted stops, are exact. So an
asynchronous stop is kept for the run's time budget only (the CPU's watchdog thread, which
sleeps until the deadline: Unicorn's own timeout polled), and a process stopped by it is
never resumed. A process that makes no syscall and takes no fault keeps the CPU until it
ends or the budget does.

Between slices: a process asleep in a syscall has the call run again (or interrupted by a
signal: -EINTR, or restarted with SA_RESTART); pending signals are delivered before a
process runs (a frame on its stack, or the default action); its TLS descriptors go into the
GDT. Every way back from the kernel to a guest goes through :meth:`Scheduler.return_to_user`:
translated code and TLB entries the kernel made stale are dropped there, and a process whose
slice is over, or that has a signal to take, is stopped there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from emu.cpu import Cpu
from emu.errors import EmulationError

from .. import budget
from ..errors import AddressError, HandlerError, ZerosError, errno_of
from ..mm.frames import FrameAllocator
from ..uapi import errno
from ..uapi.signals import SIGKILL, SIGSEGV, signal_name
from .clock import Clock
from .process import READY, WAITING, Process, WouldBlock
from .signals import SA_RESTART, SIG_DFL, Signals, default_action
from .table import ProcessTable
from .tls import ThreadAreas
from .vdso import Vdso

log = logging.getLogger("zeros")
QUANTUM_US = 10_000  # a time slice
QUANTUM_ENTRIES = 1000  # a slice in kernel entries, with the virtual clock
QUANTUM_INSTRUCTIONS = 1_000_000  # an instruction slice, when an instruction budget is set
NO_RESTART = {162, 267, 407, 29, 179, 72}  # nanosleep, clock_nanosleep, pause, sigsuspend


class Scheduler:
    def __init__(self, cpu: Cpu, table: ProcessTable, frames: FrameAllocator, vdso: Vdso,
                 signals: Signals, tls: ThreadAreas, clock: Clock):
        self.cpu = cpu
        self.table = table
        self.frames = frames
        self.vdso = vdso
        self.signals = signals
        self.tls = tls
        self.clock = clock
        self._loaded: Process | None = None  # whose context is in the CPU
        self._last_pid = 0
        self._switch = False
        self._pause = False
        self._slice_end = 0.0
        self._slice_end_entries = 0
        self._only: set[int] | None = None
        self._poll: Callable[[], bool] | None = None

    @property
    def current(self) -> Process | None:
        return self.table.current

    @property
    def loaded(self) -> Process | None:
        return self._loaded

    def forget_loaded(self, proc: Process | None = None) -> None:
        """The CPU no longer holds ``proc``'s state (or anyone's): reload before running."""
        if proc is None or self._loaded is proc:
            self._loaded = None

    def _eligible(self, proc: Process) -> bool:
        return proc.context is not None and (self._only is None or proc.pid in self._only)

    def runnable(self) -> list[Process]:
        return [p for p in self.table.processes.values()
                if p.runnable and self._eligible(p)]

    def request_switch(self) -> None:
        """End the current slice after this syscall (sched_yield), if anyone else can run."""
        if len(self.runnable()) > 1:
            self._switch = True
            self.cpu.stop()

    def pause(self) -> None:
        """Return from run() after the current slice (a debugger's breakpoint)."""
        self._pause = True
        self.cpu.stop()

    # -- the way back to the guest --------------------------------------------------------

    def return_to_user(self, proc: Process) -> None:
        """At the end of every kernel entry (syscall, resolved fault): drop stale
        translations the kernel made; stop for a signal to take or at the end of the
        slice."""
        clock = self.clock
        clock.entries += 1
        frames = self.frames
        if frames.code_dirty:
            self.cpu.flush_code()
            frames.code_dirty = False
        if proc.space.tlb_dirty and self._loaded is proc:
            self.cpu.flush_tlb()
            proc.space.tlb_dirty = False
            if self.frames.recorder is not None:
                self.frames.recorder.tlb_flush(proc.pid)
        if proc.sig.pending and proc.sig.deliverable() is not None:
            self.cpu.stop()
            return
        if clock.virtual:
            if clock.entries >= self._slice_end_entries:
                self._slice_end_entries = clock.entries + QUANTUM_ENTRIES
                self.vdso.update(proc.space)
                self.request_switch()
        elif time.monotonic() >= self._slice_end:
            self._slice_end = time.monotonic() + QUANTUM_US / 1e6
            self.vdso.update(proc.space)
            self.request_switch()

    # -- sleepers ------------------------------------------------------------------------

    def _wake_sleepers(self) -> None:
        for proc in list(self.table.processes.values()):
            if proc.state == WAITING and proc.blocked is not None and self._eligible(proc):
                self._try_wake(proc)

    def wake(self, proc: Process) -> bool:
        """Try to finish the call ``proc`` sleeps in (a debugger stepping over it while
        others run); True when it is ready to run again."""
        if proc.state == WAITING and proc.blocked is not None:
            self._try_wake(proc)
        return proc.state == READY

    def _try_wake(self, proc: Process) -> None:
        blocked = proc.blocked
        signal = proc.sig.deliverable() if proc.sig.pending else None
        restart = False
        if signal is not None:
            action = proc.sig.action(signal)
            restart = bool(action.flags & SA_RESTART) and action.handler != SIG_DFL and \
                blocked.restartable and blocked.number not in NO_RESTART
            result = -errno.EINTR
        else:
            try:
                result = blocked.retry()
            except WouldBlock as again:
                blocked.wake_at = again.wake_at
                return
            except ZerosError as error:
                result = -errno_of(error)
            except Exception as error:  # a kernel bug reached by this process: it alone pays
                log.exception("pid %d (%s): kernel error", proc.pid, proc.name)
                self.table.kill(proc, SIGKILL, f"killed: kernel error: "
                                               f"{type(error).__name__}: {error}")
                return
        ctx = proc.context
        if restart:  # back to the int 0x80, with the call's number, after the handler
            self.cpu.set_context_reg(ctx, self.cpu.pc_reg, proc.eip - 2)  # (syscall: 2 bytes
            self.cpu.set_context_reg(ctx, self.cpu.ax_reg, blocked.number)  # as well)
            proc.eip -= 2
        else:
            self.cpu.set_context_reg(ctx, self.cpu.ax_reg, result)
        proc.blocked = None
        proc.sleep_until = None
        proc.state = READY
        proc.context_changed = True

    def _idle(self, deadline: float | None) -> str | None:
        """Nothing can run: wait for the first sleeper to wake (or jump to it, with the
        virtual clock). A reason when nothing ever will."""
        sleepers = [p for p in self.table.processes.values()
                    if p.state == WAITING and p.blocked is not None and self._eligible(p)]
        if not sleepers:
            return ""
        wakes = [p.blocked.wake_at for p in sleepers if p.blocked.wake_at is not None]
        if not wakes:
            return "stopped: deadlock: every process is waiting for another"
        wake = min(wakes)
        if self.clock.virtual:
            self.clock.sleep_until(wake)
            return None
        delay = (wake - self.clock.monotonic_ns()) / 1e9
        if deadline is not None:
            delay = min(delay, deadline - time.monotonic())
        if delay > 0:
            time.sleep(min(delay, 0.1))
        return None

    # -- signals -------------------------------------------------------------------------

    def _deliver(self, proc: Process) -> bool:
        """Deliver pending signals before ``proc`` runs; False when one ended it."""
        while proc.sig.pending:
            taken = self.signals.next(proc)
            if taken is None:
                return True
            signal, pending, action = taken
            if action.handler == SIG_DFL or signal == SIGKILL:
                if default_action(signal) == "ignore" and signal != SIGKILL:
                    continue
                self.table.kill(proc, signal, f"killed by {signal_name(signal)}")
                return False
            try:
                self.signals.push_frame(proc, signal, pending, action)
            except AddressError as error:
                self.table.kill(proc, SIGSEGV, f"killed by SIGSEGV: the stack cannot take "
                                               f"the frame for {signal_name(signal)}: {error}")
                return False
            proc.context_changed = True
        return True

    # -- running -------------------------------------------------------------------------

    def run(self, max_instructions: int | None, timeout: float | None,
            only: set[int] | None = None, poll: Callable[[], bool] | None = None) -> str:
        """Run until nothing is runnable, a budget is spent (returns why) or a pause;
        ``only``: schedule just these pids; ``poll``: asked between slices (every 10 ms at
        most), True stops the run (a debugger's Ctrl-C)."""
        self._only = only
        self._poll = poll
        try:
            with budget.deadline(time.monotonic() + timeout if timeout else None):
                return self._run(max_instructions, timeout)
        finally:
            self._only = None

    def _run(self, max_instructions: int | None, timeout: float | None) -> str:
        deadline = None if not timeout else time.monotonic() + timeout
        insn_left = max_instructions
        self._pause = False
        next_poll = 0.0
        while True:
            if self._pause:
                return ""
            if self._poll is not None and time.monotonic() >= next_poll:
                if self._poll():
                    return "interrupted"
                next_poll = time.monotonic() + 0.01
            if deadline is not None and time.monotonic() >= deadline:
                return f"stopped: time budget of {timeout:g} s exhausted"
            self._wake_sleepers()
            ready = self.runnable()
            if not ready:
                why = self._idle(deadline)
                if why is None:
                    continue
                return why
            if insn_left is not None and insn_left <= 0:
                return f"stopped: instruction budget of {max_instructions} exhausted"
            proc = self._pick(ready)
            timeout_us = 0  # only the budget: an asynchronous stop is not resumable
            if deadline is not None:
                timeout_us = max(int((deadline - time.monotonic()) * 1e6), 1)
            count = 0
            if insn_left is not None:
                count = min(QUANTUM_INSTRUCTIONS, insn_left) if len(ready) > 1 else insn_left
            self._run_slice(proc, timeout_us, count)
            if deadline is not None and time.monotonic() >= deadline and proc.alive and \
                    not self._switch and not self._pause:
                return f"stopped: time budget of {timeout:g} s exhausted"
            if count:  # a slice that ended early counts the one instruction that ended it
                insn_left -= count if not self._switch and proc.runnable else 1

    def _pick(self, ready: list[Process]) -> Process:
        after = [p for p in ready if p.pid > self._last_pid]
        proc = after[0] if after else ready[0]
        self._last_pid = proc.pid
        return proc

    def _run_slice(self, proc: Process, timeout_us: int, count: int) -> None:
        cpu, table = self.cpu, self.table
        if proc.sig.pending and not self._deliver(proc):
            table.reap(proc)
            return
        if self._loaded is not proc or proc.space.tlb_dirty or proc.context_changed:
            cpu.load_context(proc.context, proc.space.cr3)
            proc.space.tlb_dirty = proc.context_changed = False
            self._loaded = proc
            if self.frames.recorder is not None:
                self.frames.recorder.cr3(proc.pid, proc.space.cr3)
        self.tls.install(proc.tls)
        if self.frames.code_dirty:
            cpu.flush_code()
            self.frames.code_dirty = False
        self.vdso.ticks += 1
        self.vdso.update(proc.space)
        table.current, self._switch = proc, False
        self._slice_end = time.monotonic() + QUANTUM_US / 1e6
        self._slice_end_entries = self.clock.entries + QUANTUM_ENTRIES
        caller_error = None
        try:
            cpu.run(proc.eip, timeout_us, count)
        except EmulationError as error:
            table.kill(proc, SIGKILL, f"killed: the emulator stopped: {error}")
        except HandlerError as error:  # the caller's own hook: not the guest's doing
            caller_error = error.__cause__ or error
            self._pause = True
        except Exception as error:  # a kernel bug reached by this process: it alone pays
            log.exception("pid %d (%s): kernel error", proc.pid, proc.name)
            table.kill(proc, SIGKILL, f"killed: kernel error: {type(error).__name__}: {error}")
        finally:
            table.current = None
        if proc.alive and proc.context is not None and not proc.context_changed:
            cpu.save_context(proc.context)
            proc.eip = cpu.reg(cpu.pc_reg)
        if not proc.alive:
            table.reap(proc)
            self.forget_loaded(proc)
        if caller_error is not None:
            raise caller_error
