"""The guest programs in asm/, against golden outputs and fault reports."""

import re

import pytest

from tests.conftest import ASM
from zeros import Machine
from zeros.proc.process import EXITED, KILLED


def test_hello(run_guest, golden):
    result = run_guest("hello.asm")
    assert (result.state, result.exit_code, result.stderr) == (EXITED, 0, b"")
    golden("hello.stdout", result.stdout.decode())


def test_selfmod_is_killed_by_a_protection_fault(run_guest, golden):
    result = run_guest("selfmod.asm")
    assert result.state == KILLED and result.exit_code == 139
    assert result.stdout == b"patching my own code...\n"  # only what the guest wrote
    fault = result.fault
    assert (fault.vector, fault.error_code) == (14, 0x7)
    assert fault.cr2 == fault.eip  # it patches the instruction that does the patching
    assert fault.description == "user write to a read-only page"
    golden("selfmod.report", fault.report + "\n")


def test_kernel_read_is_killed_with_a_supervisor_page_fault(run_guest, golden):
    result = run_guest("kernel_read.asm")
    assert result.exit_code == 139
    fault = result.fault
    assert (fault.vector, fault.cr2, fault.error_code) == (14, 0xC0001000, 0x5)
    assert "user read of a supervisor page" in fault.report
    # the walk shows the kernel page is present but supervisor-only (u), global (G)
    assert re.search(r"PTE\[0x001\] at 0x[0-9a-f]+ = 0x[0-9a-f]+  G pat d a pcd pwt u W P",
                     fault.report)
    golden("kernel_read.report", fault.report + "\n")


def test_stack_grows_through_page_faults(run_guest, golden):
    result = run_guest("stack_grow.asm")
    assert (result.state, result.exit_code) == (EXITED, 0)
    assert result.minor_faults >= 15  # 64000 bytes: at least 15 new stack pages
    golden("stack_grow.stdout", result.stdout.decode())


def test_two_copies_are_isolated(machine, golden):
    a = machine.spawn(ASM / "isolation.asm")
    b = machine.spawn(ASM / "isolation.asm")
    results = machine.run(timeout=10)
    assert results[a].stdout == f"slot at 0x08049000 holds pid {a}\n".encode()
    assert results[b].stdout == f"slot at 0x08049000 holds pid {b}\n".encode()
    golden("isolation.stdout", (results[a].stdout + results[b].stdout).decode())


def test_isolation_uses_different_frames_for_the_same_address(machine):
    a = machine.spawn(ASM / "isolation.asm")
    b = machine.spawn(ASM / "isolation.asm")
    wa, wb = machine.translate(a, 0x08049000), machine.translate(b, 0x08049000)
    assert wa.ok and wb.ok and wa.frame != wb.frame
    assert machine.cr3(a) != machine.cr3(b)


def test_every_frame_comes_back_after_the_guests_exit(machine):
    baseline = machine.frames.used_count
    for name in ("hello.asm", "selfmod.asm", "kernel_read.asm", "stack_grow.asm"):
        machine.spawn(ASM / name)
    assert machine.frames.used_count > baseline
    machine.run(timeout=10)
    assert machine.frames.used_count == baseline
    assert machine.frames.used_count + machine.frames.free_count == machine.frames.total


@pytest.mark.parametrize("ram", [4 << 20, 64 << 20])
def test_guests_run_with_any_ram_size(ram):
    with Machine(ram_size=ram) as m:
        pid = m.spawn(ASM / "stack_grow.asm")
        assert m.run(timeout=10)[pid].exit_code == 0


def test_guests_behave_the_same_through_the_register_api():
    """The CPU state reached through Unicorn's calls instead of in place (emu.cpu)."""
    with Machine(ram_size=8 << 20, direct_state=False) as m:
        assert not m.cpu.direct_state
        pids = [m.spawn(ASM / name) for name in
                ("stack_grow.asm", "isolation.asm", "isolation.asm", "selfmod.asm")]
        results = m.run(timeout=10)
    assert results[pids[0]].exit_code == 0 and results[pids[0]].minor_faults >= 15
    assert results[pids[1]].stdout.endswith(f"pid {pids[1]}\n".encode())
    assert results[pids[2]].stdout.endswith(f"pid {pids[2]}\n".encode())
    assert results[pids[3]].fault.error_code == 0x7
