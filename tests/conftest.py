"""Shared fixtures: a fresh Machine per test, guest programs, golden files.

Golden files live in tests/golden/. After an intended change of output, regenerate them with

    ZEROS_REGEN=1 python -m pytest tests

and review the diff.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from zeros import Machine

ROOT = Path(__file__).resolve().parent.parent
ASM = ROOT / "asm"
GOLDEN = Path(__file__).resolve().parent / "golden"
C_SOURCES = Path(__file__).resolve().parent / "programs" / "c"
TOOLCHAINS = Path(os.environ.get("ZEROS_TOOLCHAINS", "/opt/zeros-toolchains"))
MUSL_GCC = TOOLCHAINS / "bin" / "i386-musl-gcc"
BUSYBOX = TOOLCHAINS / "i386" / "bin" / "busybox"
BUSYBOX64 = TOOLCHAINS / "amd64" / "bin" / "busybox"  # busybox-static:amd64


@pytest.fixture(autouse=True, scope="session")
def audit_every_machine():
    """Every Machine a test makes checks the whole memory state when it is closed
    (zeros.proc.audit): a leaked or aliased frame fails the test that caused it."""
    Machine.check_on_close = True
    yield
    Machine.check_on_close = False


@pytest.fixture(autouse=True)
def close_forgotten_machines(monkeypatch):
    """A machine the test left open is closed (so audited) when the test ends."""
    made = []
    init = Machine.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(Machine, "__init__", recording_init)
    yield
    for m in made:
        if m.cpu is not None and not m._running:
            m.close()


@pytest.fixture
def machine():
    m = Machine(ram_size=16 << 20)
    yield m
    m.close()


@pytest.fixture
def run_guest(machine):
    """Run one program (a path under asm/, a Path, or assembly text) and return its result."""

    def run(program, timeout=10, **kwargs):
        if isinstance(program, str) and "\n" not in program and program.endswith(".asm"):
            program = ASM / program
        elif isinstance(program, str):
            program = program.encode()
        pid = machine.spawn(program, **kwargs)
        return machine.run(timeout=timeout)[pid]

    return run


@pytest.fixture
def golden():
    """Compare text with tests/golden/NAME; with ZEROS_REGEN=1, write it instead."""

    def check(name: str, actual: str) -> None:
        actual = actual.replace(str(ROOT) + os.sep, "")  # the same wherever the checkout is
        path = GOLDEN / name
        if os.environ.get("ZEROS_REGEN"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            return
        assert path.exists(), f"no golden file {path}: run with ZEROS_REGEN=1 to create it"
        assert actual == path.read_text(), f"output differs from {path}"

    return check


# -- real programs: built with the host's compilers (.ci/toolchains.sh installs them) --

def _works(cmd: list[str], tmp: Path) -> bool:
    src = tmp / "probe.c"
    src.write_text("#include <stdio.h>\nint main(void){puts(\"ok\");return 0;}\n")
    try:
        built = subprocess.run([*cmd, "-o", str(tmp / "probe"), str(src)], capture_output=True,
                               timeout=120)
        if built.returncode:
            return False
        return subprocess.run([str(tmp / "probe")], capture_output=True,
                              timeout=30).stdout == b"ok\n"
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def compilers(tmp_path_factory) -> dict[str, list[str]]:
    """The libcs that can build (and the host run) static i386 programs here (glibc, musl),
    and static x86-64 ones (glibc64, musl64)."""
    tmp = tmp_path_factory.mktemp("probe")
    found = {}
    if shutil.which("gcc") and _works(["gcc", "-m32", "-static", "-O2"], tmp):
        found["glibc"] = ["gcc", "-m32", "-static", "-O2"]
    if MUSL_GCC.exists() and _works([str(MUSL_GCC), "-O2"], tmp):
        found["musl"] = [str(MUSL_GCC), "-O2"]
    # and x86-64 programs, for 4-level paging
    if shutil.which("gcc") and _works(["gcc", "-static", "-O2"], tmp):
        found["glibc64"] = ["gcc", "-static", "-O2"]
    if shutil.which("musl-gcc") and _works(["musl-gcc", "-static", "-O2"], tmp):
        found["musl64"] = ["musl-gcc", "-static", "-O2"]
    for name, flags in (("glibc-pie", ["-m32", "-static-pie"]), ("glibc64pie", ["-static-pie"])):
        if shutil.which("gcc") and _works(["gcc", *flags, "-O2"], tmp):
            found[name] = ["gcc", *flags, "-O2"]  # static-pie: loaded at 0x56555000 and
            # 0x555555554000, as Linux's ELF_ET_DYN_BASE puts them
    return found


@pytest.fixture(scope="session")
def built(compilers, tmp_path_factory):
    """build(name, libc) -> the path of tests/programs/c/NAME.c built against libc."""
    out = tmp_path_factory.mktemp("built")
    cache: dict[tuple[str, str], Path] = {}

    def build(name: str, libc: str) -> Path:
        if libc not in compilers:
            pytest.skip(f"no {libc} toolchain (run .ci/toolchains.sh)")
        key = (name, libc)
        if key not in cache:
            exe = out / f"{name}-{libc}"
            done = subprocess.run([*compilers[libc], "-o", str(exe), str(C_SOURCES / f"{name}.c"),
                                   "-lm"], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            cache[key] = exe
        return cache[key]
    return build


def gcc_static(source: Path, out: Path, *flags: str) -> Path:
    """``gcc -static FLAGS -o OUT SOURCE`` (``-m32`` among the flags for i386), or skip the
    test when that toolchain is missing (.ci/toolchains.sh installs it)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    done = subprocess.run(["gcc", "-static", *flags, "-o", str(out), str(source)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"gcc -static {' '.join(flags)} does not work here (.ci/toolchains.sh "
                    f"installs gcc-multilib): {done.stderr.strip()[:200]}")
    return out
