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
* Hardware TLB and translated-code caches are the caller's to flush: :meth:`flush_tlb` after
  downgrading an entry, :meth:`flush_code` after the host rewrote memory holding code.
"""

from __future__ import annotations

import ctypes
import enum
import struct
from dataclasses import dataclass
from typing import Callable

import unicorn
from unicorn import Uc, UcError, x86_const as X
from unicorn.unicorn_const import (
    UC_ARCH_X86, UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_INSN_INVALID, UC_ERR_OK,
    UC_HOOK_INSN, UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UC_MODE_32, UC_PROT_ALL,
)
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

from . import gdt as gdtmod
from .errors import CpuError, EmulationError, UnicornBuildError
from .mmu import PAGE_SIZE, Cr0, Cr4, Pte, pdx, ptx
from .ram import PhysicalMemory

SYSCALL_VECTOR = 0x80
UNTIL = 0xFFFFFFFF  # emu_start's stop address: a supervisor page, unreachable from ring 3


class Reg(enum.IntEnum):
    """32-bit registers reachable through the fast path."""

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


class Seg(enum.IntEnum):
    CS = X.UC_X86_REG_CS
    SS = X.UC_X86_REG_SS
    DS = X.UC_X86_REG_DS
    ES = X.UC_X86_REG_ES
    FS = X.UC_X86_REG_FS
    GS = X.UC_X86_REG_GS


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


@dataclass(frozen=True, slots=True)
class Trap:
    """An exception or software interrupt delivered by the CPU."""

    vector: int
    eip: int  # faulting instruction for faults; the next instruction for traps and `int n`
    error_code: int = 0
    cr2: int = 0
    software: bool = False  # raised by an `int n` instruction (including int3)

    @property
    def name(self) -> str:
        return vector_name(self.vector)


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

    def __init__(self, ram: PhysicalMemory, tcg_buffer_size: int = 32 << 20):
        if ram.size < 1 << 20:
            raise CpuError(f"RAM of {ram.size} bytes is too small: at least 1 MiB is needed")
        self.ram = ram
        self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        self.uc.ctl_set_tcg_buffer_size(tcg_buffer_size)
        self.uc.mem_map_ptr(0, ram.size, UC_PROT_ALL, ram.address)
        self._h = self.uc._uch
        self._val = ctypes.c_uint32()
        self._ref = ctypes.byref(self._val)
        self._ctx = self.uc.context_save()  # reused for every exception (remedy, error code)
        self._ctx_words = (ctypes.c_int32 * (self._ctx.size // 4)).from_address(
            ctypes.cast(self._ctx.context, ctypes.c_void_p).value)
        self._old_exc = self._err = self._is_int = -1  # word indexes, found by calibration
        self._locate_fields: Callable[[int], None] = self._uncalibrated
        self._batch_ids = (ctypes.c_int32 * 6)(*SYSCALL_ARG_REGS)
        self._batch_vals = (ctypes.c_uint32 * 6)()
        self._batch_ptrs = (ctypes.c_void_p * 6)(
            *[ctypes.addressof(self._batch_vals) + 4 * i for i in range(6)])
        self.syscall_handler: Callable[[], None] = self._unhandled_syscall
        self.trap_handler: Callable[[Trap], None] = self._unhandled_trap
        self._stopping = False
        self._invalid_seen = False
        self._hook_error: BaseException | None = None
        self._callbacks = []  # keep the ctypes callbacks alive
        self._install_hooks()
        self.user_template = _calibrate(self)

    # -- registers ------------------------------------------------------------------------

    def reg(self, reg: int) -> int:
        if uclib.uc_reg_read(self._h, reg, self._ref):
            raise CpuError(f"cannot read register {reg}")
        return self._val.value

    def set_reg(self, reg: int, value: int) -> None:
        self._val.value = value & 0xFFFFFFFF
        if uclib.uc_reg_write(self._h, reg, self._ref):
            raise CpuError(f"cannot write register {reg}")

    def syscall_args(self) -> tuple[int, int, int, int, int, int]:
        """EBX, ECX, EDX, ESI, EDI, EBP in one call."""
        uclib.uc_reg_read_batch(self._h, self._batch_ids, self._batch_ptrs, 6)
        return tuple(self._batch_vals)

    def segment(self, seg: Seg) -> int:
        return self.uc.reg_read(seg) & 0xFFFF

    def regs(self) -> dict[str, int]:
        """The general registers, EIP, EFLAGS, the control registers and the selectors."""
        out = {r.name.lower(): self.reg(r) for r in Reg}
        out.update({s.name.lower(): self.segment(s) for s in Seg})
        return out

    @property
    def cr3(self) -> int:
        return self.reg(Reg.CR3)

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
        self.uc.context_restore(self.user_template)
        self.uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt_va, len(table) - 1, 0))
        self.uc.context_update(self.user_template)

    def new_user_context(self, eip: int, esp: int, cr3: int):
        """A ring-3 context (CS 0x1B, SS/DS/ES 0x23, IF set) starting at ``eip``."""
        self.uc.context_restore(self.user_template)
        for r in GENERAL_REGS:
            self.set_reg(r, 0)
        self.set_reg(Reg.ESP, esp)
        self.set_reg(Reg.EIP, eip)
        self.set_reg(Reg.EFLAGS, 0x202)
        self.set_reg(Reg.CR3, cr3)
        return self.uc.context_save()

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
        status = uclib.uc_emu_start(self._h, eip, UNTIL, timeout_us, count)
        if self._hook_error is not None:
            error, self._hook_error = self._hook_error, None
            raise error
        if status != UC_ERR_OK and not (status == UC_ERR_INSN_INVALID and self._invalid_seen):
            raise EmulationError(f"emulation stopped: {UcError(status)}", status,
                                 self.reg(Reg.EIP))

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
            trap = self._exception(vector)
            if not self._stopping:
                self.trap_handler(trap)
        except BaseException as error:  # noqa: B036 - must not unwind into C
            self._fail(error)

    def _exception(self, vector: int) -> Trap:
        """Read the error code and the int flag, clear old_exception (the 1883 remedy)."""
        if self._old_exc < 0:  # only during start-up calibration
            self._locate_fields(vector)
        uclib.uc_context_save(self._h, self._ctx.context)
        words = self._ctx_words
        error_code, is_int = words[self._err], words[self._is_int]
        words[self._old_exc] = -1
        uclib.uc_context_restore(self._h, self._ctx.context)
        cr2 = self.reg(Reg.CR2) if vector == 14 else 0
        return Trap(vector, self.reg(Reg.EIP), error_code & 0xFFFFFFFF, cr2, bool(is_int))

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

    def _uncalibrated(self, vector: int) -> None:
        raise CpuError(f"exception {vector} before the remedy offsets were calibrated")

    def _unhandled_syscall(self) -> None:
        raise CpuError("int 0x80 with no syscall handler installed")

    def _unhandled_trap(self, trap: Trap) -> None:
        raise CpuError(f"{trap.name} at {trap.eip:#010x} with no trap handler installed")


# -- start-up calibration and self-test ----------------------------------------------------

_SCRATCH_PAGES = 9
_PD, _PT, _GDT, _STUB, _KSTACK, _UCODE, _USTACK, _PROBE_A, _PROBE_B = range(_SCRATCH_PAGES)


def _scratch_base(ram_size: int) -> int:
    """The highest run of scratch pages that stays inside one 4 MiB region."""
    base = ram_size - _SCRATCH_PAGES * PAGE_SIZE
    last = base + (_SCRATCH_PAGES - 1) * PAGE_SIZE
    if pdx(base) != pdx(last):
        base = (last & ~0x3FFFFF) - _SCRATCH_PAGES * PAGE_SIZE
    return base


def _calibrate(cpu: Cpu):
    """Find the remedy offsets, self-test them, return the ring-3 template context.

    A scratch world at the top of RAM, identity-mapped: a ring-0 ``iretd`` enters ring 3,
    where the program makes a syscall (the template is saved there) and then three page
    faults in a row: a read of a not-present page (error 4), a write to that page now
    read-only (error 7), a write to another not-present page (error 6). Each must arrive as
    vector 14 with that error code. The scratch pages are zeroed afterwards.
    """
    ram, uc = cpu.ram, cpu.uc
    base = _scratch_base(ram.size)
    page = [base + i * PAGE_SIZE for i in range(_SCRATCH_PAGES)]
    user_pages = (_UCODE, _USTACK)
    for i in range(_SCRATCH_PAGES):
        ram.zero(page[i])
    ram.write_u32(page[_PD] + 4 * pdx(base), page[_PT] | Pte.P | Pte.RW | Pte.US)
    for i in (_PD, _PT, _GDT, _STUB, _KSTACK, _UCODE, _USTACK):
        flags = Pte.P | Pte.RW | (Pte.US if i in user_pages else 0)
        ram.write_u32(page[_PT] + 4 * ptx(page[i]), page[i] | flags)
    ram.write(page[_GDT], gdtmod.flat_gdt())
    ram.write(page[_STUB], b"\xcf")  # iretd
    a, b = page[_PROBE_A], page[_PROBE_B]
    code = (b"\xcd\x80"  # int 0x80
            + b"\xa1" + struct.pack("<I", a)  # mov eax, [a]
            + b"\xa3" + struct.pack("<I", a)  # mov [a], eax
            + b"\xa3" + struct.pack("<I", b)  # mov [b], eax
            + b"\xcd\x80")  # int 0x80
    ram.write(page[_UCODE], code)
    frame = struct.pack("<5I", page[_UCODE], gdtmod.USER_CS, 0x202,
                        page[_USTACK] + PAGE_SIZE, gdtmod.USER_DS)
    kstack_top = page[_KSTACK] + PAGE_SIZE
    ram.write(kstack_top - len(frame), frame)

    uc.reg_write(X.UC_X86_REG_GDTR, (0, page[_GDT], 5 * 8 - 1, 0))
    uc.reg_write(X.UC_X86_REG_CR3, page[_PD])
    uc.reg_write(X.UC_X86_REG_CR4, uc.reg_read(X.UC_X86_REG_CR4) | Cr4.PSE | Cr4.PGE)
    uc.reg_write(X.UC_X86_REG_CR0, uc.reg_read(X.UC_X86_REG_CR0) | Cr0.PG | Cr0.WP)
    uc.reg_write(X.UC_X86_REG_CS, gdtmod.KERNEL_CS)
    uc.reg_write(X.UC_X86_REG_SS, gdtmod.KERNEL_DS)
    uc.reg_write(X.UC_X86_REG_DS, gdtmod.USER_DS)
    uc.reg_write(X.UC_X86_REG_ES, gdtmod.USER_DS)
    uc.reg_write(X.UC_X86_REG_FS, 0)
    uc.reg_write(X.UC_X86_REG_GS, 0)
    uc.reg_write(X.UC_X86_REG_ESP, kstack_top - len(frame))

    ctx_size = cpu._ctx.size
    events: list[tuple[int, int, int]] = []  # (vector, error code, cr2)
    state: dict = {}

    def snapshot() -> bytes:
        uclib.uc_context_save(cpu._h, cpu._ctx.context)
        return ctypes.string_at(cpu._ctx.context, ctx_size)

    def on_syscall() -> None:
        if "template" not in state:
            state["template"] = uc.context_save()
            state["before"] = snapshot()
            events.append((SYSCALL_VECTOR, 0, 0))
        else:
            events.append((SYSCALL_VECTOR, 0, 0))
            cpu.stop()

    def on_trap(trap: Trap) -> None:
        events.append((trap.vector, trap.error_code, trap.cr2))
        if trap.vector != 14:
            cpu.stop()
            return
        target = trap.cr2 & ~0xFFF
        flags = Pte.P | Pte.US | (Pte.RW if trap.error_code & 2 else 0)
        ram.write_u32(page[_PT] + 4 * ptx(target), target | flags)

    def locate_fields(vector: int) -> None:
        """First fault: find old_exception by diffing against the syscall snapshot."""
        after = snapshot()
        before = state["before"]
        count = ctx_size // 4
        old = [i for i in range(count)
               if struct.unpack_from("<i", before, 4 * i)[0] == -1
               and struct.unpack_from("<i", after, 4 * i)[0] == vector]
        if len(old) != 1:
            raise UnicornBuildError(
                f"{unicorn_build()} cannot be used: the page-fault remedy needs exactly one "
                f"context field going from -1 to 14 (old_exception), found {len(old)}")
        err = old[0] - 112 // 4  # error_code, exception_is_int: fields of CPUX86State
        is_int_before = struct.unpack_from("<i", before, 4 * (err + 1))[0]
        if is_int_before != 1:
            raise UnicornBuildError(
                f"{unicorn_build()} cannot be used: the context layout differs from 2.1.4 "
                f"(exception_is_int after int 0x80 reads {is_int_before}, expected 1)")
        cpu._old_exc, cpu._err, cpu._is_int = old[0], err, err + 1

    cpu._locate_fields = locate_fields
    cpu.syscall_handler, cpu.trap_handler = on_syscall, on_trap
    try:
        cpu.run(page[_STUB], timeout_us=2_000_000)
    except EmulationError as error:
        raise UnicornBuildError(f"{unicorn_build()} cannot be used: the start-up self-test "
                                f"stopped with {error}") from None
    finally:
        cpu._locate_fields = cpu._uncalibrated
        cpu.syscall_handler, cpu.trap_handler = cpu._unhandled_syscall, cpu._unhandled_trap
    expected = [(SYSCALL_VECTOR, 0, 0), (14, 4, a), (14, 7, a), (14, 6, b),
                (SYSCALL_VECTOR, 0, 0)]
    if events != expected:
        def show(evts):
            return ", ".join(f"vector {v} error {e:#x} cr2 {c:#x}" for v, e, c in evts)
        raise UnicornBuildError(
            f"{unicorn_build()} cannot be used: the page-fault self-test expected "
            f"[{show(expected)}] but the CPU delivered [{show(events)}]; three page faults "
            f"in a row must each arrive as vector 14 (Unicorn issue 1883 remedy)")
    for i in range(_SCRATCH_PAGES):
        ram.zero(page[i])
    cpu.flush_code()
    cpu.flush_tlb()
    return state["template"]
