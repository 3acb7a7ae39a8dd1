"""Real programs, built with the host's compilers and compared with the host running them.

Toolchains (``.ci/toolchains.sh`` installs them; each family of tests is skipped without its
toolchain): glibc i386 (``gcc -m32 -static``, from gcc-multilib), musl i386 (a gcc wrapper
over Debian's i386 musl-dev, ``$ZEROS_TOOLCHAINS/bin/i386-musl-gcc``), busybox-static i386
(``$ZEROS_TOOLCHAINS/i386/bin/busybox``). ``ZEROS_TOOLCHAINS`` defaults to
``/opt/zeros-toolchains``.
"""

from __future__ import annotations

import signal as pysignal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BUSYBOX, MUSL_GCC, TOOLCHAINS  # noqa: F401 (for the test modules)
from zeros import Machine


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
              ram: int = 64 << 20, seed: int | None = None, paging: str = "32") -> Outcome:
    streams = {1: bytearray(), 2: bytearray()}  # every process's output, in order, as a
    with Machine(ram_size=ram, root=str(cwd), seed=seed, paging=paging) as m:  # terminal
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
