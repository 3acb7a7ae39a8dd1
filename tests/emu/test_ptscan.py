"""The page-table iterator on hand-built tables: spans, leaves, holes, large pages, rights."""

from emu.mmu import Pde, Pte
from emu.paging import IA32E, PAE, X86_32
from emu.ptscan import leaves, scan
from emu.walk import walk


class Memory(dict):
    """Sparse physical memory of entries."""

    def read(self, pa):
        return self.get(pa, 0)

    def table(self, size):
        def read(pa, count):
            return tuple(self.get(pa + size * k, 0) for k in range(count))
        return read


CR3, PT = 0x1000, 0x2000


def test_spans_cover_the_range_and_report_each_entry_once():
    mem = Memory()
    mem[CR3 + 4 * 0x20] = PT | 7  # a page table for 0x08000000-0x083FFFFF
    mem[PT + 4 * 0x48] = 0x5000 | 7  # 0x08048000
    mem[PT + 4 * 0x49] = 0x6000 | Pte.P | Pte.US  # read-only
    mem[CR3 + 4 * 0x21] = 0x0840_0000 | Pde.PS | 3  # a supervisor 4 MiB page
    spans = list(scan(mem.table(4), CR3, 0x0800_0000, 0x0880_0000))
    assert [(s.level.name, s.va, len(s.entries), s.leaf) for s in spans] == [
        ("PTE", 0x0800_0000, 1024, True), ("PDE", 0x0840_0000, 1, False)]
    present = list(leaves(mem.table(4), CR3, 0x0800_0000, 0x0880_0000, holes=False))
    assert [(x.va, x.size, x.pa, x.user, x.writable) for x in present] == [
        (0x0804_8000, 4096, 0x5000, True, True), (0x0804_9000, 4096, 0x6000, True, False),
        (0x0840_0000, 4 << 20, 0x0840_0000, False, True)]
    holes = [x for x in leaves(mem.table(4), CR3, 0x0800_0000, 0x0880_0000) if x.pa is None]
    assert len(holes) == 1022  # every other PTE of the table


def test_a_partial_range_reads_only_its_entries():
    mem = Memory()
    mem[CR3 + 4 * 0x20] = PT | 7
    spans = list(scan(mem.table(4), CR3, 0x0804_8000, 0x0804_A000))
    assert len(spans) == 1 and spans[0].va == 0x0804_8000 and len(spans[0].entries) == 2
    assert spans[0].entry_pa == PT + 4 * 0x48


def test_upper_level_rights_reach_the_leaves():
    mem = Memory()
    mem[CR3 + 4 * 0x20] = PT | Pde.P | Pde.US  # the table is read-only for everything
    mem[PT] = 0x5000 | 7
    (leaf,) = leaves(mem.table(4), CR3, 0x0800_0000, 0x0800_1000, holes=False)
    assert leaf.user and not leaf.writable


def test_every_leaf_agrees_with_the_reference_walk_in_each_format():
    """Built by hand in the three formats: the iterator and the walk see the same pages."""
    for fmt in (X86_32, PAE, IA32E):
        mem = Memory()
        size = fmt.entry_size
        tables = iter(range(0x10000, 0x100000, 0x1000))
        vas = [0x0804_8000, 0x0804_9000, 0x4000_0000, 0xBFFF_F000]
        for n, va in enumerate(vas):
            table = CR3
            for level in fmt.levels[:-1]:
                slot = table + size * level.index(va)
                if not mem.get(slot):
                    mem[slot] = next(tables) | 7
                table = mem[slot] & fmt.addr_mask
            mem[table + size * fmt.leaf.index(va)] = (0x20_0000 + n * 0x1000) | 7
        found = {x.va: x.pa for x in leaves(mem.table(size), CR3, 0, 0xC000_0000, fmt,
                                            holes=False)}
        assert sorted(found) == vas, fmt.name
        for va, pa in found.items():
            assert walk(mem.read, CR3, va, fmt=fmt).pa == pa
