"""Linux i386 ABI constants the guests see (fixed values, whatever the host is)."""

from __future__ import annotations

# errno
EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF = 1, 2, 3, 4, 5, 6, 7, 8, 9
ECHILD, EAGAIN = 10, 11
ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, ENODEV, ENOTDIR, EISDIR, EINVAL = \
    12, 13, 14, 16, 17, 19, 20, 21, 22
ENFILE, EMFILE, EFBIG, ENOSPC, ESPIPE, EROFS, ERANGE = 23, 24, 27, 28, 29, 30, 34
ENAMETOOLONG, ENOSYS, EOVERFLOW = 36, 38, 75

# signals (numbers as on x86 Linux)
SIGTRAP, SIGILL, SIGBUS, SIGFPE, SIGKILL, SIGSEGV = 5, 4, 7, 8, 9, 11
SIGNAL_NAMES = {SIGTRAP: "SIGTRAP", SIGILL: "SIGILL", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV"}

# which signal Linux sends for a CPU exception raised in user mode (arch/x86/kernel/traps.c)
VECTOR_SIGNALS = {0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL,
                  7: SIGSEGV, 9: SIGFPE, 10: SIGSEGV, 11: SIGBUS, 12: SIGBUS, 13: SIGSEGV,
                  14: SIGSEGV, 16: SIGFPE, 17: SIGBUS, 19: SIGFPE}
