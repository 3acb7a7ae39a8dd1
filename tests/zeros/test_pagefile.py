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
