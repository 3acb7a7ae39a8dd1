"""The Cpu itself: Unicorn made, RAM mapped, hooks installed, calibrated and self-tested;
running, stopping, flushing. Registers, contexts and hooks are in their own modules."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import unicorn
from unicorn import Uc, UcError
from unicorn.unicorn_const import (
    UC_ARCH_X86,
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_ERR_INSN_INVALID,
    UC_ERR_OK,
    UC_MODE_32,
    UC_MODE_64,
    UC_PROT_ALL,
)
from unicorn.unicorn_py3.unicorn import uclib

from ..errors import CpuError, EmulationError
from ..mmu import Cr0
from ..ram import PhysicalMemory
from .contexts import ContextOps
from .debug import DebugAccess
from .hooks import HookDispatch
from .registers import Reg, Reg64, RegisterAccess, RegisterCalls, StateLayout
from .trap import Trap
from .watchdog import Watchdog

# emu_start's `until`. Not an arbitrary unreachable address: Unicorn 2.1.4 probes a non-zero
# `until` with the current privilege, and when that probe faults it silently leaves
# old_exception at 14, so the next real #PF arrives as #DF (docs/unicorn.md). 0 is not
# probed, and ZerOS never maps page 0: a jump there faults on the fetch first.
UNTIL = 0



def unicorn_build() -> str:
    """Which Unicorn this is, for messages."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    combined = uclib.uc_version(ctypes.byref(major), ctypes.byref(minor))
    return (f"unicorn {unicorn.__version__} (C library {major.value}.{minor.value}, "
            f"{combined:#x}) from {getattr(uclib, '_name', '?')}")


class Cpu(RegisterAccess, ContextOps, HookDispatch, DebugAccess):
    """One emulated x86 CPU over ``ram``: in protected mode (``mode=32``: 32-bit paging, or
    PAE once asked) or in long mode (``mode=64``: 4-level paging, 64-bit code in ring 3,
    ``syscall``); calibrated and self-tested on construction."""

    def __init__(self, ram: PhysicalMemory, tcg_buffer_size: int = 32 << 20,
                 direct_state: bool = True, mode: int = 32):
        if ram.size < 1 << 20:
            raise CpuError(f"RAM of {ram.size} bytes is too small: at least 1 MiB is needed")
        if mode not in (32, 64):
            raise CpuError(f"mode must be 32 or 64, not {mode!r}")
        self.ram = ram
        self.mode = mode
        # the instruction pointer, the stack pointer, the accumulator (syscall number/result)
        self.pc_reg, self.sp_reg, self.ax_reg = (Reg64.RIP, Reg64.RSP, Reg64.RAX) \
            if mode == 64 else (Reg.EIP, Reg.ESP, Reg.EAX)
        self.addr_mask = (1 << 64) - 1 if mode == 64 else 0xFFFFFFFF
        # inside the syscall handler, the instruction pointer is this far from where the
        # program goes on: `int 0x80` has already moved it past itself; in long mode the
        # `syscall` hook runs with RIP still on the 2-byte instruction
        self.syscall_pc_behind = 2 if mode == 64 else 0
        if mode == 64:  # the syscall path reads RAX and RDI, RSI, RDX, R10, R8, R9
            self.syscall_number = self._syscall_number64
            self.set_result = self._set_result64
            self.syscall_args = self._syscall_args64
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64 if mode == 64 else UC_MODE_32)
        self.uc.ctl_set_tcg_buffer_size(tcg_buffer_size)
        self.uc.mem_map_ptr(0, ram.size, UC_PROT_ALL, ram.address)
        self._h = self.uc._uch
        self.handle_address = self._h.value
        self._ctx = self.uc.context_save()  # scratch context, reused
        self._ctx_keep = self.uc.context_save()  # the live state, kept across new contexts
        self._ctx_address = ctypes.cast(self._ctx.context, ctypes.c_void_p).value
        self.layout: StateLayout | None = None  # found by the self-test
        self._state32 = self._state64 = None  # views of the live CPU state, when found
        self._ctx32 = None  # the same view over the scratch context
        self._calls = RegisterCalls(self._h, mode)
        self.syscall_handler: Callable[[], None] = self._unhandled_syscall
        self.trap_handler: Callable[[Trap], None] = self._unhandled_trap
        # page faults first go here (cr2, error code) -> resolved?; a False goes on to
        # trap_handler as a Trap. The common fault then costs no Trap object at all.
        self.page_fault_handler: Callable[[int, int], bool] | None = None
        self._stopping = False
        self._invalid_seen = False
        self.counting = False  # Unicorn holds its instruction-count hook (a run counted)
        self._ctx_drop = self.uc.context_save()  # the live state while the hook is dropped
        self._hook_error: BaseException | None = None
        self._callbacks = []  # keep the ctypes callbacks alive
        self._watchdog = Watchdog(self._stop_from_timer)
        self._install_hooks()
        from .selftest import calibrate, calibrate64

        self.user_template, self.kernel_template = \
            (calibrate64 if mode == 64 else calibrate)(self, direct_state)


    def flush_tlb(self) -> None:
        """Drop every cached translation (needed after a PTE downgrade by the host)."""
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def flush_code(self) -> None:
        """Drop every translated block (needed after the host rewrote frames holding code)."""
        self.uc.ctl_flush_tb()


    def run(self, eip: int, timeout_us: int = 0, count: int = 0) -> None:
        """Run from ``eip`` until a handler calls :meth:`stop`, the timeout (microseconds)
        passes or ``count`` instructions ran (count > 0 costs a hook per instruction)."""
        self._stopping = False
        self._invalid_seen = False
        self._hook_error = None
        self.uc._hook_exception = None  # errors of the binding's hooks (trace) land there
        if count:
            self.counting = True
        elif self.counting:
            self._drop_count_hook()
        if timeout_us:  # our sleeping timer, not Unicorn's polling one (see watchdog.py)
            self._watchdog.arm(time.monotonic() + timeout_us / 1e6)
        try:
            status = uclib.uc_emu_start(self._h, eip, UNTIL, 0, count)
        finally:
            if timeout_us:
                self._watchdog.disarm()
        if self._hook_error is not None:
            error, self._hook_error = self._hook_error, None
            raise error
        if self.uc._hook_exception is not None:
            error, self.uc._hook_exception = self.uc._hook_exception, None
            raise error
        if status != UC_ERR_OK and not (status == UC_ERR_INSN_INVALID and self._invalid_seen):
            raise EmulationError(f"emulation stopped: {UcError(status)}", status,
                                 self.reg(self.pc_reg))


    def paging_off(self, action: Callable[[], int | None]) -> None:
        """Run ``action`` (a Unicorn call that deletes a hook) with paging off, then put the
        CPU state back and flush the translations made meanwhile.

        Unicorn 2.1.4, deleting any hook, drops the code it instrumented by translating each
        hooked region's address with the current page tables: a page not present there
        raises a guest #PF from outside any emulation (Unicorn ignores it, no hook sees it,
        but the CPU keeps it as the last exception: the next two make a triple fault, after
        which every run of that process ends at once with EIP unchanged; docs/unicorn.md).
        With paging off, every address translates."""
        uclib.uc_context_save(self._h, self._ctx_drop.context)
        try:
            self._calls.write(Reg.CR0, self._calls.read(Reg.CR0) & ~int(Cr0.PG))
            status = action()
        finally:
            uclib.uc_context_restore(self._h, self._ctx_drop.context)
            self.flush_tlb()
        if status:
            raise EmulationError(f"deleting a hook: {UcError(status)}", status,
                                 self.reg(self.pc_reg))

    def _drop_count_hook(self) -> None:
        """Unicorn deletes the instruction-count hook of a counted run at the next uncounted
        ``uc_emu_start``: have that happen in an empty run (it begins at its end), with
        paging off (see :meth:`paging_off`)."""
        self.paging_off(lambda: uclib.uc_emu_start(self._h, UNTIL, UNTIL, 0, 0))
        self.counting = False

    def stop(self) -> None:
        """Ask the CPU to stop; events still raised by the current block are dropped."""
        self._stopping = True
        uclib.uc_emu_stop(self._h)

    def _stop_from_timer(self) -> None:
        """The time budget's deadline passed (called from the watchdog's thread)."""
        if self.uc is not None:
            self._stopping = True
            uclib.uc_emu_stop(self._h)

    def close(self) -> None:
        """Release the Unicorn instance (it holds callbacks that refer back to this object)."""
        self._watchdog.close()
        self.uc = None  # the last reference: uc_close runs now, before the callbacks go
        self.syscall_handler = self._unhandled_syscall
        self.trap_handler = self._unhandled_trap
        self._callbacks.clear()

