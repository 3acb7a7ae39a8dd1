"""The emulated CPU: Unicorn x86-32 in protected mode with paging. The only module that
imports ``unicorn``.

What it adds to Unicorn, and why (see docs/unicorn.md for the experiments):

* Physical RAM is the host mapping of :class:`emu.ram.PhysicalMemory`, mapped once at
  physical 0 with ``mem_map_ptr``. Unicorn's ``mem_*`` calls are physical once CR0.PG is set.
* Interrupts never go through an IDT: Unicorn calls the INTR hook instead. ``int 0x80`` goes
  to :attr:`Cpu.syscall_handler`; every exception (and any other ``int n``) becomes a
  :class:`Trap` for :attr:`Cpu.trap_handler`, with the error code and CR2 the CPU computed.
  ``ud2``/invalid opcodes become vector 6, ``in``/``out`` in ring 3 vector 13.
* Unicorn 2.1.4 never clears ``env->old_exception`` on the hook path (issue 1883): the second
  #PF would arrive as #DF. The remedy rewrites that field to -1 in a saved context and
  restores it. Its offset, and those of ``error_code`` and ``exception_is_int``, are found
  at start-up by diffing two contexts around one deliberate fault, then self-tested with
  three faults in a row. A build where this does not hold is refused (UnicornBuildError).
* Hooks are raw ctypes callbacks (the binding's wrapper costs twice the time of a syscall);
  an exception raised inside one stops emulation and is re-raised by :meth:`Cpu.run`.
* Registers: a saved context is a copy of QEMU's ``CPUX86State``. When the start-up self-test
  finds the live one (``emu.selftest.locate_state``) and verifies it by round trips, the
  general registers, EIP, CR2 and the exception fields are read and written in place, with
  no call into Unicorn (a syscall costs a third as much). Otherwise every access goes
  through ``uc_reg_read``/``uc_reg_write`` and the remedy through a context save/restore.
* Hardware TLB and translated-code caches are the caller's to flush: :meth:`flush_tlb` after
  downgrading an entry, :meth:`flush_code` after the host rewrote memory holding code.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Callable, NamedTuple

import unicorn
from unicorn import Uc, UcError, x86_const as X
from unicorn.unicorn_const import (
    UC_ARCH_X86, UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_INSN_INVALID, UC_ERR_OK,
    UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE, UC_MEM_WRITE, UC_MODE_32, UC_PROT_ALL,
)
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

from . import gdt as gdtmod
from .errors import CpuError, EmulationError
from .ram import PhysicalMemory

SYSCALL_VECTOR = 0x80
# emu_start's `until`. Not an arbitrary unreachable address: Unicorn 2.1.4 probes a non-zero
# `until` with the current privilege, and when that probe faults it silently leaves
# old_exception at 14, so the next real #PF arrives as #DF (docs/unicorn.md). 0 is not
# probed, and ZerOS never maps page 0: a jump there faults on the fetch first.
UNTIL = 0


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

VECTOR_NAMES = {
    0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint", 4: "#OF overflow",
    5: "#BR bound range", 6: "#UD invalid opcode", 7: "#NM device not available",
    8: "#DF double fault", 10: "#TS invalid TSS", 11: "#NP segment not present",
    12: "#SS stack fault", 13: "#GP general protection", 14: "#PF page fault",
    16: "#MF x87 error", 17: "#AC alignment check", 18: "#MC machine check",
    19: "#XM SIMD error",
}


def vector_name(vector: int) -> str:
    return VECTOR_NAMES.get(vector, f"int {vector:#x}")


class Trap(NamedTuple):
    """An exception or software interrupt delivered by the CPU (a named tuple: built on
    every page fault, several times faster than a frozen dataclass)."""

    vector: int
    eip: int  # faulting instruction for faults; the next instruction for traps and `int n`
    error_code: int = 0
    cr2: int = 0
    software: bool = False  # raised by an `int n` instruction (including int3)

    @property
    def name(self) -> str:
        return vector_name(self.vector)


# Where QEMU keeps things in CPUX86State (x86_64 target: 8-byte registers), by index of
# 8-byte words: regs[] in QEMU's order, then eip. The self-test checks every one of them.
_GP_INDEX = {Reg.EAX: 0, Reg.ECX: 1, Reg.EDX: 2, Reg.EBX: 3, Reg.ESP: 4, Reg.EBP: 5,
             Reg.ESI: 6, Reg.EDI: 7}
EIP_INDEX = 16
_STATE_INDEX = {**_GP_INDEX, Reg.EIP: EIP_INDEX}


@dataclass(frozen=True)
class StateLayout:
    """Offsets into a context's copy of CPUX86State, found by the start-up self-test."""

    header: int  # bytes of context header before the state
    size: int  # bytes of state
    old_exception: int  # 32-bit word indexes ...
    error_code: int
    is_int: int
    cr2: int  # ... and the 64-bit word index of cr[2]


class _RegisterCalls:
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


_INTR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_INVALID_CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
_IN_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                          ctypes.c_void_p)
_OUT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                           ctypes.c_uint32, ctypes.c_void_p)


def unicorn_build() -> str:
    """Which Unicorn this is, for messages."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    combined = uclib.uc_version(ctypes.byref(major), ctypes.byref(minor))
    return (f"unicorn {unicorn.__version__} (C library {major.value}.{minor.value}, "
            f"{combined:#x}) from {getattr(uclib, '_name', '?')}")


class Cpu:
    """One emulated x86-32 CPU over ``ram``; calibrated and self-tested on construction."""

    def __init__(self, ram: PhysicalMemory, tcg_buffer_size: int = 32 << 20,
                 direct_state: bool = True):
        if ram.size < 1 << 20:
            raise CpuError(f"RAM of {ram.size} bytes is too small: at least 1 MiB is needed")
        self.ram = ram
        self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        self.uc.ctl_set_tcg_buffer_size(tcg_buffer_size)
        self.uc.mem_map_ptr(0, ram.size, UC_PROT_ALL, ram.address)
        self._h = self.uc._uch
        self.handle_address = self._h.value
        self._ctx = self.uc.context_save()  # scratch context, reused
        self._ctx_address = ctypes.cast(self._ctx.context, ctypes.c_void_p).value
        self.layout: StateLayout | None = None  # found by the self-test
        self._state32 = self._state64 = None  # views of the live CPU state, when found
        self._ctx32 = None  # the same view over the scratch context
        self._calls = _RegisterCalls(self._h)
        self.syscall_handler: Callable[[], None] = self._unhandled_syscall
        self.trap_handler: Callable[[Trap], None] = self._unhandled_trap
        # page faults first go here (cr2, error code) -> resolved?; a False goes on to
        # trap_handler as a Trap. The common fault then costs no Trap object at all.
        self.page_fault_handler: Callable[[int, int], bool] | None = None
        self._stopping = False
        self._invalid_seen = False
        self._hook_error: BaseException | None = None
        self._callbacks = []  # keep the ctypes callbacks alive
        self._install_hooks()
        from .selftest import calibrate

        self.user_template, self.kernel_template = calibrate(self, direct_state)

    # -- registers ------------------------------------------------------------------------

    def reg(self, reg: int) -> int:
        state = self._state64
        if state is not None:
            index = _STATE_INDEX.get(reg)
            if index is not None:
                return state[index] & 0xFFFFFFFF
        return self._calls.read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        state = self._state64
        if state is not None and reg in _GP_INDEX:
            state[_GP_INDEX[reg]] = value & 0xFFFFFFFF
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

    def use_layout(self, layout: "StateLayout") -> None:
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

    # -- caches ---------------------------------------------------------------------------

    def flush_tlb(self) -> None:
        """Drop every cached translation (needed after a PTE downgrade by the host)."""
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def flush_code(self) -> None:
        """Drop every translated block (needed after the host rewrote frames holding code)."""
        self.uc.ctl_flush_tb()

    # -- contexts -------------------------------------------------------------------------

    def install_gdt(self, gdt_pa: int, gdt_va: int) -> None:
        """Write the flat GDT at physical ``gdt_pa``; the CPU finds it at linear ``gdt_va``."""
        table = gdtmod.flat_gdt()
        self.ram.write(gdt_pa, table)
        for template in (self.user_template, self.kernel_template):
            self.uc.context_restore(template)
            self.uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt_va, len(table) - 1, 0))
            self.uc.context_update(template)

    def new_user_context(self, eip: int, esp: int, cr3: int):
        """A ring-3 context (CS 0x1B, SS/DS/ES 0x23, IF set) starting at ``eip``."""
        return self._new_context(self.user_template, eip, esp, cr3)

    def new_kernel_context(self, eip: int, esp: int, cr3: int):
        """A ring-0 context (CS 0x08, SS 0x10, DS/ES 0x23) starting at ``eip``."""
        return self._new_context(self.kernel_template, eip, esp, cr3)

    def _new_context(self, template, eip: int, esp: int, cr3: int):
        self.uc.context_restore(template)
        for r in GENERAL_REGS:
            self.set_reg(r, 0)
        self.set_reg(Reg.ESP, esp)
        self.set_reg(Reg.EIP, eip)
        self.set_reg(Reg.EFLAGS, 0x202)
        self.set_reg(Reg.CR3, cr3)
        return self.uc.context_save()

    @staticmethod
    def register_id(name: str) -> int:
        for reg, known in REG_NAMES.items():
            if known == name.lower():
                return reg
        raise CpuError(f"no register {name!r}")

    def context_regs(self, ctx) -> dict[str, int]:
        """The registers held in a saved context, by name."""
        out = {name: ctx.reg_read(reg) & 0xFFFFFFFF for reg, name in REG_NAMES.items()}
        out.update({name: ctx.reg_read(seg) & 0xFFFF for seg, name in SEG_NAMES.items()})
        return out

    def set_context_reg(self, ctx, reg: int, value: int) -> None:
        """A general register of a saved context (never CRs or selectors: see the notes)."""
        if reg not in _GP_INDEX:
            raise CpuError("only general registers may be written into a saved context")
        ctx.reg_write(reg, value & 0xFFFFFFFF)

    def save_context(self, ctx) -> None:
        self.uc.context_update(ctx)

    def load_context(self, ctx, cr3: int) -> None:
        """Switch to a saved context. Restoring does not flush the TLB; the CR3 write does."""
        self.uc.context_restore(ctx)
        self.set_reg(Reg.CR3, cr3)

    # -- running --------------------------------------------------------------------------

    def run(self, eip: int, timeout_us: int = 0, count: int = 0) -> None:
        """Run from ``eip`` until a handler calls :meth:`stop`, the timeout (microseconds)
        passes or ``count`` instructions ran (count > 0 costs a hook per instruction)."""
        self._stopping = False
        self._invalid_seen = False
        self._hook_error = None
        self.uc._hook_exception = None  # errors of the binding's hooks (trace) land there
        status = uclib.uc_emu_start(self._h, eip, UNTIL, timeout_us, count)
        if self._hook_error is not None:
            error, self._hook_error = self._hook_error, None
            raise error
        if self.uc._hook_exception is not None:
            error, self.uc._hook_exception = self.uc._hook_exception, None
            raise error
        if status != UC_ERR_OK and not (status == UC_ERR_INSN_INVALID and self._invalid_seen):
            raise EmulationError(f"emulation stopped: {UcError(status)}", status,
                                 self.reg(Reg.EIP))

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

        def remove() -> None:
            self.uc.hook_del(code)
            self.uc.hook_del(memory)
        return remove

    def stop(self) -> None:
        """Ask the CPU to stop; events still raised by the current block are dropped."""
        self._stopping = True
        uclib.uc_emu_stop(self._h)

    def close(self) -> None:
        """Release the Unicorn instance (it holds callbacks that refer back to this object)."""
        self.uc = None  # the last reference: uc_close runs now, before the callbacks go
        self.syscall_handler = self._unhandled_syscall
        self.trap_handler = self._unhandled_trap
        self._callbacks.clear()

    # -- hooks ----------------------------------------------------------------------------

    def _hook(self, htype: int, functype, fn, *extra) -> None:
        cb = functype(fn)
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self._h, ctypes.byref(handle), htype, cb, None,
                                   ctypes.c_uint64(1), ctypes.c_uint64(0), *extra)
        if status != UC_ERR_OK:
            raise CpuError(f"cannot add hook {htype}: {UcError(status)}")
        self._callbacks.append(cb)

    def _install_hooks(self) -> None:
        self._hook(UC_HOOK_INTR, _INTR_CB, self._on_interrupt)
        self._hook(UC_HOOK_INSN_INVALID, _INVALID_CB, self._on_invalid)
        self._hook(UC_HOOK_INSN, _IN_CB, self._on_in, ctypes.c_int(X.UC_X86_INS_IN))
        self._hook(UC_HOOK_INSN, _OUT_CB, self._on_out, ctypes.c_int(X.UC_X86_INS_OUT))

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
            if vector == 14 and self.page_fault_handler is not None and \
                    self._state32 is not None and not self._stopping:
                state, layout = self._state32, self.layout
                if not state[layout.is_int]:
                    state[layout.old_exception] = -1  # the 1883 remedy
                    if self.page_fault_handler(self._state64[layout.cr2] & 0xFFFFFFFF,
                                               state[layout.error_code] & 0xFFFFFFFF):
                        return
            trap = self._exception(vector)
            if not self._stopping:
                self.trap_handler(trap)
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
            cr2 = self._state64[layout.cr2] & 0xFFFFFFFF if vector == 14 else 0
            eip = self._state64[EIP_INDEX] & 0xFFFFFFFF
        else:
            uclib.uc_context_save(self._h, self._ctx.context)
            words = self._ctx32
            error_code, is_int = words[layout.error_code], words[layout.is_int]
            words[layout.old_exception] = -1
            uclib.uc_context_restore(self._h, self._ctx.context)
            cr2 = self._calls.read(Reg.CR2) if vector == 14 else 0
            eip = self._calls.read(Reg.EIP)
        return Trap(vector, eip, error_code & 0xFFFFFFFF, cr2, bool(is_int))

    def _on_invalid(self, _handle, _data):
        try:
            self._invalid_seen = True
            if not self._stopping:
                self.trap_handler(Trap(6, self.reg(Reg.EIP)))
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
                self.trap_handler(Trap(13, self.reg(Reg.EIP)))
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


