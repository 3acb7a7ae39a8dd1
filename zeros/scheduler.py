"""The scheduler: round-robin over the runnable processes, with budgets.

Every slice is one ``emu_start``. A slice ends when the process stops by itself (exit, a
fatal fault, sched_yield, waitpid), at its first kernel entry (syscall or page fault) after
its 10 ms are up when someone else is runnable, or, with an instruction budget, after an
instruction slice (Unicorn counts with a hook of its own, about ten times slower: only when
asked).

Why not a timer: Unicorn 2.1.4 can stop asynchronously (``emu_start``'s timeout, or
``emu_stop`` from another thread) in the middle of an instruction, after its store and
before its register write-back, with EIP still on it: resuming runs it again on half-updated
state (docs/unicorn.md). Stops from hooks, and counted stops, are exact. So the
asynchronous timeout is kept for the run's time budget only, and a process stopped by it is
never resumed. A process that makes no syscall and takes no fault keeps the CPU until it
ends or the budget does.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from emu.cpu import Reg
from emu.errors import EmulationError

from . import linux
from .process import Process

if TYPE_CHECKING:
    from .machine import Machine

log = logging.getLogger("zeros")
QUANTUM_US = 10_000  # a time slice
QUANTUM_INSTRUCTIONS = 1_000_000  # an instruction slice, when an instruction budget is set


class Scheduler:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.cpu = machine.cpu
        self.current: Process | None = None  # running now (inside a slice)
        self._loaded: Process | None = None  # whose context is in the CPU
        self._last_pid = 0
        self._switch = False
        self._pause = False
        self._slice_end = 0.0
        self._only: set[int] | None = None

    def forget_loaded(self, proc: Process | None = None) -> None:
        """The CPU no longer holds ``proc``'s state (or anyone's): reload before running."""
        if proc is None or self._loaded is proc:
            self._loaded = None

    @property
    def loaded(self) -> Process | None:
        return self._loaded

    def runnable(self) -> list[Process]:
        only = self._only
        return [p for p in self.machine.processes.values()
                if p.runnable and p.context is not None and (only is None or p.pid in only)]

    def request_switch(self) -> None:
        """End the current slice after this syscall (sched_yield), if anyone else can run."""
        if len(self.runnable()) > 1:
            self._switch = True
            self.cpu.stop()

    def pause(self) -> None:
        """Return from run() after the current slice (a debugger's breakpoint)."""
        self._pause = True
        self.cpu.stop()

    def slice_over(self) -> bool:
        """At a kernel entry: has the running process had its 10 ms?"""
        return time.monotonic() >= self._slice_end

    def preempt_if_due(self) -> None:
        """Called at kernel entries: switch when the slice is over and others wait (else a
        new slice begins for the same process)."""
        now = time.monotonic()
        if now >= self._slice_end:
            self._slice_end = now + QUANTUM_US / 1e6
            self.machine.vdso.update(self.current.space)
            self.request_switch()

    def run(self, max_instructions: int | None, timeout: float | None,
            only: set[int] | None = None) -> str:
        """Run until nothing is runnable, a budget is spent (returns why) or a pause;
        ``only``: schedule just these pids."""
        self._only = only
        try:
            return self._run(max_instructions, timeout)
        finally:
            self._only = None

    def _run(self, max_instructions: int | None, timeout: float | None) -> str:
        deadline = None if not timeout else time.monotonic() + timeout
        insn_left = max_instructions
        self._pause = False
        while True:
            ready = self.runnable()
            if not ready or self._pause:
                return ""
            if deadline is not None and time.monotonic() >= deadline:
                return f"stopped: time budget of {timeout:g} s exhausted"
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
            if count and not self._switch and proc.runnable:
                insn_left -= count

    def _pick(self, ready: list[Process]) -> Process:
        after = [p for p in ready if p.pid > self._last_pid]
        proc = after[0] if after else ready[0]
        self._last_pid = proc.pid
        return proc

    def _run_slice(self, proc: Process, timeout_us: int, count: int) -> None:
        cpu, machine = self.cpu, self.machine
        if self._loaded is not proc or proc.space.tlb_dirty:
            cpu.load_context(proc.context, proc.space.cr3)
            proc.space.tlb_dirty = False
            self._loaded = proc
        if machine.frames.code_dirty:
            cpu.flush_code()
            machine.frames.code_dirty = False
        machine.vdso.ticks += 1
        machine.vdso.update(proc.space)
        self.current, self._switch = proc, False
        self._slice_end = time.monotonic() + QUANTUM_US / 1e6
        try:
            cpu.run(proc.eip, timeout_us, count)
        except EmulationError as error:
            machine.table.kill(proc, linux.SIGKILL, f"killed: the emulator stopped: {error}")
        except Exception as error:  # a kernel bug reached by this process: it alone pays
            log.exception("pid %d (%s): kernel error", proc.pid, proc.name)
            machine.table.kill(proc, linux.SIGKILL, f"killed: kernel error: "
                                                    f"{type(error).__name__}: {error}")
        finally:
            self.current = None
        if proc.alive and proc.context is not None:
            cpu.save_context(proc.context)
            proc.eip = cpu.reg(Reg.EIP)
        if not proc.alive:
            machine.table.reap(proc)
