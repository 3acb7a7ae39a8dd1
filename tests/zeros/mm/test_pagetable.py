"""The page-table primitives, checked against the reference walk in every paging format."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.mmu import Pte
from emu.paging import IA32E, PAE, X86_32
from emu.ram import PhysicalMemory
from emu.walk import walk
from zeros.errors import MappingError
from zeros.mm.frames import FrameAllocator
from zeros.mm.pagetable import KernelHalf, PageTables

NO_KERNEL = KernelHalf(768, bytes(1024), ())  # an empty kernel half: PDEs 768.. stay 0
# the same, for each format: no kernel entries, user space below 3 GiB (4-level: 128 TiB)
EMPTY_HALF = {X86_32: NO_KERNEL, PAE: KernelHalf(3, bytes(8), ()),
              IA32E: KernelHalf(256, bytes(8 * 256), ())}

pages = st.integers(1, 0xBFFFF).map(lambda n: n << 12)  # user pages


@pytest.mark.parametrize("fmt", [X86_32, PAE, IA32E], ids=lambda f: f.name)
@settings(max_examples=40, deadline=None)
@given(mapping=st.dictionaries(pages, st.sampled_from([0, Pte.RW]), min_size=1, max_size=40),
       user=st.booleans())
def test_map_then_translate(fmt, mapping, user):
    """The one writer and the one walk agree in every paging format: the format is data."""
    frames = FrameAllocator(PhysicalMemory(4 << 20, prefault=False))
    tables = PageTables(frames, 1, fmt, EMPTY_HALF[fmt])
    read_entry = frames.ram.reader(fmt.entry_size)
    placed = {}
    for va, rw in mapping.items():
        pa = frames.alloc(1, "page")
        tables.map_page(va, pa, Pte.US | rw)
        placed[va] = (pa, rw)
    for va, (pa, rw) in placed.items():
        read = walk(read_entry, tables.pd, va + 0x123, "r", user=user, fmt=fmt)
        assert read.ok and read.pa == pa + 0x123
        assert [s.level for s in read.steps] == [level.name for level in fmt.levels]
        wrote = walk(read_entry, tables.pd, va, "w", user=user, fmt=fmt)
        assert wrote.ok == bool(rw)
        with pytest.raises(MappingError, match="already mapped"):
            tables.map_page(va, pa, Pte.US)
    # one table per level per reach touched, counted as frames of the process
    expected = sum(len({va >> level.shift for va in mapping}) for level in fmt.levels[:-1])
    assert tables.table_count == expected
    assert frames.owned_by(1) == len(mapping) + tables.table_count + 1
    assert dict(tables.entries(0, 0xC0000000)).keys() == placed.keys()


def test_unmap_and_destroy_give_every_frame_back():
    frames = FrameAllocator(PhysicalMemory(2 << 20))
    before = frames.used_count
    tables = PageTables(frames, 7, X86_32, NO_KERNEL)
    for va in (0x08048000, 0x40000000, 0xBF7FF000):
        tables.map_page(va, frames.alloc(7, "page"), Pte.US)
    for va, pte in list(tables.present_pages(0, 0xC0000000)):
        tables.clear(va)
        frames.free(pte & ~0xFFF)
    tables.destroy()
    assert frames.used_count == before and frames.owned_by(7) == 0


def test_kernel_space_is_refused():
    tables = PageTables(FrameAllocator(PhysicalMemory(1 << 20)), 1, X86_32, NO_KERNEL)
    with pytest.raises(MappingError, match="kernel space"):
        tables.map_page(0xC0000000, 0x1000, Pte.US)


def test_frame_allocator_accounting_and_errors():
    frames = FrameAllocator(PhysicalMemory(1 << 20))
    assert frames.used_count == 1  # frame 0 is never handed out
    pa = frames.alloc(3, "page")
    assert pa != 0 and frames.info(pa).owner == 3
    frames.free(pa)
    with pytest.raises(ValueError, match="not allocated"):
        frames.free(pa)
    with pytest.raises(ValueError, match="not allocated"):
        frames.free(0)
    from zeros.errors import OutOfMemory
    with pytest.raises(OutOfMemory, match="all 256 frames"):
        while True:
            frames.alloc(3, "page")
