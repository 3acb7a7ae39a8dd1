"""Registers: Unicorn's ids, where QEMU keeps them, and the two ways to reach them.

Registers are read and written in place in the live ``CPUX86State`` when the start-up
self-test found it (``emu.cpu.selftest.locate_state``), with no call into Unicorn; otherwise
through ``uc_reg_read``/``uc_reg_write`` with arguments built once (:class:`RegisterCalls`).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from unicorn import x86_const as X
from unicorn.unicorn_py3.unicorn import uclib

from ..errors import CpuError


class Reg:
    """Unicorn ids of the 32-bit registers. Plain ints: hashing an IntEnum member calls
    Python code, which the syscall path cannot afford."""

    EAX = X.UC_X86_REG_EAX
    EBX = X.UC_X86_REG_EBX
    ECX = X.UC_X86_REG_ECX
    EDX = X.UC_X86_REG_EDX
    ESI = X.UC_X86_REG_ESI
    EDI = X.UC_X86_REG_EDI
    EBP = X.UC_X86_REG_EBP
    ESP = X.UC_X86_REG_ESP
    EIP = X.UC_X86_REG_EIP
    EFLAGS = X.UC_X86_REG_EFLAGS
    CR0 = X.UC_X86_REG_CR0
    CR2 = X.UC_X86_REG_CR2
    CR3 = X.UC_X86_REG_CR3
    CR4 = X.UC_X86_REG_CR4


class Seg:
    """Unicorn ids of the segment registers."""

    CS = X.UC_X86_REG_CS
    SS = X.UC_X86_REG_SS
    DS = X.UC_X86_REG_DS
    ES = X.UC_X86_REG_ES
    FS = X.UC_X86_REG_FS
    GS = X.UC_X86_REG_GS


REG_NAMES = {value: name.lower() for name, value in vars(Reg).items() if name.isupper()}
SEG_NAMES = {value: name.lower() for name, value in vars(Seg).items() if name.isupper()}
GENERAL_REGS = (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX, Reg.ESI, Reg.EDI, Reg.EBP, Reg.ESP)
SYSCALL_ARG_REGS = (Reg.EBX, Reg.ECX, Reg.EDX, Reg.ESI, Reg.EDI, Reg.EBP)

GP_INDEX = {Reg.EAX: 0, Reg.ECX: 1, Reg.EDX: 2, Reg.EBX: 3, Reg.ESP: 4, Reg.EBP: 5,
             Reg.ESI: 6, Reg.EDI: 7}
EIP_INDEX = 16
STATE_INDEX = {**GP_INDEX, Reg.EIP: EIP_INDEX}


@dataclass(frozen=True)
class StateLayout:
    """Offsets into a context's copy of CPUX86State, found by the start-up self-test."""

    header: int  # bytes of context header before the state
    size: int  # bytes of state
    old_exception: int  # 32-bit word indexes ...
    error_code: int
    is_int: int
    cr2: int  # ... and the 64-bit word index of cr[2]


class RegisterCalls:
    """Register access through Unicorn's C API, with the call arguments built once (it
    halves the cost of ctypes calls)."""

    def __init__(self, handle):
        lib = ctypes.CDLL(uclib._name)
        self._read, self._write = lib.uc_reg_read, lib.uc_reg_write
        self._read_batch = lib.uc_reg_read_batch
        self._handle = ctypes.c_void_p(handle.value)
        self._value = ctypes.c_uint64()
        self._ref = ctypes.byref(self._value)
        self._ids = {r: ctypes.c_int(r) for r in REG_NAMES}
        self._batch_ids = (ctypes.c_int32 * 6)(*SYSCALL_ARG_REGS)
        self._batch_vals = (ctypes.c_uint64 * 6)()
        self._batch_ptrs = (ctypes.c_void_p * 6)(
            *[ctypes.addressof(self._batch_vals) + 8 * i for i in range(6)])

    def _id(self, reg: int):
        known = self._ids.get(reg)
        return known if known is not None else ctypes.c_int(reg)

    def read(self, reg: int) -> int:
        self._value.value = 0
        if self._read(self._handle, self._id(reg), self._ref):
            raise CpuError(f"cannot read register {reg}")
        return self._value.value & 0xFFFFFFFF

    def write(self, reg: int, value: int) -> None:
        self._value.value = value & 0xFFFFFFFF
        if self._write(self._handle, self._id(reg), self._ref):
            raise CpuError(f"cannot write register {reg}")

    def syscall_args(self) -> tuple[int, int, int, int, int, int]:
        for i in range(6):
            self._batch_vals[i] = 0
        self._read_batch(self._handle, self._batch_ids, self._batch_ptrs, 6)
        return tuple(v & 0xFFFFFFFF for v in self._batch_vals)


class RegisterAccess:
    """The register half of :class:`emu.cpu.Cpu` (it sets ``_state64``, ``_calls``, ``uc``)."""

    def reg(self, reg: int) -> int:
        state = self._state64
        if state is not None:
            index = STATE_INDEX.get(reg)
            if index is not None:
                return state[index] & 0xFFFFFFFF
        return self._calls.read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        state = self._state64
        if state is not None and reg in GP_INDEX:
            state[GP_INDEX[reg]] = value & 0xFFFFFFFF
            return
        self._calls.write(reg, value)

    def syscall_number(self) -> int:
        """EAX, on the syscall path."""
        state = self._state64
        if state is not None:
            return state[0] & 0xFFFFFFFF
        return self._calls.read(Reg.EAX)

    def set_result(self, value: int) -> None:
        """EAX, on the syscall path."""
        state = self._state64
        if state is not None:
            state[0] = value & 0xFFFFFFFF
        else:
            self._calls.write(Reg.EAX, value)

    def syscall_args(self) -> tuple[int, int, int, int, int, int]:
        """EBX, ECX, EDX, ESI, EDI, EBP."""
        state = self._state64
        if state is not None:
            return (state[3] & 0xFFFFFFFF, state[1] & 0xFFFFFFFF, state[2] & 0xFFFFFFFF,
                    state[6] & 0xFFFFFFFF, state[7] & 0xFFFFFFFF, state[5] & 0xFFFFFFFF)
        return self._calls.syscall_args()

    @property
    def direct_state(self) -> bool:
        """Whether registers are accessed in place (see the module docstring)."""
        return self._state64 is not None

    def use_layout(self, layout: StateLayout) -> None:
        """Adopt the context layout found by the self-test."""
        self.layout = layout
        self._ctx32 = (ctypes.c_int32 * (layout.size // 4)).from_address(
            self._ctx_address + layout.header)

    def use_state(self, address: int) -> None:
        """Access the live CPU state at ``address`` in place (verified by the self-test)."""
        words = self.layout.size // 4
        self._state32 = (ctypes.c_int32 * words).from_address(address)
        self._state64 = (ctypes.c_uint64 * (words // 2)).from_address(address)

    def snapshot(self) -> bytes:
        """The CPU state as a context holds it (header included)."""
        uclib.uc_context_save(self._h, self._ctx.context)
        return ctypes.string_at(self._ctx.context, self._ctx.size)

    def set_selector(self, seg: Seg, value: int) -> None:
        self.uc.reg_write(seg, value)

    def set_gdtr(self, base: int, limit: int) -> None:
        self.uc.reg_write(X.UC_X86_REG_GDTR, (0, base, limit, 0))

    def save_new_context(self):
        return self.uc.context_save()

    def segment(self, seg: Seg) -> int:
        return self.uc.reg_read(seg) & 0xFFFF

    def regs(self) -> dict[str, int]:
        """The general registers, EIP, EFLAGS, the control registers and the selectors."""
        out = {name: self.reg(r) for r, name in REG_NAMES.items()}
        out.update({name: self.segment(s) for s, name in SEG_NAMES.items()})
        return out

    @property
    def cr0(self) -> int:
        return self.reg(Reg.CR0)

    @property
    def cr2(self) -> int:
        return self.reg(Reg.CR2)

    @property
    def cr3(self) -> int:
        return self.reg(Reg.CR3)

    @property
    def cr4(self) -> int:
        return self.reg(Reg.CR4)

    @property
    def cpl(self) -> int:
        return self.segment(Seg.CS) & 3

