"""Real programs, built with the host's compilers and compared with the host running them.

Toolchains (``.ci/toolchains.sh`` installs them; each family of tests is skipped without its
toolchain): glibc i386 (``gcc -m32 -static``, from gcc-multilib), musl i386 (a gcc wrapper
over Debian's i386 musl-dev, ``$ZEROS_TOOLCHAINS/bin/i386-musl-gcc``), busybox-static i386
(``$ZEROS_TOOLCHAINS/i386/bin/busybox``). ``ZEROS_TOOLCHAINS`` defaults to
``/opt/zeros-toolchains``.
"""

from __future__ import annotations

import os
import shutil
import signal as pysignal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from zeros import Machine

SOURCES = Path(__file__).resolve().parent / "c"
TOOLCHAINS = Path(os.environ.get("ZEROS_TOOLCHAINS", "/opt/zeros-toolchains"))
MUSL_GCC = TOOLCHAINS / "bin" / "i386-musl-gcc"
BUSYBOX = TOOLCHAINS / "i386" / "bin" / "busybox"


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
    """The libcs that can build (and the host run) static i386 programs here."""
    tmp = tmp_path_factory.mktemp("probe")
    found = {}
    if shutil.which("gcc") and _works(["gcc", "-m32", "-static", "-O2"], tmp):
        found["glibc"] = ["gcc", "-m32", "-static", "-O2"]
    if MUSL_GCC.exists() and _works([str(MUSL_GCC), "-O2"], tmp):
        found["musl"] = [str(MUSL_GCC), "-O2"]
    return found


@pytest.fixture(scope="session")
def built(compilers, tmp_path_factory):
    """build(name, libc) -> the path of tests/programs/c/NAME.c built against libc."""
    out = tmp_path_factory.mktemp("built")
    cache: dict[tuple[str, str], Path] = {}

    def build(name: str, libc: str) -> Path:
        if libc not in compilers:
            pytest.skip(f"no {libc} i386 toolchain (run .ci/toolchains.sh)")
        key = (name, libc)
        if key not in cache:
            exe = out / f"{name}-{libc}"
            done = subprocess.run([*compilers[libc], "-o", str(exe), str(SOURCES / f"{name}.c"),
                                   "-lm"], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            cache[key] = exe
        return cache[key]
    return build


@dataclass
class Outcome:
    status: int
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes]


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel + "/" if path.is_dir() else rel] = b"" if path.is_dir() else path.read_bytes()
    return out


def run_native(argv: list[str], cwd: Path, env: dict, stdin: bytes = b"") -> Outcome:
    done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True,
                          timeout=120)
    status = done.returncode if done.returncode >= 0 else 128 - done.returncode
    return Outcome(status, done.stdout, done.stderr, _files(cwd))


def run_zeros(program: Path, argv: list[str], cwd: Path, env: dict, stdin: bytes = b"",
              ram: int = 64 << 20) -> Outcome:
    streams = {1: bytearray(), 2: bytearray()}  # every process's output, in order, as a
    with Machine(ram_size=ram, root=str(cwd)) as m:  # terminal (or a pipe) would get it
        m.on_output = lambda proc, fd, data: streams[fd].extend(data)
        pid = m.spawn(program, argv=argv, env=[f"{k}={v}" for k, v in env.items()],
                      stdin=stdin)
        results = m.run(timeout=120)
        m.check()
    for result in results.values():
        assert "kernel error" not in result.message, result.message
    return Outcome(results[pid].exit_code, bytes(streams[1]), bytes(streams[2]), _files(cwd))


def signal_status(name: str) -> int:
    return 128 + getattr(pysignal, name)
