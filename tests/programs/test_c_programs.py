"""C programs built against glibc and musl (static i386), each run natively and under ZerOS
in twin directories: standard output, standard error, exit status and the files left must
be the same."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.programs.conftest import run_native, run_zeros, signal_status

LIBCS = ["glibc", "musl"]
ENV = {"ZEROS_TEST": "yes", "ZEROS_OTHER": "1", "PATH": "/bin"}
CASES = {
    # name: (arguments, standard input, expected exit status or None)
    "hello": (["one"], b"", 7),
    "args_env": (["a b", "", "--x=1"], b"", 0),
    "malloc_sizes": ([], b"", 0),
    "files": ([], b"", 0),
    "mmap_test": ([], b"", 0),
    "fork_wait": ([], b"", 0),
    "pipes": ([], b"", 0),
    "signals": ([], b"", 0),
    "segv_handler": ([], b"", 0),
    "null_deref": ([], b"", signal_status("SIGSEGV")),
    "abort_test": ([], b"", signal_status("SIGABRT")),
    "floating": ([], b"", 0),
    "strings_sort": ([], b"", 0),
    "big_bss": ([], b"", 0),
    "dirs": ([], b"", 0),
    "setjmp_test": ([], b"", 0),
    "stdin_echo": ([], b"first line\nsecond\n\nlast without newline", 0),
    "clocks": ([], b"", 0),
    "proc_self": (["a", "b c"], b"", 0),
}


# What x86-64 programs do not do as natively yet, and why (strict: fixing one fails here,
# so that it moves to the passing list)
X86_64_GAPS = {
    "floating": "Unicorn's SSE picks the other NaN when both operands are NaN: NaN*0 + NAN "
                "prints nan where the CPU prints -nan (QEMU's x86 NaN propagation)",
}


def _builds():
    """(name, libc, paging): i386 programs under 32-bit and PAE paging, x86-64 programs
    under 4-level paging."""
    out = []
    for name in sorted(CASES):
        out += [(name, libc, paging) for libc in LIBCS for paging in ("32", "pae")]
        gap = X86_64_GAPS.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
        out += [pytest.param(name, libc, "4-level", marks=marks)
                for libc in ("glibc64", "musl64")]
    return out


@pytest.mark.parametrize("name,libc,paging", _builds())
def test_same_as_native(name, libc, paging, built, tmp_path):
    exe = built(name, libc)
    args, stdin, expected = CASES[name]
    native_dir, zeros_dir = tmp_path / "native", tmp_path / "zeros"
    native_dir.mkdir()
    zeros_dir.mkdir()
    native = run_native([str(exe), *args], native_dir, ENV, stdin)
    ours = run_zeros(exe, [f"./{name}", *args], zeros_dir, ENV, stdin, paging=paging)
    assert native.status == expected, native  # the program does what it should, natively
    assert (ours.status, ours.stdout, ours.stderr) == \
        (native.status, native.stdout, native.stderr)
    assert ours.files == native.files


PIE_CASES = ["hello", "malloc_sizes", "mmap_test", "fork_wait", "signals", "proc_self"]


@pytest.mark.parametrize("name,libc,paging", [
    (name, libc, paging) for name in PIE_CASES
    for libc, paging in (("glibc-pie", "32"), ("glibc-pie", "pae"), ("glibc64pie", "4-level"))])
def test_static_pie_same_as_native(name, libc, paging, built, tmp_path):
    """Static-pie programs: above 4 GiB for x86-64 (an mprotect of their RELRO there was
    EINVAL: the mmap family used the 32-bit layout's limits)."""
    test_same_as_native(name, libc, paging, built, tmp_path)


@pytest.mark.parametrize("libc", LIBCS)
def test_exec_of_another_static_program(libc, built, tmp_path):
    exe, target = built("exec_child", libc), built("args_env", libc)
    outcomes = []
    for side in ("native", "zeros"):
        work = tmp_path / side
        work.mkdir()
        shutil.copy(target, work / "args_env")
        if side == "native":
            outcomes.append(run_native([str(exe), "./args_env"], work, ENV))
        else:
            outcomes.append(run_zeros(exe, ["./exec_child", "./args_env"], work, ENV))
    native, ours = outcomes
    assert b"exec'd child exited 0" in native.stdout and b"[from]" in native.stdout
    assert (ours.status, ours.stdout, ours.stderr) == \
        (native.status, native.stdout, native.stderr)


def _maps(text: str) -> list[tuple[str, str, str]]:
    """(perms, offset, what) per line; the kernel's own areas by name."""
    out = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        name = fields[5] if len(fields) > 5 else ""
        out.append((fields[1], fields[2], os.path.basename(name) if name.startswith("/")
                    else name))
    return out


@pytest.mark.parametrize("libc", [*LIBCS, "glibc64", "glibc64pie"])
def test_maps_list_what_linux_lists(libc, built, tmp_path):
    """The program's own lines (perms, file offsets, names), its heap, the mapped file, the
    anonymous mappings and the stack are as in Linux's /proc/self/maps; the kernel's
    vvar/vdso differ by kernel ([vvar_vclock] on a 64-bit host) and are checked by name."""
    exe = built("maps_dump", libc)
    outcomes = []
    for side in ("native", "zeros"):
        work = tmp_path / side
        work.mkdir()
        run = run_native if side == "native" else run_zeros
        outcome = run([str(exe)], work, ENV) if side == "native" else \
            run(exe, ["./maps_dump"], work, ENV, paging="4-level" if "64" in libc else "32")
        assert outcome.status == 0, outcome
        outcomes.append(_maps(outcome.stdout.decode()))
    native, ours = outcomes
    kernel = {"[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]"}  # (x86-64: [vsyscall] too)
    assert [line for line in ours if line[2] not in kernel] == \
        [line for line in native if line[2] not in kernel]
    assert [line for line in ours if line[2] in kernel] == \
        [("r--p", "00000000", "[vvar]"), ("r-xp", "00000000", "[vdso]")]
    assert ("r--s", "00000000", "maps_dump.data") in ours and \
        ("rw-p", "00000000", "[heap]") in ours


@pytest.mark.parametrize("libc", LIBCS)
def test_a_seeded_run_repeats_byte_for_byte(libc, built, tmp_path):
    """Random bytes (auxv, getrandom), clocks through the vDSO and through syscalls, a wait
    for the clock to move, addresses, a parent's and a child's interleaved writes: the same
    seed gives the same bytes, another seed other random bytes."""
    exe = built("seeded", libc)
    native = run_native([str(exe)], tmp_path, ENV)
    assert native.status == 0 and b"waited 1 ms on the clock" in native.stdout
    runs = [run_zeros(exe, ["./seeded"], tmp_path, ENV, seed=seed) for seed in (7, 7, 8)]
    assert runs[0].status == 0 and runs[0].stdout == runs[1].stdout
    first, other = runs[0].stdout.splitlines(), runs[2].stdout.splitlines()
    writers = [line.split()[0] for line in first
               if len(line.split()) == 2 and line.split()[0] in (b"parent", b"child")]
    assert writers.count(b"parent") == writers.count(b"child") == 30
    assert first[0] != other[0] and first[1] != other[1]  # AT_RANDOM, getrandom
    assert first[2:] == other[2:]  # the rest does not depend on the seed
    clocks = [line.split() for line in first if line.startswith(b"clocks")]
    assert [float(c[1]) for c in clocks] == sorted(float(c[1]) for c in clocks)
    assert float(clocks[-1][1]) > float(clocks[0][1])  # the clock moved


@pytest.mark.parametrize("libc", LIBCS)
def test_data_cannot_be_run_under_pae_as_on_linux(libc, built, tmp_path):
    """Linux runs i386 programs with NX: a call into a PROT_READ|PROT_WRITE page is SIGSEGV.
    So does --paging pae; 32-bit paging has no NX bit, and the call runs."""
    exe = built("exec_data", libc)
    native = run_native([str(exe)], tmp_path, ENV)
    assert native.status == 0 and b"SIGSEGV for a fetch from the data page: yes" in native.stdout
    pae = run_zeros(exe, ["./exec_data"], tmp_path, ENV, paging="pae")
    assert (pae.status, pae.stdout, pae.stderr) == (native.status, native.stdout, native.stderr)
    flat = run_zeros(exe, ["./exec_data"], tmp_path, ENV, paging="32")
    assert flat.status == 1 and flat.stdout.endswith(b"ran from a data page: 42\n")
