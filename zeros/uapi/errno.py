"""errno values of Linux (asm-generic/errno-base.h, errno.h): what a failed syscall returns,
negated, in EAX."""

from __future__ import annotations

import enum


class Errno(enum.IntEnum):
    EPERM = 1
    ENOENT = 2
    ESRCH = 3
    EINTR = 4
    EIO = 5
    ENXIO = 6
    E2BIG = 7
    ENOEXEC = 8
    EBADF = 9
    ECHILD = 10
    EAGAIN = 11
    ENOMEM = 12
    EACCES = 13
    EFAULT = 14
    EBUSY = 16
    EEXIST = 17
    EXDEV = 18
    ENODEV = 19
    ENOTDIR = 20
    EISDIR = 21
    EINVAL = 22
    ENFILE = 23
    EMFILE = 24
    ENOTTY = 25
    ETXTBSY = 26
    EFBIG = 27
    ENOSPC = 28
    ESPIPE = 29
    EROFS = 30
    EMLINK = 31
    EPIPE = 32
    ERANGE = 34
    ENAMETOOLONG = 36
    ENOSYS = 38
    ENOTEMPTY = 39
    ELOOP = 40
    EOVERFLOW = 75



# The same, as plain names (what handlers return, negated)
EPERM = Errno.EPERM
ENOENT = Errno.ENOENT
ESRCH = Errno.ESRCH
EINTR = Errno.EINTR
EIO = Errno.EIO
ENXIO = Errno.ENXIO
E2BIG = Errno.E2BIG
ENOEXEC = Errno.ENOEXEC
EBADF = Errno.EBADF
ECHILD = Errno.ECHILD
EAGAIN = Errno.EAGAIN
ENOMEM = Errno.ENOMEM
EACCES = Errno.EACCES
EFAULT = Errno.EFAULT
EBUSY = Errno.EBUSY
EEXIST = Errno.EEXIST
EXDEV = Errno.EXDEV
ENODEV = Errno.ENODEV
ENOTDIR = Errno.ENOTDIR
EISDIR = Errno.EISDIR
EINVAL = Errno.EINVAL
ENFILE = Errno.ENFILE
EMFILE = Errno.EMFILE
ENOTTY = Errno.ENOTTY
ETXTBSY = Errno.ETXTBSY
EFBIG = Errno.EFBIG
ENOSPC = Errno.ENOSPC
ESPIPE = Errno.ESPIPE
EROFS = Errno.EROFS
EMLINK = Errno.EMLINK
EPIPE = Errno.EPIPE
ERANGE = Errno.ERANGE
ENAMETOOLONG = Errno.ENAMETOOLONG
ENOSYS = Errno.ENOSYS
ENOTEMPTY = Errno.ENOTEMPTY
ELOOP = Errno.ELOOP
EOVERFLOW = Errno.EOVERFLOW
