"""busybox-static applets and shell pipelines, natively and under ZerOS: the i386 build under
32-bit and PAE paging, the x86-64 build under 4-level paging.

Both sides get the same directory: an input file and ``bin/`` with a link per applet to the
one busybox binary, so that a shell finds the same programs on its PATH (natively the
directory's absolute path, under ZerOS ``/bin`` inside the root)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import BUSYBOX64
from tests.programs.conftest import BUSYBOX, run_native, run_zeros

APPLETS = ["sh", "echo", "cat", "sort", "uniq", "wc", "head", "tail", "grep", "sed", "tr",
           "seq", "ls", "expr", "printf", "true", "false", "cut", "md5sum", "mkdir", "rm",
           "awk", "od", "xargs", "tee", "basename", "env", "test", "sleep"]
COMMANDS = [
    ["echo", "hello", "world"],
    ["cat", "in.txt"],
    ["sort", "-r", "in.txt"],
    ["uniq", "-c", "in.txt"],
    ["wc", "in.txt"],
    ["head", "-n", "2", "in.txt"],
    ["tail", "-n", "1", "in.txt"],
    ["grep", "-n", "b", "in.txt"],
    ["sed", "s/b/B/g", "in.txt"],
    ["tr", "a-z", "A-Z"],
    ["seq", "5"],
    ["ls", "-1"],
    ["expr", "6", "*", "7"],
    ["printf", "%05d|%s\\n", "42", "x"],
    ["false"],
    ["cut", "-c", "1", "in.txt"],
    ["md5sum", "in.txt"],
    ["awk", "{s+=length($0)} END {print s}", "in.txt"],
    ["od", "-c", "in.txt"],
    ["sh", "-c", "echo a b | wc -w"],
    ["sh", "-c", "cat in.txt | sort | uniq | wc -l"],
    ["sh", "-c", "for i in 1 2 3; do echo $i; done; exit 3"],
    ["sh", "-c", "mkdir -p x/y && echo made > x/y/f && cat x/y/f && rm -r x"],
    ["sh", "-c", "seq 100 | tee copy.txt | tail -n 2; wc -l < copy.txt"],
    ["sh", "-c", "echo in.txt | xargs cat | sort -u"],
    ["sh", "-c", "read line; echo \"got $line\""],
    ["sh", "-c", "false || echo recovered; test -f in.txt && echo exists"],
    ["sh", "-c", "x=$(echo inner); echo \"outer $x\"; exit $((2 + 3))"],
]


def _directory(path, busybox):
    path.mkdir()
    (path / "in.txt").write_text("b\na\nc\nb\n")
    bin_dir = path / "bin"
    bin_dir.mkdir()
    shutil.copy(busybox, bin_dir / "busybox")
    for applet in APPLETS:
        (bin_dir / applet).symlink_to("busybox")
    return path


@pytest.mark.parametrize("paging", ["32", "pae", "4-level"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c)[:40])
def test_busybox_like_native(command, paging, tmp_path):
    busybox = BUSYBOX64 if paging == "4-level" else BUSYBOX
    if not busybox.exists():
        pytest.skip(f"no busybox-static for {paging} paging (run .ci/toolchains.sh)")
    native_dir = _directory(tmp_path / "native", busybox)
    zeros_dir = _directory(tmp_path / "zeros", busybox)
    stdin = b"typed line\n"
    native = run_native([str(native_dir / "bin" / "busybox"), *command], native_dir,
                        {"PATH": str(native_dir / "bin"), "HOME": "/"}, stdin)
    ours = run_zeros(zeros_dir / "bin" / "busybox", ["busybox", *command], zeros_dir,
                     {"PATH": "/bin", "HOME": "/"}, stdin, ram=32 << 20, paging=paging)
    assert (ours.status, ours.stdout, ours.stderr) == \
        (native.status, native.stdout, native.stderr)
    assert ours.files == native.files


def test_a_lone_busybox_runs_its_applets_through_proc_self_exe(tmp_path):
    """No applet links and no PATH: busybox's shell execs /proc/self/exe for each applet."""
    if not BUSYBOX.exists():
        pytest.skip("no busybox-static i386 (run .ci/toolchains.sh)")
    command = ["sh", "-c", "echo a b c | wc -w; readlink /proc/self/exe | wc -c"]
    outcomes = []
    for side in ("native", "zeros"):
        work = tmp_path / side
        work.mkdir()
        shutil.copy(BUSYBOX, work / "busybox")
        env = {"PATH": "/nonexistent"}
        outcomes.append(
            run_native([str(work / "busybox"), *command], work, env) if side == "native"
            else run_zeros(work / "busybox", ["./busybox", *command], work, env, ram=32 << 20))
    native, ours = outcomes
    assert native.stdout.startswith(b"3\n") and native.status == 0
    assert (ours.status, ours.stdout.splitlines()[0], ours.stderr) == \
        (native.status, b"3", native.stderr)
