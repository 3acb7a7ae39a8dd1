"""The CPU in long mode: 64-bit code in ring 3 under 4-level paging, ``syscall`` to the
kernel with Linux's x86-64 registers, faults at 64-bit addresses, the FS base."""

import struct

import pytest

from emu.cpu import Cpu, Reg
from emu.cpu.registers import Reg64
from emu.mmu import Pte
from emu.ram import PhysicalMemory

PML4, PDPT, PD, PT, GDT, CODE, STACK, DATA = (0x1000 * i for i in range(1, 9))
HIGH = 0x7FFF_FFFF_F000  # the last user page of the lower half (PML4 index 255)


def _u64(ram, pa, value):
    ram.write(pa, struct.pack("<Q", value))


@pytest.fixture(params=[True, False], ids=["direct-state", "api-calls"])
def cpu(request):
    ram = PhysicalMemory(4 << 20)
    cpu = Cpu(ram, mode=64, direct_state=request.param)
    cpu.install_gdt(GDT, GDT)
    table = Pte.P | Pte.RW | Pte.US
    _u64(ram, PML4, PDPT | table)
    _u64(ram, PDPT, PD | table)
    _u64(ram, PD, PT | table)
    for page in (PML4, PDPT, PD, PT, GDT):
        _u64(ram, PT + 8 * (page >> 12), page | Pte.P | Pte.RW)
    for page in (CODE, STACK, DATA):
        _u64(ram, PT + 8 * (page >> 12), page | table)
    yield cpu
    cpu.close()


def _run(cpu, code: bytes, on_syscall=None, on_trap=None):
    cpu.ram.write(CODE, code)
    cpu.load_context(cpu.new_user_context(CODE, STACK + 0x1000, PML4), PML4)
    cpu.flush_code()
    events = []

    def syscall():
        events.append(("syscall", cpu.syscall_number(), cpu.syscall_args(),
                       cpu.reg(cpu.pc_reg)))
        if on_syscall is not None:
            on_syscall()
        else:
            cpu.stop()

    def trap(t):
        events.append(("trap", t))
        if on_trap is None or not on_trap(t):
            cpu.stop()

    cpu.syscall_handler, cpu.trap_handler = syscall, trap
    cpu.run(CODE, timeout_us=2_000_000)
    return events


def test_syscall_passes_linux_registers_and_the_result_comes_back(cpu):
    code = bytes.fromhex(
        "48b8efbeadde78563412"  # mov rax, 0x12345678deadbeef
        "48bf0100000002000000"  # mov rdi, 0x200000001
        "be02000000"  # mov esi, 2
        "ba03000000"  # mov edx, 3
        "49c7c204000000"  # mov r10, 4
        "49c7c005000000"  # mov r8, 5
        "49c7c106000000"  # mov r9, 6
        "0f05"  # syscall
        "4889c3"  # mov rbx, rax
        "0f05")  # syscall
    results = iter([-38])

    def answer():
        if cpu.syscall_number() == 0xDEADBEEF:  # RAX's low half, as Linux reads it
            cpu.set_result(next(results))
        else:
            cpu.stop()
    events = _run(cpu, code, on_syscall=answer)
    number, args, rip = events[0][1:]
    assert number == 0xDEADBEEF
    assert args == (0x200000001, 2, 3, 4, 5, 6)
    assert rip == CODE + len(code) - 7  # the hook sees the syscall instruction itself
    assert cpu.reg(Reg64.RBX) == (1 << 64) - 38  # -ENOSYS as the guest sees it
    assert cpu.reg(Reg.CR3) == PML4


def test_a_fault_at_a_64bit_address_and_the_access_runs_again_once_mapped(cpu):
    pdpt_high, pd_high, pt_high = 0x10000, 0x11000, 0x12000
    table = Pte.P | Pte.RW | Pte.US
    _u64(cpu.ram, PML4 + 8 * 255, pdpt_high | table)
    _u64(cpu.ram, pdpt_high + 8 * 511, pd_high | table)
    _u64(cpu.ram, pd_high + 8 * 511, pt_high | table)
    code = bytes.fromhex("48bb00f0ffffff7f0000"  # mov rbx, 0x7ffffffff000
                         "48c7032a000000"  # mov qword [rbx], 42
                         "0f05")  # syscall

    def fix(trap):
        if trap.vector == 14 and trap.cr2 == HIGH:
            _u64(cpu.ram, pt_high + 8 * 511, DATA | table)
            return True  # resolved: the store runs again
        return False
    events = _run(cpu, code, on_trap=fix)
    assert events[0][0] == "trap" and events[0][1].error_code == 0x6  # user write, not present
    assert events[0][1].eip == CODE + 10
    assert events[1][0] == "syscall" and cpu.ram.read(DATA, 8) == struct.pack("<Q", 42)


def test_non_canonical_is_gp_and_fs_base_reaches_the_guest(cpu):
    cpu.ram.write(DATA + 0x10, struct.pack("<Q", 0x1122334455667788))
    code = bytes.fromhex("64488b042510000000"  # mov rax, fs:[0x10]
                         "0f05"  # syscall
                         "48b80000000000800000"  # mov rax, 0x800000000000
                         "488b00")  # mov rax, [rax]: not canonical

    def first():
        if len(events_box) == 0:
            events_box.append(cpu.reg(Reg64.RAX))
    events_box = []
    cpu.ram.write(CODE, code)
    context = cpu.new_user_context(CODE, STACK + 0x1000, PML4)
    cpu.set_context_reg(context, Reg64.FS_BASE, DATA)
    cpu.load_context(context, PML4)
    traps = []
    cpu.syscall_handler = first
    cpu.trap_handler = lambda t: (traps.append(t), cpu.stop())
    cpu.run(CODE, timeout_us=2_000_000)
    assert events_box == [0x1122334455667788]
    assert traps[0].vector == 13 and traps[0].eip == CODE + 9 + 2 + 10
