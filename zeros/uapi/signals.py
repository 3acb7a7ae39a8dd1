"""Signal numbers of x86 Linux, and which signal a CPU exception in user mode sends
(arch/x86/kernel/traps.c)."""

from __future__ import annotations

import enum


class Signal(enum.IntEnum):
    SIGHUP = 1
    SIGINT = 2
    SIGQUIT = 3
    SIGILL = 4
    SIGTRAP = 5
    SIGABRT = 6
    SIGBUS = 7
    SIGFPE = 8
    SIGKILL = 9
    SIGUSR1 = 10
    SIGSEGV = 11
    SIGUSR2 = 12
    SIGPIPE = 13
    SIGALRM = 14
    SIGTERM = 15
    SIGCHLD = 17
    SIGCONT = 18
    SIGSTOP = 19


SIGTRAP, SIGILL, SIGBUS, SIGFPE, SIGKILL, SIGSEGV, SIGABRT = (
    Signal.SIGTRAP, Signal.SIGILL, Signal.SIGBUS, Signal.SIGFPE, Signal.SIGKILL,
    Signal.SIGSEGV, Signal.SIGABRT)

# vector -> signal, for exceptions raised by ring-3 code
VECTOR_SIGNALS = {0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL,
                  7: SIGSEGV, 9: SIGFPE, 10: SIGSEGV, 11: SIGBUS, 12: SIGBUS, 13: SIGSEGV,
                  14: SIGSEGV, 16: SIGFPE, 17: SIGBUS, 19: SIGFPE}


def signal_name(number: int) -> str:
    try:
        return Signal(number).name
    except ValueError:
        return f"signal {number}"
