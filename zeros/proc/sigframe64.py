"""Signal frames of x86-64 processes, as Linux builds them (arch/x86/kernel/signal_64.c).

Below the interrupted stack pointer Linux skips the 128-byte red zone, keeps 512 bytes for
the FPU state (64-byte aligned; zero here: the kernel keeps the state in the saved
context), then the ``rt_sigframe``, placed so that the handler starts as after a call
(RSP + 8 a multiple of 16)::

    +0    pretcode   the restorer (SA_RESTORER: x86-64 has no other way back)
    +8    ucontext   uc_flags, uc_link, uc_stack (24), sigcontext (256), uc_sigmask (8)
    +312  siginfo    128 bytes: si_signo, si_errno, si_code, then at +16 si_addr or
                     si_pid/si_uid

The handler gets RDI = the signal, RSI = &info, RDX = &uc, RAX = 0. Its ``ret`` pops
pretcode; the restorer calls ``rt_sigreturn`` with RSP just past it, and the CPU state
saved at delivery comes back with the registers the handler left in ``uc_mcontext``.
"""

from __future__ import annotations

import struct

from emu.cpu import Cpu, Reg64

from ..errors import AddressError
from ..vm.uaccess import copy_from_user, copy_to_user

# r8..r15, rdi rsi rbp rbx rdx rax rcx rsp, rip, eflags; cs gs fs ss; err trapno oldmask
# cr2 fpstate; reserved[8]: 256 bytes
SIGCONTEXT = struct.Struct("<18Q4H5Q64x")
UC_OFFSET, SC_OFFSET, MASK_OFFSET, INFO_OFFSET = 8, 8 + 40, 8 + 296, 312
FRAME_SIZE = INFO_OFFSET + 128
RED_ZONE, FPSTATE_SIZE = 128, 512
UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x2, 0x4
_ORDER = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx",
          "rdx", "rax", "rcx", "rsp")
_REGS = (Reg64.R8, Reg64.R9, Reg64.R10, Reg64.R11, Reg64.R12, Reg64.R13, Reg64.R14,
         Reg64.R15, Reg64.RDI, Reg64.RSI, Reg64.RBP, Reg64.RBX, Reg64.RDX, Reg64.RAX,
         Reg64.RCX, Reg64.RSP)
_USER_FLAGS = 0x40DD5  # CF PF AF ZF SF TF DF OF AC: what a handler may change


def push_frame(cpu: Cpu, proc, signal: int, info, trapno: int, error: int, action,
               old_mask: int, altstack: tuple[int, int, int], on_alt: bool) -> int:
    """Write the frame for ``signal`` below the saved context's RSP (or on the alternate
    stack) and point the context at the handler. Returns the frame's address."""
    ctx = proc.context
    regs = cpu.context_regs(ctx)
    if not action.flags & 0x04000000:  # SA_RESTORER
        raise AddressError("an x86-64 handler needs SA_RESTORER (the way back to "
                           "rt_sigreturn): none was given")
    alt_sp, alt_flags, alt_size = altstack
    sp = regs["rsp"]
    if action.flags & 0x08000000 and alt_flags != 2 and not on_alt:  # SA_ONSTACK
        sp = alt_sp + alt_size
    else:
        sp -= RED_ZONE
    fpstate = (sp - FPSTATE_SIZE) & ~63
    frame = ((fpstate - FRAME_SIZE) & ~15) - 8
    addr = info.addr if info.addr is not None else 0
    sigcontext = SIGCONTEXT.pack(*(regs[name] for name in _ORDER), regs["rip"],
                                 regs["rflags"], regs["cs"], regs["gs"], regs["fs"],
                                 regs["ss"], error, trapno, old_mask & ((1 << 64) - 1),
                                 addr, fpstate)
    uc = struct.pack("<QQQi4xQ", UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0, alt_sp,
                     1 if on_alt else alt_flags, alt_size) + sigcontext + \
        struct.pack("<Q", old_mask)
    copy_to_user(proc.space, fpstate, bytes(FPSTATE_SIZE))
    copy_to_user(proc.space, frame, struct.pack("<Q", action.restorer) + uc + info.pack(True))
    for reg, value in ((Reg64.RSP, frame), (Reg64.RIP, action.handler), (Reg64.RDI, signal),
                       (Reg64.RSI, frame + INFO_OFFSET), (Reg64.RDX, frame + UC_OFFSET),
                       (Reg64.RAX, 0), (Reg64.RFLAGS, regs["rflags"] & ~0x500)):
        cpu.set_context_reg(ctx, reg, value)
    return frame


def read_frame(proc, rsp: int) -> tuple[int, tuple, int]:
    """At ``rt_sigreturn`` (RSP just past pretcode): the frame's address, its sigcontext
    and its signal mask."""
    frame = rsp - 8
    sc = SIGCONTEXT.unpack(copy_from_user(proc.space, frame + SC_OFFSET, SIGCONTEXT.size))
    mask = struct.unpack("<Q", copy_from_user(proc.space, frame + MASK_OFFSET, 8))[0]
    return frame, sc, mask


def restore(cpu: Cpu, base, sc: tuple) -> int:
    """Write the sigcontext's registers into the context ``base``; returns RIP."""
    for reg, value in zip(_REGS, sc[:16], strict=True):
        cpu.set_context_reg(base, reg, value)
    cpu.set_context_reg(base, Reg64.RIP, sc[16])
    cpu.set_context_reg(base, Reg64.RFLAGS, (sc[17] & _USER_FLAGS) | 0x202)
    return sc[16]
