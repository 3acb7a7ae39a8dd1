"""Machine.check() notices every kind of broken state: each test breaks one invariant by hand
and expects the audit to name it."""

import pytest

from emu.mmu import Pte
from zeros import Machine
from zeros.errors import IntegrityError
from zeros.mm.frames import FrameKind
from zeros.mm.pagetable import swap_entry

PROGRAM = b"""
    mov eax, 192
    xor ebx, ebx
    mov ecx, 0x4000
    mov edx, 3
    mov esi, 0x22
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov dword ptr [eax], 1
    mov dword ptr [eax + 0x1000], 2
    int3
    l: jmp l
"""


@pytest.fixture
def stopped():
    """A process stopped at int3 with two pages of its own mmap written."""
    m = Machine(ram_size=4 << 20)
    pid = m.spawn(PROGRAM)
    m.breakpoint_handlers.append(lambda proc: m.pause())
    m.run(timeout=10)
    space = m.process(pid).space
    va = next(r.start for r in space.regions if r.kind == "mmap")
    yield m, space, va
    m.check_on_close = False  # the tests break it on purpose
    m.close()


def broken(m) -> str:
    with pytest.raises(IntegrityError) as raised:
        m.check()
    return "\n".join(raised.value.problems)


def test_a_healthy_machine_passes(stopped):
    m, _, _ = stopped
    assert m.check()["processes"] == 1


def test_a_leaked_frame_is_found(stopped):
    m, _, _ = stopped
    pa = m.frames.alloc(1, FrameKind.PAGE, "nobody")
    assert f"frame {pa:#010x}" in broken(m) and "leaked" in broken(m)


def test_an_entry_to_a_free_frame_is_found(stopped):
    m, space, va = stopped
    pa = space.tables.entry(va) & ~0xFFF
    m.frames.free(pa)
    assert f"{va:#010x} maps free frame {pa:#010x}" in broken(m)


def test_an_alias_the_reverse_map_does_not_know_is_found(stopped):
    m, space, va = stopped
    other = space.tables.entry(va + 0x1000)
    space.tables.set_entry(va, other)  # two pages, one frame, behind the allocator's back
    problems = broken(m)
    assert "reverse map does not list it" in problems and "references" in problems


def test_an_entry_mapping_a_page_table_is_found(stopped):
    m, space, va = stopped
    table = next(iter(space.tables.lower.values()))
    space.tables.set_entry(va, table | Pte.P | Pte.US | Pte.RW)
    assert "maps pid 1 table" in broken(m)


def test_a_swap_entry_without_its_slot_is_found(stopped):
    m, space, va = stopped
    space.tables.set_entry(va + 0x2000, swap_entry(7))
    problems = broken(m)
    assert "swap entries" in problems and "counts" in problems


def test_a_changed_kernel_half_is_found(stopped):
    m, space, _ = stopped
    m.ram.write_u32(space.cr3 + 4 * 1023, 0x00400000 | Pte.P)
    assert "kernel half" in broken(m)


def test_check_on_close_raises_after_releasing_everything():
    m = Machine(ram_size=2 << 20)
    m.check_on_close = True
    m.frames.alloc(5, FrameKind.PAGE, "leak")
    with pytest.raises(IntegrityError, match="leaked"):
        m.close()
    assert m.cpu is None  # released all the same
