"""Saved CPU contexts: the ring-3 and ring-0 templates, switching, registers in a context.

``context_restore`` is a bare copy of the CPU state without a TLB flush: loading another
process's context is followed by a CR3 write, which flushes (docs/unicorn.md). Control and
segment registers are never written into a ``UcContext`` object (that crashes Unicorn).
"""

from __future__ import annotations

import ctypes

from unicorn import x86_const as X

from .. import gdt as gdtmod
from ..errors import CpuError
from .registers import (
    GENERAL_REGS,
    GENERAL_REGS64,
    GP_INDEX,
    GP_INDEX64,
    REG64_NAMES,
    REG_NAMES,
    SEG_NAMES,
    Reg,
    Reg64,
)

FPCW_LINUX = 0x037F  # x87: round to nearest, 64-bit precision, every exception masked
MXCSR_LINUX = 0x1F80  # SSE: round to nearest, every exception masked
EFER = 0xC0000080  # the extended feature enable MSR (NXE is bit 11)


class ContextOps:
    """The context half of :class:`emu.cpu.Cpu`."""

    def install_gdt(self, gdt_pa: int, gdt_va: int) -> None:
        """Write the flat GDT at physical ``gdt_pa``; the CPU finds it at linear ``gdt_va``.
        The user template also gets the x87 and SSE control words Linux starts a process
        with (FCW 0x037F: 64-bit precision, exceptions masked; MXCSR 0x1F80), where
        Unicorn's reset state has 0 (24-bit x87 precision, every exception unmasked)."""
        table = gdtmod.long_gdt() if self.mode == 64 else gdtmod.flat_gdt()
        self.ram.write(gdt_pa, table)
        for template in (self.user_template, self.kernel_template):
            self.uc.context_restore(template)
            self.uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt_va, len(table) - 1, 0))
            if template is self.user_template:
                self.uc.reg_write(X.UC_X86_REG_FPCW, FPCW_LINUX)
                self.uc.reg_write(X.UC_X86_REG_MXCSR, MXCSR_LINUX)
            self.uc.context_update(template)

    @property
    def efer(self) -> int:
        return self.uc.msr_read(EFER)

    def set_control_bits(self, cr4: int = 0, efer: int = 0) -> None:
        """Set CR4 and EFER bits for good: in the live CPU and in every context made from now
        on (the templates). CR4.PAE with EFER.NXE switches to PAE paging with NX (the next
        CR3 loaded names a PDPT); CR4.TSD makes ring 3's ``rdtsc`` raise #GP, for a kernel
        that gives its own counter."""
        keep = self._ctx_keep
        self.uc.context_update(keep)
        for template in (self.user_template, self.kernel_template, None):
            self.uc.context_restore(keep if template is None else template)
            if cr4:
                self.uc.reg_write(X.UC_X86_REG_CR4, self.uc.reg_read(X.UC_X86_REG_CR4) | cr4)
            if efer:
                self.uc.msr_write(EFER, self.uc.msr_read(EFER) | efer)
            if template is not None:
                self.uc.context_update(template)

    def new_user_context(self, eip: int, esp: int, cr3: int):
        """A ring-3 context (CS 0x1B, SS/DS/ES 0x23; in long mode CS 0x33, SS 0x2B; IF set)
        starting at ``eip``."""
        return self._new_context(self.user_template, eip, esp, cr3)

    def new_kernel_context(self, eip: int, esp: int, cr3: int):
        """A ring-0 context (CS 0x08, SS 0x10, DS/ES 0x23) starting at ``eip``."""
        return self._new_context(self.kernel_template, eip, esp, cr3)

    def _new_context(self, template, eip: int, esp: int, cr3: int):
        """A context made from ``template``; the live CPU state is left as it was (its
        translations are dropped: the CR3 write flushed them)."""
        keep = self._ctx_keep
        self.uc.context_update(keep)
        try:
            self.uc.context_restore(template)
            for r in GENERAL_REGS64 if self.mode == 64 else GENERAL_REGS:
                self.set_reg(r, 0)
            self.set_reg(self.sp_reg, esp)
            self.set_reg(self.pc_reg, eip)
            self.set_reg(Reg.EFLAGS, 0x202)
            self.set_reg(Reg.CR3, cr3)
            return self.uc.context_save()
        finally:
            self.uc.context_restore(keep)

    @staticmethod
    def register_id(name: str) -> int:
        for reg, known in REG_NAMES.items():
            if known == name.lower():
                return reg
        raise CpuError(f"no register {name!r}")

    def context_regs(self, ctx) -> dict[str, int]:
        """The registers held in a saved context, by name."""
        if self.mode == 64:
            out = {name: ctx.reg_read(reg) for reg, name in REG64_NAMES.items()}
            out.update({name: ctx.reg_read(reg) & 0xFFFFFFFF for reg, name in REG_NAMES.items()
                        if name.startswith("cr")})
            out.update({name: ctx.reg_read(seg) & 0xFFFF for seg, name in SEG_NAMES.items()})
            return out
        out = {name: ctx.reg_read(reg) & 0xFFFFFFFF for reg, name in REG_NAMES.items()}
        out.update({name: ctx.reg_read(seg) & 0xFFFF for seg, name in SEG_NAMES.items()})
        return out

    def set_context_reg(self, ctx, reg: int, value: int) -> None:
        """A general register, EIP or EFLAGS of a saved context (never a control register
        or a selector: writing those into a context crashes Unicorn, see the notes)."""
        if reg in GP_INDEX64 or reg in (Reg64.RIP, Reg64.RFLAGS, Reg64.FS_BASE):
            ctx.reg_write(reg, value & ((1 << 64) - 1))
            return
        if reg not in GP_INDEX and reg not in (Reg.EIP, Reg.EFLAGS):
            raise CpuError("only general registers, EIP and EFLAGS may be written into a "
                           "saved context")
        ctx.reg_write(reg, value & 0xFFFFFFFF)

    def copy_context(self, ctx):
        """A new context holding the same CPU state as ``ctx``."""
        copy = self.uc.context_save()
        ctypes.memmove(copy.context, ctx.context, ctx.size)
        return copy

    def save_context(self, ctx) -> None:
        self.uc.context_update(ctx)

    def load_context(self, ctx, cr3: int) -> None:
        """Switch to a saved context. Restoring does not flush the TLB; the CR3 write does."""
        self.uc.context_restore(ctx)
        self.set_reg(Reg.CR3, cr3)


    def save_new_context(self):
        return self.uc.context_save()
