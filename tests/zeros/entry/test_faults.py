"""Whatever a guest does, the harness stops it with a report and never hangs."""

import logging
import struct

import pytest

from tests.conftest import ASM
from zeros import Machine
from zeros.proc.process import EXITED, KILLED

EXIT0 = "mov eax, 1\nxor ebx, ebx\nint 0x80\n"


@pytest.mark.parametrize("source,vector,signal,words,insn", [
    ("ud2", 6, "SIGILL", "invalid or undefined opcode", "ud2"),
    (".byte 0x0f, 0xff", 6, "SIGILL", "invalid or undefined opcode", "ud0"),
    ("hlt", 13, "SIGSEGV", "privileged", "hlt"),
    ("cli", 13, "SIGSEGV", "privileged", "cli"),
    ("mov eax, 0x1000\nmov cr3, eax", 13, "SIGSEGV", "privileged", "mov cr3, eax"),
    ("in al, 0x60", 13, "SIGSEGV", "privileged", "in al, 0x60"),
    ("mov dx, 0x3f8\nout dx, al", 13, "SIGSEGV", "privileged", "out dx, al"),
    ("xor edx, edx\nxor eax, eax\nxor ecx, ecx\ndiv ecx", 0, "SIGFPE", "division", "div ecx"),
    ("int 0x21", 13, "SIGSEGV", "int 0x21 from ring 3", "int 0x21"),
    ("int3", 3, "SIGTRAP", "breakpoint", None),  # a trap: EIP is past the int3
])
def test_trap_kills_with_the_linux_signal(run_guest, source, vector, signal, words, insn):
    result = run_guest(source + "\n" + EXIT0)
    assert result.state == KILLED
    assert result.signal_name == signal
    assert result.exit_code == 128 + result.signal
    assert result.fault.vector == vector
    assert words in result.fault.report
    if insn:
        eip_line = next(line for line in result.fault.report.splitlines()
                        if line.strip().startswith("eip"))
        assert eip_line.endswith(insn), eip_line


@pytest.mark.parametrize("target,cr2,code", [
    ("0xC0000000", 0xC0000000, 0x5),  # kernel space: present, supervisor only
    ("0x00000000", 0x00000000, 0x4),  # the null page: not present
    ("0x50000000", 0x50000000, 0x4),  # nothing mapped there
])
def test_jumps_out_of_the_program_fault_on_the_fetch(run_guest, target, cr2, code):
    result = run_guest(f"mov eax, {target}\njmp eax\n")
    assert result.signal_name == "SIGSEGV"
    assert (result.fault.cr2, result.fault.eip, result.fault.error_code) == (cr2, cr2, code)
    assert "instruction fetch" in result.fault.description
    assert "does not translate" in result.fault.report  # no code to show at EIP


def test_endless_loop_is_stopped_by_the_time_budget(run_guest):
    result = run_guest("l: jmp l", timeout=0.3)
    assert result.state == KILLED and result.signal_name == "SIGKILL"
    assert "time budget of 0.3 s exhausted" in result.message


def test_endless_syscall_loop_is_stopped_by_the_time_budget(run_guest):
    result = run_guest("l: mov eax, 20\nint 0x80\njmp l", timeout=0.3)
    assert result.state == KILLED and "time budget" in result.message
    assert result.syscalls > 1000


def test_instruction_budget(machine):
    pid = machine.spawn(b"l: jmp l")
    result = machine.run(max_instructions=100_000, timeout=10)[pid]
    assert "instruction budget of 100000 exhausted" in result.message


def test_instruction_budget_lets_a_short_program_finish(machine):
    pid = machine.spawn(ASM / "hello.asm")
    result = machine.run(max_instructions=100_000, timeout=10)[pid]
    assert result.state == EXITED and result.stdout == b"Hello, world!\n"


def test_stack_overflow_beyond_8_mib_is_killed(run_guest):
    result = run_guest("l: push eax\njmp l")
    assert result.signal_name == "SIGSEGV"
    assert result.fault.cr2 == 0xBF000000 - 4  # just below the 8 MiB stack region
    assert result.fault.error_code == 0x6
    assert result.minor_faults == 2048 - 1  # every stack page but the first, faulted in


def test_other_processes_keep_running(machine):
    bad = machine.spawn(b"mov eax, [0]\n" + EXIT0.encode())
    good = machine.spawn(ASM / "hello.asm")
    loop = machine.spawn(b"mov ecx, 5\nl: mov eax, 158\nint 0x80\ndec ecx\njnz l\n" +
                         EXIT0.encode())
    results = machine.run(timeout=10)
    assert results[bad].signal_name == "SIGSEGV"
    assert results[good].stdout == b"Hello, world!\n"
    assert results[loop].state == EXITED


def test_double_fault_never_happens_across_many_runs(machine):
    """Many slices, each with page faults: each must arrive as #PF (vector 14)."""
    pids = [machine.spawn(b"mov esi, 40\nl: sub esp, 4096\nmov [esp], eax\n"
                          b"mov eax, 158\nint 0x80\ndec esi\njnz l\n" + EXIT0.encode())
            for _ in range(3)]
    results = machine.run(timeout=10)
    for pid in pids:
        assert results[pid].state == EXITED, results[pid].message
        assert results[pid].minor_faults >= 40


def test_unknown_syscall_returns_enosys_and_is_logged(run_guest, caplog):
    caplog.set_level(logging.WARNING, "zeros")
    result = run_guest("mov eax, 999\nint 0x80\nmov ebx, eax\nneg ebx\nmov eax, 1\nint 0x80")
    assert result.exit_code == 38  # ENOSYS
    assert "unknown syscall 999" in caplog.text


def test_a_kernel_error_kills_only_the_process_that_reached_it(machine, caplog):
    def broken(proc, args):
        raise RuntimeError("deliberate")

    machine.syscalls.register(500, broken)
    bad = machine.spawn(b"mov eax, 500\nint 0x80\n" + EXIT0.encode())
    good = machine.spawn(ASM / "hello.asm")
    with caplog.at_level(logging.ERROR, "zeros"):
        results = machine.run(timeout=10)
    assert results[bad].signal_name == "SIGKILL"
    assert "kernel error: RuntimeError: deliberate" in results[bad].message
    assert results[good].stdout == b"Hello, world!\n"
    assert "deliberate" in caplog.text


RDTSC_TWICE = """
    rdtsc
    mov esi, eax
    mov edi, edx
    rdtscp
    push ecx
    push edx
    push eax
    push edi
    push esi                ; first, second, aux on the stack: write them out
    mov eax, 4
    mov ebx, 1
    mov ecx, esp
    mov edx, 20
    int 0x80
    hlt                     ; a #GP the kernel does not emulate: still SIGSEGV
"""


def test_with_a_seed_rdtsc_reads_the_virtual_counter():
    """CR4.TSD makes ring 3's rdtsc/rdtscp trap; the kernel answers from the virtual clock
    (2 GHz, one microsecond per kernel entry) and the guest goes on after the instruction."""
    outputs = []
    for _ in range(2):
        with Machine(ram_size=4 << 20, seed=3) as m:
            pid = m.spawn(RDTSC_TWICE.encode())
            result = m.run(timeout=10)[pid]
            assert result.signal_name == "SIGSEGV" and result.fault.vector == 13
            outputs.append(result.stdout)
    first, second, aux = struct.unpack("<QQI", outputs[0])
    assert outputs[0] == outputs[1]  # the same every run
    assert second - first == 2000 and aux == 0  # one kernel entry, 1 us at 2 GHz apart


def test_without_a_seed_rdtsc_is_the_cpus_own(run_guest):
    result = run_guest(RDTSC_TWICE.replace("hlt", "mov eax, 1\nxor ebx, ebx\nint 0x80"))
    first, second, _ = struct.unpack("<QQI", result.stdout)
    assert result.exit_code == 0 and result.syscalls == 2  # no trap on the way
    assert second > first > 10**6  # the host's counter
