"""Run control for a debugger: breakpoints, watchpoints, continue, step, and why the machine
stopped. All-stop: the whole machine stops when any process stops.

* Software breakpoints (``Z0``) are an ``int3`` written through the page walk into one
  process's copy of the page (a shared or copy-on-write frame is copied first, so no other
  process sees it); reads through the debugger show the original byte. A forked child
  inherits its parent's breakpoints with the page; an exec drops them.
* Hardware breakpoints (``Z1``) are a code hook at one virtual address, in every process
  (as a debug register would be, the debugger sees one address space): the CPU stops before
  that instruction, exactly.
* Watchpoints (``Z2`` write, ``Z3`` read, ``Z4`` access) hook every data access while one is
  set (Unicorn reports physical addresses: the frame's reverse map gives the virtual one).
  The stop comes after the accessing instruction, as on x86. Accesses the kernel makes for
  a syscall are not watched (as with Linux's ptrace watchpoints).
* Continue runs in counted slices (Unicorn checks for a stop before every instruction then:
  exact stops for watchpoints and Ctrl-C, at about a tenth of the speed): between slices
  the debugger looks for Ctrl-C.
* A trap (page fault, #GP, #UD, a program's own int3...) stops the machine before its
  signal is sent, with the process on the trapping instruction; continuing with that signal
  sends it, continuing without drops it (the instruction runs again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ZerosError
from ..proc.process import WAITING
from ..uapi.signals import SIGINT, SIGKILL, SIGTRAP

SLICE = 200_000  # instructions between looks for Ctrl-C while continuing
INT3 = b"\xcc"


@dataclass
class Stop:
    """Why the machine stopped: a signal in a process (``info``: watch/rwatch/awatch and the
    address), or the end of the program (``exited``: status, or ``killed``: signal)."""

    pid: int = 0
    signal: int = 0
    info: dict = field(default_factory=dict)
    exited: int | None = None
    killed: int | None = None


@dataclass
class Watchpoint:
    kind: int  # 2 write, 3 read, 4 access
    address: int
    length: int


class Control:
    def __init__(self, machine, main_pid: int):
        self.m = machine
        self.main_pid = main_pid
        self.software: dict[int, dict[int, int]] = {}  # pid -> {address: original byte}
        self._spaces: dict[int, object] = {}  # pid -> the space its breakpoints are in
        self.hardware: dict[int, Callable[[], None]] = {}  # address -> remove
        self.watchpoints: list[Watchpoint] = []
        self._unwatch: Callable[[], None] | None = None
        self._hit_pc: int | None = None  # the instruction that touched a watched address
        self._undo: list[tuple[int, bytes]] = []  # what it wrote over, since the hit
        self._replaying = False
        self.stop: Stop | None = None
        self.last_pid = main_pid
        machine.breakpoint_handlers.append(self._on_int3)
        machine.debugger = self._on_trap

    def close(self) -> None:
        """Take every breakpoint and watchpoint out (detach)."""
        for pid in list(self.software):
            for address in list(self.software.get(pid, {})):
                self._restore(pid, address)
        self.software.clear()
        for address in list(self.hardware):
            self.remove_hardware(address)
        self.watchpoints.clear()
        self._update_watch()
        if self._on_int3 in self.m.breakpoint_handlers:
            self.m.breakpoint_handlers.remove(self._on_int3)
        self.m.debugger = None
        for pid in list(self.m.traps.held):
            self.m.release_trap(pid, True)

    def forget_breakpoints(self) -> None:
        """After a restore: the int3s are those of the snapshot's RAM (gdb takes its own out
        whenever the machine stops, so there are none)."""
        self.software.clear()
        self._spaces.clear()

    # -- processes -----------------------------------------------------------------------

    def threads(self) -> list[int]:
        return [pid for pid, p in self.m.processes.items()
                if p.alive and p.context is not None and p.path]

    def _sync(self) -> None:
        """Forks inherit breakpoints with their pages; an exec replaces them."""
        for pid in self.threads():
            proc = self.m.process(pid)
            known = self._spaces.get(pid)
            if known is None:
                parent = self.software.get(proc.parent)
                if parent and self._spaces.get(proc.parent) is not None:
                    self.software[pid] = dict(parent)
                self._spaces[pid] = proc.space
            elif known is not proc.space:  # exec: a new image, without the int3s
                self.software.pop(pid, None)
                self._spaces[pid] = proc.space

    # -- breakpoints ---------------------------------------------------------------------

    def insert_software(self, pid: int, address: int) -> None:
        """An int3 at ``address`` in ``pid`` and in every process running the same program
        (gdb sees them as threads of one program), each in its own copy of the page."""
        self._sync()
        path = self.m.process(pid).path
        for other in self.threads():
            if other == pid or self.m.process(other).path == path:
                try:
                    self._insert(other, address)
                except ZerosError:
                    if other == pid:
                        raise

    def _insert(self, pid: int, address: int) -> None:
        mine = self.software.setdefault(pid, {})
        if address in mine:
            return
        original = self.m.peek(pid, address, 1)[0]
        self.m.write_virt(pid, address, INT3, force=True)
        self.m.frames.code_dirty = True
        mine[address] = original
        self._spaces[pid] = self.m.process(pid).space

    def remove_software(self, address: int) -> None:
        self._sync()
        for pid in [p for p, bps in self.software.items() if address in bps]:
            self._restore(pid, address)

    def _restore(self, pid: int, address: int) -> None:
        original = self.software[pid].pop(address)
        proc = self.m.processes.get(pid)
        if proc is not None and proc.alive and proc.space is self._spaces.get(pid):
            try:
                self.m.write_virt(pid, address, bytes((original,)), force=True)
                self.m.frames.code_dirty = True
            except ZerosError:
                pass  # unmapped since: nothing to put back

    def shadow(self, pid: int, address: int, data: bytes) -> bytes:
        """``data`` read at ``address`` with our int3s replaced by the bytes they hide."""
        mine = self.software.get(pid)
        if not mine:
            return data
        out = bytearray(data)
        for at, original in mine.items():
            if address <= at < address + len(data):
                out[at - address] = original
        return bytes(out)

    def wrote(self, pid: int, address: int, data: bytes) -> None:
        """The debugger wrote over a breakpoint: it stays, hiding the new byte."""
        mine = self.software.get(pid, {})
        for at in list(mine):
            if address <= at < address + len(data):
                mine[at] = data[at - address]
                self.m.write_virt(pid, at, INT3, force=True)

    def insert_hardware(self, address: int) -> None:
        if address not in self.hardware:
            self.hardware[address] = self.m.cpu.hook_code_at(address, self._on_hardware)

    def remove_hardware(self, address: int) -> None:
        remove = self.hardware.pop(address, None)
        if remove is not None:
            remove()

    def _on_hardware(self, _eip: int) -> None:
        proc = self.m.current
        if proc is not None and self.stop is None:
            self.stop = Stop(proc.pid, SIGTRAP, {"hwbreak": ""})
            self.m.pause()

    def _on_int3(self, proc) -> None:
        if self.stop is not None:
            return
        cpu = self.m.cpu
        address = cpu.reg(cpu.pc_reg) - 1
        mine = self.software.get(proc.pid)
        if mine is None:  # a child forked during this run: its parent's int3s are in it
            self._sync()
            mine = self.software.get(proc.pid, {})
        if address in mine:
            cpu.set_reg(cpu.pc_reg, address)  # back onto the breakpoint, as gdb expects
            self.stop = Stop(proc.pid, SIGTRAP, {"swbreak": ""})
        else:  # the program's own int3
            self.stop = Stop(proc.pid, SIGTRAP)
        self.m.pause()

    def _on_trap(self, proc, trap, signal: int) -> bool:
        if self.stop is None:
            self.stop = Stop(proc.pid, signal)
            self.m.pause()
        return True

    # -- watchpoints ---------------------------------------------------------------------

    def insert_watch(self, kind: int, address: int, length: int) -> None:
        self.watchpoints.append(Watchpoint(kind, address, length))
        self._update_watch()

    def remove_watch(self, kind: int, address: int, length: int) -> None:
        self.watchpoints = [w for w in self.watchpoints
                            if (w.kind, w.address, w.length) != (kind, address, length)]
        self._update_watch()

    def _update_watch(self) -> None:
        if self.watchpoints and self._unwatch is None:
            self._unwatch = self.m.cpu.hook_data(self._on_access)
        elif not self.watchpoints and self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def _on_access(self, write: bool, pa: int, size: int, _value: int) -> None:
        proc = self.m.current
        if proc is None or self._replaying:
            return
        if self._hit_pc is not None:  # the same instruction goes on after the hit
            if write:
                self._undo.append((pa, self.m.read_phys(pa, size)))
            return
        if self.stop is not None:
            return
        frame = self.m.frames.info(pa & ~0xFFF)
        if frame is None:
            return
        for space, page in frame.rmap:
            if space is not proc.space:
                continue
            va = page | (pa & 0xFFF)
            for w in self.watchpoints:
                if w.kind == 2 and not write or w.kind == 3 and write:
                    continue
                if va < w.address + w.length and w.address < va + size:
                    name = {2: "watch", 3: "rwatch", 4: "awatch"}[w.kind]
                    self.stop = Stop(proc.pid, SIGTRAP, {name: f"{w.address:x}"})
                    cpu = self.m.cpu
                    self._hit_pc = cpu.reg(cpu.pc_reg)
                    self._undo = [(pa, self.m.read_phys(pa, size))] if write else []
                    self.m.pause()
                    return

    def _settle_watch(self) -> None:
        """A stop asked for from a data access lands inside the instruction (Unicorn 2.1.4:
        its stores done, EIP still on it, registers not yet written back, as a fault would
        leave them). Put back what it stored and run it again, exactly, to its end."""
        pc, undo = self._hit_pc, self._undo
        self._hit_pc, self._undo = None, []
        if pc is None or self.stop is None:
            return
        proc = self.m.processes.get(self.stop.pid)
        if proc is None or not proc.alive or proc.eip != pc:
            return  # the instruction had finished
        for pa, old in reversed(undo):
            self.m.write_phys(pa, old)
        stop, self.stop = self.stop, None
        self._replaying = True
        try:
            self.m.resume(1, [proc.pid])
        finally:
            self._replaying = False
        if self.stop is None:  # (a fault of its own would be the better news)
            self.stop = stop

    # -- running -------------------------------------------------------------------------

    def _begin(self, signals: dict[int, int]) -> None:
        """Before running: the signal gdb continues each held process with (0: none)."""
        self.stop = None
        for pid in list(self.m.traps.held):
            self.m.release_trap(pid, bool(signals.get(pid)))

    def _ended(self) -> Stop | None:
        if self.threads():
            return None
        results = self.m.results()
        main = results.get(self.main_pid)
        if main is not None and main.signal:
            return Stop(self.main_pid, killed=main.signal)
        return Stop(self.main_pid, exited=main.exit_code & 0xFF if main else 0)

    def cont(self, signals: dict[int, int], interrupted: Callable[[], bool]) -> Stop:
        """Run every process until something stops the machine."""
        self._sync()
        self._begin(signals)
        while True:
            why = self.m.resume(SLICE, poll=interrupted)
            self._settle_watch()
            self._sync()
            if self.stop is not None:
                return self._stopped(self.stop)
            ended = self._ended()
            if ended is not None:
                return ended
            if why == "interrupted" or interrupted():
                return self._stopped(Stop(self._running_pid(), SIGINT))
            if why and "budget" not in why:  # deadlock: nobody can ever run again
                for pid in self.threads():
                    self.m.kill(self.m.process(pid), SIGKILL, why)
                return self._ended() or Stop(self.main_pid, killed=SIGKILL)

    def step(self, pid: int, signals: dict[int, int],
             interrupted: Callable[[], bool]) -> Stop:
        """One instruction of ``pid`` (a call it sleeps in finishes first, while the others
        run); the others stay where they are."""
        self._sync()
        self._begin(signals)
        proc = self.m.process(pid)
        for _attempt in range(4):  # a resolved page fault makes the instruction run again
            before = proc.eip
            self._wait_for(proc, interrupted)
            if self.stop is not None or not proc.alive:
                break
            if proc.state != WAITING:
                self.m.resume(1, [pid])
                self._settle_watch()
            self._wait_for(proc, interrupted)
            if self.stop is not None or not proc.alive or proc.eip != before:
                break
        self._sync()
        if self.stop is not None:
            return self._stopped(self.stop)
        return self._ended() or self._stopped(Stop(pid if proc.alive else self._running_pid(),
                                                   SIGTRAP))

    def _wait_for(self, proc, interrupted: Callable[[], bool]) -> None:
        """``proc`` sleeps in a call: let the others run until it can go on."""
        while proc.alive and proc.state == WAITING and self.stop is None:
            if self.m.wake(proc.pid):
                return
            others = [p for p in self.threads() if p != proc.pid]
            if others and any(self.m.process(p).runnable for p in others):
                self.m.resume(SLICE, others, poll=interrupted)
            else:
                time.sleep(0.005)
            if interrupted():
                self.stop = Stop(proc.pid, SIGINT)

    def _running_pid(self) -> int:
        threads = self.threads()
        current = self.m.scheduler.loaded
        if current is not None and current.pid in threads:
            return current.pid
        return threads[0] if threads else self.main_pid

    def _stopped(self, stop: Stop) -> Stop:
        if stop.exited is None and stop.killed is None:
            if stop.pid not in self.threads():  # it died of what stopped it
                return self._ended() or self._stopped(Stop(self._running_pid(), stop.signal))
            self.last_pid = stop.pid
        self.stop = None
        return stop
