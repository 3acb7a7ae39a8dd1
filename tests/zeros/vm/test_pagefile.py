"""The page file: a working set larger than RAM still gives the right answers."""

import pytest

from zeros import Machine

TOUCH = """
%include "syscalls.inc"
PAGES equ {pages}
    mov eax, SYS_mmap2              ; PAGES pages of anonymous memory
    xor ebx, ebx
    mov ecx, PAGES * 4096
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_ANONYMOUS | MAP_PRIVATE
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov esi, eax
    xor ecx, ecx
write:                              ; page i holds i * 2654435761 at two places
    mov eax, ecx
    imul eax, eax, 2654435761
    mov edx, ecx
    shl edx, 12
    mov [esi + edx], eax
    mov [esi + edx + 4092], eax
    inc ecx
    cmp ecx, PAGES
    jne write
    xor ecx, ecx
check:                              ; read them all back
    mov eax, ecx
    imul eax, eax, 2654435761
    mov edx, ecx
    shl edx, 12
    cmp [esi + edx], eax
    jne bad
    cmp [esi + edx + 4092], eax
    jne bad
    inc ecx
    cmp ecx, PAGES
    jne check
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
bad:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80
"""


def test_working_set_three_times_ram():
    with Machine(ram_size=2 << 20, page_file=16 << 20) as m:
        pid = m.spawn(TOUCH.format(pages=1536).encode())  # 6 MiB in 2 MiB of RAM
        result = m.run(timeout=60)[pid]
        assert result.exit_code == 0, result.message
        assert m.pagefile.page_outs > 1000 and m.pagefile.page_ins > 1000
        assert result.major_faults == m.pagefile.page_ins
        assert m.pagefile.used_slots == 0  # every slot came back with the exit
        assert m.frames.used_count + m.frames.free_count == m.frames.total


def test_page_file_exhausted_kills_cleanly():
    with Machine(ram_size=2 << 20, page_file=1 << 20) as m:
        other = m.spawn(TOUCH.format(pages=16).encode())
        pid = m.spawn(TOUCH.format(pages=1536).encode())
        results = m.run(timeout=60)
        assert results[pid].signal_name == "SIGKILL"
        assert "out of memory" in results[pid].message
        assert results[other].exit_code == 0  # the other process was not harmed
        assert m.pagefile.used_slots == 0
        assert m.frames.used_count + m.frames.free_count == m.frames.total


@pytest.mark.parametrize("direct", [True, False])
def test_page_file_with_both_register_paths(direct):
    with Machine(ram_size=2 << 20, page_file=8 << 20, direct_state=direct) as m:
        pid = m.spawn(TOUCH.format(pages=700).encode())
        assert m.run(timeout=60)[pid].exit_code == 0


# -- the page file on its own: frames and a space, no Machine ----------------------------

def test_the_clock_gives_a_second_chance_then_pages_out():
    from tests.zeros.vm.conftest import make_parts
    from zeros.mm.pagetable import is_swap_entry, swap_slot
    from zeros.vm.regions import Prot, RegionKind
    from zeros.vm.uaccess import copy_from_user

    parts = make_parts(ram=1 << 20, page_file=64 << 10)
    try:
        space = parts.space(1)
        va = 0x10000000
        space.add_region(va, va + 0x1000, Prot.READ | Prot.WRITE, RegionKind.MMAP)
        assert parts.fault(space, va, write=True)
        space.write(va, b"swapped")
        pa = space.tables.entry(va) & ~0xFFF
        # A is set (young): the first sweep clears it, the second sends it out
        assert parts.pagefile.evict_one()
        entry = space.tables.entry(va)
        assert is_swap_entry(entry) and space.swapped == 1 and space.resident == 0
        assert parts.frames.info(pa) is None and parts.pagefile.used_slots == 1
        assert space.tlb_dirty  # the CPU may still hold the old translation
        assert copy_from_user(space, va, 7) == b"swapped"  # a major fault brings it back
        assert space.major_faults == 1 and parts.pagefile.used_slots == 0
        assert swap_slot(entry) == 0
    finally:
        parts.pagefile.close()


def test_page_tables_and_shared_frames_never_go_out():
    from tests.zeros.vm.conftest import make_parts
    from zeros.vm.objects import PageCache
    from zeros.vm.regions import Prot, RegionKind

    parts = make_parts(ram=1 << 20, page_file=64 << 10)
    try:
        space = parts.space(1)
        obj = PageCache(parts.frames).shared_memory()
        space.add_region(0x10000000, 0x10001000, Prot.READ | Prot.WRITE, RegionKind.MMAP,
                         backing=obj, shared=True)
        obj.mapped_region()
        assert parts.fault(space, 0x10000000, write=True)
        assert not parts.pagefile.evict_one()  # nothing but tables and a shared page
        assert space.tables.entry(0x10000000) & 1
    finally:
        parts.pagefile.close()
