"""The machine's clock: the host's, or a virtual one that makes runs repeatable.

* real (the default): CLOCK_REALTIME is the host's ``time.time_ns()``, CLOCK_MONOTONIC counts
  from the machine's creation;
* virtual (``Machine(seed=...)``, ``zeros run --seed``): both start at a fixed moment
  (2026-01-01 00:00:00 UTC for the realtime clock) and advance by one microsecond at every
  kernel entry and by exactly what a guest sleeps: the same guests give the same times.

The vDSO reads the clock from [vvar] (see ``zeros.proc.vdso``) and interpolates between kernel
entries with the time-stamp counter, as Linux's does. With the real clock that is the host's
counter; with the virtual one it is a virtual counter at 2 GHz (``rdtsc`` in ring 3 traps to
the kernel then, CR4.TSD, which answers :meth:`Clock.counter` and counts it as a kernel
entry), so a guest that waits for the clock to move sees it move, the same in every run.
"""

from __future__ import annotations

import time

from emu import tsc

VIRTUAL_EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
CALIBRATION_NS = 2_000_000  # TSC rate measured over at least this much host time
VIRTUAL_TSC_PER_NS = 2  # the virtual clock's time-stamp counter runs at 2 GHz


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

    def counter(self) -> int:
        """The virtual time-stamp counter now (what an emulated ``rdtsc`` answers)."""
        return self.monotonic_ns() * VIRTUAL_TSC_PER_NS

    def sample(self) -> tuple[int, int, int, int]:
        """(tsc, realtime ns, monotonic ns, tsc_mult) at one moment, for [vvar]."""
        real, mono = self.realtime_ns(), self.monotonic_ns()
        if self.virtual:
            return mono * VIRTUAL_TSC_PER_NS, real, mono, (1 << 32) // VIRTUAL_TSC_PER_NS
        counter = tsc.read()
        if counter is None:
            return 0, real, mono, 0
        if self._tsc0 is None:
            self._tsc0, self._ns0 = counter, mono
        elif mono - self._ns0 >= CALIBRATION_NS and counter > self._tsc0:
            self.tsc_mult = min(((mono - self._ns0) << 32) // (counter - self._tsc0),
                                0xFFFFFFFF)
        return counter, real, mono, self.tsc_mult
