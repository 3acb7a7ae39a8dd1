"""Hooks: how interrupts, exceptions and port instructions come back from Unicorn.

Interrupts never go through an IDT: Unicorn calls the INTR hook instead. ``int 0x80`` goes
to ``syscall_handler``; a page fault to ``page_fault_handler(cr2, error_code)``, once (the
common fault then costs no Trap object), and when that returns False on to ``trap_handler``
as a :class:`Trap`; every other exception (and any other ``int n``) becomes a Trap for
``trap_handler``, with the error code and CR2 the CPU computed.
``ud2``/invalid opcodes become vector 6, ``in``/``out`` in ring 3 vector 13.

Unicorn 2.1.4 never clears ``env->old_exception`` on the hook path (issue 1883): the second
#PF would arrive as #DF. The remedy writes -1 there (in place, or through a saved context)
on every exception. Hooks are raw ctypes callbacks (the binding's wrapper costs twice the
time of a syscall); an exception raised inside one stops emulation and is re-raised by
:meth:`emu.cpu.Cpu.run`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn import UcError
from unicorn import x86_const as X
from unicorn.unicorn_const import (
    UC_ERR_OK,
    UC_HOOK_CODE,
    UC_HOOK_INSN,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE,
    UC_MEM_WRITE,
)
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

from ..errors import CpuError
from .registers import EIP_INDEX, Reg
from .trap import GP, PF, SYSCALL_VECTOR, UD, Trap

_INTR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_INVALID_CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
_IN_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                          ctypes.c_void_p)
_OUT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                           ctypes.c_uint32, ctypes.c_void_p)
_SYSCALL_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class HookDispatch:
    """The hook half of :class:`emu.cpu.Cpu`."""

    def _hook(self, htype: int, functype, fn, *extra, begin: int = 1,
              end: int = 0) -> tuple[int, object]:
        """Add a raw hook (over [begin, end]; 1, 0: everywhere); (handle, callback)."""
        cb = functype(fn)
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self._h, ctypes.byref(handle), htype, cb, None,
                                   ctypes.c_uint64(begin), ctypes.c_uint64(end), *extra)
        if status != UC_ERR_OK:
            raise CpuError(f"cannot add hook {htype}: {UcError(status)}")
        self._callbacks.append(cb)
        return handle.value, cb

    def _install_hooks(self) -> None:
        self._hook(UC_HOOK_INTR, _INTR_CB, self._on_interrupt)
        self._hook(UC_HOOK_INSN_INVALID, _INVALID_CB, self._on_invalid)
        self._hook(UC_HOOK_INSN, _IN_CB, self._on_in, ctypes.c_int(X.UC_X86_INS_IN))
        self._hook(UC_HOOK_INSN, _OUT_CB, self._on_out, ctypes.c_int(X.UC_X86_INS_OUT))
        if self.mode == 64:  # `syscall` reaches this hook (Unicorn never jumps to LSTAR);
            self._hook(UC_HOOK_INSN, _SYSCALL_CB, self._on_syscall,  # RIP then moves on by 2
                       ctypes.c_int(X.UC_X86_INS_SYSCALL))

    def _fail(self, error: BaseException) -> None:
        if self._hook_error is None:
            self._hook_error = error
        self._stopping = True
        uclib.uc_emu_stop(self._h)

    def _on_interrupt(self, _handle, vector, _data):
        try:
            if vector == SYSCALL_VECTOR:
                if not self._stopping:
                    self.syscall_handler()
                return
            if self._stopping:
                self._exception(vector)  # the remedy still applies; the event is dropped
                return
            handler = self.page_fault_handler
            if vector == PF and handler is not None:
                state = self._state32
                if state is not None:  # the fast path: no Trap object for a resolved fault
                    layout = self.layout
                    if not state[layout.is_int]:
                        state[layout.old_exception] = -1  # the 1883 remedy
                        cr2 = self._state64[layout.cr2] & self.addr_mask
                        code = state[layout.error_code] & 0xFFFFFFFF
                        if handler(cr2, code):
                            return
                        if not self._stopping:
                            self.trap_handler(Trap(PF, self._state64[EIP_INDEX] &
                                                   self.addr_mask, code, cr2))
                        return
                else:
                    trap = self._exception(vector)
                    if not trap.software and handler(trap.cr2, trap.error_code):
                        return
                    if not self._stopping:
                        self.trap_handler(trap)
                    return
            trap = self._exception(vector)
            self.trap_handler(trap)
        except BaseException as error:  # noqa: B036 - must not unwind into C
            self._fail(error)

    def _on_syscall(self, _handle, _data):
        try:
            if not self._stopping:
                self.syscall_handler()
        except BaseException as error:  # noqa: B036 - must not unwind into C
            self._fail(error)

    def _exception(self, vector: int) -> Trap:
        """Read the error code and the int flag, clear old_exception (the 1883 remedy)."""
        layout = self.layout
        if layout is None:  # only during the start-up self-test
            self._locate_fields(vector)
            layout = self.layout
        state = self._state32
        if state is not None:
            error_code, is_int = state[layout.error_code], state[layout.is_int]
            state[layout.old_exception] = -1
            cr2 = self._state64[layout.cr2] & self.addr_mask if vector == PF else 0
            eip = self._state64[EIP_INDEX] & self.addr_mask
        else:
            uclib.uc_context_save(self._h, self._ctx.context)
            words = self._ctx32
            error_code, is_int = words[layout.error_code], words[layout.is_int]
            words[layout.old_exception] = -1
            uclib.uc_context_restore(self._h, self._ctx.context)
            cr2 = self._calls.read(Reg.CR2) if vector == PF else 0
            eip = self._calls.read(self.pc_reg)
        return Trap(vector, eip, error_code & 0xFFFFFFFF, cr2, bool(is_int))

    def _on_invalid(self, _handle, _data):
        try:
            self._invalid_seen = True
            if not self._stopping:
                self.trap_handler(Trap(UD, self.reg(self.pc_reg)))
        except BaseException as error:  # noqa: B036
            self._fail(error)
        return False  # stop: the instruction cannot run

    def _on_in(self, _handle, port, size, _data):
        self._port_trap()
        return 0

    def _on_out(self, _handle, port, size, value, _data):
        self._port_trap()

    def _port_trap(self) -> None:
        # Ring 3 with IOPL 0 may not touch ports: the CPU raises #GP(0). Unicorn does not.
        try:
            if not self._stopping:
                self.trap_handler(Trap(GP, self.reg(self.pc_reg)))
                if not self._stopping:
                    self.stop()
        except BaseException as error:  # noqa: B036
            self._fail(error)

    def _locate_fields(self, vector: int) -> None:
        raise CpuError(f"exception {vector} before the self-test found the context layout")

    def _unhandled_syscall(self) -> None:
        raise CpuError("int 0x80 with no syscall handler installed")

    def _unhandled_trap(self, trap: Trap) -> None:
        raise CpuError(f"{trap.name} at {trap.eip:#010x} with no trap handler installed")



    def trace(self, on_instruction: Callable[[int, int], None],
              on_memory: Callable[[bool, int, int, int], None]) -> Callable[[], None]:
        """Call ``on_instruction(eip, size)`` before every instruction and
        ``on_memory(write, pa, size, value)`` for every data access (Unicorn reports them
        with physical addresses). A Python call per instruction, about 500 times slower:
        only for tracing, when asked. Returns the function that removes the hooks."""
        code = self.uc.hook_add(UC_HOOK_CODE, lambda _uc, eip, size, _d: on_instruction(eip, size))
        memory = self.uc.hook_add(
            UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
            lambda _uc, access, pa, size, value, _d: on_memory(access == UC_MEM_WRITE, pa,
                                                              size, value))

        def remove() -> None:  # (with paging off: see Cpu.paging_off)
            self.paging_off(lambda: self.uc.hook_del(code))
            self.paging_off(lambda: self.uc.hook_del(memory))
        return remove
