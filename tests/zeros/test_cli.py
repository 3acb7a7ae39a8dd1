"""`zeros run` as a user runs it: a subprocess, its output and exit status."""

import json
import shutil
import struct
import subprocess
import sys

import pytest

from tests.conftest import ASM


def zeros(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "zeros.cli", *map(str, args)],
                          capture_output=True, timeout=timeout)


def one_line_error(done, words):
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zeros: error: "), done.stderr
    assert words in lines[0]
    assert "Traceback" not in lines[0]


def test_hello():
    done = zeros("run", ASM / "hello.asm")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"Hello, world!\n", b"")


def test_fault_exits_139_and_reports_on_stderr():
    done = zeros("run", ASM / "selfmod.asm")
    assert done.returncode == 139
    assert done.stdout == b"patching my own code...\n"
    report = done.stderr.decode()
    assert "killed by SIGSEGV" in report and "user write to a read-only page" in report
    assert "PTE[0x048]" in report


def test_several_programs_are_prefixed_by_pid():
    done = zeros("run", "--also", ASM / "isolation.asm", ASM / "isolation.asm")
    assert done.returncode == 0
    assert sorted(done.stdout.decode().splitlines()) == [
        "[1] slot at 0x08049000 holds pid 1", "[2] slot at 0x08049000 holds pid 2"]


def test_json():
    done = zeros("run", "--json", "--also", ASM / "kernel_read.asm", ASM / "hello.asm")
    assert done.returncode == 139  # the first non-zero status
    data = json.loads(done.stdout)
    hello, bad = data["processes"]
    assert hello["stdout"] == "Hello, world!\n" and hello["exit_code"] == 0
    assert bad["signal"] == "SIGSEGV" and bad["fault"]["error_code"] == 5
    assert bad["fault"]["cr2"] == 0xC0001000
    host = data["host"]  # what the run cost the host (issue 12): RSS, RAM it backs
    assert 10_000 < host["peak_rss_kib"] < 200_000
    assert host["ram_bytes"] == 128 << 20
    assert 0 < host["ram_backed_bytes"] <= 32 << 20  # not all 128 MiB: RAM follows use
    assert 0 < host["frames_used"] * 4096 <= host["ram_backed_bytes"]


def test_time_budget(tmp_path):
    loop = tmp_path / "loop.asm"
    loop.write_text("l: jmp l\n")
    done = zeros("run", "--timeout", "0.5", loop)
    assert done.returncode == 137
    assert b"time budget of 0.5 s exhausted" in done.stderr


def test_missing_file():
    one_line_error(zeros("run", "no/such/prog.asm"), "no/such/prog.asm: no such file")


def test_assembly_error_names_the_line(tmp_path):
    source = tmp_path / "bad.asm"
    source.write_text("; a comment\nmov eax, 1\n  jmpp somewhere\n")
    one_line_error(zeros("run", source), "bad.asm:3: invalid mnemonic (in: jmpp somewhere)")


def test_undefined_symbol(tmp_path):
    source = tmp_path / "bad.asm"
    source.write_text("mov eax, 1\nmov ebx, missing_label\n")
    one_line_error(zeros("run", source), "bad.asm:2: undefined symbol 'missing_label'")


def test_a_dynamically_linked_host_program():
    one_line_error(zeros("run", sys.executable), "dynamically linked")


def test_not_a_static_executable(tmp_path):
    exe = _tiny_elf(tmp_path)
    data = bytearray(exe.read_bytes())
    struct.pack_into("<H", data, 16, 3)  # e_type = ET_DYN
    exe.write_bytes(bytes(data))
    one_line_error(zeros("run", exe), "a shared object or PIE, not a static executable")


def _tiny_elf(tmp_path, *ld_args):
    if not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("GNU binutils not installed")
    src = tmp_path / "t.s"
    src.write_text(".globl _start\n_start: movl $1, %eax\n int $0x80\n")
    subprocess.run(["as", "--32", "-o", tmp_path / "t.o", src], check=True)
    subprocess.run(["ld", "-m", "elf_i386", *ld_args, "-o", tmp_path / "t", tmp_path / "t.o"],
                   check=True)
    return tmp_path / "t"


def test_segment_in_kernel_space(tmp_path):
    exe = _tiny_elf(tmp_path, "-Ttext=0xC0001000")
    one_line_error(zeros("run", exe), "lands in kernel space")


def test_ram_too_small(tmp_path):
    source = tmp_path / "big.asm"
    source.write_text("nop\nsection .bss\nbuf: resb 2000000\n")
    one_line_error(zeros("run", "--ram", "1M", "--page-file", "0", source), "RAM too small")


@pytest.mark.parametrize("args,words", [
    (("--ram", "lots"), "not a size"),
    (("--ram", "3G"), "RAM size"),
    (("--timeout", "-1"), "--timeout"),
    (("--max-instructions", "0"), "--max-instructions"),
])
def test_bad_options(args, words):
    one_line_error(zeros("run", *args, ASM / "hello.asm"), words)


def test_check_reports_that_every_invariant_holds():
    done = zeros("run", "--check", ASM / "shared_anon.asm")
    assert done.returncode == 0
    assert b"zeros: check: every invariant holds" in done.stderr


def test_arguments_environment_and_stdin_reach_the_guest(tmp_path):
    source = tmp_path / "echo.asm"
    source.write_text("""
%include "syscalls.inc"
    mov esi, [esp]              ; argc
    mov eax, [esp + 8]          ; argv[1]
    mov ecx, eax
    xor edx, edx
count: cmp byte ptr [eax + edx], 0
    je counted
    inc edx
    jmp count
counted:
    mov eax, SYS_write
    mov ebx, 1
    int 0x80
    mov eax, SYS_read           ; then echo what stdin holds
    mov ebx, 0
    mov ecx, buffer
    mov edx, 64
    int 0x80
    mov edx, eax
    mov eax, SYS_write
    mov ebx, 1
    mov ecx, buffer
    int 0x80
    mov eax, SYS_exit
    mov ebx, esi
    int 0x80
section .data
buffer: resb 64
""")
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", str(source), "first",
                           "-x", "--also"], input=b" and stdin\n", capture_output=True,
                          timeout=60)
    assert done.stdout == b"first and stdin\n" and done.returncode == 4  # argc: 4


def test_seed_makes_runs_repeat(tmp_path):
    source = tmp_path / "rand.asm"
    source.write_text("""
%include "syscalls.inc"
    mov eax, 355                ; getrandom(buffer, 8, 0)
    mov ebx, buffer
    mov ecx, 8
    xor edx, edx
    int 0x80
    mov eax, SYS_write
    mov ebx, 1
    mov ecx, buffer
    mov edx, 8
    int 0x80
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
section .data
buffer: resb 8
""")
    runs = [zeros("run", "--seed", seed, source).stdout for seed in (1, 1, 2)]
    assert runs[0] == runs[1] != runs[2] and len(runs[0]) == 8
