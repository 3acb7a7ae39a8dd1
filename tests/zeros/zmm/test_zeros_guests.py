"""Guests using the MemoryManager through syscalls 1000-1008."""

import json

import pytest

from tests.conftest import ASM


def test_zeros_hello(run_guest, golden):
    result = run_guest("zeros_hello.asm")
    assert result.exit_code == 0
    golden("zeros_hello.stdout", result.stdout.decode())


def test_zeros_json(run_guest, golden):
    result = run_guest("zeros_json.asm")
    assert result.exit_code == 0
    record, report = result.stdout.decode().splitlines()
    assert json.loads(record) == {"name": "John", "age": 30}
    program = json.loads(report)["programs"][0]
    assert program["programName"] == "MyApp"
    assert (program["totalHeapUsed"], program["totalHeapSize"]) == (50, 1024)
    golden("zeros_json.stdout", result.stdout.decode())


def test_zeros_exit_frees_before_exit(run_guest, golden):
    result = run_guest("zeros_exit.asm")
    assert result.exit_code == 0
    before, after = result.stdout.decode().split("PID ")[1:3]
    assert "heap 1: size=4096" in before and "zeros_exit" in before
    assert after.splitlines()[1].split()[3:5] == ["0", "0"]  # no heap, no shed left
    golden("zeros_exit.stdout", result.stdout.decode())


def test_heap_overflow_is_killed_by_the_unmapped_page_after_the_heap(run_guest, golden):
    result = run_guest("heap_overflow.asm")
    fault = result.fault
    assert result.signal_name == "SIGSEGV"
    assert (fault.cr2, fault.error_code) == (0x40001000, 0x6)
    assert "region 0x40000000-0x40400000 rw- heap heap 1" in fault.report
    golden("heap_overflow.report", fault.report + "\n")


EXIT_EAX = "\nmov ebx, eax\nneg ebx\nmov eax, 1\nint 0x80\n"


@pytest.mark.parametrize("body,errno", [
    ("mov eax, 1001\nmov ebx, 9\nmov ecx, 16\nint 0x80", 22),  # no heap 9: EINVAL
    ("mov eax, 1000\nmov ebx, 64\nmov ecx, -1\nxor edx, edx\nxor esi, esi\n"
     "mov edi, 0x50000000\nint 0x80", 14),  # the result struct does not translate: EFAULT
    ("mov eax, 1005\nmov ebx, 0x50000000\nint 0x80", 14),  # name pointer: EFAULT
    ("mov eax, 1006\nmov ebx, 777\nmov ecx, 0x08049000\nmov edx, 4\nint 0x80", 3),  # ESRCH
    ("mov eax, 1004\nmov ebx, 1\nmov ecx, 0x08049000\nmov edx, 0x08049000\n"
     "mov esi, 4\nint 0x80", 22),  # no shed 1 yet: EINVAL
])
def test_syscall_errors(run_guest, body, errno):
    result = run_guest(body + EXIT_EAX + "section .data\nbuf: .space 64\n")
    assert result.exit_code == errno, result.message


def test_links_and_check_memory_lengths_from_a_guest(machine):
    pid = machine.spawn(b"""
        mov eax, 1000              ; a shed only
        mov ebx, -1
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        xor edi, edi
        int 0x80
        mov ebx, eax               ; the shed id
        push ebx
        mov eax, 1003              ; link_write(shed, "name", "value!", 6)
        mov ecx, name
        mov edx, value
        mov esi, 6
        int 0x80
        pop ebx
        mov eax, 1004              ; link_read(shed, "name", out, 64)
        mov ecx, name
        mov edx, out
        mov esi, 64
        int 0x80
        mov [got], eax
        mov eax, 1006              ; check_memory(-1) into 8 bytes: returns the full length
        mov ebx, -1
        mov ecx, small
        mov edx, 8
        int 0x80
        mov [needed], eax
        int3
        mov eax, 1
        xor ebx, ebx
        int 0x80
        section .data
        name: .asciz "name"
        value: .ascii "value!"
        out: .space 64
        got: .long 0
        small: .space 8
        canary: .ascii "CANARY"
        needed: .long 0
    """)
    seen = {}

    def at_breakpoint(proc):
        def read(va, n):
            return machine.read_virt(proc.pid, va, n)
        base = 0x08049000  # name: 5 bytes, value: 6, then out, got, small, canary, needed
        seen["out"] = read(base + 11, 7)
        seen["got"] = int.from_bytes(read(base + 75, 4), "little")
        seen["small"] = read(base + 79, 8)
        seen["canary"] = read(base + 87, 6)
        seen["needed"] = int.from_bytes(read(base + 93, 4), "little")
        seen["full"] = len(json.dumps(_guest_view(machine.memory_manager.check_memory(-1))))

    machine.breakpoint_handlers.append(at_breakpoint)
    assert machine.run(timeout=10)[pid].exit_code == 0
    assert seen["out"] == b"value!\0" and seen["got"] == 6
    assert seen["small"] == b'{"totalP' and seen["canary"] == b"CANARY"
    assert seen["needed"] == seen["full"]


def _guest_view(info):
    for program in info["programs"]:
        program.pop("heapDetails")
        program.pop("shedDetails")
    return info


def test_ps_from_the_command_line():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", "--ps",
                           str(ASM / "zeros_hello.asm")], capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout == b"Hello World\n"
    lines = done.stderr.decode().splitlines()
    assert lines[0].split()[:3] == ["PID", "NAME", "STATUS"]
    assert lines[1].split()[:3] == ["1", "zeros_hello", "exited"]
    assert any(line.split()[:2] == ["10000", "Exploit"] for line in lines)
