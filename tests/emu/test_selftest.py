"""The start-up self-test refuses a CPU whose double-fault remedy does not work."""

import dataclasses

import pytest

import emu.cpu.selftest as selftest
from emu.cpu import Cpu
from emu.errors import UnicornBuildError
from emu.ram import PhysicalMemory


@pytest.mark.parametrize("mode", [32, 64])
@pytest.mark.parametrize("direct_state", [True, False])
def test_a_working_build_passes(mode, direct_state):
    cpu = Cpu(PhysicalMemory(2 << 20), mode=mode, direct_state=direct_state)
    assert cpu.layout is not None and cpu.layout.old_exception > 0
    assert cpu.direct_state == direct_state
    cpu.close()


@pytest.mark.parametrize("mode", [32, 64])
def test_a_remedy_that_misses_old_exception_is_refused(monkeypatch, mode):
    """Point the remedy at the wrong field: the second fault turns into #DF (vector 8),
    and start-up must stop with a message naming the build and the reason."""
    real = selftest._find_layout

    def wrong_field(*args):
        layout = real(*args)
        return dataclasses.replace(layout, old_exception=layout.old_exception + 1)

    monkeypatch.setattr(selftest, "_find_layout", wrong_field)
    with pytest.raises(UnicornBuildError) as raised:
        Cpu(PhysicalMemory(2 << 20), direct_state=False, mode=mode)
    message = str(raised.value)
    assert "unicorn 2.1.4" in message and "cannot be used" in message
    assert "vector 8" in message and "1883" in message


def test_an_unexpected_context_layout_is_refused(monkeypatch):
    monkeypatch.setattr(selftest, "_ERROR_CODE_BEFORE_OLD_EXCEPTION", 96)
    with pytest.raises(UnicornBuildError, match="context layout differs from 2.1.4"):
        Cpu(PhysicalMemory(2 << 20))


def test_too_little_ram_for_the_cpu():
    from emu.errors import CpuError
    with pytest.raises(CpuError, match="at least 1 MiB"):
        Cpu(PhysicalMemory(64 << 10))
