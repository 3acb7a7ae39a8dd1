"""The machine's clock: the host's, or a virtual one that makes runs repeatable.

* real (the default): CLOCK_REALTIME is the host's ``time.time_ns()``, CLOCK_MONOTONIC counts
  from the machine's creation;
* virtual (``Machine(seed=...)``, ``zeros run --seed``): both start at a fixed moment
  (2026-01-01 00:00:00 UTC for the realtime clock) and advance by one microsecond at every
  kernel entry and by exactly what a guest sleeps: the same guests give the same times.

The vDSO reads the clock from [vvar] (see ``zeros.proc.vdso``); with the real clock it also
interpolates between kernel entries with the time-stamp counter, as Linux's does.
"""

from __future__ import annotations

import time

from emu import tsc

VIRTUAL_EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
CALIBRATION_NS = 2_000_000  # TSC rate measured over at least this much host time


class Clock:
    def __init__(self, virtual: bool = False):
        self.virtual = virtual
        self.boot_ns = time.monotonic_ns()
        self.entries = 0  # kernel entries (the virtual clock's microseconds)
        self.slept_ns = 0  # virtual time guests slept
        self._tsc0 = self._ns0 = None
        self.tsc_mult = 0  # ns per TSC tick as a 32.32 fixed point (0: not calibrated)
        if not virtual:
            self.sample()  # the first point of the calibration: now

    def realtime_ns(self) -> int:
        if self.virtual:
            return VIRTUAL_EPOCH_NS + self.monotonic_ns()
        return time.time_ns()

    def monotonic_ns(self) -> int:
        if self.virtual:
            return self.entries * 1000 + self.slept_ns
        return time.monotonic_ns() - self.boot_ns

    def sleep_until(self, monotonic_ns: int) -> None:
        """Virtual time: jump to a sleeper's wake-up (nothing else could run meanwhile)."""
        if self.virtual:
            self.slept_ns += max(0, monotonic_ns - self.monotonic_ns())

    def sample(self) -> tuple[int, int, int, int]:
        """(tsc, realtime ns, monotonic ns, tsc_mult) at one moment, for [vvar]."""
        counter = None if self.virtual else tsc.read()
        real, mono = self.realtime_ns(), self.monotonic_ns()
        if counter is None:
            return 0, real, mono, 0
        if self._tsc0 is None:
            self._tsc0, self._ns0 = counter, mono
        elif mono - self._ns0 >= CALIBRATION_NS and counter > self._tsc0:
            self.tsc_mult = min(((mono - self._ns0) << 32) // (counter - self._tsc0),
                                0xFFFFFFFF)
        return counter, real, mono, self.tsc_mult
