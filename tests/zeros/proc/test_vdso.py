"""[vvar] and [vdso]: kernel variables and functions a guest uses without a trap."""

import pytest

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


@pytest.mark.parametrize("bits", [32, 64])
def test_the_built_images_are_what_the_sources_assemble_to(bits):
    """vdso_built.py (so that start-up need not assemble) agrees with vdso_image.py:
    after changing a source, `python -m zeros.proc.vdso` rebuilds it."""
    from zeros.proc.vdso import vdso_image
    from zeros.proc.vdso_image import build_image
    assert vdso_image(bits) == build_image(bits)


@pytest.mark.parametrize("bits,names", [
    (32, ["__kernel_vsyscall", "__vdso_clock_gettime", "__vdso_time"]),
    (64, ["__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
          "__vdso_clock_getres"]),
])
def test_readelf_reads_the_vdso_as_linux_s(bits, names, tmp_path):
    import shutil
    import subprocess

    from zeros.proc.vdso import vdso_image
    if not shutil.which("readelf"):
        pytest.skip("binutils not installed")
    image, symbols = vdso_image(bits)
    (tmp_path / "vdso.so").write_bytes(image)
    out = subprocess.run(["readelf", "-hW", "-D", "-s", "-d", str(tmp_path / "vdso.so")],
                         capture_output=True, text=True, check=True).stdout
    assert ("ELF64" if bits == 64 else "ELF32") in out and "DYN (Shared object file)" in out
    assert ("linux-vdso.so.1" if bits == 64 else "linux-gate.so.1") in out  # its soname
    for name in names:  # through the dynamic section, as a dynamic linker finds them
        line = next(line for line in out.splitlines() if f" {name}@" in line)
        assert int(line.split()[1], 16) == symbols[name]
        assert "@LINUX_2.6" in line or "@LINUX_2.5" in line
