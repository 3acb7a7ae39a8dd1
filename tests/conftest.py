"""Shared fixtures: a fresh Machine per test, guest programs, golden files.

Golden files live in tests/golden/. After an intended change of output, regenerate them with

    ZEROS_REGEN=1 python -m pytest tests

and review the diff.
"""

import os
from pathlib import Path

import pytest

from zeros import Machine

ROOT = Path(__file__).resolve().parent.parent
ASM = ROOT / "asm"
GOLDEN = Path(__file__).resolve().parent / "golden"


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
