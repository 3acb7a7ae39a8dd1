"""What a debugger needs from the CPU: every register of a saved context in gdb's order,
hooks at single code addresses (hardware breakpoints), and data-access hooks (watchpoints).

The register tables follow gdb's target descriptions: ``org.gnu.gdb.i386.core`` (the general
and segment registers, then the x87 stack and its control words), ``org.gnu.gdb.i386.sse``
(XMM and MXCSR), ``org.gnu.gdb.i386.linux`` (orig_eax/orig_rax), and, for paging, the control
registers. Each entry is (name, bits, unicorn id or None, feature, gdb type).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn import x86_const as X
from unicorn.unicorn_const import (
    UC_HOOK_CODE,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE,
    UC_MEM_WRITE,
)
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

from ..errors import CpuError

CORE, SSE, LINUX, SEGMENTS, SYSTEM = ("org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse",
                                      "org.gnu.gdb.i386.linux", "org.gnu.gdb.i386.segments",
                                      "org.zeros.paging")


def _x87(word: int) -> list[tuple]:
    return ([(f"st{n}", 80, getattr(X, f"UC_X86_REG_FP{n}"), CORE, "i387_ext")
             for n in range(8)] +
            [(name, word, uc, CORE, "int") for name, uc in
             (("fctrl", X.UC_X86_REG_FPCW), ("fstat", X.UC_X86_REG_FPSW),
              ("ftag", X.UC_X86_REG_FPTAG), ("fiseg", X.UC_X86_REG_FCS),
              ("fioff", X.UC_X86_REG_FIP), ("foseg", X.UC_X86_REG_FDS),
              ("fooff", X.UC_X86_REG_FDP), ("fop", X.UC_X86_REG_FOP))])


_SEGS = [(s, 32, getattr(X, f"UC_X86_REG_{s.upper()}"), CORE, "int32")
         for s in ("cs", "ss", "ds", "es", "fs", "gs")]

GDB_REGS32 = (
    [(r, 32, getattr(X, f"UC_X86_REG_{r.upper()}"), CORE,
      {"esp": "data_ptr", "ebp": "data_ptr"}.get(r, "int32"))
     for r in ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")] +
    [("eip", 32, X.UC_X86_REG_EIP, CORE, "code_ptr"),
     ("eflags", 32, X.UC_X86_REG_EFLAGS, CORE, "i386_eflags")] + _SEGS + _x87(32) +
    [(f"xmm{n}", 128, getattr(X, f"UC_X86_REG_XMM{n}"), SSE, "vec128") for n in range(8)] +
    [("mxcsr", 32, X.UC_X86_REG_MXCSR, SSE, "i386_mxcsr"),
     ("orig_eax", 32, None, LINUX, "int")] +
    [(c, 32, getattr(X, f"UC_X86_REG_{c.upper()}"), SYSTEM, "int")
     for c in ("cr0", "cr2", "cr3", "cr4")])

GDB_REGS64 = (
    [(r, 64, getattr(X, f"UC_X86_REG_{r.upper()}"), CORE,
      {"rsp": "data_ptr", "rbp": "data_ptr"}.get(r, "int64"))
     for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
               *(f"r{n}" for n in range(8, 16)))] +
    [("rip", 64, X.UC_X86_REG_RIP, CORE, "code_ptr"),
     ("eflags", 32, X.UC_X86_REG_EFLAGS, CORE, "i386_eflags")] + _SEGS + _x87(32) +
    [(f"xmm{n}", 128, getattr(X, f"UC_X86_REG_XMM{n}"), SSE, "vec128") for n in range(16)] +
    [("mxcsr", 32, X.UC_X86_REG_MXCSR, SSE, "i386_mxcsr"),
     ("orig_rax", 64, None, LINUX, "int"),
     ("fs_base", 64, X.UC_X86_REG_FS_BASE, SEGMENTS, "int"),
     ("gs_base", 64, X.UC_X86_REG_GS_BASE, SEGMENTS, "int")] +
    [(c, 64, getattr(X, f"UC_X86_REG_{c.upper()}"), SYSTEM, "int")
     for c in ("cr0", "cr2", "cr3", "cr4")])

# what a debugger may change in a saved context: general registers, the instruction pointer
# and flags, the x87 and SSE state (selectors and control registers written into a context
# crash Unicorn, see contexts.py)
_WRITABLE = frozenset(
    [getattr(X, f"UC_X86_REG_{r}") for r in
     ("EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI", "EIP", "EFLAGS", "RAX", "RBX",
      "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP", "FS_BASE", "GS_BASE", "MXCSR", "FPCW",
      "FPSW", "FPTAG", *(f"R{n}" for n in range(8, 16)), *(f"XMM{n}" for n in range(16)),
      *(f"FP{n}" for n in range(8)))])

_CODE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                            ctypes.c_void_p)
_MEM_CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64,
                           ctypes.c_int, ctypes.c_int64, ctypes.c_void_p)


def encode(bits: int, value) -> bytes:
    """A register's value as gdb's target byte order wants it (little-endian)."""
    if bits == 80:  # (mantissa, exponent)
        mantissa, exponent = value
        return mantissa.to_bytes(8, "little") + (exponent & 0xFFFF).to_bytes(2, "little")
    return (value & ((1 << bits) - 1)).to_bytes(bits // 8, "little")


def decode(bits: int, raw: bytes):
    if bits == 80:
        return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:10], "little")
    return int.from_bytes(raw, "little")


class DebugAccess:
    """The debugger half of :class:`emu.cpu.Cpu`."""

    def gdb_registers(self) -> list[tuple]:
        return GDB_REGS64 if self.mode == 64 else GDB_REGS32

    def read_context_regs(self, ctx, regs: list[int | None]) -> list:
        """Registers of a saved context (None: one the CPU does not have, read as 0). The
        context is read in the live CPU (a context's own reader cuts x87 and SSE registers
        to 64 bits), and the live state put back."""
        keep = self._ctx_keep
        self.uc.context_update(keep)
        try:
            self.uc.context_restore(ctx)
            return [0 if reg is None else self.uc.reg_read(reg) for reg in regs]
        finally:
            self.uc.context_restore(keep)

    def write_context_reg(self, ctx, reg: int | None, value) -> None:
        """A register a debugger may change (see _WRITABLE); CpuError for the others."""
        if reg not in _WRITABLE:
            raise CpuError("this register cannot be written while the process is stopped")
        keep = self._ctx_keep
        self.uc.context_update(keep)
        try:
            self.uc.context_restore(ctx)
            self.uc.reg_write(reg, value)
            self.uc.context_update(ctx)
        finally:
            self.uc.context_restore(keep)

    def _del_hook(self, handle: int, cb) -> None:
        if self.uc is not None:  # (with paging off: see Cpu.paging_off)
            self.paging_off(lambda: uclib.uc_hook_del(self._h, uc_hook_h(handle)))
            if cb in self._callbacks:
                self._callbacks.remove(cb)

    def hook_code_at(self, address: int, on_hit: Callable[[int], None]) -> Callable[[], None]:
        """Call ``on_hit(address)`` before the instruction at virtual ``address`` runs (in any
        address space: a hardware breakpoint); a :meth:`stop` from it stops the CPU before
        that instruction, exactly. Costs nothing elsewhere (Unicorn checks the bound as it
        translates). Returns the function that removes the hook."""
        def hit(_uc, eip, _size, _data):
            try:
                on_hit(eip)
            except BaseException as error:  # noqa: B036 - must not unwind into C
                self._fail(error)
        handle, cb = self._hook(UC_HOOK_CODE, _CODE_CB, hit, begin=address, end=address)
        self.flush_code()  # blocks translated before the hook do not call it
        return lambda: (self._del_hook(handle, cb), self.flush_code())

    def hook_data(self, on_access: Callable[[bool, int, int, int], None]) -> Callable[[], None]:
        """Call ``on_access(write, pa, size, value)`` before every data access (Unicorn gives
        physical addresses). A Python call per access: only while a watchpoint is set.
        Returns the function that removes the hook."""
        def access(_uc, kind, pa, size, value, _data):
            try:
                on_access(kind == UC_MEM_WRITE, pa, size, value)
            except BaseException as error:  # noqa: B036
                self._fail(error)
            return True
        handle, cb = self._hook(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, _MEM_CB, access)
        self.flush_code()
        return lambda: (self._del_hook(handle, cb), self.flush_code())
