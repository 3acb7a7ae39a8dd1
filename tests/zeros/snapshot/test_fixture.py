"""A snapshot as a pytest fixture: the machine is set up once (here: a guest started and run
to the point of interest), and every test starts from that same moment (the README shows
this pattern)."""

from __future__ import annotations

import pytest

from zeros import Machine

from ...conftest import ASM


@pytest.fixture(scope="module")
def booted():
    """One machine for the module, and the moment every test starts from."""
    m = Machine(ram_size=16 << 20)
    pid = m.spawn(str(ASM / "stack_grow.asm"))
    m.resume(200)  # part way into the guest
    yield m, pid, m.snapshot(), m.registers(pid)
    m.close()


@pytest.fixture
def machine(booted):
    m, pid, snap, registers = booted
    m.restore(snap)  # a few milliseconds: each test sees the same machine
    assert m.registers(pid) == registers
    return m, pid


@pytest.mark.parametrize("attempt", range(3))
def test_each_test_starts_from_the_same_moment(machine, attempt):
    m, pid = machine
    assert m.processes[pid].alive and m.results()[pid].stdout == b""
    results = m.run()
    assert results[pid].exit_code == 0
    assert not m.processes[pid].alive  # this test ended it; the next one starts over
    m.check()


def test_a_test_can_change_the_machine_without_the_next_seeing_it(machine):
    m, pid = machine
    m.set_registers(pid, eax=0x1234)
    assert m.registers(pid)["eax"] == 0x1234
    m.restore(m.snapshot())  # (a snapshot of the change, restored, keeps it)
    assert m.registers(pid)["eax"] == 0x1234


def test_and_the_next_test_sees_the_original(machine):
    m, pid = machine
    assert m.registers(pid)["eax"] != 0x1234
