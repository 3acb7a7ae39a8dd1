"""The machine: RAM, the CPU, the kernel, and everything built on them, behind one object.

::

    m = Machine(ram_size=16 << 20)
    pid = m.spawn("asm/hello.asm")
    results = m.run(timeout=5)
    results[pid].stdout    # b"Hello, world!\\n"

Parts: ``cpu``, ``ram``, ``frames``, ``kernel``; ``table`` (processes), ``scheduler``,
``syscalls``, ``traps``; ``vm`` (fault resolution, memory objects), ``pagefile``, ``vdso``;
``linux`` (mmap family), ``windows`` (VirtualAlloc family), ``memory_manager`` (ZerOS).
"""

from __future__ import annotations

import os
from typing import Callable

from emu.cpu import Cpu
from emu.errors import TranslationError
from emu.mmu import PAGE_SIZE, Pte
from emu.ram import PhysicalMemory
from emu.vmem import chunks, read_virt, write_virt
from emu.walk import Access, Walk, walk

from . import linux
from .addrspace import AddressSpace
from .errors import AddressError, NoSuchProcess, OutOfMemory, ZerosError
from .frames import FrameAllocator
from .kernel import Kernel
from .layout import USER_TOP
from .pagefile import PageFile
from .process import Process, ProcessResult
from .processes import EXPLOIT_PID, ProcessTable
from .scheduler import Scheduler
from .syscalls import Syscalls
from .traps import Traps
from .vdso import Vdso
from .vm import VirtualMemory
from .vm_linux import LinuxMemory, register_linux_syscalls
from .vm_windows import WindowsMemory, register_windows_syscalls
from .zeros_syscalls import register_zeros_syscalls

DEFAULT_RAM = 128 << 20
MIN_RAM = 1 << 20
MAX_RAM = 1 << 30
DEFAULT_TIMEOUT = 30.0  # seconds of wall time for one run()
_PRESENT = int(Pte.P)

__all__ = ["Machine", "parse_size", "EXPLOIT_PID"]


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
    def __init__(self, ram_size: int | str = DEFAULT_RAM, direct_state: bool = True,
                 page_file: int | str | None = None, root: str | None = None):
        """``page_file``: bytes of page file (default 4x RAM, 0 for none). ``root``: the
        directory guests' open() sees (default: the current directory).
        ``direct_state=False`` keeps every register access behind Unicorn's API (slower;
        for comparing the two paths, see emu.cpu)."""
        ram_size = parse_size(ram_size)
        if not MIN_RAM <= ram_size <= MAX_RAM or ram_size % PAGE_SIZE:
            raise ZerosError(f"RAM size of {ram_size} bytes is not possible: it must be a "
                             f"multiple of 4 KiB between 1 MiB and 1 GiB")
        page_file = 4 * ram_size if page_file is None else parse_size(page_file)
        if page_file < 0:
            raise ZerosError(f"page file size {page_file} is negative")
        self.root = os.path.abspath(root or os.getcwd())
        if not os.path.isdir(self.root):
            raise ZerosError(f"root {self.root} is not a directory")
        self.ram = PhysicalMemory(ram_size)
        self.cpu = Cpu(self.ram, direct_state=direct_state)
        self.frames = FrameAllocator(self.ram)
        self.kernel = Kernel(self.cpu, self.frames)
        self.table = ProcessTable(self)
        self.scheduler = Scheduler(self)
        self.vm = VirtualMemory(self)
        self.pagefile = PageFile(self, page_file)
        self.vdso = Vdso(self)
        self.linux = LinuxMemory(self)
        self.windows = WindowsMemory(self)
        self.syscalls = Syscalls(self)
        register_zeros_syscalls(self)
        register_linux_syscalls(self)
        register_windows_syscalls(self)
        self.traps = Traps(self)
        self.cpu.syscall_handler = self.syscalls.dispatch
        self.cpu.trap_handler = self.traps.handle
        self.cpu.page_fault_handler = self.traps.page_fault
        self.breakpoint_handlers: list[Callable[[Process], None]] = []
        # called as a process exits or is killed, before its memory is freed (views)
        self.exit_handlers: list[Callable[[Process], None]] = []
        self.on_output: Callable[[Process, int, bytes], None] | None = None
        self._memory_manager = None  # made on first use: it maps PID 10000's 1 MiB heap

    # -- parts ---------------------------------------------------------------------------

    @property
    def processes(self) -> dict[int, Process]:
        return self.table.processes

    @property
    def current(self) -> Process | None:
        return self.scheduler.current

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

    def new_address_space(self, pid: int) -> AddressSpace:
        space = AddressSpace(self.frames, pid, self.kernel.kernel_pdes)
        space.on_swap_release = self.pagefile.release
        space.resolver = self.vm.resolve
        return space

    # -- processes -----------------------------------------------------------------------

    def spawn(self, program, name: str | None = None, argv: list[str] | None = None,
              env: list[str] | None = None) -> int:
        """Load a program (a path, bytes of an ELF file or of assembly text, or an Image)
        into a new process; returns its pid. Raises ProgramError or OutOfMemory."""
        return self.table.spawn(program, name, argv, env)

    def process(self, pid: int) -> Process:
        return self.table.get(pid)

    def exit_process(self, proc: Process, status: int) -> None:
        self.table.exit(proc, status)

    def kill(self, proc: Process, signal: int, message: str, fault=None) -> None:
        self.table.kill(proc, signal, message, fault)

    def emit_output(self, proc: Process, fd: int, data: bytes) -> None:
        (proc.stdout if fd == 1 else proc.stderr).extend(data)
        if self.on_output is not None:
            self.on_output(proc, fd, data)

    # -- running -------------------------------------------------------------------------

    def run(self, max_instructions: int | None = None,
            timeout: float | None = DEFAULT_TIMEOUT,
            pids: list[int] | None = None) -> dict[int, ProcessResult]:
        """Run every runnable process (or just ``pids``) until all have stopped, a budget
        runs out (processes still alive are then stopped) or a breakpoint handler calls
        :meth:`pause`; returns a result for every process."""
        only = None if pids is None else set(pids)
        why = self.scheduler.run(max_instructions, timeout, only)
        if why:
            for proc in [p for p in self.processes.values()
                         if p.alive and p.path and (only is None or p.pid in only)]:
                self.kill(proc, linux.SIGKILL, why)
        return self.results()

    def registers(self, pid: int) -> dict[str, int]:
        """The registers of a stopped process (its saved context), by name."""
        proc = self.process(pid)
        if proc.context is None:
            raise NoSuchProcess(pid)
        if self.scheduler.loaded is proc:
            self.cpu.save_context(proc.context)
        return self.cpu.context_regs(proc.context)

    def set_registers(self, pid: int, **values: int) -> None:
        """Set general registers (eax..edi, esp, ebp) of a stopped process."""
        proc = self.process(pid)
        if proc.context is None:
            raise NoSuchProcess(pid)
        if self.scheduler.loaded is proc:
            self.cpu.save_context(proc.context)
        for name, value in values.items():
            self.cpu.set_context_reg(proc.context, self.cpu.register_id(name), value)
        self.scheduler.forget_loaded(proc)

    def pause(self) -> None:
        """From a breakpoint handler: make run() return after this slice."""
        self.scheduler.pause()

    def request_switch(self) -> None:
        self.scheduler.request_switch()

    def after_kernel_entry(self, proc: Process) -> None:
        """Before returning to the guest: drop stale translations the kernel made."""
        if self.frames.code_dirty:
            self.cpu.flush_code()
            self.frames.code_dirty = False
        if proc.space.tlb_dirty and self.scheduler.loaded is proc:
            self.cpu.flush_tlb()
            proc.space.tlb_dirty = False

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
        self.frames.dirtied(pa, len(data))
        self.frames.code_dirty = True  # it may have been code

    def read_virt(self, pid: int, va: int, n: int, user: bool = True) -> bytes:
        """Bytes at ``va`` in ``pid``, through the page walk; pages a region allows but that
        were never touched (or are in the page file) come in first, as the kernel's
        copy_from_user brings them."""
        return self.copy_from_user(self.process(pid), va, n, user)

    def write_virt(self, pid: int, va: int, data: bytes, user: bool = True,
                   force: bool = False) -> None:
        """Write ``data`` at ``va`` in ``pid`` through the page walk. ``force`` also writes
        pages the guest may only read (a debugger's write, or loading code)."""
        space = self.process(pid).space
        if not space.tables.pd:
            raise NoSuchProcess(pid)
        try:
            written = write_virt(self.ram, space.cr3, va, data, user=user, force=force,
                                 on_fault=lambda w: self._fault(space, w.va, not force))
        except TranslationError as error:
            raise AddressError(f"pid {pid}: {error}", error.walk) from None
        except ValueError as error:
            raise AddressError(f"pid {pid}: {error}") from None
        if any(self.frames.info(pa).executable for pa in written):
            self.frames.code_dirty = True

    def copy_from_user(self, proc: Process, va: int, n: int, user: bool = True) -> bytes:
        """Read page by page, bringing each page in first if a region allows it (a later
        page may send an earlier one to the page file: each is read while it is there)."""
        space = proc.space
        if not space.tables.pd:
            raise NoSuchProcess(proc.pid)
        if n < 0 or va < 0 or va + n > 1 << 32:
            raise AddressError(f"pid {proc.pid}: range {va:#x}+{n:#x} is outside the "
                               f"address space")
        out = bytearray()
        for chunk_va, size in chunks(va, n):
            for attempt in range(3):
                try:
                    out += read_virt(self.ram, space.cr3, chunk_va, size, user=user)
                    break
                except TranslationError as error:
                    if attempt == 2 or not self._fault(space, chunk_va, False):
                        raise AddressError(f"pid {proc.pid}: {error}", error.walk) from None
        return bytes(out)

    def _fault(self, space: AddressSpace, va: int, write: bool) -> bool:
        if va >= USER_TOP:
            return False
        try:
            return self.vm.resolve(space, va, write, present=bool(
                space.tables.entry(va) & _PRESENT))
        except OutOfMemory:
            return False

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the CPU, RAM and page file now rather than at garbage collection."""
        if self.cpu is not None:
            self.cpu.close()
            self.cpu = None
            self.pagefile.close()
            self.ram.close()

    def __enter__(self) -> "Machine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
