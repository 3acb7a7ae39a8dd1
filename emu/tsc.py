"""The time-stamp counter, read from the host side.

Unicorn's ``rdtsc`` is the host's own counter (QEMU's ``cpu_get_host_ticks``), so the kernel
can sample the same clock a guest reads, as Linux's timekeeping does for its vDSO: a
9-byte host function (``rdtsc; shl rdx, 32; or rax, rdx; ret``) in an executable page. Where
the host refuses an executable mapping, :func:`read` returns None and the vDSO falls back to
time that moves at kernel entries only.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from functools import lru_cache

_STUB = bytes.fromhex("0f31" "48c1e220" "4809d0" "c3")


@lru_cache(maxsize=1)
def _reader():
    if os.uname().machine not in ("x86_64", "AMD64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):
        return None
    page.write(_STUB)
    anchor = ctypes.c_char.from_buffer(page)
    function = ctypes.CFUNCTYPE(ctypes.c_uint64)(ctypes.addressof(anchor))
    function.keep = (page, anchor)  # the page lives as long as the function
    return function


def read() -> int | None:
    """The counter now (what ``rdtsc`` in a guest would give), or None."""
    function = _reader()
    return function() if function is not None else None
