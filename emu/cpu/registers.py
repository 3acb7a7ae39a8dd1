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


class Reg64:
    """Unicorn ids of the 64-bit registers (long mode)."""

    RAX = X.UC_X86_REG_RAX
    RBX = X.UC_X86_REG_RBX
    RCX = X.UC_X86_REG_RCX
    RDX = X.UC_X86_REG_RDX
    RSI = X.UC_X86_REG_RSI
    RDI = X.UC_X86_REG_RDI
    RBP = X.UC_X86_REG_RBP
    RSP = X.UC_X86_REG_RSP
    R8 = X.UC_X86_REG_R8
    R9 = X.UC_X86_REG_R9
    R10 = X.UC_X86_REG_R10
    R11 = X.UC_X86_REG_R11
    R12 = X.UC_X86_REG_R12
    R13 = X.UC_X86_REG_R13
    R14 = X.UC_X86_REG_R14
    R15 = X.UC_X86_REG_R15
    RIP = X.UC_X86_REG_RIP
    RFLAGS = X.UC_X86_REG_RFLAGS
    FS_BASE = X.UC_X86_REG_FS_BASE
    GS_BASE = X.UC_X86_REG_GS_BASE


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

REG64_NAMES = {value: name.lower() for name, value in vars(Reg64).items() if name.isupper()}
GENERAL_REGS64 = (Reg64.RAX, Reg64.RBX, Reg64.RCX, Reg64.RDX, Reg64.RSI, Reg64.RDI,
                  Reg64.RBP, Reg64.RSP, Reg64.R8, Reg64.R9, Reg64.R10, Reg64.R11, Reg64.R12,
                  Reg64.R13, Reg64.R14, Reg64.R15)
# QEMU's regs[]: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15, then RIP
GP_INDEX64 = {Reg64.RAX: 0, Reg64.RCX: 1, Reg64.RDX: 2, Reg64.RBX: 3, Reg64.RSP: 4,
              Reg64.RBP: 5, Reg64.RSI: 6, Reg64.RDI: 7,
              **{getattr(Reg64, f"R{n}"): n for n in range(8, 16)}}
STATE_INDEX64 = {**GP_INDEX64, Reg64.RIP: EIP_INDEX}
SYSCALL_ARG_REGS64 = (Reg64.RDI, Reg64.RSI, Reg64.RDX, Reg64.R10, Reg64.R8, Reg64.R9)
_SYSCALL_ARG_INDEX64 = tuple(GP_INDEX64[r] for r in SYSCALL_ARG_REGS64)
WIDE = frozenset(REG64_NAMES) | {Reg.CR0, Reg.CR2, Reg.CR3, Reg.CR4}  # not cut to 32 bits
_MASK64 = (1 << 64) - 1


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

    def __init__(self, handle, mode: int = 32):
        lib = ctypes.CDLL(uclib._name)
        self._wide = WIDE if mode == 64 else frozenset(REG64_NAMES)
        self._read, self._write = lib.uc_reg_read, lib.uc_reg_write
        self._read_batch = lib.uc_reg_read_batch
        self._handle = ctypes.c_void_p(handle.value)
        self._value = ctypes.c_uint64()
        self._ref = ctypes.byref(self._value)
        self._ids = {r: ctypes.c_int(r) for r in (*REG_NAMES, *REG64_NAMES)}
        self._batch_ids = (ctypes.c_int32 * 6)(*(SYSCALL_ARG_REGS64 if mode == 64
                                                 else SYSCALL_ARG_REGS))
        self._batch_mask = _MASK64 if mode == 64 else 0xFFFFFFFF
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
        return self._value.value if reg in self._wide else self._value.value & 0xFFFFFFFF

    def write(self, reg: int, value: int) -> None:
        self._value.value = value & (_MASK64 if reg in self._wide else 0xFFFFFFFF)
        if self._write(self._handle, self._id(reg), self._ref):
            raise CpuError(f"cannot write register {reg}")

    def syscall_args(self) -> tuple[int, int, int, int, int, int]:
        for i in range(6):
            self._batch_vals[i] = 0
        self._read_batch(self._handle, self._batch_ids, self._batch_ptrs, 6)
        mask = self._batch_mask
        return tuple(v & mask for v in self._batch_vals)


class RegisterAccess:
    """The register half of :class:`emu.cpu.Cpu` (it sets ``_state64``, ``_calls``, ``uc``)."""

    def reg(self, reg: int) -> int:
        state = self._state64
        if state is not None:
            index = STATE_INDEX.get(reg)
            if index is not None:
                return state[index] & 0xFFFFFFFF
            index = STATE_INDEX64.get(reg)
            if index is not None:
                return state[index]
        return self._calls.read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        state = self._state64
        if state is not None:
            if reg in GP_INDEX:
                state[GP_INDEX[reg]] = value & 0xFFFFFFFF
                return
            if reg in GP_INDEX64:
                state[GP_INDEX64[reg]] = value & _MASK64
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

    # the same three in long mode: RAX; RDI, RSI, RDX, R10, R8, R9 (Linux x86-64)
    def _syscall_number64(self) -> int:
        """EAX: Linux x86-64 reads the number as an int (do_syscall_x64), so RAX's high
        half does not count."""
        state = self._state64
        return (state[0] if state is not None else self._calls.read(Reg64.RAX)) & 0xFFFFFFFF

    def _set_result64(self, value: int) -> None:
        state = self._state64
        if state is not None:
            state[0] = value & _MASK64
        else:
            self._calls.write(Reg64.RAX, value)

    def _syscall_args64(self) -> tuple[int, int, int, int, int, int]:
        state = self._state64
        if state is not None:
            return tuple(state[i] for i in _SYSCALL_ARG_INDEX64)
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
        """The general registers, EIP (RIP...), EFLAGS, the control registers and the
        selectors."""
        names = REG64_NAMES if self.mode == 64 else REG_NAMES
        out = {name: self.reg(r) for r, name in names.items()}
        if self.mode == 64:
            out.update({name: self.reg(r) for r, name in REG_NAMES.items()
                        if name.startswith("cr")})
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

