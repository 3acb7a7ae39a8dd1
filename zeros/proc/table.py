"""The process table and each process's life: spawn, fork, exit, kill, wait, reap.

One way to end a process: :meth:`ProcessTable.exit` or :meth:`ProcessTable.kill` (both go
through ``_finish``). Who cares about a process ending says so with a hook the composer
wires: ``on_exit`` runs while its memory is all there (the views), ``on_reaped`` after its
memory went back (the ZerOS MemoryManager forgets it).

``current`` is the process whose time slice is running (set by the scheduler); a process
that finishes while current stops the CPU, and is reaped when its slice has ended.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from emu.cpu import Cpu, Reg

from ..errors import (
    AddressError,
    NoSuchProcess,
    OutOfMemory,
    ProgramError,
    SyscallError,
    ZerosError,
)
from ..layout import EXPLOIT_PID
from ..uapi import errno
from ..uapi.wait import WNOHANG
from ..vm.memory import VirtualMemory
from ..vm.uaccess import copy_to_user
from .files import FileTable
from .loader import build_stack, map_image, read_program
from .process import EXITED, KILLED, READY, WAITING, Fault, Process
from .vdso import Vdso

log = logging.getLogger("zeros")
MAX_PROCESSES = 1024  # fork gives -EAGAIN beyond this (Linux: RLIMIT_NPROC)
MAX_ARG_BYTES = 128 << 10  # argv and env together (Linux: E2BIG past its ARG_MAX)


def _call_hook(hook, argument) -> None:
    """An exit or reap hook that fails is logged: a process's end is never left half done
    (its memory back, its parent woken) because of one."""
    try:
        hook(argument)
    except Exception:
        log.exception("hook %r failed", hook)


def _check_strings(what: str, values) -> None:
    if values is None:
        return
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ProgramError(f"{what} must be a list of strings, not {values!r}")
    total = 0
    for value in values:
        if not isinstance(value, str) or "\0" in value:
            raise ProgramError(f"{what}: {value!r} is not a string without NUL")
        total += len(value.encode(errors="surrogateescape")) + 1
    if total > MAX_ARG_BYTES:
        raise ProgramError(f"{what}: {total} bytes is more than the {MAX_ARG_BYTES} allowed")


class ProcessTable:
    def __init__(self, cpu: Cpu, vm: VirtualMemory, vdso: Vdso, root: str):
        self.cpu = cpu
        self.vm = vm
        self.vdso = vdso
        self.root = root
        self.processes: dict[int, Process] = {}
        self.current: Process | None = None  # whose slice is running (the scheduler's)
        self.on_exit: list[Callable[[Process], None]] = []
        self.on_reaped: list[Callable[[int], None]] = []
        self._next_pid = 1
        self.live = 0  # processes not yet finished

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

    def space_of(self, pid: int):
        """The address space of a live ``pid`` (NoSuchProcess if it has none)."""
        proc = self.get(pid)
        if not proc.space.alive:
            raise NoSuchProcess(pid)
        return proc.space

    # -- birth ---------------------------------------------------------------------------

    def spawn(self, program, name: str | None, argv: list[str] | None,
              env: list[str] | None) -> int:
        _check_strings("argv", argv)
        _check_strings("env", env)
        if name is not None and (not isinstance(name, str) or not name or "\0" in name):
            raise ProgramError(f"name must be a non-empty string, not {name!r}")
        image, source = read_program(program)
        if isinstance(image.entry, bool) or not isinstance(image.entry, int) or \
                not 0 <= image.entry < 1 << 32:
            raise ProgramError(f"{source}: entry point {image.entry!r} is not an address")
        if self.live >= MAX_PROCESSES:
            raise ProgramError(f"the process table is full ({MAX_PROCESSES} processes)")
        pid = self.new_pid()
        if name is None:
            base = os.path.basename(source)
            name = os.path.splitext(base)[0] if source != "<bytes>" else f"Program-{pid}"
        space = self.vm.new_space(pid)
        try:
            map_image(space, image, source)
            self.vdso.setup(space)
            esp = build_stack(space, argv or [name], env or [], image.entry)
        except BaseException as error:
            space.destroy()
            if isinstance(error, OutOfMemory):
                raise OutOfMemory(f"RAM too small to load {source}: {error}") from None
            raise
        proc = Process(pid, name, source, space, files=FileTable(self.root))
        proc.context = self.cpu.new_user_context(image.entry, esp, space.cr3)
        proc.eip = image.entry
        self.processes[pid] = proc
        self.live += 1
        return pid

    def adopt(self, pid: int, name: str) -> Process:
        """A process that runs no code, only has memory (a ZerOS memory-only program)."""
        if pid in self.processes:
            raise ZerosError(f"pid {pid} is taken")
        proc = Process(pid, name, "", self.vm.new_space(pid), state=READY,
                       files=FileTable(self.root))
        self.processes[pid] = proc
        self.live += 1
        return proc

    def remove(self, proc: Process) -> None:
        """Forget a process that runs no code, giving back its memory."""
        if proc.space.alive:
            proc.space.destroy()
        if self.processes.pop(proc.pid, None) is not None and proc.alive:
            self.live -= 1

    def fork(self, parent: Process) -> int:
        """A copy of the running ``parent``, which is in its fork syscall: the child
        returns 0 from it, with the parent's memory shared copy-on-write."""
        if self.live >= MAX_PROCESSES:
            raise SyscallError(errno.EAGAIN, f"the process table is full ({MAX_PROCESSES})")
        pid = self.new_pid()
        space = self.vm.fork_space(parent.space, pid)
        try:
            self.vdso.add_vvar(space)
        except BaseException:
            space.destroy()
            raise
        child = Process(pid, parent.name, parent.path, space, files=parent.files.copy(),
                        parent=parent.pid)
        child.context = self.cpu.save_new_context()
        self.cpu.set_context_reg(child.context, Reg.EAX, 0)
        child.eip = self.cpu.reg(Reg.EIP)
        self.processes[pid] = child
        self.live += 1
        return pid

    # -- death ---------------------------------------------------------------------------

    def exit(self, proc: Process, status: int) -> None:
        if not proc.alive:
            return
        proc.state, proc.exit_code = EXITED, status
        self._finish(proc)

    def kill(self, proc: Process, signal: int, message: str, fault: Fault | None = None) -> None:
        """End ``proc`` by ``signal`` (the one way to kill a process)."""
        if not proc.alive:
            return
        proc.state, proc.signal, proc.exit_code = KILLED, int(signal), 128 + int(signal)
        proc.message, proc.fault = message, fault
        if fault is None:
            log.info("pid %d (%s) %s", proc.pid, proc.name, message)
        self._finish(proc)

    def _finish(self, proc: Process) -> None:
        self.live -= 1
        for handler in self.on_exit:  # its memory is still all there
            _call_hook(handler, proc)
        if self.current is proc:
            self.cpu.stop()  # reaped when the slice has ended
        else:
            self.reap(proc)
        parent = self.processes.get(proc.parent)
        if parent is not None and parent.state == WAITING:
            self._try_wait(parent)

    def reap(self, proc: Process) -> None:
        """Give back every frame of a finished process (its CPU state is dropped)."""
        if proc.space.alive:
            proc.space.destroy()
        proc.context = None
        for handler in self.on_reaped:
            _call_hook(handler, proc.pid)

    # -- waiting -------------------------------------------------------------------------

    def waitpid(self, proc: Process, pid: int, status_va: int, options: int) -> int | None:
        """-ECHILD, a finished child's pid (its status written), 0 (WNOHANG), or None: the
        caller sleeps until a child finishes."""
        children = [p for p in self.processes.values()
                    if p.parent == proc.pid and not p.reaped and (pid == -1 or p.pid == pid)]
        if not children:
            return -errno.ECHILD
        proc.waiting_for = (pid, status_va)
        done = self._try_wait(proc, return_value=True)
        if done is not None:
            return done
        if options & WNOHANG:
            proc.waiting_for = None
            return 0
        proc.state = WAITING
        self.cpu.stop()
        return None

    def _try_wait(self, parent: Process, return_value: bool = False) -> int | None:
        """Collect a finished child of a waiting ``parent``: its status goes to the
        parent's status pointer (-EFAULT if that does not take it; the child is collected
        all the same, as Linux does)."""
        wanted, status_va = parent.waiting_for
        for child in self.processes.values():
            if child.parent != parent.pid or child.reaped or child.alive:
                continue
            if wanted not in (-1, child.pid):
                continue
            child.reaped = True
            status = (child.signal & 0x7F) if child.state == KILLED else \
                (child.exit_code & 0xFF) << 8
            result = child.pid
            if status_va:
                try:
                    copy_to_user(parent.space, status_va, status.to_bytes(4, "little"))
                except AddressError:
                    result = -errno.EFAULT
            parent.waiting_for = None
            if return_value:
                return result
            self.cpu.set_context_reg(parent.context, Reg.EAX, result)
            parent.context_changed = True
            parent.state = READY
            return result
        return None
