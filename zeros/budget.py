"""The run's time budget, as seen from inside the kernel.

Unicorn's timeout stops the CPU, but not the kernel: one syscall can run long in Python
(MAP_POPULATE of gigabytes, fork of a huge address space). Those loops call :func:`check`
now and then; past the deadline of the current ``run()`` it raises :class:`BudgetExceeded`
(the syscall returns -EINTR, and the run ends as its budget says). The deadline lives in a
context variable, so machines running in different threads keep their own.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import SyscallError
from .uapi import errno

_deadline: ContextVar[float | None] = ContextVar("zeros_deadline", default=None)


class BudgetExceeded(SyscallError):
    """The run's time budget ran out while the kernel was working."""

    def __init__(self) -> None:
        super().__init__(errno.EINTR, "the time budget ran out during a syscall")


@contextmanager
def deadline(at: float | None):
    """Within this block, :func:`check` raises once ``time.monotonic()`` passes ``at``."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    at = _deadline.get()
    if at is not None and time.monotonic() >= at:
        raise BudgetExceeded()
