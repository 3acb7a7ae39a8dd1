"""The syscall table on its own: a fake CPU's registers, handlers given (process, args)."""

from types import SimpleNamespace

import pytest

from emu.cpu import Reg
from zeros.entry.syscalls import Syscalls
from zeros.errors import AddressError, FileError, OutOfMemory, VmError, Win32Error
from zeros.uapi import errno
from zeros.uapi.winnt import ERROR_COMMITMENT_LIMIT, ERROR_INVALID_ADDRESS


class FakeCpu:
    pc_reg = Reg.EIP

    def __init__(self, number, args=(1, 2, 3, 4, 5, 6)):
        self.number, self.args = number, args
        self.result = None
        self.arg_reads = 0

    def syscall_number(self):
        return self.number

    def syscall_args(self):
        self.arg_reads += 1
        return self.args

    def set_result(self, value):
        self.result = value & 0xFFFFFFFF

    def reg(self, reg):
        return 0x08048000


class FakeScheduler:
    def __init__(self):
        self.returns = []

    def return_to_user(self, proc):
        self.returns.append(proc.pid)


def make(number, args=(1, 2, 3, 4, 5, 6)):
    proc = SimpleNamespace(pid=7, name="p", syscalls=0)
    cpu, scheduler = FakeCpu(number, args), FakeScheduler()
    table = SimpleNamespace(current=proc)
    return Syscalls(cpu, table, scheduler), cpu, scheduler, proc


def test_a_handler_gets_the_process_and_its_arguments():
    calls, cpu, scheduler, proc = make(42)
    seen = []
    calls.register(42, lambda p, args: seen.append((p, args)) or 99, nargs=3)
    calls.dispatch()
    assert seen == [(proc, (1, 2, 3, 4, 5, 6))] and cpu.result == 99
    assert proc.syscalls == 1 and scheduler.returns == [7]


def test_no_arguments_are_read_for_a_handler_that_takes_none():
    calls, cpu, _, _ = make(20)
    calls.register(20, lambda p, args: p.pid, nargs=0)
    calls.dispatch()
    assert cpu.arg_reads == 0 and cpu.result == 7


def test_none_leaves_eax_alone():
    calls, cpu, _, _ = make(1)
    calls.register(1, lambda p, args: None)
    calls.dispatch()
    assert cpu.result is None


@pytest.mark.parametrize("error,code", [
    (AddressError("bad pointer"), errno.EFAULT),
    (OutOfMemory("full"), errno.ENOMEM),
    (VmError(errno.EEXIST, "taken"), errno.EEXIST),
    (FileError(errno.EBADF, "no fd"), errno.EBADF),
    (Win32Error(ERROR_COMMITMENT_LIMIT, "limit"), errno.ENOMEM),
    (Win32Error(ERROR_INVALID_ADDRESS, "where"), errno.EINVAL),
])
def test_errors_become_minus_errno_through_one_mapping(error, code):
    calls, cpu, scheduler, _ = make(5)

    def fails(p, args):
        raise error
    calls.register(5, fails)
    calls.dispatch()
    assert cpu.result == (-code) & 0xFFFFFFFF
    assert scheduler.returns == [7]  # the way back to the guest is taken all the same


def test_an_unknown_number_is_enosys():
    calls, cpu, _, _ = make(4242)
    calls.dispatch()
    assert cpu.result == (-errno.ENOSYS) & 0xFFFFFFFF


def test_a_bug_in_a_handler_is_not_turned_into_an_errno():
    """Only ZerosErrors are a guest's business; anything else is a kernel bug, for the
    scheduler to kill the process that reached it (tests/zeros/entry/test_faults.py)."""
    calls, _, _, _ = make(9)
    calls.register(9, lambda p, args: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        calls.dispatch()
