"""The Python harness: spawn, run, and host access to guest memory through the walk."""

import pytest

from emu.cpu import Reg
from emu.mmu import Pte
from tests.conftest import ASM
from zeros import AddressError, Machine, NoSuchProcess, OutOfMemory, ProgramError, ZerosError
from zeros.layout import STACK_TOP

PRINT_DATA = """
section .text
_start:
    mov eax, 4
    mov ebx, 1
    mov ecx, buf
    mov edx, 16
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
section .data
buf: db "................"
"""


def test_host_writes_guest_reads(machine):
    pid = machine.spawn(PRINT_DATA.encode())
    machine.write_virt(pid, 0x08049000, b"written by host!")
    assert machine.run(timeout=5)[pid].stdout == b"written by host!"


def test_guest_writes_host_reads_at_a_breakpoint(machine):
    seen = {}

    def at_breakpoint(proc):
        seen["bytes"] = machine.read_virt(proc.pid, 0x08049000, 8)
        seen["walk"] = machine.translate(proc.pid, 0x08049000, "w")

    machine.breakpoint_handlers.append(at_breakpoint)
    pid = machine.spawn(b"""
        mov dword ptr [0x08049000], 0x64636261
        mov dword ptr [0x08049004], 0x68676665
        int3
        mov eax, 1
        mov ebx, 5
        int 0x80
        section .data
        slot: .space 8
    """)
    result = machine.run(timeout=5)[pid]
    assert result.exit_code == 5  # int3 continued, as a debugger breakpoint does
    assert seen["bytes"] == b"abcdefgh"
    walk = seen["walk"]
    assert walk.ok and walk.steps[-1].entry & Pte.D  # the CPU marked the page dirty
    # the same bytes are in physical RAM at the frame the walk found
    assert machine.read_phys(walk.pa, 8) == b"abcdefgh"


def test_read_virt_goes_through_the_page_tables_not_a_copy(machine):
    pid = machine.spawn(PRINT_DATA.encode())
    walk = machine.translate(pid, 0x08049000)
    machine.write_phys(walk.pa, b"PHYSICAL")
    assert machine.read_virt(pid, 0x08049000, 8) == b"PHYSICAL"
    assert machine.read_phys(walk.pa, 8) == b"PHYSICAL"
    assert machine.run(timeout=5)[pid].stdout.startswith(b"PHYSICAL")  # the guest too


def test_host_access_errors(machine):
    pid = machine.spawn(ASM / "hello.asm")
    with pytest.raises(AddressError, match="not-present"):
        machine.read_virt(pid, 0x50000000, 4)
    with pytest.raises(AddressError, match="supervisor"):
        machine.read_virt(pid, 0xC0000000, 4)
    with pytest.raises(AddressError, match="read-only"):
        machine.write_virt(pid, 0x08048000, b"\x90")
    machine.write_virt(pid, 0x08048000, b"\xb8", force=True)  # a debugger may patch code
    with pytest.raises(NoSuchProcess):
        machine.read_virt(999, 0, 1)
    with pytest.raises(NoSuchProcess):
        machine.cr3(999)


def test_reading_untouched_stack_faults_it_in(machine):
    pid = machine.spawn(ASM / "hello.asm")
    low = STACK_TOP - 0x10000
    assert not machine.translate(pid, low).ok
    assert machine.read_virt(pid, low, 4) == b"\0\0\0\0"
    assert machine.translate(pid, low).ok


def test_cr3_and_translate(machine):
    pid = machine.spawn(ASM / "hello.asm")
    cr3 = machine.cr3(pid)
    assert cr3 % 4096 == 0
    walk = machine.translate(pid, 0x08048000, "x")
    assert walk.ok and walk.cr3 == cr3 and walk.steps[0].entry_pa == cr3 + 4 * 0x20
    assert not machine.translate(pid, 0x08048000, "w").ok


def test_initial_stack_holds_argc_argv(machine):
    pid = machine.spawn(ASM / "hello.asm", argv=["hello", "one"])
    proc = machine.process(pid)
    machine.cpu.load_context(proc.context, proc.space.cr3)
    esp = machine.cpu.reg(Reg.ESP)
    assert esp % 16 == 0
    words = machine.read_virt(pid, esp, 12)
    argc = int.from_bytes(words[:4], "little")
    argv0 = int.from_bytes(words[4:8], "little")
    argv1 = int.from_bytes(words[8:12], "little")
    assert argc == 2
    assert machine.read_virt(pid, argv0, 6) == b"hello\0"
    assert machine.read_virt(pid, argv1, 4) == b"one\0"


BRK = """
    mov eax, 45
    xor ebx, ebx
    int 0x80            ; brk(0): the current break
    mov esi, eax
    lea ebx, [eax + 0x3000]
    mov eax, 45
    int 0x80            ; grow by 3 pages
    mov byte ptr [esi + 0x2fff], 7   ; touch the last byte: faulted in
    mov eax, 45
    mov ebx, 0x70000000
    int 0x80            ; too far: the break stays where it was
    lea ecx, [esi + 0x3000]
    cmp eax, ecx
    jne bad
    movzx ebx, byte ptr [esi + 0x2fff]
    mov eax, 1
    int 0x80
bad:
    mov eax, 1
    mov ebx, 99
    int 0x80
"""


def test_brk(run_guest):
    result = run_guest(BRK)
    assert result.exit_code == 7
    assert result.minor_faults == 1


def test_write_errors(run_guest):
    assert run_guest("mov eax, 4\nmov ebx, 7\nmov ecx, 0x08048000\nmov edx, 1\nint 0x80\n"
                     "mov ebx, eax\nneg ebx\nmov eax, 1\nint 0x80").exit_code == 9  # EBADF
    assert run_guest("mov eax, 4\nmov ebx, 1\nmov ecx, 0x50000000\nmov edx, 1\nint 0x80\n"
                     "mov ebx, eax\nneg ebx\nmov eax, 1\nint 0x80").exit_code == 14  # EFAULT


def test_write_to_stderr_and_getpid(machine):
    pid = machine.spawn(b"mov eax, 20\nint 0x80\nmov ebx, eax\nmov eax, 4\nmov ebx, 2\n"
                        b"mov ecx, 0x08048000\nmov edx, 2\nint 0x80\n"
                        b"mov eax, 20\nint 0x80\nmov ebx, eax\nmov eax, 252\nint 0x80")
    result = machine.run(timeout=5)[pid]
    assert result.exit_code == pid
    assert result.stderr == b"\xb8\x14" and result.stdout == b""


def test_program_errors(tmp_path):
    source = tmp_path / "x.asm"
    source.write_text("nop\nfrobnicate eax\n")
    with Machine(ram_size=4 << 20, page_file=0) as m:
        with pytest.raises(ProgramError, match="no such file"):
            m.spawn("/nonexistent/prog")
        with pytest.raises(ProgramError, match=r"x\.asm:2: invalid mnemonic"):
            m.spawn(source)
        with pytest.raises(ProgramError, match="neither an ELF"):
            m.spawn(b"\xff\xfe\x00binary")
        with pytest.raises(OutOfMemory, match="RAM too small"):
            m.spawn(b"nop\nsection .bss\nbig: .space 8000000\n")
        assert m.processes == {}


def test_failed_spawn_gives_every_frame_back():
    with Machine(ram_size=4 << 20, page_file=0) as m:
        before = m.frames.used_count
        with pytest.raises(OutOfMemory):
            m.spawn(b"nop\nsection .bss\nbig: .space 8000000\n")
        assert m.frames.used_count == before


@pytest.mark.parametrize("size", [0, 100, 2 << 30, (1 << 20) + 1])
def test_bad_ram_sizes(size):
    with pytest.raises(ZerosError, match="RAM size"):
        Machine(ram_size=size)


def test_ram_size_strings():
    with Machine(ram_size="8M") as m:
        assert m.ram.size == 8 << 20


def test_many_machines_one_after_another():
    for _ in range(20):
        with Machine(ram_size=2 << 20) as m:
            pid = m.spawn(ASM / "hello.asm")
            assert m.run(timeout=5)[pid].exit_code == 0
