"""The process table and each process's life: spawn, fork, exit, kill, wait, reap."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from emu.cpu import Reg

from . import linux
from .errors import NoSuchProcess, OutOfMemory, ProgramError, ZerosError
from .files import FileTable
from .loader import build_stack, map_image, read_program
from .process import EXITED, KILLED, READY, WAITING, Fault, Process

if TYPE_CHECKING:
    from .machine import Machine

log = logging.getLogger("zeros")
EXPLOIT_PID = 10000  # reserved for the ZerOS KernelMemory program
WNOHANG = 1


class ProcessTable:
    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.processes: dict[int, Process] = {}
        self._next_pid = 1

    def new_pid(self) -> int:
        pid = self._next_pid
        while pid in self.processes or pid == EXPLOIT_PID:
            pid += 1
        self._next_pid = pid + 1
        return pid

    def get(self, pid: int) -> Process:
        try:
            return self.processes[pid]
        except KeyError:
            raise NoSuchProcess(pid) from None

    # -- birth ---------------------------------------------------------------------------

    def spawn(self, program, name: str | None, argv: list[str] | None,
              env: list[str] | None) -> int:
        machine = self.machine
        image, source = read_program(program)
        pid = self.new_pid()
        if name is None:
            base = os.path.basename(source)
            name = os.path.splitext(base)[0] if source != "<bytes>" else f"Program-{pid}"
        space = machine.new_address_space(pid)
        try:
            map_image(space, image, source)
            machine.vdso.setup(space)
            esp = build_stack(space, argv or [name], env or [], image.entry)
        except (ProgramError, OutOfMemory, ZerosError) as error:
            space.destroy()
            if isinstance(error, OutOfMemory):
                raise OutOfMemory(f"RAM too small to load {source}: {error}") from None
            raise
        proc = Process(pid, name, source, space, files=FileTable(machine.root))
        proc.context = machine.cpu.new_user_context(image.entry, esp, space.cr3)
        proc.eip = image.entry
        machine.scheduler.forget_loaded()  # new_user_context used the CPU
        self.processes[pid] = proc
        return pid

    def fork(self, parent: Process) -> int:
        """A copy of the running ``parent``, which is in its fork syscall: the child
        returns 0 from it, with the parent's memory shared copy-on-write."""
        machine = self.machine
        pid = self.new_pid()
        space = machine.new_address_space(pid)
        try:
            machine.vm.copy_space(parent.space, space)
            machine.vdso.add_vvar(space)
        except OutOfMemory:
            space.destroy()
            raise
        child = Process(pid, parent.name, parent.path, space, files=parent.files.copy(),
                        parent=parent.pid)
        child.context = machine.cpu.save_new_context()
        machine.cpu.set_context_reg(child.context, Reg.EAX, 0)
        child.eip = machine.cpu.reg(Reg.EIP)
        self.processes[pid] = child
        return pid

    # -- death ---------------------------------------------------------------------------

    def exit(self, proc: Process, status: int) -> None:
        proc.state, proc.exit_code = EXITED, status
        self._finished(proc)

    def kill(self, proc: Process, signal: int, message: str, fault: Fault | None = None) -> None:
        proc.state, proc.signal, proc.exit_code = KILLED, signal, 128 + signal
        proc.message, proc.fault = message, fault
        if fault is None:
            log.info("pid %d (%s) %s", proc.pid, proc.name, message)
        self._finished(proc)

    def _finished(self, proc: Process) -> None:
        for handler in self.machine.exit_handlers:  # its memory is still all there
            handler(proc)
        scheduler = self.machine.scheduler
        if scheduler.current is proc:
            self.machine.cpu.stop()
        else:
            self.reap(proc)
        parent = self.processes.get(proc.parent)
        if parent is not None and parent.state == WAITING:
            self._try_wait(parent)

    def reap(self, proc: Process) -> None:
        """Give back every frame of a finished process (its CPU state is dropped)."""
        if proc.space.tables.pd:
            proc.space.destroy()
        proc.context = None
        self.machine.scheduler.forget_loaded(proc)
        manager = self.machine.memory_manager_if_started
        if manager is not None:
            manager.process_ended(proc.pid)

    # -- waiting -------------------------------------------------------------------------

    def waitpid(self, proc: Process, pid: int, status_va: int, options: int) -> int | None:
        """-ECHILD, a finished child's pid (its status written), 0 (WNOHANG), or None: the
        caller sleeps until a child finishes."""
        children = [p for p in self.processes.values()
                    if p.parent == proc.pid and not p.reaped and (pid == -1 or p.pid == pid)]
        if not children:
            return -linux.ECHILD
        proc.waiting_for = (pid, status_va)
        done = self._try_wait(proc, return_value=True)
        if done is not None:
            return done
        if options & WNOHANG:
            proc.waiting_for = None
            return 0
        proc.state = WAITING
        self.machine.cpu.stop()
        return None

    def _try_wait(self, parent: Process, return_value: bool = False) -> int | None:
        wanted, status_va = parent.waiting_for
        for child in self.processes.values():
            if child.parent != parent.pid or child.reaped or child.alive:
                continue
            if wanted not in (-1, child.pid):
                continue
            child.reaped = True
            status = (child.signal & 0x7F) if child.state == KILLED else \
                (child.exit_code & 0xFF) << 8
            if status_va:
                self.machine.write_virt(parent.pid, status_va, status.to_bytes(4, "little"))
            parent.waiting_for = None
            if return_value:
                return child.pid
            self.machine.cpu.set_context_reg(parent.context, Reg.EAX, child.pid)
            self.machine.scheduler.forget_loaded(parent)
            parent.state = READY
            return child.pid
        return None
