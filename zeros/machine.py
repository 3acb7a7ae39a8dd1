"""The machine: RAM, the CPU, the kernel, processes, and the scheduler that runs them.

::

    m = Machine(ram_size=16 << 20)
    pid = m.spawn("asm/hello.asm")
    results = m.run(timeout=5)
    results[pid].stdout    # b"Hello, world!\\n"

Scheduling is round-robin. With one runnable process it runs until it stops by itself or the
budget runs out; with several, each gets a time slice (``emu_start``'s timeout, no hook) or,
when an instruction budget is given, an instruction slice (Unicorn counts with a hook of its
own, about ten times slower: only when asked).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

from emu.cpu import Cpu, Reg
from emu.errors import EmulationError, TranslationError
from emu.mmu import FRAME_MASK, PAGE_SIZE, Pte, page_down, page_up
from emu.ram import PhysicalMemory
from emu.vmem import read_virt, write_virt
from emu.walk import Access, Walk, walk

from . import linux
from .addrspace import AddressSpace
from .errors import AddressError, NoSuchProcess, OutOfMemory, ProgramError, ZerosError
from .frames import FrameAllocator
from .kernel import Kernel
from .layout import USER_TOP
from .loader import build_stack, map_image, read_program
from .process import EXITED, KILLED, READY, Fault, Process, ProcessResult
from .syscalls import Syscalls
from .zeros_syscalls import register_zeros_syscalls
from .traps import Traps

log = logging.getLogger("zeros")

DEFAULT_RAM = 128 << 20
MIN_RAM = 1 << 20
MAX_RAM = 1 << 30
DEFAULT_TIMEOUT = 30.0  # seconds of wall time for one run()
QUANTUM_US = 10_000  # time slice when several processes are runnable
QUANTUM_INSTRUCTIONS = 1_000_000  # instruction slice, when an instruction budget is set
EXPLOIT_PID = 10000  # reserved for the ZerOS KernelMemory program


def parse_size(text: str | int) -> int:
    """'128M', '16MiB', '64K', '1G' or a number of bytes."""
    if isinstance(text, int):
        return text
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    number = s[:-1] if s[-1:] in "KMG" else s
    try:
        return int(float(number) * scale)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use bytes, or a number with K, M or G)") from None


class Machine:
    def __init__(self, ram_size: int | str = DEFAULT_RAM, direct_state: bool = True):
        """``direct_state=False`` keeps every register access behind Unicorn's API (slower;
        for comparing the two paths, see emu.cpu)."""
        ram_size = parse_size(ram_size)
        if not MIN_RAM <= ram_size <= MAX_RAM or ram_size % PAGE_SIZE:
            raise ZerosError(f"RAM size of {ram_size} bytes is not possible: it must be a multiple "
                             f"of 4 KiB between 1 MiB and 1 GiB")
        self.ram = PhysicalMemory(ram_size)
        self.cpu = Cpu(self.ram, direct_state=direct_state)
        self.frames = FrameAllocator(self.ram)
        self.kernel = Kernel(self.cpu, self.frames)
        self.processes: dict[int, Process] = {}
        self.current: Process | None = None
        self.syscalls = Syscalls(self)
        register_zeros_syscalls(self)
        self.traps = Traps(self)
        self.cpu.syscall_handler = self.syscalls.dispatch
        self.cpu.trap_handler = self.traps.handle
        self.breakpoint_handlers: list[Callable[[Process], None]] = []
        self.on_output: Callable[[Process, int, bytes], None] | None = None
        self._memory_manager = None  # made on first use: it maps PID 10000's 1 MiB heap
        self._next_pid = 1
        self._loaded: Process | None = None  # whose context is in the CPU
        self._last_run_pid = 0
        self._switch = False

    @property
    def memory_manager(self):
        """The ZerOS MemoryManager (made, with KernelMemory in PID 10000, on first use)."""
        if self._memory_manager is None:
            from .memory_manager import MemoryManager

            self._memory_manager = MemoryManager(self)
        return self._memory_manager

    @property
    def memory_manager_if_started(self):
        return self._memory_manager

    def ps(self, long: bool = False, pid: int | None = None, everything: bool = False) -> str:
        """The ZerOS ``ps`` table (``long``: each heap and shed)."""
        from .ps import ps_data, ps_text

        return ps_text(ps_data(self, pid, everything), long)

    # -- processes -----------------------------------------------------------------------

    def new_pid(self) -> int:
        pid = self._next_pid
        while pid in self.processes or pid == EXPLOIT_PID:
            pid += 1
        self._next_pid = pid + 1
        return pid

    def new_address_space(self, pid: int) -> AddressSpace:
        return AddressSpace(self.frames, pid, self.kernel.kernel_pdes)

    def spawn(self, program, name: str | None = None, argv: list[str] | None = None,
              env: list[str] | None = None) -> int:
        """Load a program (a path, bytes of an ELF file or of assembly text, or an Image)
        into a new process; returns its pid. Raises ProgramError or OutOfMemory."""
        image, source = read_program(program)
        pid = self.new_pid()
        if name is None:
            base = os.path.basename(source)
            name = os.path.splitext(base)[0] if source != "<bytes>" else f"Program-{pid}"
        space = self.new_address_space(pid)
        try:
            map_image(space, image, source)
            esp = build_stack(space, argv or [name], env or [], image.entry)
        except (ProgramError, OutOfMemory, ZerosError) as error:
            space.destroy()
            if isinstance(error, OutOfMemory):
                raise OutOfMemory(f"RAM too small to load {source}: {error}") from None
            raise
        proc = Process(pid, name, source, space)
        proc.context = self.cpu.new_user_context(image.entry, esp, space.cr3)
        proc.eip = image.entry
        self._loaded = None  # new_user_context used the CPU
        self.processes[pid] = proc
        return pid

    def process(self, pid: int) -> Process:
        try:
            return self.processes[pid]
        except KeyError:
            raise NoSuchProcess(pid) from None

    def exit_process(self, proc: Process, status: int) -> None:
        proc.state, proc.exit_code = EXITED, status
        self._stop_if_running(proc)
        self._reap_unless_running(proc)

    def kill(self, proc: Process, signal: int, message: str, fault: Fault | None = None) -> None:
        proc.state, proc.signal, proc.exit_code = KILLED, signal, 128 + signal
        proc.message, proc.fault = message, fault
        if fault is None:
            log.info("pid %d (%s) %s", proc.pid, proc.name, message)
        self._stop_if_running(proc)
        self._reap_unless_running(proc)

    def _stop_if_running(self, proc: Process) -> None:
        if self.current is proc:
            self.cpu.stop()

    def _reap_unless_running(self, proc: Process) -> None:
        if self.current is not proc:
            self._reap(proc)

    def _reap(self, proc: Process) -> None:
        """Give back every frame of a finished process (its CPU state is dropped)."""
        if proc.space.tables.pd:
            proc.space.destroy()
        proc.context = None
        if self._memory_manager is not None:
            self._memory_manager.process_ended(proc.pid)
        if self._loaded is proc:
            self._loaded = None

    # -- output --------------------------------------------------------------------------

    def emit_output(self, proc: Process, fd: int, data: bytes) -> None:
        (proc.stdout if fd == 1 else proc.stderr).extend(data)
        if self.on_output is not None:
            self.on_output(proc, fd, data)

    # -- running -------------------------------------------------------------------------

    def request_switch(self) -> None:
        """End the current slice after this syscall (sched_yield), if anyone else can run."""
        if sum(1 for p in self.processes.values() if p.alive and p.context) > 1:
            self._switch = True
            self.cpu.stop()

    def after_kernel_entry(self, proc: Process) -> None:
        """Before returning to the guest: drop stale translations the kernel made."""
        if self.frames.code_dirty:
            self.cpu.flush_code()
            self.frames.code_dirty = False
        if proc.space.tlb_dirty and self._loaded is proc:
            self.cpu.flush_tlb()
            proc.space.tlb_dirty = False

    def runnable(self) -> list[Process]:
        return [p for p in self.processes.values() if p.alive and p.context is not None]

    def run(self, max_instructions: int | None = None,
            timeout: float | None = DEFAULT_TIMEOUT) -> dict[int, ProcessResult]:
        """Run every runnable process until all have stopped or a budget runs out; returns
        a result for every process (processes still runnable after a budget are stopped)."""
        deadline = None if not timeout else time.monotonic() + timeout
        insn_left = max_instructions
        budget_message = ""
        while True:
            ready = self.runnable()
            if not ready:
                break
            if deadline is not None and time.monotonic() >= deadline:
                budget_message = f"stopped: time budget of {timeout:g} s exhausted"
                break
            if insn_left is not None and insn_left <= 0:
                budget_message = (f"stopped: instruction budget of {max_instructions} "
                                  f"exhausted")
                break
            proc = self._pick(ready)
            timeout_us = QUANTUM_US if len(ready) > 1 else 0
            if deadline is not None:
                left_us = max(int((deadline - time.monotonic()) * 1e6), 1)
                timeout_us = min(timeout_us, left_us) if timeout_us else left_us
            count = 0
            if insn_left is not None:
                count = min(QUANTUM_INSTRUCTIONS, insn_left) if len(ready) > 1 else insn_left
            self._run_slice(proc, timeout_us, count)
            if count and not self._switch and proc.alive:
                insn_left -= count
        for proc in self.runnable():
            self.kill(proc, linux.SIGKILL, budget_message)
        return self.results()

    def _pick(self, ready: list[Process]) -> Process:
        after = [p for p in ready if p.pid > self._last_run_pid]
        proc = after[0] if after else ready[0]
        self._last_run_pid = proc.pid
        return proc

    def _run_slice(self, proc: Process, timeout_us: int, count: int) -> None:
        cpu = self.cpu
        if self._loaded is not proc or proc.space.tlb_dirty:
            cpu.load_context(proc.context, proc.space.cr3)
            proc.space.tlb_dirty = False
            self._loaded = proc
        if self.frames.code_dirty:
            cpu.flush_code()
            self.frames.code_dirty = False
        self.current, self._switch = proc, False
        try:
            cpu.run(proc.eip, timeout_us, count)
        except EmulationError as error:
            self.kill(proc, linux.SIGKILL, f"killed: the emulator stopped: {error}")
        finally:
            self.current = None
        if proc.alive:
            cpu.save_context(proc.context)
            proc.eip = cpu.reg(Reg.EIP)
        else:
            self._reap(proc)

    def results(self) -> dict[int, ProcessResult]:
        return {pid: ProcessResult(pid, p.name, p.state, p.exit_code, p.signal,
                                   bytes(p.stdout), bytes(p.stderr), p.fault, p.message,
                                   p.space.minor_faults, p.space.major_faults, p.syscalls)
                for pid, p in self.processes.items() if p.path}

    # -- memory, from the host -----------------------------------------------------------

    def cr3(self, pid: int) -> int:
        proc = self.process(pid)
        if not proc.space.tables.pd:
            raise NoSuchProcess(pid)
        return proc.space.cr3

    def translate(self, pid: int, va: int, access: Access | str = "r",
                  user: bool = True) -> Walk:
        """The reference walk of ``va`` in ``pid``'s page tables (no side effects)."""
        return walk(self.ram.read_u32, self.cr3(pid), va, access, user=user)

    def read_phys(self, pa: int, n: int) -> bytes:
        return self.ram.read(pa, n)

    def write_phys(self, pa: int, data: bytes) -> None:
        self.ram.write(pa, data)
        self.frames.code_dirty = True  # it may have been code

    def read_virt(self, pid: int, va: int, n: int, user: bool = True) -> bytes:
        """Bytes at ``va`` in ``pid``, through the page walk; pages a region allows but that
        were never touched are faulted in first, as the kernel's copy_from_user does."""
        return self.copy_from_user(self.process(pid), va, n, user)

    def write_virt(self, pid: int, va: int, data: bytes, user: bool = True,
                   force: bool = False) -> None:
        """Write ``data`` at ``va`` in ``pid`` through the page walk. ``force`` also writes
        pages the guest may only read (a debugger's write, or loading code)."""
        proc = self.process(pid)
        space = proc.space
        if not space.tables.pd:
            raise NoSuchProcess(pid)
        try:
            written = write_virt(self.ram, space.cr3, va, data, user=user, force=force,
                                 on_missing=lambda page: page < USER_TOP and
                                 space.populate(page, write=not force))
        except TranslationError as error:
            raise AddressError(f"pid {pid}: {error}", error.walk) from None
        except ValueError as error:
            raise AddressError(f"pid {pid}: {error}") from None
        if any(self.frames.info(pa).executable for pa in written):
            self.frames.code_dirty = True

    def copy_from_user(self, proc: Process, va: int, n: int, user: bool = True) -> bytes:
        if not proc.space.tables.pd:
            raise NoSuchProcess(proc.pid)
        self._fault_in(proc, va, n, write=False)
        try:
            return read_virt(self.ram, proc.space.cr3, va, n, user=user)
        except TranslationError as error:
            raise AddressError(f"pid {proc.pid}: {error}", error.walk) from None
        except ValueError as error:
            raise AddressError(f"pid {proc.pid}: {error}") from None

    def _fault_in(self, proc: Process, va: int, n: int, write: bool) -> None:
        """Populate the not-present pages of [va, va+n) that a region would fault in."""
        if n <= 0:
            return
        space = proc.space
        for page in range(page_down(va), min(page_up(va + n), USER_TOP), PAGE_SIZE):
            if page < USER_TOP and not space.tables.entry(page) & Pte.P:
                space.populate(page, write)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the CPU and RAM now rather than at garbage collection."""
        if self.cpu is not None:
            self.cpu.close()
            self.cpu = None
            self.ram.close()

    def __enter__(self) -> "Machine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
