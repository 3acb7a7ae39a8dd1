"""Regions: typed, sorted, never overlapping; split and resized in place."""

import pytest

from zeros.errors import MappingError
from zeros.vm.regions import Prot, Region, RegionKind, RegionMap, Reservation


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


def test_split_keeps_every_field_and_moves_the_offset():
    regions = RegionMap()
    region = regions.insert(Region(0x10000, 0x14000, Prot.READ, RegionKind.MMAP, "f",
                                   offset=0x3000, shared=True,
                                   reservation=Reservation(0x10000, 0x1000, 4, 4)))
    right = regions.split(region, 0x12000)
    assert (region.start, region.end, right.start, right.end) == (0x10000, 0x12000, 0x12000,
                                                                  0x14000)
    assert right.offset == 0x5000 and region.offset == 0x3000
    assert right.shared and right.reservation == region.reservation
    assert right.kind is RegionKind.MMAP and right.kind == "mmap"  # kinds are str enums
    assert regions.find(0x13000) is right
    with pytest.raises(MappingError, match="cannot split"):
        regions.split(right, 0x12800)
