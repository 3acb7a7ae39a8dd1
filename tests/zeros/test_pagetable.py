"""The page-table primitives and regions, checked against the reference walk."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.mmu import Pte
from emu.paging import X86_32
from emu.ram import PhysicalMemory
from emu.walk import walk
from zeros.errors import MappingError
from zeros.mm.frames import FrameAllocator
from zeros.mm.pagetable import KernelHalf, PageTables
from zeros.vm.regions import Prot, Region, RegionMap

NO_KERNEL = KernelHalf(768, bytes(1024), ())  # an empty kernel half: PDEs 768.. stay 0

pages = st.integers(1, 0xBFFFF).map(lambda n: n << 12)  # user pages


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(pages, st.sampled_from([0, Pte.RW]), min_size=1, max_size=40),
       st.booleans())
def test_map_then_translate(mapping, user):
    frames = FrameAllocator(PhysicalMemory(4 << 20))
    tables = PageTables(frames, 1, X86_32, NO_KERNEL)
    placed = {}
    for va, rw in mapping.items():
        pa = frames.alloc(1, "page")
        tables.map_page(va, pa, Pte.US | rw)
        placed[va] = (pa, rw)
    for va, (pa, rw) in placed.items():
        read = walk(frames.ram.read_u32, tables.pd, va + 0x123, "r", user=user)
        assert read.ok and read.pa == pa + 0x123
        wrote = walk(frames.ram.read_u32, tables.pd, va, "w", user=user)
        assert wrote.ok == bool(rw)
        with pytest.raises(MappingError, match="already mapped"):
            tables.map_page(va, pa, Pte.US)
    # one page table per 4 MiB touched, counted as frames of the process
    assert tables.table_count == len({va >> 22 for va in mapping})
    assert frames.owned_by(1) == len(mapping) + tables.table_count + 1


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


def test_region_map():
    regions = RegionMap()
    a = regions.insert(Region(0x1000, 0x3000, Prot.READ, "text"))
    regions.insert(Region(0x8000, 0x9000, Prot.READ | Prot.WRITE, "data"))
    assert regions.find(0x2FFF) is a and regions.find(0x3000) is None
    with pytest.raises(MappingError, match="overlaps"):
        regions.insert(Region(0x2000, 0x4000, Prot.READ, "x"))
    assert regions.free_gap(0x2000, 0x1000, 0x10000) == 0xE000  # highest gap first
    assert regions.free_gap(0x2000, 0x1000, 0x10000, top_down=False) == 0x3000
    assert regions.free_gap(0x10000, 0x1000, 0x10000) is None


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
