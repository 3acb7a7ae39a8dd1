"""The fault resolver on its own: a space, a region, a fault; the entry it leaves."""

import pytest

from emu.mmu import Pte
from tests.zeros.vm.conftest import make_parts
from zeros.layout import STACK_MAX
from zeros.mm.frames import FrameKind
from zeros.vm.fork import copy_space
from zeros.vm.objects import PageCache
from zeros.vm.regions import Prot, RegionKind
from zeros.vm.uaccess import copy_from_user, copy_to_user

RW = Prot.READ | Prot.WRITE
VA = 0x10000000


def test_first_write_maps_a_zeroed_private_frame(parts):
    space = parts.space(1)
    space.add_region(VA, VA + 0x4000, RW, RegionKind.MMAP)
    assert parts.fault(space, VA + 0x1234, write=True)
    pte = space.tables.entry(VA + 0x1000)
    assert pte & (Pte.P | Pte.RW | Pte.US | Pte.A) == Pte.P | Pte.RW | Pte.US | Pte.A
    frame = parts.frames.info(pte & ~0xFFF)
    assert frame.kind is FrameKind.PAGE and frame.owner == 1
    assert list(frame.rmap) == [(space, VA + 0x1000)]
    assert parts.frames.ram.read(pte & ~0xFFF, 4096) == bytes(4096)
    assert space.minor_faults == 1 and space.resident == 1


def test_first_read_maps_the_zero_page_read_only_then_a_write_copies(parts):
    space = parts.space(1)
    space.add_region(VA, VA + 0x4000, RW, RegionKind.MMAP)
    assert parts.fault(space, VA, write=False)
    pte = space.tables.entry(VA)
    assert pte & ~0xFFF == parts.resolver.zero_page and not pte & Pte.RW
    assert parts.fault(space, VA, write=True)  # present, read-only: copy-on-write
    pte = space.tables.entry(VA)
    assert pte & ~0xFFF != parts.resolver.zero_page and pte & Pte.RW
    assert not parts.frames.info(parts.resolver.zero_page).rmap


def test_no_region_or_wrong_rights_is_a_real_fault(parts):
    space = parts.space(1)
    space.add_region(VA, VA + 0x1000, Prot.READ, RegionKind.MMAP)
    assert not parts.fault(space, VA + 0x1000)  # no region
    assert not parts.fault(space, VA, write=True)  # read-only region
    space.add_region(VA + 0x2000, VA + 0x3000, Prot.NONE, RegionKind.MMAP)
    assert not parts.fault(space, VA + 0x2000)
    assert space.tables.entry(VA + 0x2000) == 0


def test_the_stack_grows_down_to_its_limit_and_not_into_another_region(parts):
    space = parts.space(1)
    top = 0xBF800000
    stack = space.add_region(top - 0x1000, top, RW, RegionKind.STACK, "[stack]",
                             grows_down=True)
    assert parts.fault(space, top - 0x5004, write=True)  # a push far below: it grows
    assert stack.start == top - 0x6000 and space.regions.find(top - 0x6000) is stack
    assert not parts.fault(space, top - STACK_MAX - 4, write=True)  # past 8 MiB
    assert stack.start == top - 0x6000
    assert parts.fault(space, top - STACK_MAX, write=True)  # the last page of the limit
    assert stack.start == top - STACK_MAX
    space.add_region(VA, VA + 0x1000, RW, RegionKind.MMAP)  # far below: no growing into it
    assert not parts.fault(space, VA + 0x2000, write=True)


def test_fork_copy_is_copy_on_write_both_ways(parts):
    parent, child = parts.space(1), parts.space(2)
    parent.add_region(VA, VA + 0x1000, RW, RegionKind.DATA)
    parent.write(VA, b"parent")
    copy_space(parent, child, parts.pagefile)
    shared = parent.tables.entry(VA) & ~0xFFF
    assert child.tables.entry(VA) & ~0xFFF == shared
    assert not parent.tables.entry(VA) & Pte.RW and not child.tables.entry(VA) & Pte.RW
    assert parts.frames.info(shared).refs == 2
    assert parts.fault(child, VA, write=True)
    assert child.tables.entry(VA) & ~0xFFF != shared
    assert child.read(VA, 6) == b"parent"
    assert parts.fault(parent, VA, write=True)  # now alone: made writable, not copied
    assert parent.tables.entry(VA) & ~0xFFF == shared and parent.tables.entry(VA) & Pte.RW


def test_shared_object_pages_are_one_frame(parts):
    cache = PageCache(parts.frames)
    a, b = parts.space(1), parts.space(2)
    obj = cache.shared_memory()
    for space in (a, b):
        space.add_region(VA, VA + 0x1000, RW, RegionKind.MMAP, backing=obj, shared=True)
        obj.mapped_region()
    assert parts.fault(a, VA, write=True) and parts.fault(b, VA, write=False)
    pa = a.tables.entry(VA) & ~0xFFF
    assert b.tables.entry(VA) & ~0xFFF == pa and parts.frames.info(pa).kind is FrameKind.SHARED
    a.destroy()
    b.destroy()
    assert parts.frames.info(pa) is None  # the last mapping let the object go


def test_file_object_read_fault_is_major_and_private_write_copies(parts, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"F" * 4096 + b"G" * 100)
    cache = PageCache(parts.frames)
    space = parts.space(1)
    obj = cache.file_object(str(path))
    space.add_region(VA, VA + 0x2000, RW, RegionKind.MMAP, backing=obj)
    obj.mapped_region()
    assert parts.fault(space, VA + 0x1000)
    assert space.major_faults == 1 and space.read(VA + 0x1000, 3) == b"GGG"
    cached = space.tables.entry(VA + 0x1000) & ~0xFFF
    assert parts.frames.info(cached).kind is FrameKind.PAGECACHE
    assert parts.fault(space, VA + 0x1000, write=True)
    assert space.tables.entry(VA + 0x1000) & ~0xFFF != cached  # a private copy
    space.destroy()
    assert str(path.resolve()) not in cache.files and path.read_bytes()[4096:4099] == b"GGG"


def test_guard_page_alarm_goes_off_once(parts):
    space = parts.space(1)
    space.add_region(VA, VA + 0x2000, RW, RegionKind.VM, guard=True)
    assert parts.fault(space, VA + 0x1000, write=True)
    assert space.alarms == [VA + 0x1000] and parts.resolver.alarms == [(1, VA + 0x1000)]
    assert not space.find(VA + 0x1000).guard and space.find(VA).guard


def test_swapped_page_comes_back_with_its_bytes():
    parts = make_parts(ram=1 << 20, page_file=4 << 20)
    try:
        space = parts.space(1)
        space.add_region(VA, VA + (2 << 20), RW, RegionKind.MMAP)
        for k in range(512):  # 2 MiB of pages through 1 MiB of RAM: evictions
            va = VA + k * 4096
            assert parts.fault(space, va, write=True)
            space.write(va, k.to_bytes(4, "little"))
        assert parts.pagefile.page_outs > 0 and space.swapped > 0
        for k in range(512):  # faulted back in as the kernel's copy_from_user does
            assert copy_from_user(space, VA + k * 4096, 4) == k.to_bytes(4, "little")
        assert parts.pagefile.page_ins > 0
        space.destroy()
        assert parts.pagefile.used_slots == 0
    finally:
        parts.pagefile.close()


@pytest.mark.parametrize("write", [False, True])
def test_kernel_half_is_never_resolved(parts, write):
    space = parts.space(1)
    assert not parts.resolver.resolve(space, 0xC0001000, write, False)


def test_a_forced_write_never_reaches_a_frame_another_mapping_sees(parts):
    """A debugger's write into read-only text shared after fork (or into the zero page)
    copies the page first: the other process, and the zero page, keep their bytes."""
    parent, child = parts.space(1), parts.space(2)
    parent.add_region(VA, VA + 0x2000, Prot.READ | Prot.EXEC, RegionKind.TEXT)
    parent.write(VA, b"code")
    assert parts.fault(parent, VA + 0x1000)  # a read: the zero page
    copy_space(parent, child, parts.pagefile)
    copy_to_user(child, VA, b"\xcc", force=True)
    copy_to_user(child, VA + 0x1000, b"\xcc", force=True)
    assert copy_from_user(parent, VA, 4) == b"code" and copy_from_user(child, VA, 4) == b"\xccode"
    assert parts.frames.ram.read(parts.resolver.zero_page, 4096) == bytes(4096)
    assert not child.tables.entry(VA) & Pte.RW  # still read-only for the guest
