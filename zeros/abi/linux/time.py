"""The time calls of the Linux family: clock_gettime (and the 64-bit-time variant),
clock_getres, gettimeofday, time, nanosleep, clock_nanosleep, times. The clock is the
machine's (zeros.proc.clock): the host's, or the virtual one of a repeatable run. Programs
mostly read it through the vDSO instead, without a trap."""

from __future__ import annotations

import struct

from ...errors import SyscallError
from ...proc.clock import Clock
from ...proc.process import Process, WouldBlock
from ...uapi import errno
from ...uapi import unistd_32 as nr
from ...vm.uaccess import copy_from_user, copy_to_user

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
REALTIME_CLOCKS = {0, 5, 8, 11}  # REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
MONOTONIC_CLOCKS = {1, 4, 6, 7, 9}  # MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
TIMER_ABSTIME = 1
NS = 10**9


class TimeCalls:
    def __init__(self, clock: Clock):
        self.clock = clock

    def handlers(self) -> dict:
        return {nr.NR_clock_gettime: (self.clock_gettime, 2),
                nr.NR_clock_gettime64: (self.clock_gettime64, 2),
                nr.NR_clock_getres: (self.clock_getres, 2),
                nr.NR_clock_getres_time64: (self.clock_getres64, 2),
                nr.NR_gettimeofday: (self.gettimeofday, 2), nr.NR_time: (self.time, 1),
                nr.NR_nanosleep: (self.nanosleep, 2),
                nr.NR_clock_nanosleep: (self.clock_nanosleep, 4),
                nr.NR_clock_nanosleep_time64: (self.clock_nanosleep64, 4),
                nr.NR_times: (self.times, 1)}

    def now(self, proc: Process, clock_id: int) -> int:
        if clock_id in REALTIME_CLOCKS:
            return self.clock.realtime_ns()
        if clock_id in MONOTONIC_CLOCKS:
            return self.clock.monotonic_ns()
        if clock_id in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
            return max(0, self.clock.monotonic_ns() - proc.start_ns)
        raise SyscallError(errno.EINVAL, f"no clock {clock_id}")

    def clock_gettime(self, proc: Process, args) -> int:
        ns = self.now(proc, args[0])
        copy_to_user(proc.space, args[1], struct.pack("<iI", ns // NS, ns % NS))
        return 0

    def clock_gettime64(self, proc: Process, args) -> int:
        ns = self.now(proc, args[0])
        copy_to_user(proc.space, args[1], struct.pack("<qq", ns // NS, ns % NS))
        return 0

    def clock_getres(self, proc: Process, args) -> int:
        self.now(proc, args[0])
        if args[1]:
            copy_to_user(proc.space, args[1], struct.pack("<iI", 0, 1))
        return 0

    def clock_getres64(self, proc: Process, args) -> int:
        self.now(proc, args[0])
        if args[1]:
            copy_to_user(proc.space, args[1], struct.pack("<qq", 0, 1))
        return 0

    def gettimeofday(self, proc: Process, args) -> int:
        tv, tz = args[:2]
        ns = self.clock.realtime_ns()
        if tv:
            copy_to_user(proc.space, tv, struct.pack("<iI", ns // NS, ns % NS // 1000))
        if tz:
            copy_to_user(proc.space, tz, bytes(8))
        return 0

    def time(self, proc: Process, args) -> int:
        seconds = self.clock.realtime_ns() // NS
        if args[0]:
            copy_to_user(proc.space, args[0], struct.pack("<i", seconds))
        return seconds & 0xFFFFFFFF

    def times(self, proc: Process, args) -> int:
        ticks = self.clock.monotonic_ns() // 10**7
        if args[0]:
            used = max(0, self.clock.monotonic_ns() - proc.start_ns) // 10**7
            copy_to_user(proc.space, args[0], struct.pack("<4I", used, 0, 0, 0))
        return ticks & 0xFFFFFFFF

    def _sleep(self, proc: Process, duration: int | None, until: int | None) -> int:
        """Sleep ``duration`` ns (or until monotonic ``until``): WouldBlock until then."""
        now = self.clock.monotonic_ns()
        if proc.sleep_until is None:
            proc.sleep_until = until if until is not None else now + duration
        if now >= proc.sleep_until:
            proc.sleep_until = None
            return 0
        raise WouldBlock(wake_at=proc.sleep_until)

    def _request(self, proc: Process, va: int, wide: bool) -> int:
        raw = copy_from_user(proc.space, va, 16 if wide else 8)
        seconds, nanoseconds = struct.unpack("<qq" if wide else "<iI", raw)
        if seconds < 0 or not 0 <= nanoseconds < NS:
            raise SyscallError(errno.EINVAL, "bad timespec")
        return seconds * NS + nanoseconds

    def nanosleep(self, proc: Process, args) -> int:
        duration = None if proc.sleep_until is not None else self._request(proc, args[0], False)
        return self._sleep(proc, duration, None)

    def clock_nanosleep(self, proc: Process, args) -> int:
        return self._clock_nanosleep(proc, args, wide=False)

    def clock_nanosleep64(self, proc: Process, args) -> int:
        return self._clock_nanosleep(proc, args, wide=True)

    def _clock_nanosleep(self, proc: Process, args, wide: bool) -> int:
        clock_id, flags, request = args[:3]
        if proc.sleep_until is not None:
            return self._sleep(proc, None, proc.sleep_until)
        value = self._request(proc, request, wide)
        if flags & TIMER_ABSTIME:
            until = self.clock.monotonic_ns() + value - self.now(proc, clock_id)
            return self._sleep(proc, None, until)
        self.now(proc, clock_id)
        return self._sleep(proc, value, None)
