"""The process calls of the Linux family: exit, exit_group, getpid, fork, waitpid,
sched_yield."""

from __future__ import annotations

from ...proc.process import Process
from ...proc.scheduler import Scheduler
from ...proc.table import ProcessTable
from ...uapi import unistd_32 as nr
from ...uapi.types import signed32


class ProcessCalls:
    def __init__(self, table: ProcessTable, scheduler: Scheduler):
        self.table = table
        self.scheduler = scheduler

    def handlers(self) -> dict:
        return {nr.NR_exit: (self.exit, 1), nr.NR_exit_group: (self.exit, 1),
                nr.NR_getpid: (self.getpid, 0), nr.NR_fork: (self.fork, 0),
                nr.NR_waitpid: (self.waitpid, 3), nr.NR_sched_yield: (self.sched_yield, 0)}

    def exit(self, proc: Process, args) -> None:
        self.table.exit(proc, args[0] & 0xFF)
        return None

    def getpid(self, proc: Process, args) -> int:
        return proc.pid

    def fork(self, proc: Process, args) -> int:
        return self.table.fork(proc)

    def waitpid(self, proc: Process, args) -> int | None:
        pid, status_va, options = args[:3]
        return self.table.waitpid(proc, signed32(pid), status_va, options)

    def sched_yield(self, proc: Process, args) -> int:
        self.scheduler.request_switch()
        return 0
