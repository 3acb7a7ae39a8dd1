"""Signals: dispositions, masks, pending signals, and delivery on the user stack as Linux i386
builds the frames (arch/x86/kernel/signal_32.c); x86-64 frames are in :mod:`.sigframe64`.

Delivery happens between time slices: a signal sent to the running process stops the CPU,
and before a process runs again :meth:`Signals.deliver` either applies the default action
(terminate, with or without a core; ignore) or pushes a frame and points the saved context
at the handler. A handler returns through its restorer to ``sigreturn`` (old frame) or
``rt_sigreturn`` (SA_SIGINFO frame); the CPU state saved at delivery (FPU included) comes
back, with the general registers, EIP and EFLAGS the handler may have changed in the frame.

The rt frame, at ESP when the handler starts (``pretcode`` is its return address)::

    +0    pretcode   the restorer (SA_RESTORER) or the vdso's __kernel_rt_sigreturn
    +4    sig        +8 &info   +12 &uc
    +16   siginfo    128 bytes: si_signo, si_errno, si_code, then si_addr or si_pid/si_uid
    +144  ucontext   uc_flags, uc_link, uc_stack (12), sigcontext (88), uc_sigmask (8)
    +260  retcode    8 bytes (``mov eax, 173; int 0x80``, for old debuggers)
    +268  fpstate    512 bytes, zero (the FPU state is kept by the kernel)

The old frame: pretcode, sig, sigcontext (88), fpstate (unused), extramask, retcode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from emu.cpu import Cpu, Reg

from ..uapi.signals import SIGABRT, SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGTRAP
from ..vm.uaccess import copy_from_user, copy_to_user
from . import sigframe64

NSIG = 64
SIG_DFL, SIG_IGN = 0, 1
SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO = 0x1, 0x2, 0x4
SA_ONSTACK, SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_RESTORER = \
    0x08000000, 0x10000000, 0x40000000, 0x80000000, 0x04000000
SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH = 18, 19, 20, 21, 22, 23, 28
SIGQUIT, SIGSYS, SIGXCPU, SIGXFSZ = 3, 31, 24, 25
SS_ONSTACK, SS_DISABLE = 1, 2
SI_USER, SI_TKILL, SEGV_MAPERR, SEGV_ACCERR = 0, -6, 1, 2
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
CORE = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS, SIGXCPU, SIGXFSZ}
IGNORED = {SIGCHLD, SIGCONT, SIGURG, SIGWINCH}
STOPPING = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}  # no job control here: treated as ignored

SIGCONTEXT = struct.Struct("<22I")
FRAME_RT_SIZE, UC_OFFSET, INFO_OFFSET = 268 + 512, 144, 16
FRAME_OLD_SIZE = 8 + 88 + 512 + 4 + 8
RT_RETCODE = b"\xb8\xad\x00\x00\x00\xcd\x80\x00"  # mov eax, 173; int 0x80
OLD_RETCODE = b"\x58\xb8\x77\x00\x00\x00\xcd\x80"  # pop eax; mov eax, 119; int 0x80


def bit(signal: int) -> int:
    return 1 << (signal - 1)


@dataclass
class Action:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass
class Pending:
    signal: int
    info: SigInfo
    trapno: int = 0  # for a fault: the vector, the error code and CR2 go in sigcontext
    error: int = 0


@dataclass
class SignalState:
    actions: dict[int, Action] = field(default_factory=dict)
    mask: int = 0  # blocked signals
    pending: dict[int, Pending] = field(default_factory=dict)
    altstack: tuple[int, int, int] = (0, SS_DISABLE, 0)  # sp, flags, size
    frames: list = field(default_factory=list)  # (frame va, saved CPU context, old mask)
    saved_mask: int | None = None  # the mask before rt_sigsuspend, given back by sigreturn

    def action(self, signal: int) -> Action:
        return self.actions.get(signal) or Action()

    def fork(self) -> SignalState:
        return SignalState({s: Action(a.handler, a.flags, a.restorer, a.mask)
                            for s, a in self.actions.items()}, self.mask, {}, self.altstack)

    def exec(self) -> None:
        """execve: handlers go back to the default; ignored signals stay ignored."""
        self.actions = {s: Action(SIG_IGN) for s, a in self.actions.items()
                        if a.handler == SIG_IGN}
        self.altstack = (0, SS_DISABLE, 0)
        self.frames.clear()

    def deliverable(self) -> int | None:
        """The lowest pending signal that is not blocked (SIGKILL and SIGSTOP never are)."""
        for signal in sorted(self.pending):
            if not self.mask & bit(signal) or bit(signal) & UNBLOCKABLE:
                return signal
        return None


class SigInfo(NamedTuple):
    """What a siginfo_t says, whatever the ABI: packed when the frame is built."""

    signo: int
    code: int = SI_USER
    pid: int = 0
    addr: int | None = None  # for a fault: si_addr
    errno: int = 0

    def pack(self, wide: bool = False) -> bytes:
        """The 128-byte siginfo_t: si_signo, si_errno, si_code, then the union (si_addr for
        faults, else si_pid and si_uid), at offset 12 (i386) or 16 (x86-64, 8-aligned)."""
        head = struct.pack("<iii4x" if wide else "<iii", self.signo, self.errno, self.code)
        body = struct.pack("<ii", self.pid, 0) if self.addr is None else \
            struct.pack("<Q", self.addr) if wide else struct.pack("<I", self.addr & 0xFFFFFFFF)
        return (head + body).ljust(128, b"\0")


def siginfo(signal: int, code: int = SI_USER, pid: int = 0, addr: int | None = None,
            errno_value: int = 0) -> SigInfo:
    return SigInfo(signal, code, pid, addr, errno_value)


def default_action(signal: int) -> str:
    """'core', 'term' or 'ignore'."""
    if signal in IGNORED or signal in STOPPING:
        return "ignore"
    return "core" if signal in CORE else "term"


class Signals:
    """Sends and delivers signals; given the CPU (for contexts) only."""

    def __init__(self, cpu: Cpu, returns: tuple[int, int] = (0, 0)):
        self.cpu = cpu
        # where a handler without SA_RESTORER returns: the vDSO's __kernel_sigreturn and
        # __kernel_rt_sigreturn, as Linux sets it up (0: the frame's retcode, on the stack)
        self.returns = returns

    # -- sending -------------------------------------------------------------------------

    def send(self, proc, signal: int, info: SigInfo | None = None, trapno: int = 0,
             error: int = 0) -> None:
        """Make ``signal`` pending for ``proc`` (an ignored one is dropped at once)."""
        if not proc.alive or signal == 0:
            return
        state = proc.sig
        action = state.action(signal)
        if signal != SIGKILL and (action.handler == SIG_IGN or (
                action.handler == SIG_DFL and default_action(signal) == "ignore")):
            return
        if signal not in state.pending:
            state.pending[signal] = Pending(signal, info or siginfo(signal), trapno, error)

    def wants(self, proc, signal: int) -> bool:
        """Has ``proc`` a handler for ``signal`` that is not blocked (a fault it can catch)?"""
        action = proc.sig.action(signal)
        return action.handler not in (SIG_DFL, SIG_IGN) and not proc.sig.mask & bit(signal)

    # -- delivering ----------------------------------------------------------------------

    def next(self, proc):
        """(signal, pending, action) to deliver now, or None."""
        signal = proc.sig.deliverable()
        if signal is None:
            return None
        pending = proc.sig.pending.pop(signal)
        return signal, pending, proc.sig.action(signal)

    def push_frame(self, proc, signal: int, pending: Pending, action: Action) -> None:
        """Save the process's CPU state, build the frame on its stack, and point its saved
        context at the handler. AddressError when the stack cannot take the frame."""
        cpu, ctx = self.cpu, proc.context
        if proc.abi == "x86_64":
            self._push_frame64(proc, signal, pending, action)
            return
        regs = cpu.context_regs(ctx)
        state = proc.sig
        rt = bool(action.flags & SA_SIGINFO)
        size = FRAME_RT_SIZE if rt else FRAME_OLD_SIZE
        sp = regs["esp"]
        alt_sp, alt_flags, alt_size = state.altstack
        on_alt = alt_flags != SS_DISABLE and alt_size and alt_sp < sp <= alt_sp + alt_size
        if action.flags & SA_ONSTACK and alt_flags != SS_DISABLE and not on_alt:
            sp = alt_sp + alt_size
        frame = ((sp - size + 4) & ~15) - 4
        old_mask = state.mask if state.saved_mask is None else state.saved_mask
        state.saved_mask = None
        sigcontext = SIGCONTEXT.pack(
            regs["gs"], regs["fs"], regs["es"], regs["ds"], regs["edi"], regs["esi"],
            regs["ebp"], regs["esp"], regs["ebx"], regs["edx"], regs["ecx"], regs["eax"],
            pending.trapno, pending.error, regs["eip"],
            regs["cs"], regs["eflags"], regs["esp"], regs["ss"], 0, old_mask & 0xFFFFFFFF,
            _si_addr(pending.info) & 0xFFFFFFFF)
        restorer = action.restorer if action.flags & SA_RESTORER else \
            self.returns[1 if rt else 0] if proc.space.find(proc.space.layout.vdso_base) else 0
        if rt:
            fpstate = frame + 268
            sigcontext = sigcontext[:19 * 4] + struct.pack("<I", fpstate) + sigcontext[80:]
            uc = struct.pack("<II", 0, 0) + struct.pack("<IiI", alt_sp, alt_flags if not
                                                       on_alt else SS_ONSTACK, alt_size) + \
                sigcontext + struct.pack("<Q", old_mask)
            body = struct.pack("<IiII", restorer or frame + 260, signal, frame + INFO_OFFSET,
                               frame + UC_OFFSET) + pending.info.pack() + uc + RT_RETCODE + \
                bytes(512)
        else:
            body = struct.pack("<Ii", restorer or frame + 8 + 88 + 512 + 4, signal) + \
                sigcontext + bytes(512) + struct.pack("<I", old_mask >> 32) + OLD_RETCODE
        copy_to_user(proc.space, frame, body)
        state.frames.append((frame, self.cpu.copy_context(ctx), old_mask))
        del state.frames[:-64]  # a handler that never returns does not grow this for ever
        state.mask |= action.mask | (0 if action.flags & SA_NODEFER else bit(signal))
        if action.flags & SA_RESETHAND:
            state.actions[signal] = Action()
        cpu.set_context_reg(ctx, Reg.ESP, frame)
        cpu.set_context_reg(ctx, Reg.EIP, action.handler)
        cpu.set_context_reg(ctx, Reg.EAX, signal)
        cpu.set_context_reg(ctx, Reg.EDX, frame + INFO_OFFSET if rt else 0)
        cpu.set_context_reg(ctx, Reg.ECX, frame + UC_OFFSET if rt else 0)
        cpu.set_context_reg(ctx, Reg.EFLAGS, regs["eflags"] & ~0x500)  # TF, DF cleared
        proc.eip = action.handler

    def _saved_context(self, proc, frame: int):
        """The CPU state saved when the frame at ``frame`` was pushed (or, for a frame the
        kernel did not make, the process's present one)."""
        state = proc.sig
        while state.frames:
            at, ctx, _ = state.frames.pop()
            if at == frame:
                return ctx
        return self.cpu.copy_context(proc.context)

    def _push_frame64(self, proc, signal: int, pending: Pending, action: Action) -> None:
        state = proc.sig
        alt_sp, alt_flags, alt_size = state.altstack
        sp = self.cpu.context_regs(proc.context)["rsp"]
        on_alt = alt_flags != SS_DISABLE and alt_size and alt_sp < sp <= alt_sp + alt_size
        old_mask = state.mask if state.saved_mask is None else state.saved_mask
        state.saved_mask = None
        saved = self.cpu.copy_context(proc.context)
        frame = sigframe64.push_frame(self.cpu, proc, signal, pending.info, pending.trapno,
                                      pending.error, action, old_mask, state.altstack,
                                      bool(on_alt))
        state.frames.append((frame, saved, old_mask))
        del state.frames[:-64]
        state.mask |= action.mask | (0 if action.flags & SA_NODEFER else bit(signal))
        if action.flags & SA_RESETHAND:
            state.actions[signal] = Action()
        proc.eip = action.handler

    def sigreturn(self, proc, esp: int, rt: bool) -> None:
        """Back from a handler: the CPU state saved at delivery, with the registers the frame
        holds now. Replaces the process's saved context (the CPU must stop)."""
        if proc.abi == "x86_64":
            frame, sc, mask = sigframe64.read_frame(proc, esp)
            base = self._saved_context(proc, frame)
            proc.eip = sigframe64.restore(self.cpu, base, sc)
            proc.sig.mask = mask & ~UNBLOCKABLE & ((1 << NSIG) - 1)
            proc.context = base
            proc.context_changed = True
            return
        frame = esp - (4 if rt else 8)
        sc_at = frame + (UC_OFFSET + 20 if rt else 8)
        sc = SIGCONTEXT.unpack(copy_from_user(proc.space, sc_at, SIGCONTEXT.size))
        if rt:
            mask = struct.unpack("<Q", copy_from_user(proc.space, frame + UC_OFFSET + 108,
                                                      8))[0]
        else:
            extra = struct.unpack("<I", copy_from_user(proc.space, frame + 8 + 88 + 512, 4))[0]
            mask = sc[20] | extra << 32
        state = proc.sig
        base = self._saved_context(proc, frame)
        cpu = self.cpu
        for reg, value in ((Reg.EDI, sc[4]), (Reg.ESI, sc[5]), (Reg.EBP, sc[6]),
                           (Reg.ESP, sc[7]), (Reg.EBX, sc[8]), (Reg.EDX, sc[9]),
                           (Reg.ECX, sc[10]), (Reg.EAX, sc[11]), (Reg.EIP, sc[14])):
            cpu.set_context_reg(base, reg, value)
        cpu.set_context_reg(base, Reg.EFLAGS, (sc[16] & 0x40DD5) | 0x202)  # user flags only
        state.mask = mask & ~UNBLOCKABLE & ((1 << NSIG) - 1)
        proc.context = base
        proc.context_changed = True
        proc.eip = sc[14]


def _si_addr(info: SigInfo) -> int:
    if info.signo in (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) and info.addr is not None:
        return info.addr
    return 0

