"""Real toolchain: GNU as + ld (and gcc -m32 -nostdlib -static) build i386 executables that
must print the same and exit the same under `zeros run` as when the host runs them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zeros import Machine

SOURCES = Path(__file__).resolve().parent.parent / "toolchain"
EXPECTED = {  # stdout and status, known independently of both runs
    "hello": (b"Hello from GNU as!\n", 0),
    "status": (b"", 42),
    "brk": (b"pqrstuvwxyzabcdefghijklmno\n", 0),  # byte 65509 is 65509 % 26 = 15: p
    "recurse": (b"46368\n", 0),
    "sumsq": (b"sum=0584144992\n", 0),
}

pytestmark = [
    pytest.mark.toolchain,
    pytest.mark.skipif(not (shutil.which("as") and shutil.which("ld")),
                       reason="GNU binutils (as, ld) not installed; .ci/run installs them"),
]


def build(name: str, out: Path) -> Path:
    exe = out / name
    source = next(SOURCES.glob(f"{name}.*"))
    if source.suffix == ".s":
        subprocess.run(["as", "--32", "-o", str(exe) + ".o", str(source)], check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-o", str(exe), str(exe) + ".o"], check=True)
    else:
        if not shutil.which("gcc"):
            pytest.skip("gcc not installed")
        subprocess.run(["gcc", "-m32", "-nostdlib", "-static", "-ffreestanding", "-fno-pic",
                        "-fno-stack-protector", "-O2", "-o", str(exe), str(source)], check=True)
    return exe


def native(exe: Path):
    try:
        done = subprocess.run([str(exe)], capture_output=True, timeout=10)
    except OSError:  # the host kernel cannot run i386 executables
        return None
    return done.stdout, done.returncode


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_behaviour_as_the_host(name, tmp_path):
    exe = build(name, tmp_path)
    with Machine(ram_size=16 << 20) as m:
        pid = m.spawn(exe)
        result = m.run(timeout=30)[pid]
    assert (result.stdout, result.exit_code) == EXPECTED[name], result.message
    host = native(exe)
    if host is not None:
        assert host == (result.stdout, result.exit_code)


def test_cli_runs_an_elf_like_the_host(tmp_path):
    exe = build("status", tmp_path)
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", str(exe)],
                          capture_output=True, timeout=60)
    assert done.returncode == 42
    assert done.stderr == b"to stderr...\n"
