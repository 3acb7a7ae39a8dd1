"""Processes and what a run reports about them."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from ..uapi.signals import signal_name
from ..vm.addrspace import AddressSpace
from .signals import SignalState
from .tls import empty_areas


class WouldBlock(Exception):  # noqa: N818 - a condition, not an error
    """A syscall cannot complete now: the process sleeps and the call runs again later.
    ``wake_at``: a time.monotonic() (or virtual clock) deadline, for sleeps."""

    def __init__(self, wake_at: float | None = None):
        super().__init__("would block")
        self.wake_at = wake_at


@dataclass
class Blocked:
    """A process asleep in a syscall: ``retry()`` runs the call again (WouldBlock while it
    still cannot complete); ``number`` is the syscall, for a restart after a signal."""

    retry: Callable[[], int]
    number: int
    restartable: bool = True
    wake_at: float | None = None


class State(enum.StrEnum):
    READY = "ready"  # runnable
    WAITING = "waiting"  # in waitpid, until a child finishes
    EXITED = "exited"
    KILLED = "killed"


READY, EXITED, KILLED, WAITING = State.READY, State.EXITED, State.KILLED, State.WAITING


@dataclass(frozen=True)
class Fault:
    """Why a process was killed by the CPU: the trap, and the report printed for it."""

    vector: int
    name: str  # "#PF page fault"
    eip: int
    cr2: int
    error_code: int
    signal: int
    report: str
    walk: object = None  # emu.walk.Walk of CR2 for page faults
    description: str = ""  # "user write to a read-only page"

    def __str__(self) -> str:
        return self.report


@dataclass(eq=False)
class Process:
    pid: int
    name: str
    path: str
    space: AddressSpace
    context: object = None  # the saved CPU state (a UcContext); None: runs no code
    state: State = READY
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""  # why it stopped, when it did not exit by itself
    fault: Fault | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    syscalls: int = 0
    eip: int = 0
    files: object = None  # zeros.proc.files.FdTable
    parent: int = 0  # the pid that forked this one
    reaped: bool = False  # a parent collected its status with waitpid
    blocked: Blocked | None = None  # asleep in a syscall (state WAITING)
    tls: list = field(default_factory=empty_areas)  # GDT entries 6-8 (set_thread_area)
    sig: SignalState = field(default_factory=SignalState)
    clear_tid: int = 0  # set_tid_address / CLONE_CHILD_CLEARTID
    sleep_until: int | None = None  # a sleep in progress: its end, in clock nanoseconds
    start_ns: int = 0  # when it started, on the machine's monotonic clock
    argv: list = field(default_factory=list)
    abi: str = "i386"  # or "x86_64": which syscall numbers and structures it speaks

    context_changed: bool = False  # the host wrote the saved context: the CPU must reload it

    @property
    def alarms(self) -> list[int]:
        """Windows guard pages of this process that went off."""
        return self.space.alarms

    @property
    def alive(self) -> bool:
        return self.state in (READY, WAITING)

    @property
    def runnable(self) -> bool:
        return self.state == READY


@dataclass(frozen=True)
class ProcessResult:
    """What ``Machine.run`` reports per pid. ``exit_code`` is what a shell's ``$?`` shows:
    the status the guest passed to exit, or 128 + the signal that killed it."""

    pid: int
    name: str
    state: str  # "exited", "killed" or "ready" (still runnable: the budget ran out)
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    fault: Fault | None
    message: str
    minor_faults: int
    major_faults: int
    syscalls: int

    @property
    def signal_name(self) -> str | None:
        return signal_name(self.signal) if self.signal else None

    def to_json(self) -> dict:
        out = {"pid": self.pid, "name": self.name, "state": self.state,
               "exit_code": self.exit_code, "signal": self.signal_name,
               "stdout": self.stdout.decode(errors="replace"),
               "stderr": self.stderr.decode(errors="replace"), "message": self.message,
               "minor_faults": self.minor_faults, "major_faults": self.major_faults,
               "syscalls": self.syscalls, "fault": None}
        if self.fault:
            f = self.fault
            out["fault"] = {"vector": f.vector, "name": f.name, "eip": f.eip, "cr2": f.cr2,
                            "error_code": f.error_code, "description": f.description,
                            "report": f.report}
        return out
