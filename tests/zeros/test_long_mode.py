"""x86-64 programs under 4-level paging, from GNU ``as --64`` sources: the ``syscall``
path, 64-bit addresses in every view, the 4-level walk of the seed's example, and the
command line choosing the mode from the file."""

import shutil
import subprocess
import sys

import pytest

from zeros import Machine
from zeros.views import pagetables_view, regs_view, walk_view

# write(1, msg, len); mmap 0x12345000 fixed; store; int3; exit(3)
SOURCE = r"""
.globl _start
_start:
    mov $1, %eax
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $len, %edx
    syscall
    mov $9, %eax                # mmap(0x12345000, 4096, RW, PRIVATE|ANON|FIXED, -1, 0)
    mov $0x12345000, %edi
    mov $4096, %esi
    mov $3, %edx
    mov $0x32, %r10d
    mov $-1, %r8
    xor %r9d, %r9d
    syscall
    movq $0x1122334455667788, %rbx
    mov %rbx, 0x678(%rax)
    int3
    mov $60, %eax
    mov $3, %edi
    syscall
msg: .ascii "hello from long mode\n"
len = . - msg
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    if not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("GNU binutils not installed")
    tmp = tmp_path_factory.mktemp("long")
    (tmp / "t.s").write_text(SOURCE)
    subprocess.run(["as", "--64", "-o", tmp / "t.o", tmp / "t.s"], check=True)
    subprocess.run(["ld", "-o", tmp / "t", tmp / "t.o"], check=True)
    return tmp / "t"


def test_an_x86_64_program_runs_and_the_views_speak_64_bit(program, golden):
    shown = {}
    with Machine(ram_size=16 << 20, paging="4-level") as m:
        pid = m.spawn(program)

        def at_break(proc):
            shown["walk"] = walk_view(m, proc.pid, 0x12345678)
            shown["tables"] = pagetables_view(m, proc.pid)
            shown["regs"] = regs_view(m, proc.pid)
        m.breakpoint_handlers.append(at_break)
        result = m.run(timeout=10)[pid]
    assert (result.exit_code, result.stdout) == (3, b"hello from long mode\n")
    walk = shown["walk"]
    assert walk.data["format"] == "4-level"
    assert [walk.data[f"{level}_index"] for level in ("pml4e", "pdpte", "pde", "pte")] == \
        [0, 0, 0x91, 0x145]
    assert walk.text.splitlines()[4].startswith("PTE:   0x8000")  # data: XD set
    golden("view_walk_4level.txt", "\n".join(line.split(" (pid")[0]
                                             for line in walk.text.splitlines()) + "\n")
    tables = shown["tables"].text
    assert "---[ kernel ]---\n0xffff888000000000-0xffff888001000000" in tables
    assert "0x12345000-0x12346000      4K  USR RW NX" in tables
    regs = shown["regs"].data
    assert regs["rbx"] == 0x1122334455667788 and regs["cs"] == 0x33


def test_an_i386_program_on_a_64_bit_machine_and_back_are_clear_errors(program):
    from zeros.errors import ProgramError
    with Machine(ram_size=4 << 20, paging="4-level") as m:
        with pytest.raises(ProgramError, match="an i386 program: run it with --paging 32"):
            m.spawn(b"nop\n")
    with Machine(ram_size=4 << 20) as m:
        with pytest.raises(ProgramError, match="an x86-64 program: run it with --paging "
                                               "4-level"):
            m.spawn(program)


def test_the_command_line_picks_4_level_paging_for_an_x86_64_file(program):
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", "--show", "creg",
                           "--at", "break", str(program)], capture_output=True, timeout=60)
    assert done.returncode == 3 and done.stdout == b"hello from long mode\n"
    assert b"EFER=0xd01: NXE LMA LME SCE" in done.stderr
    assert b"PML4=" in done.stderr


def test_the_memory_manager_in_a_64_bit_process():
    with Machine(ram_size=16 << 20, paging="4-level") as m:
        mm = m.memory_manager
        memory = mm.allocate_memory(1234, 1024, 512)
        address = memory.heap.allocate(100, "greeting")
        memory.heap.write_data(address, "Hello World")
        assert address >= 0x600000000000 and memory.heap.read_string(address, 100) == \
            "Hello World"
        code = memory.shed.write_code(0, "mov rax, 42\nret")  # assembled as 64-bit code
        assert code >= 0x680000000000
        assert m.read_virt(1234, code, 8) == bytes.fromhex("48c7c02a000000c3")
        report = mm.check_memory(1234)["programs"][0]
        assert report["heapDetails"][0]["address"] == memory.heap.start
        assert "0x600000000000" in m.ps(long=True)
        mm.free_memory(1234)


GUEST_MEMORY = r"""
.globl _start
_start:
    mov $1000, %eax             # zeros_allocate_memory(4096, -1, 0, 0, &record)
    mov $4096, %edi
    mov $-1, %rsi
    xor %edx, %edx
    xor %r10d, %r10d
    lea record(%rip), %r8
    syscall
    mov $1001, %eax             # zeros_heap_allocate(heap 1, 64)
    mov $1, %edi
    mov $64, %esi
    syscall
    movq $0x0123456789abcdef, %rbx
    mov %rbx, (%rax)
    mov %rax, block(%rip)
    mov $1013, %eax             # zeros_virtual_query(block, &info, 48)
    mov block(%rip), %rdi
    lea info(%rip), %rsi
    mov $48, %edx
    syscall
    mov %eax, %edi              # exit(48): the size of the 64-bit structure
    mov $60, %eax
    syscall
.data
record: .fill 6, 8, 0
block: .quad 0
info: .fill 6, 8, 0
"""


def test_zeros_calls_from_an_x86_64_guest(tmp_path):
    if not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("GNU binutils not installed")
    (tmp_path / "g.s").write_text(GUEST_MEMORY)
    subprocess.run(["as", "--64", "-o", tmp_path / "g.o", tmp_path / "g.s"], check=True)
    subprocess.run(["ld", "-o", tmp_path / "g", tmp_path / "g.o"], check=True)
    with Machine(ram_size=16 << 20, paging="4-level") as m:
        pid = m.spawn(tmp_path / "g")
        seen = {}

        def at_exit(proc):
            import struct

            from emu.elf import load_elf
            data = next(s for s in load_elf((tmp_path / "g").read_bytes()).segments if s.write)
            raw = m.read_virt(proc.pid, data.va, 6 * 8 + 8 + 48)
            seen["record"] = struct.unpack_from("<6Q", raw)
            seen["block"] = struct.unpack_from("<Q", raw, 48)[0]
            seen["info"] = struct.unpack_from("<QQIHxxQIII", raw, 56)
            seen["value"] = m.read_virt(proc.pid, seen["block"], 8)
        m.exit_handlers.append(at_exit)
        result = m.run(timeout=10)[pid]
    assert result.exit_code == 48
    heap_id, shed_id, heap_at, heap_size, _, _ = seen["record"]
    assert (heap_id, shed_id, heap_size) == (1, 0, 4096) and heap_at == 0x600000000000
    assert heap_at <= seen["block"] < heap_at + heap_size
    assert seen["value"] == bytes.fromhex("efcdab8967452301")
    base, _, _, _, size, state, _, _ = seen["info"]
    assert base == heap_at and state == 0x1000 and size >= 4096  # MEM_COMMIT


def test_an_x86_64_assembly_source_runs_from_the_command_line():
    """`bits 64` in a source: 64-bit code at 0x400000, syscalls64.inc, 4-level paging chosen
    by the command line."""
    from tests.conftest import ASM
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", str(ASM / "hello64.asm")],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "Hello from long mode!"
    stack = int(lines[1].split("0x")[1], 16)
    assert 0x7FFFFF000000 <= stack < 0x7FFFFF800000  # inside the x86-64 stack area
    with Machine(ram_size=4 << 20) as m:
        from zeros.errors import ProgramError
        with pytest.raises(ProgramError, match="x86-64 program"):
            m.spawn(ASM / "hello64.asm")
