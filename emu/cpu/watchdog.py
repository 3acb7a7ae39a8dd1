"""The time budget's timer: one sleeping thread per CPU that stops emulation at a deadline.

Unicorn's own ``emu_start`` timeout runs a thread that polls every few microseconds: with
the default 30 s budget a third of a core went to it for the whole run, and the emulation
itself slowed on a busy machine. This thread sleeps on a condition until the deadline (or
until it is disarmed) and then calls ``uc_emu_stop``, which is safe from another thread.
The stop is asynchronous, as Unicorn's timeout was: the process it lands in is not resumed
(the scheduler ends the run at the deadline), so its exactness does not matter. It is
repeated every 10 ms until the run is disarmed: a stop that comes just before
``uc_emu_start`` begins would otherwise be lost (found by the fuzzer: a guest looping
without kernel entries ran past its budget).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

RETRY = 0.01  # seconds between stops while the run goes on past its deadline


class Watchdog:
    def __init__(self, stop: Callable[[], None]):
        self._stop = stop
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        self.fired = 0  # how many times it stopped the CPU
        self._thread = threading.Thread(target=self._loop, name="zeros-watchdog", daemon=True)
        self._thread.start()

    def arm(self, deadline: float) -> None:
        """Stop the CPU at ``deadline`` (time.monotonic()), unless disarmed before."""
        with self._cond:
            self._deadline = deadline
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=1)

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                # until disarmed, stop again every 10 ms: a stop that lands just before
                # emu_start begins is forgotten by it (it clears the request when it starts)
                self._deadline = time.monotonic() + RETRY
                self.fired += 1
                self._stop()
