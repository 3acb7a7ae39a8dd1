"""The signal calls of the Linux family: rt_sigaction, sigaction, rt_sigprocmask,
sigprocmask, rt_sigpending, sigaltstack, rt_sigreturn, sigreturn, rt_sigsuspend, pause,
kill, tkill, tgkill. Delivery itself is the scheduler's (zeros.proc.signals)."""

from __future__ import annotations

import struct

from emu.cpu import Reg

from ...errors import SyscallError
from ...proc.process import Process, WouldBlock
from ...proc.signals import (
    NSIG,
    SI_TKILL,
    SI_USER,
    SS_DISABLE,
    SS_ONSTACK,
    UNBLOCKABLE,
    Action,
    Signals,
    bit,
    siginfo,
)
from ...proc.table import ProcessTable
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...uapi.signals import SIGKILL
from ...uapi.types import signed32
from ...vm.uaccess import copy_from_user, copy_to_user

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSTOP = 19
MASK = (1 << NSIG) - 1


# what sigaction and sigaltstack read and write, per ABI: handler, flags, restorer, mask;
# ss_sp, ss_flags, ss_size
SIGACTION = {"i386": struct.Struct("<IIIQ"), "x86_64": struct.Struct("<QQQQ")}
STACK_T = {"i386": struct.Struct("<IiI"), "x86_64": struct.Struct("<Qi4xQ")}


class SignalCalls:
    def __init__(self, table: ProcessTable, signals: Signals):
        self.table = table
        self.signals = signals

    def handlers(self) -> dict:
        return {nr.NR_rt_sigaction: (self.rt_sigaction, 4), nr.NR_sigaction: (self.sigaction, 3),
                nr.NR_rt_sigprocmask: (self.rt_sigprocmask, 4),
                nr.NR_sigprocmask: (self.sigprocmask, 3),
                nr.NR_rt_sigpending: (self.rt_sigpending, 2),
                nr.NR_sigaltstack: (self.sigaltstack, 2),
                nr.NR_rt_sigreturn: (self.rt_sigreturn, 0),
                nr.NR_sigreturn: (self.sigreturn, 0),
                nr.NR_rt_sigsuspend: (self.rt_sigsuspend, 2), nr.NR_pause: (self.pause, 0),
                nr.NR_kill: (self.kill, 2), nr.NR_tkill: (self.tkill, 2),
                nr.NR_tgkill: (self.tgkill, 3)}

    @staticmethod
    def _signal(number: int, settable: bool = False) -> int:
        if not 1 <= number <= NSIG or settable and number in (SIGKILL, SIGSTOP):
            raise SyscallError(errno.EINVAL, f"bad signal {number}")
        return number

    def _set_action(self, proc: Process, signal: int, new: Action | None) -> Action:
        old = proc.sig.action(signal)
        if new is not None:
            self._signal(signal, settable=True)
            new.mask &= ~UNBLOCKABLE
            proc.sig.actions[signal] = new
            if new.handler == 1:  # SIG_IGN drops what is pending
                proc.sig.pending.pop(signal, None)
        return old

    def rt_sigaction(self, proc: Process, args) -> int:
        signal, act, oldact, size = args[:4]
        self._signal(signal)
        if size != 8:
            raise SyscallError(errno.EINVAL, "sigsetsize must be 8")
        layout = SIGACTION[proc.abi]  # struct sigaction as the kernel takes it
        new = None
        if act:
            handler, flags, restorer, mask = layout.unpack(
                copy_from_user(proc.space, act, layout.size))
            new = Action(handler, flags & 0xFFFFFFFF, restorer, mask)
        old = self._set_action(proc, signal, new)
        if oldact:
            copy_to_user(proc.space, oldact, layout.pack(old.handler, old.flags, old.restorer,
                                                         old.mask))
        return 0

    def sigaction(self, proc: Process, args) -> int:
        signal, act, oldact = args[:3]
        self._signal(signal)
        new = None
        if act:
            handler, mask, flags, restorer = struct.unpack(
                "<IIII", copy_from_user(proc.space, act, 16))
            new = Action(handler, flags, restorer, mask)
        old = self._set_action(proc, signal, new)
        if oldact:
            copy_to_user(proc.space, oldact, struct.pack("<IIII", old.handler,
                                                         old.mask & 0xFFFFFFFF, old.flags,
                                                         old.restorer))
        return 0

    def _mask(self, proc: Process, how: int, new: int | None) -> int:
        state = proc.sig
        old = state.mask
        if new is not None:
            if how == SIG_BLOCK:
                state.mask |= new
            elif how == SIG_UNBLOCK:
                state.mask &= ~new
            elif how == SIG_SETMASK:
                state.mask = new
            else:
                raise SyscallError(errno.EINVAL, f"bad how {how}")
            state.mask &= MASK & ~UNBLOCKABLE
        return old

    def rt_sigprocmask(self, proc: Process, args) -> int:
        how, set_va, old_va, size = args[:4]
        if size != 8:
            raise SyscallError(errno.EINVAL, "sigsetsize must be 8")
        new = struct.unpack("<Q", copy_from_user(proc.space, set_va, 8))[0] if set_va else None
        if old_va:
            copy_to_user(proc.space, old_va, struct.pack("<Q", proc.sig.mask))
        self._mask(proc, how, new)
        return 0

    def sigprocmask(self, proc: Process, args) -> int:
        how, set_va, old_va = args[:3]
        new = struct.unpack("<I", copy_from_user(proc.space, set_va, 4))[0] if set_va else None
        if old_va:
            copy_to_user(proc.space, old_va, struct.pack("<I", proc.sig.mask & 0xFFFFFFFF))
        if new is not None:
            new |= proc.sig.mask & ~0xFFFFFFFF if how == SIG_SETMASK else 0
        self._mask(proc, how, new)
        return 0

    def rt_sigpending(self, proc: Process, args) -> int:
        pending = 0
        for signal in proc.sig.pending:
            pending |= bit(signal)
        copy_to_user(proc.space, args[0], struct.pack("<Q", pending)[:max(0, min(args[1], 8))])
        return 0

    def sigaltstack(self, proc: Process, args) -> int:
        new_va, old_va = args[:2]
        sp, flags, size = proc.sig.altstack
        layout = STACK_T[proc.abi]
        if old_va:
            cpu = self.table.cpu
            esp = cpu.reg(cpu.sp_reg)
            on = flags != SS_DISABLE and sp < esp <= sp + size
            copy_to_user(proc.space, old_va, layout.pack(sp, SS_ONSTACK if on else flags,
                                                         size))
        if new_va:
            nsp, nflags, nsize = layout.unpack(copy_from_user(proc.space, new_va, layout.size))
            if nflags & ~(SS_DISABLE | 0x80000000):
                raise SyscallError(errno.EINVAL, "sigaltstack: bad flags")
            if not nflags & SS_DISABLE and nsize < 2048:
                raise SyscallError(errno.ENOMEM, "sigaltstack: smaller than MINSIGSTKSZ")
            proc.sig.altstack = (0, SS_DISABLE, 0) if nflags & SS_DISABLE else \
                (nsp, 0, nsize)
        return 0

    def rt_sigreturn(self, proc: Process, args) -> None:
        self.signals.sigreturn(proc, self.table.cpu.reg(Reg.ESP), rt=True)
        self.table.cpu.stop()
        return None

    def sigreturn(self, proc: Process, args) -> None:
        self.signals.sigreturn(proc, self.table.cpu.reg(Reg.ESP), rt=False)
        self.table.cpu.stop()
        return None

    def rt_sigsuspend(self, proc: Process, args) -> int:
        mask_va, size = args[:2]
        if size != 8:
            raise SyscallError(errno.EINVAL, "sigsetsize must be 8")
        if proc.sig.saved_mask is None:
            mask = struct.unpack("<Q", copy_from_user(proc.space, mask_va, 8))[0]
            proc.sig.saved_mask = proc.sig.mask
            proc.sig.mask = mask & MASK & ~UNBLOCKABLE
        raise WouldBlock()  # only a signal ends it: -EINTR

    def pause(self, proc: Process, args) -> int:
        raise WouldBlock()

    def _send(self, sender: Process, target: Process, signal: int, code: int) -> None:
        if signal:
            self.signals.send(target, signal, siginfo(signal, code, sender.pid))

    def kill(self, proc: Process, args) -> int:
        pid, signal = signed32(args[0]), args[1]
        if signal:
            self._signal(signal)
        if pid > 0:
            target = self.table.processes.get(pid)
            if target is None or not target.alive or not target.path:
                raise SyscallError(errno.ESRCH, f"no process {pid}")
            self._send(proc, target, signal, SI_USER)
            return 0
        targets = [p for p in self.table.processes.values()
                   if p.alive and p.path and (pid != -1 or p is not proc)]
        if not targets:
            raise SyscallError(errno.ESRCH, "no process")
        for target in targets:
            self._send(proc, target, signal, SI_USER)
        return 0

    def tkill(self, proc: Process, args) -> int:
        return self._tkill(proc, args[0], args[1])

    def tgkill(self, proc: Process, args) -> int:
        tgid, tid, signal = args[:3]
        if tgid != tid:
            raise SyscallError(errno.ESRCH, f"no thread {tid} in {tgid}")
        return self._tkill(proc, tid, signal)

    def _tkill(self, proc: Process, tid: int, signal: int) -> int:
        if signal:
            self._signal(signal)
        target = self.table.processes.get(signed32(tid))
        if target is None or not target.alive or not target.path:
            raise SyscallError(errno.ESRCH, f"no thread {tid}")
        self._send(proc, target, signal, SI_TKILL)
        return 0

