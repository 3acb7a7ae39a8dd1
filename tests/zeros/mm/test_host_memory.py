"""Host memory follows use both ways: what the guests freed goes back to the host, and the
frames given back read as zeros when handed out again."""

from __future__ import annotations

from emu.ram import PhysicalMemory
from zeros import Machine
from zeros.mm.frames import TRIM_FRAMES, FrameAllocator, FrameKind

MIB = 48
MAP = f"""
%include "syscalls.inc"
section .text
_start:
    mov eax, SYS_mmap2
    xor ebx, ebx
    mov ecx, {MIB} << 20
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_ANONYMOUS | MAP_PRIVATE
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov edi, eax
    mov ecx, ({MIB} << 20) / 4096
    xor ebx, ebx
"""
EXIT = """
    test ebx, ebx
    setnz bl
    movzx ebx, bl
    mov eax, SYS_exit
    int 0x80
"""
# every page written (a byte at each end)
WRITER = (MAP + """
touch:
    mov byte ptr [edi], 7
    mov byte ptr [edi + 4095], 9
    add edi, 4096
    loop touch
""" + EXIT).encode()
# every page must read zero at both ends before it is written; status 1 if one did not
CHECKER = (MAP + """
check:
    cmp dword ptr [edi], 0
    je low_ok
    inc ebx
low_ok:
    cmp dword ptr [edi + 4092], 0
    je high_ok
    inc ebx
high_ok:
    mov byte ptr [edi], 5
    add edi, 4096
    loop check
""" + EXIT).encode()


def _rss_mib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) >> 10
    raise AssertionError("no VmRSS")


def test_freed_memory_goes_back_to_the_host_and_comes_back_zero():
    with Machine(ram_size=64 << 20) as m:
        before = _rss_mib()
        pid = m.spawn(WRITER)
        assert m.run(timeout=60)[pid].exit_code == 0
        pages = (MIB << 20) // 4096
        assert m.frames.returned_count >= pages  # the guest's pages went back when it exited
        # RAM is backed ahead of use (all 64 MiB by now): without giving back, the process
        # would hold about 64 MiB more than before; it holds the rest, about 16
        assert _rss_mib() - before < 40
        pid = m.spawn(CHECKER)  # the same frames, handed out again without zeroing
        assert m.run(timeout=60)[pid].exit_code == 0
        m.check()


def _full_allocator(ram_size: int = 16 << 20) -> tuple[FrameAllocator, list[int]]:
    ram = PhysicalMemory(ram_size, prefault=False)
    frames = FrameAllocator(ram)
    held = [frames.alloc(1, FrameKind.PAGE) for _ in range(frames.free_count)]
    for pa in held:
        ram.write(pa, b"\xAA" * 4096)
    return frames, held


def test_a_batch_of_freed_frames_is_given_back_and_handed_out_zero():
    frames, held = _full_allocator()
    for pa in held[:TRIM_FRAMES]:
        frames.free(pa)
    assert frames.returned_count == TRIM_FRAMES
    assert all(frames.ram.read(pa, 4096) == bytes(4096) for pa in held[:TRIM_FRAMES])
    again = [frames.alloc(2, FrameKind.PAGE) for _ in range(100)]
    assert frames.returned_count == TRIM_FRAMES - 100
    assert all(frames.ram.read(pa, 4096) == bytes(4096) for pa in again)
    written = frames.alloc(2, FrameKind.PAGE, zero=False)  # to be overwritten: not zeroed
    assert frames.returned_count == TRIM_FRAMES - 101 and written in held
    frames.ram.close()


def test_frames_freed_under_memory_pressure_stay():
    """Fewer frames free than a batch: a freed frame is about to be reused (the page file
    frees one for each it needs); giving it back would only cost a host fault."""
    frames, held = _full_allocator()
    for pa in held[:2 * TRIM_FRAMES]:  # one freed, one taken, as eviction does
        frames.free(pa)
        frames.alloc(3, FrameKind.PAGE)
    assert frames.returned_count == 0
    frames.ram.close()


def test_a_host_write_to_given_back_frames_forgets_that_they_are_zero():
    frames, held = _full_allocator()
    for pa in held[:TRIM_FRAMES]:
        frames.free(pa)
    frames.ram.write(held[0], b"\x01" * (8 << 12))  # the host writes RAM directly
    frames.dirtied(held[0], 8 << 12)
    assert frames.returned_count == TRIM_FRAMES - 8
    assert sorted(frames.returned_numbers()) == sorted(pa >> 12 for pa in held[8:TRIM_FRAMES])
    again = [frames.alloc(2, FrameKind.PAGE) for _ in range(TRIM_FRAMES)]
    assert all(frames.ram.read(pa, 4096) == bytes(4096) for pa in again)  # zeroed as needed
    frames.ram.close()
