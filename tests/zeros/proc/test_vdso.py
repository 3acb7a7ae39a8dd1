"""[vvar] and [vdso]: kernel variables and functions a guest uses without a trap."""

from zeros.layout import VDSO_BASE, VVAR_BASE

VDSO_PROGRAM = """
%include "syscalls.inc"
    mov eax, VDSO_GETPID
    call eax                        ; no int 0x80: a plain call into [vdso]
    mov [pid], eax
    mov eax, VDSO_PAGE_SIZE
    call eax
    mov [page], eax
    mov eax, VDSO_CLOCK_MS
    call eax
    mov [clock], eax
    mov eax, [VVAR_PID]             ; the same variable, read directly
    mov [pid2], eax
    int3
    mov dword ptr [VVAR_PID], 7     ; [vvar] is read-only
    mov eax, 1
    int 0x80
section .data
pid: .long 0
page: .long 0
clock: .long 0
pid2: .long 0
"""


def test_vdso_functions_and_vvar(machine):
    seen = {}

    def at_breakpoint(proc):
        raw = machine.read_virt(proc.pid, 0x08049000, 16)
        words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 16, 4)]
        seen.update(zip(("pid", "page", "clock", "pid2"), words, strict=True))
        seen["syscalls"] = proc.syscalls

    machine.breakpoint_handlers.append(at_breakpoint)
    pid = machine.spawn(VDSO_PROGRAM.encode())
    result = machine.run(timeout=10)[pid]
    assert seen["pid"] == seen["pid2"] == pid
    assert seen["page"] == 4096
    assert 0 <= seen["clock"] < 60_000
    assert seen["syscalls"] == 0  # none of it trapped
    assert result.fault.cr2 == VVAR_BASE and result.fault.error_code == 0x7


def test_vdso_is_one_frame_and_vvar_one_per_process(machine):
    a = machine.spawn(b"l: jmp l")
    b = machine.spawn(b"l: jmp l")
    assert machine.translate(a, VDSO_BASE, "x").pa == machine.translate(b, VDSO_BASE, "x").pa
    assert machine.translate(a, VVAR_BASE).pa != machine.translate(b, VVAR_BASE).pa
    assert not machine.translate(a, VDSO_BASE, "w").ok
    names = {r.name for r in machine.process(a).space.regions}
    assert {"[vvar]", "[vdso]", "[stack]"} <= names
