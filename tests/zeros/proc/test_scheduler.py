"""Preemption happens at kernel entries, and a preempted process resumes exactly.

Unicorn 2.1.4 can stop asynchronously in the middle of an instruction (after an xchg's
store, before its register write-back); resuming there corrupts the guest. The scheduler
never resumes such a stop: these programs, full of `xchg [esp]` and recursion, must come
out right however often they are switched.
"""

import pytest

import zeros.proc.scheduler as scheduler
from zeros import Machine

FIB = """
    mov esi, 200                ; rounds
    xor edi, edi                ; sum of fib(12) over the rounds
round:
    mov eax, 12
    call fib
    add edi, eax
    mov eax, 20                 ; getpid: a kernel entry, where preemption may happen
    int 0x80
    dec esi
    jnz round
    mov eax, edi                ; 200 * 144 = 28800
    mov ebx, 10
    mov ecx, out + 5
digits:
    xor edx, edx
    div ebx
    add dl, '0'
    mov [ecx], dl
    dec ecx
    test eax, eax
    jnz digits
    mov eax, 4
    mov ebx, 1
    mov ecx, out + 1
    mov edx, 6
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
fib:
    cmp eax, 2
    jb small
    push eax
    dec eax
    call fib
    xchg [esp], eax
    sub eax, 2
    call fib
    pop edx
    add eax, edx
small:
    ret
section .data
out: .ascii "000000\\n"
"""


@pytest.fixture
def short_slices(monkeypatch):
    monkeypatch.setattr(scheduler, "QUANTUM_US", 200)


def test_preempted_processes_resume_exactly(short_slices):
    with Machine(ram_size=16 << 20) as m:
        pids = [m.spawn(FIB.encode()) for _ in range(3)]
        switches = []
        original = m.scheduler._pick
        m.scheduler._pick = lambda ready: switches.append(len(ready)) or original(ready)
        results = m.run(timeout=60)
    for pid in pids:
        assert results[pid].stdout == b"28800\n", results[pid].message
    assert len(switches) > 10  # they really were interleaved


def test_a_process_without_kernel_entries_keeps_the_cpu(short_slices):
    with Machine(ram_size=16 << 20) as m:
        busy = m.spawn(b"mov ecx, 20000000\nl: dec ecx\njnz l\n"
                       b"mov eax, 1\nmov ebx, 3\nint 0x80")
        other = m.spawn(FIB.encode())
        results = m.run(timeout=60)
    assert results[busy].exit_code == 3
    assert results[other].stdout == b"28800\n"


def test_instruction_slices_resume_exactly():
    with Machine(ram_size=16 << 20) as m:
        pids = [m.spawn(FIB.encode()) for _ in range(2)]
        results = m.run(max_instructions=50_000_000, timeout=60)
    for pid in pids:
        assert results[pid].stdout == b"28800\n"
