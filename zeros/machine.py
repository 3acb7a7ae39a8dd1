"""The machine: the one place that builds the parts, wires them, and offers the public API.

::

    m = Machine(ram_size=16 << 20)
    pid = m.spawn("asm/hello.asm")
    results = m.run(timeout=5)
    results[pid].stdout    # b"Hello, world!\\n"

Each part is given what it uses (see docs/architecture.md)::

    ram, cpu                hardware (emu)
    frames, kernel          mm: frame allocator, boot (the kernel half, the GDT)
    vm                      vm: address spaces, the fault resolver, page cache, page file
    vdso, table, scheduler  proc
    traps, syscalls         entry: the CPU's way into the kernel
    linux, windows          abi: the mmap family, the VirtualAlloc family (by pid)
    memory_manager          zmm: the ZerOS MemoryManager (made on first use)

No part calls back up here: what a higher part cares about (a process reaped, guest output)
is a hook wired below.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from emu.cpu import Cpu
from emu.errors import EmuError
from emu.mmu import PAGE_SIZE, Cr4, Efer
from emu.paging import IA32E, PAE, X86_32
from emu.ram import PhysicalMemory
from emu.walk import Access, Walk, walk

from .abi.linux.files import FileCalls
from .abi.linux.mman import LinuxMemory, MemoryCalls
from .abi.linux.process import ProcessCalls
from .abi.linux.procfs import ProcFiles
from .abi.linux.signals import SignalCalls
from .abi.linux.time import TimeCalls
from .abi.linux.x86_64 import X86_64Calls
from .abi.windows.syscalls import VirtualCalls
from .abi.windows.virtual import WindowsMemory
from .entry.syscalls import Syscalls
from .entry.traps import Traps
from .errors import (
    AddressError,
    HandlerError,
    IntegrityError,
    MachineError,
    NoSuchProcess,
    ZerosError,
)
from .layout import EXPLOIT_PID, LAYOUT32, LAYOUT64
from .mm.boot import Kernel
from .mm.frames import FrameAllocator
from .proc.audit import audit
from .proc.clock import Clock
from .proc.process import Process, ProcessResult
from .proc.scheduler import Scheduler
from .proc.signals import Signals
from .proc.table import ProcessTable
from .proc.tls import ThreadAreas
from .proc.vdso import Vdso
from .record import Recorder
from .uapi.signals import SIGKILL
from .vm.maps import note_maps
from .vm.memory import VirtualMemory
from .vm.uaccess import as_bytes, copy_from_user, copy_to_user, peek_user
from .zmm.syscalls import ZerosCalls

if TYPE_CHECKING:
    from .snapshot import Snapshot

DEFAULT_RAM = 128 << 20
MIN_RAM = 1 << 20
MAX_RAM = 1 << 30
DEFAULT_TIMEOUT = 30.0  # seconds of wall time for one run()

__all__ = ["Machine", "parse_size", "EXPLOIT_PID"]


def parse_size(text: str | int) -> int:
    """'128M', '16MiB', '64K', '1G' or a number of bytes."""
    if isinstance(text, bool):
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        return text
    if not isinstance(text, str):
        raise ValueError(f"not a size: {text!r} (use bytes, or a number with K, M or G)")
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    number = s[:-1] if s[-1:] in "KMG" else s
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use bytes, or a number with K, M or G)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a size: {text!r} (a finite number of bytes, 0 or more)")
    return int(value * scale)


# Machine(paging=...), zeros run --paging: i386 programs under 32-bit or PAE paging,
# x86-64 programs under 4-level paging (a CPU in long mode)
PAGING = {"32": X86_32, "pae": PAE, "4-level": IA32E}


class _Closed:
    """What a closed machine's API families become: every call is a clear error."""

    def __getattr__(self, name):
        raise MachineError("the machine is closed")


class Machine:
    check_on_close = False  # audit the whole state in close() (the test suite turns it on)

    def __init__(self, ram_size: int | str = DEFAULT_RAM, direct_state: bool = True,
                 page_file: int | str | None = None, root: str | None = None,
                 seed: int | None = None, paging: str = "32", record=None):
        """``page_file``: bytes of page file (default 4x RAM, 0 for none). ``root``: the
        directory guests' open() sees (default: the current directory). ``seed``: a
        repeatable run: a virtual clock, and random bytes (AT_RANDOM, getrandom) from this
        seed. ``paging``: "32" (two-level 32-bit paging, the default) or "pae" (three
        levels, 64-bit entries, NX: pages without PROT_EXEC cannot be run) for i386
        programs; "4-level" (long mode, NX, 48-bit addresses) for x86-64 programs.
        ``record``: a path: record the page-table history there (zeros.record; read it
        with zeros.history). ``direct_state=False`` keeps every register access behind
        Unicorn's API
        (slower; for comparing the two paths, see emu.cpu)."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ZerosError(f"seed must be an integer, not {seed!r}")
        if paging not in PAGING:
            raise ZerosError(f"paging must be one of {', '.join(PAGING)}, not {paging!r}")
        fmt = PAGING[paging]
        self.paging = paging
        ram_size = parse_size(ram_size)
        if not MIN_RAM <= ram_size <= MAX_RAM or ram_size % PAGE_SIZE:
            raise ZerosError(f"RAM size of {ram_size} bytes is not possible: it must be a "
                             f"multiple of 4 KiB between 1 MiB and 1 GiB")
        page_file = 4 * ram_size if page_file is None else parse_size(page_file)
        if root is not None and not isinstance(root, (str, os.PathLike)) or \
                isinstance(root, bytes):
            raise ZerosError(f"root must be a directory path (str), not {root!r}")
        self.root = os.path.abspath(os.fspath(root) if root is not None else os.getcwd())
        if not os.path.isdir(self.root):
            raise ZerosError(f"root {self.root} is not a directory")
        self.ram = PhysicalMemory(ram_size)
        long_mode = fmt is IA32E
        self.layout = LAYOUT64 if long_mode else LAYOUT32
        self.cpu = Cpu(self.ram, direct_state=direct_state, mode=64 if long_mode else 32)
        self.frames = FrameAllocator(self.ram)
        self.recorder = None
        if record is not None:
            self.recorder = Recorder(record, {"paging": paging, "ram": ram_size,
                                              "root": self.root, "seed": seed})
            self.frames.recorder = self.recorder
        if fmt is PAE:  # PAE paging, and NX honoured (long mode has both from the start)
            self.cpu.set_control_bits(cr4=Cr4.PAE, efer=Efer.NXE)
        self.kernel = Kernel(self.cpu, self.frames, fmt, self.layout)
        self.vm = VirtualMemory(self.frames, self.kernel.half, fmt, page_file, self.layout)
        self.pagefile = self.vm.pagefile
        self.seed = seed
        self.clock = Clock(virtual=seed is not None)
        random_bytes = os.urandom if seed is None else random.Random(seed).randbytes
        self.vdso = Vdso(self.frames, self.clock)
        self.signals = Signals(self.cpu, (self.vdso.address("__kernel_sigreturn"),
                                          self.vdso.address("__kernel_rt_sigreturn")))
        self.tls = ThreadAreas(self.ram, self.kernel.gdt_pa)
        self.table = ProcessTable(self.cpu, self.vm, self.vdso, self.root, self.signals,
                                  output=self._output, random=random_bytes)
        self.scheduler = Scheduler(self.cpu, self.table, self.frames, self.vdso, self.signals,
                                   self.tls, self.clock)
        self.traps = Traps(self.table, self.vm.resolver, self.scheduler, self.signals,
                           self.clock.counter if self.clock.virtual else None)
        if self.clock.virtual:  # ring 3's rdtsc traps to the virtual counter
            self.cpu.set_control_bits(cr4=Cr4.TSD)
        self.syscalls = Syscalls(self.cpu, self.table, self.scheduler)
        self.syscalls.recorder = self.recorder
        if self.recorder is not None:
            self.recorder.clock = self.clock
            self.recorder.cause = "user"
        self.linux = LinuxMemory(self.table, self.vm)
        self.windows = WindowsMemory(self.table, self.ram.size + self.pagefile.size)
        families = (ProcessCalls(self.table, self.scheduler, self.tls,
                                 deterministic=seed is not None),
                    FileCalls(self.clock, ProcFiles(self.table)),
                    SignalCalls(self.table, self.signals), TimeCalls(self.clock),
                    MemoryCalls(self.linux))
        zeros_calls = (VirtualCalls(self.windows),
                       ZerosCalls(self._manager, self._guest_ps))
        if long_mode:  # x86-64 programs: Linux's x86-64 numbers and structures
            self.syscalls.register_all(X86_64Calls(self.cpu, *families, *zeros_calls)
                                       .handlers())
        else:
            for family in (*families, *zeros_calls):
                self.syscalls.register_all(family.handlers())
        self.cpu.syscall_handler = self.syscalls.dispatch
        self.cpu.trap_handler = self.traps.handle
        self.cpu.page_fault_handler = self.traps.page_fault if self.recorder is None else \
            self.traps.recorded_page_fault
        self.on_output: Callable[[Process, int, bytes], None] | None = None
        self._memory_manager = None  # made on first use: it maps PID 10000's 1 MiB heap
        self._running = False

    # -- parts ---------------------------------------------------------------------------

    @property
    def processes(self) -> dict[int, Process]:
        return self.table.processes

    @property
    def current(self) -> Process | None:
        return self.table.current

    @property
    def breakpoint_handlers(self) -> list[Callable[[Process], None]]:
        """int3 calls each with the process, and the guest goes on."""
        return self.traps.breakpoint_handlers

    @property
    def exit_handlers(self) -> list[Callable[[Process], None]]:
        """Called as a process exits or is killed, before its memory is freed (views)."""
        return self.table.on_exit

    @property
    def memory_manager(self):
        """The ZerOS MemoryManager (made, with KernelMemory in PID 10000, on first use)."""
        if self._memory_manager is None:
            self._check_open()
            from .zmm.manager import MemoryManager
            self._memory_manager = MemoryManager(self.table)
            self.table.on_reaped.append(self._memory_manager.process_ended)
        return self._memory_manager

    def _manager(self):  # (methods, not lambdas: a snapshot saves what refers to them)
        return self.memory_manager

    def _guest_ps(self, long: bool) -> str:
        return self.ps(long=long)

    @property
    def memory_manager_if_started(self):
        return self._memory_manager

    def ps(self, long: bool = False, pid: int | None = None, everything: bool = False) -> str:
        """The ZerOS ``ps`` table (``long``: each heap and shed)."""
        self._check_open()
        from .zmm.ps import ps_data, ps_text
        return ps_text(ps_data(self.processes, self._memory_manager, pid, everything), long)

    def _output(self, proc: Process, fd: int, data: bytes) -> None:
        if self.on_output is not None:
            try:
                self.on_output(proc, fd, data)
            except Exception as error:  # the caller's: run() re-raises it
                raise HandlerError("output hook raised") from error

    # -- processes -----------------------------------------------------------------------

    def spawn(self, program, name: str | None = None, argv: list[str] | None = None,
              env: list[str] | None = None, stdin: bytes | int | None = None) -> int:
        """Load a program (a path, bytes of an ELF file or of assembly text, or an Image)
        into a new process; returns its pid. ``argv`` (argv[0] included; default: the
        name), ``env`` ("NAME=VALUE" strings; default: none), ``stdin`` (bytes it reads on
        descriptor 0, or a host descriptor; default: empty). Raises ProgramError or
        OutOfMemory."""
        self._check_open()
        if self.recorder is not None:
            self.recorder.cause = "spawn"
        try:
            pid = self.table.spawn(program, name, argv, env, stdin)
        finally:
            if self.recorder is not None:
                note_maps(self.recorder, self.processes)
                self.recorder.cause = "user"
        self.process(pid).start_ns = self.clock.monotonic_ns()
        return pid

    def process(self, pid: int) -> Process:
        return self.table.get(pid)

    def exit_process(self, proc: Process, status: int) -> None:
        self.table.exit(proc, status)

    def kill(self, proc: Process, signal: int, message: str, fault=None) -> None:
        self.table.kill(proc, signal, message, fault)

    # -- running -------------------------------------------------------------------------

    def run(self, max_instructions: int | None = None,
            timeout: float | None = DEFAULT_TIMEOUT,
            pids: list[int] | None = None) -> dict[int, ProcessResult]:
        """Run every runnable process (or just ``pids``) until all have stopped, a budget
        runs out (processes still alive are then stopped) or a breakpoint handler calls
        :meth:`pause`; returns a result for every process."""
        self._check_open()
        if self._running:
            raise MachineError("run() called while the machine is running (from a handler?)")
        if max_instructions is not None and (isinstance(max_instructions, bool) or
                                             not isinstance(max_instructions, int) or
                                             max_instructions <= 0):
            raise ValueError(f"max_instructions must be a positive integer, not "
                             f"{max_instructions!r}")
        if timeout is not None and (not isinstance(timeout, (int, float)) or
                                    not math.isfinite(timeout) or timeout < 0):
            raise ValueError(f"timeout must be a finite number of seconds (or None), not "
                             f"{timeout!r}")
        only = None if pids is None else set(pids)
        self._running = True
        try:
            why = self.scheduler.run(max_instructions, timeout, only)
        finally:
            self._running = False
        if why:
            for proc in [p for p in self.processes.values()
                         if p.alive and p.path and (only is None or p.pid in only)]:
                self.kill(proc, SIGKILL, why)
        return self.results()

    def registers(self, pid: int) -> dict[str, int]:
        """The registers of a stopped process (its saved context), by name."""
        self._check_open()
        proc = self.process(pid)
        if proc.context is None:
            raise NoSuchProcess(pid)
        if self.scheduler.loaded is proc:
            self.cpu.save_context(proc.context)
        return self.cpu.context_regs(proc.context)

    def set_registers(self, pid: int, **values: int) -> None:
        """Set general registers (eax..edi, esp, ebp) of a stopped process."""
        self._check_open()
        proc = self.process(pid)
        if proc.context is None:
            raise NoSuchProcess(pid)
        if self.scheduler.loaded is proc:
            self.cpu.save_context(proc.context)
        for name, value in values.items():
            self.cpu.set_context_reg(proc.context, self.cpu.register_id(name), value)
        proc.context_changed = True

    def pause(self) -> None:
        """From a breakpoint handler: make run() return after this slice."""
        self.scheduler.pause()

    def request_switch(self) -> None:
        self.scheduler.request_switch()

    def results(self) -> dict[int, ProcessResult]:
        return {pid: ProcessResult(pid, p.name, p.state, p.exit_code, p.signal,
                                   bytes(p.stdout), bytes(p.stderr), p.fault, p.message,
                                   p.space.minor_faults, p.space.major_faults, p.syscalls)
                for pid, p in self.processes.items() if p.path}

    # -- debugging (zeros.gdb) ------------------------------------------------------------

    @property
    def debugger(self) -> Callable | None:
        """Called with (process, trap, signal) before a trap's signal is sent; True holds it
        (see :meth:`release_trap`)."""
        return self.traps.debugger

    @debugger.setter
    def debugger(self, hook: Callable | None) -> None:
        self.traps.debugger = hook

    def release_trap(self, pid: int, send: bool) -> None:
        """A trap the debugger held: send its signal now, or drop it."""
        self._check_open()
        self.traps.release(self.process(pid), send)

    def resume(self, max_instructions: int | None = None,
               pids: list[int] | None = None, poll: Callable[[], bool] | None = None) -> str:
        """A debugger's continue and step: run like :meth:`run`, without a time budget, and
        without ending anyone when ``max_instructions`` are spent. ``poll`` is asked between
        time slices (every 10 ms at most); True stops the run ("interrupted"). Returns why it
        stopped (the budget's message, or "" for a pause or nothing left to run)."""
        self._check_open()
        if self._running:
            raise MachineError("resume() called while the machine is running")
        self._running = True
        try:
            return self.scheduler.run(max_instructions, None,
                                      None if pids is None else set(pids), poll)
        finally:
            self._running = False

    def wake(self, pid: int) -> bool:
        """Try to finish the call ``pid`` sleeps in; True when it can run again."""
        self._check_open()
        return self.scheduler.wake(self.process(pid))

    def debug_registers(self, pid: int) -> list[tuple[str, int, object]]:
        """Every register of a stopped process in gdb's order: (name, bits, value); an
        80-bit x87 register is (mantissa, exponent)."""
        proc = self._stopped(pid)
        regs = self.cpu.gdb_registers()
        values = self.cpu.read_context_regs(proc.context, [r[2] for r in regs])
        return [(r[0], r[1], value) for r, value in zip(regs, values, strict=True)]

    def set_debug_register(self, pid: int, index: int, value) -> None:
        """Change register ``index`` (of :meth:`debug_registers`) of a stopped process."""
        proc = self._stopped(pid)
        cpu = self.cpu
        regs = cpu.gdb_registers()
        if not 0 <= index < len(regs):
            raise ValueError(f"no register number {index}")
        name, _bits, reg, _feature, _type = regs[index]
        try:
            cpu.write_context_reg(proc.context, reg, value)
        except EmuError as error:
            raise ValueError(f"{name}: {error}") from None
        if reg == cpu.pc_reg:
            proc.eip = value & cpu.addr_mask
        proc.context_changed = True

    def _stopped(self, pid: int) -> Process:
        self._check_open()
        proc = self.process(pid)
        if proc.context is None or not proc.alive:
            raise NoSuchProcess(pid)
        if self.scheduler.loaded is proc and not proc.context_changed:
            self.cpu.save_context(proc.context)
        return proc

    def peek(self, pid: int, va: int, n: int) -> bytes:
        """Bytes at ``va`` in ``pid`` as ring 3 would read them, with no side effect (a
        debugger's read): no frame made, no page brought back, no Accessed bit set."""
        self._check_open()
        return peek_user(self.table.space_of(pid), va, n, self.pagefile.peek)

    # -- memory, from the host -----------------------------------------------------------

    def cr3(self, pid: int) -> int:
        self._check_open()
        return self.table.space_of(pid).cr3

    def translate(self, pid: int, va: int, access: Access | str = "r",
                  user: bool = True) -> Walk:
        """The reference walk of ``va`` in ``pid``'s page tables (no side effects)."""
        self._check_open()
        space = self.table.space_of(pid)
        return walk(self.ram.reader(space.fmt.entry_size), space.cr3, va, access, user=user,
                    fmt=space.fmt)

    def read_phys(self, pa: int, n: int) -> bytes:
        self._check_open()
        try:
            return self.ram.read(pa, n)
        except EmuError as error:
            raise AddressError(str(error)) from None

    def write_phys(self, pa: int, data: bytes) -> None:
        self._check_open()
        try:
            self.ram.write(pa, as_bytes(data))
        except EmuError as error:
            raise AddressError(str(error)) from None
        self.frames.dirtied(pa, len(data))
        self.frames.code_dirty = True  # it may have been code

    def read_virt(self, pid: int, va: int, n: int, user: bool = True) -> bytes:
        """Bytes at ``va`` in ``pid``, through the page walk; pages a region allows but that
        were never touched (or are in the page file) come in first, as the kernel's
        copy_from_user brings them."""
        self._check_open()
        return copy_from_user(self.table.space_of(pid), va, n, user)

    def write_virt(self, pid: int, va: int, data: bytes, user: bool = True,
                   force: bool = False) -> None:
        """Write ``data`` at ``va`` in ``pid`` through the page walk. ``force`` also writes
        pages the guest may only read (a debugger's write, or loading code)."""
        self._check_open()
        copy_to_user(self.table.space_of(pid), va, data, user=user, force=force)

    def copy_from_user(self, proc: Process, va: int, n: int, user: bool = True) -> bytes:
        self._check_open()
        if not proc.space.alive:
            raise NoSuchProcess(proc.pid)
        return copy_from_user(proc.space, va, n, user)

    def check(self) -> dict:
        """Check the whole memory state (zeros.proc.audit): IntegrityError listing every
        broken invariant, else a summary."""
        self._check_open()
        problems = audit(self.processes, self.vm, self.vdso, self.table.current)
        if problems:
            raise IntegrityError(problems)
        return {"frames_used": self.frames.used_count, "frames_free": self.frames.free_count,
                "processes": len(self.processes), "swap_slots": self.pagefile.used_slots}

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The whole machine now (RAM, every process, page tables, frames, regions, memory
        objects, files, the page file, the MemoryManager, the scheduler): :meth:`restore`
        goes back to it, :meth:`save` keeps it in a file (zeros.snapshot)."""
        self._check_open()
        if self._running:
            raise MachineError("snapshot() called while the machine is running")
        from .snapshot import take  # (pickle only when asked: start-up does not pay)
        return take(self)

    def restore(self, snap: Snapshot) -> None:
        """Go back to ``snap`` (taken from this machine, or one made with the same RAM,
        paging and page file). Observers (on_output, breakpoint handlers) stay."""
        self._check_open()
        if self._running:
            raise MachineError("restore() called while the machine is running")
        from .snapshot import put_back
        put_back(self, snap)

    def save(self, path) -> None:
        """Write a snapshot to ``path``; :meth:`Machine.load` makes a machine of it."""
        from .snapshot import write
        write(self.snapshot(), path)

    @classmethod
    def load(cls, path, root: str | None = None) -> Machine:
        """A machine made from a file :meth:`save` wrote (``root``: where guests' files
        are now, if not where they were). SnapshotError for another format or a bad file.
        (The file is a pickle: load only files you trust, as with any pickle.)"""
        from .snapshot import read
        snap = read(path)
        c = snap.config
        m = cls(ram_size=c["ram_size"], paging=c["paging"], page_file=c["page_file"],
                root=root if root is not None else c["root"], seed=c["seed"])
        try:
            m.restore(snap)
        except BaseException:
            m.close()
            raise
        return m

    # -- lifetime ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.cpu is None:
            raise MachineError("the machine is closed")

    def close(self) -> None:
        """Release the CPU, RAM and page file now rather than at garbage collection. With
        ``check_on_close`` (the test suite sets it), the whole state is checked first, and a
        broken invariant raises IntegrityError once everything is released."""
        if self._running:
            raise MachineError("close() called while the machine is running")
        if self.cpu is None:
            return
        problems = audit(self.processes, self.vm, self.vdso) if self.check_on_close else []
        self.cpu.close()
        self.cpu = None
        if self.recorder is not None:
            self.recorder.close()
        self.vm.close()
        self.ram.close()
        self.linux = self.windows = _Closed()  # their calls would reach released RAM
        if problems:
            raise IntegrityError(problems)

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

