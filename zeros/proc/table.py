"""The process table and each process's life: spawn, fork, exec, exit, kill, wait, reap.

One way to end a process: :meth:`ProcessTable.exit` or :meth:`ProcessTable.kill` (both go
through ``_finish``: descriptors closed, SIGCHLD to the parent). Who cares about a process
ending says so with a hook the composer wires: ``on_exit`` runs while its memory is all there
(the views), ``on_reaped`` after its memory went back, and at an exec, whose old memory goes
too (the ZerOS MemoryManager forgets it).

``current`` is the process whose time slice is running (set by the scheduler); a process
that finishes while current stops the CPU, and is reaped when its slice has ended.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from emu.cpu import Cpu

from ..errors import NoSuchProcess, OutOfMemory, ProgramError, SyscallError, ZerosError
from ..layout import EXPLOIT_PID
from ..uapi import errno
from ..uapi.fcntl import O_RDONLY, O_WRONLY
from ..uapi.signals import SIGCHLD
from ..uapi.wait import WNOHANG
from ..vm.memory import VirtualMemory
from .files import Console, FdTable
from .loader import Auxv, build_stack, map_image, read_program
from .process import EXITED, KILLED, READY, Fault, Process, WouldBlock
from .signals import Signals, siginfo
from .tls import empty_areas
from .vdso import Vdso

log = logging.getLogger("zeros")
MAX_PROCESSES = 1024  # fork gives -EAGAIN beyond this (Linux: RLIMIT_NPROC)
MAX_ARG_BYTES = 128 << 10  # argv and env together (Linux: E2BIG past its ARG_MAX)
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3

Output = Callable[[Process, int, bytes], None]


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
    def __init__(self, cpu: Cpu, vm: VirtualMemory, vdso: Vdso, root: str,
                 signals: Signals, output: Output | None = None, random=os.urandom):
        self.cpu = cpu
        self.vm = vm
        self.vdso = vdso
        self.root = root
        self.signals = signals
        self.output = output  # (process, stream, bytes): what guests write to 1 and 2
        self.random = random  # n -> n random bytes (AT_RANDOM, getrandom)
        self.console_fds: tuple[int, int, int] | None = None  # host descriptors behind 0-2
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
        except (KeyError, TypeError):
            raise NoSuchProcess(pid) from None

    def space_of(self, pid: int):
        """The address space of a live ``pid`` (NoSuchProcess if it has none)."""
        proc = self.get(pid)
        if not proc.space.alive:
            raise NoSuchProcess(pid)
        return proc.space

    # -- birth ---------------------------------------------------------------------------

    def _consoles(self, stdin) -> FdTable:
        files = FdTable(self.root)
        host = self.console_fds or (None, None, None)
        write = self._emit
        files.install(Console(0, O_RDONLY, source=stdin, host_fd=host[0]))
        files.install(Console(1, O_WRONLY, output=write, host_fd=host[1]))
        files.install(Console(2, O_WRONLY, output=write, host_fd=host[2]))
        return files

    def _emit(self, proc: Process, stream: int, data: bytes) -> None:
        (proc.stdout if stream == 1 else proc.stderr).extend(data)
        if self.output is not None:
            self.output(proc, stream, data)

    def _load(self, pid: int, program, argv: list[str], env: list[str]):
        """A new address space holding ``program`` and its initial stack: (space, image,
        source, esp). Nothing is left behind when it fails."""
        image, source = read_program(program)
        layout = self.vm.layout
        wide = layout.word == 8
        if image.bits != (64 if wide else 32):
            raise ProgramError(
                f"{source}: an x86-64 program: run it with --paging 4-level (a CPU in long "
                f"mode)" if image.bits == 64 else
                f"{source}: an i386 program: run it with --paging 32 or pae, not 4-level")
        if isinstance(image.entry, bool) or not isinstance(image.entry, int) or \
                not 0 <= image.entry < 1 << (8 * layout.word):
            raise ProgramError(f"{source}: entry point {image.entry!r} is not an address")
        space = self.vm.new_space(pid)
        try:
            image = map_image(space, image, source if source.startswith("<") else
                              os.path.abspath(source))
            self.vdso.setup(space)
            aux = Auxv(image.entry, image.phdr or 0, image.phent, image.phnum,
                       argv[0] if argv else source, self.random(16), layout.vdso_base,
                       0 if wide else self.vdso.address("__kernel_vsyscall"))  # AT_SYSINFO
            esp = build_stack(space, argv, env, aux)
        except BaseException as error:
            space.destroy()
            if isinstance(error, OutOfMemory):
                raise OutOfMemory(f"RAM too small to load {source}: {error}") from None
            raise
        return space, image, source, esp

    def spawn(self, program, name: str | None, argv: list[str] | None,
              env: list[str] | None, stdin=None) -> int:
        _check_strings("argv", argv)
        _check_strings("env", env)
        if name is not None and (not isinstance(name, str) or not name or "\0" in name):
            raise ProgramError(f"name must be a non-empty string, not {name!r}")
        if stdin is not None and not isinstance(stdin, (bytes, bytearray, int)) or \
                isinstance(stdin, bool):
            raise ProgramError(f"stdin must be bytes or a host descriptor, not {stdin!r}")
        if self.live >= MAX_PROCESSES:
            raise ProgramError(f"the process table is full ({MAX_PROCESSES} processes)")
        pid = self.new_pid()
        label = program.source if hasattr(program, "source") else (
            "<bytes>" if isinstance(program, (bytes, bytearray, memoryview)) else
            os.fspath(program))
        if name is None:
            base = os.path.basename(label)
            name = os.path.splitext(base)[0] if label != "<bytes>" else f"Program-{pid}"
        argv = list(argv) if argv else [name]
        space, image, source, esp = self._load(pid, program, argv, list(env or []))
        proc = Process(pid, name, source, space, files=self._consoles(
            bytes(stdin) if isinstance(stdin, (bytes, bytearray)) else stdin), argv=argv,
            abi="x86_64" if space.layout.word == 8 else "i386")
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
                       files=FdTable(self.root))
        self.processes[pid] = proc
        self.live += 1
        return proc

    def remove(self, proc: Process) -> None:
        """Forget a process that runs no code, giving back its memory."""
        if proc.space.alive:
            proc.space.destroy()
        if self.processes.pop(proc.pid, None) is not None and proc.alive:
            self.live -= 1

    def fork(self, parent: Process) -> Process:
        """A copy of the running ``parent``, which is in its fork syscall: the child
        returns 0 from it, with the parent's memory shared copy-on-write, the same open
        files, its own copy of the signal dispositions and TLS descriptors."""
        if self.live >= MAX_PROCESSES:
            raise SyscallError(errno.EAGAIN, f"the process table is full ({MAX_PROCESSES})")
        pid = self.new_pid()
        space = self.vm.fork_space(parent.space, pid)
        try:
            if parent.space.find(parent.space.layout.vvar_base) is not None:
                self.vdso.add_vvar(space)
        except BaseException:
            space.destroy()
            raise
        child = Process(pid, parent.name, parent.path, space, files=parent.files.copy(),
                        parent=parent.pid, tls=list(parent.tls), sig=parent.sig.fork(),
                        argv=list(parent.argv), abi=parent.abi)
        cpu = self.cpu
        child.context = cpu.save_new_context()
        cpu.set_context_reg(child.context, cpu.ax_reg, 0)
        child.eip = cpu.reg(cpu.pc_reg) + cpu.syscall_pc_behind  # after the fork call
        if cpu.syscall_pc_behind:
            cpu.set_context_reg(child.context, cpu.pc_reg, child.eip)
        self.processes[pid] = child
        self.live += 1
        return child

    def exec(self, proc: Process, program: str, argv: list[str], env: list[str]) -> None:
        """Replace ``proc``'s program: a new address space and CPU state; descriptors
        marked close-on-exec go, handled signals go back to their defaults. Fails without
        touching the process (a missing file, not an executable, no memory)."""
        space, image, source, esp = self._load(proc.pid, program, argv, env)
        old = proc.space
        proc.space = space
        old.destroy()
        for handler in self.on_reaped:  # its old memory (heaps, sheds) is gone
            _call_hook(handler, proc.pid)
        proc.files.exec()
        proc.sig.exec()
        proc.tls = empty_areas()
        proc.path, proc.argv = source, list(argv)
        proc.name = os.path.basename(source)
        proc.context = self.cpu.new_user_context(image.entry, esp, space.cr3)
        proc.context_changed = True
        proc.eip = image.entry
        if self.current is proc:
            self.cpu.stop()  # the next slice starts the new program

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
        proc.blocked = None
        for handler in self.on_exit:  # its memory is still all there
            _call_hook(handler, proc)
        proc.files.close_all()  # pipes see their end
        if self.current is proc:
            self.cpu.stop()  # reaped when the slice has ended
        else:
            self.reap(proc)
        parent = self.processes.get(proc.parent)
        if parent is not None and parent.alive:
            code = CLD_EXITED if proc.state == EXITED else (
                CLD_DUMPED if proc.signal in (3, 4, 5, 6, 7, 8, 11, 31) else CLD_KILLED)
            self.signals.send(parent, SIGCHLD, siginfo(SIGCHLD, code, proc.pid))

    def reap(self, proc: Process) -> None:
        """Give back every frame of a finished process (its CPU state is dropped)."""
        recorder = self.vm.frames.recorder
        if recorder is not None:
            prior, recorder.cause = recorder.cause, "exit"
        if proc.space.alive:
            proc.space.destroy()
        if recorder is not None:
            recorder.cause = prior
        proc.context = None
        for handler in self.on_reaped:
            _call_hook(handler, proc.pid)

    # -- waiting -------------------------------------------------------------------------

    def wait(self, proc: Process, pid: int, options: int) -> tuple[int, int] | None:
        """(pid, status) of a finished child, collected; None with WNOHANG when none has
        finished; WouldBlock when the caller must sleep; -ECHILD when it has no such child.
        ``pid``: -1 any child, > 0 that one, 0 or < -1 any (one process group here)."""
        children = [p for p in self.processes.values()
                    if p.parent == proc.pid and not p.reaped and
                    (pid <= 0 or pid == -1 or p.pid == pid)]
        if not children:
            raise SyscallError(errno.ECHILD, "no child to wait for")
        for child in children:
            if child.alive:
                continue
            child.reaped = True
            status = (child.signal & 0x7F) if child.state == KILLED else \
                (child.exit_code & 0xFF) << 8
            return child.pid, status
        if options & WNOHANG:
            return None
        raise WouldBlock()

