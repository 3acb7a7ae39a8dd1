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
    SIGSTKFLT = 16
    SIGCONT = 18
    SIGSTOP = 19
    SIGTSTP = 20
    SIGTTIN = 21
    SIGTTOU = 22
    SIGURG = 23
    SIGXCPU = 24
    SIGXFSZ = 25
    SIGVTALRM = 26
    SIGPROF = 27
    SIGWINCH = 28
    SIGIO = 29
    SIGPWR = 30
    SIGSYS = 31


SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = (
    Signal.SIGHUP, Signal.SIGINT, Signal.SIGQUIT, Signal.SIGILL, Signal.SIGTRAP,
    Signal.SIGABRT, Signal.SIGBUS, Signal.SIGFPE)
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD = (
    Signal.SIGKILL, Signal.SIGUSR1, Signal.SIGSEGV, Signal.SIGUSR2, Signal.SIGPIPE,
    Signal.SIGALRM, Signal.SIGTERM, Signal.SIGCHLD)

# vector -> signal, for exceptions raised by ring-3 code
VECTOR_SIGNALS = {0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL,
                  7: SIGSEGV, 9: SIGFPE, 10: SIGSEGV, 11: SIGBUS, 12: SIGBUS, 13: SIGSEGV,
                  14: SIGSEGV, 16: SIGFPE, 17: SIGBUS, 19: SIGFPE}


def signal_name(number: int) -> str:
    try:
        return Signal(number).name
    except ValueError:
        return f"SIGRTMIN+{number - 34}" if 34 <= number <= 64 else f"signal {number}"
