"""The Linux family from Python: each flag, each errno, demand paging and sharing."""

import pytest

from zeros import Machine
from zeros.abi.linux.mman import (
    MADV_DONTNEED,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    MS_SYNC,
    VmError,
)
from zeros.proc.files import O_RDONLY, O_RDWR
from zeros.uapi import errno as linux

PAGE = 4096
RW, RO = 3, 1
ANON = MAP_ANONYMOUS | MAP_PRIVATE


@pytest.fixture
def env(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"A" * PAGE + b"B" * PAGE + b"tail")
    m = Machine(ram_size=16 << 20, root=str(tmp_path))
    pid = m.spawn(b"l: jmp l")  # a process to map things into; it never runs
    yield m, pid, tmp_path
    m.close()


def errno_of(call, *args):
    with pytest.raises(VmError) as raised:
        call(*args)
    return raised.value.errno


def touch(m, pid, va, write=False, value=b"x"):
    if write:
        m.write_virt(pid, va, value)
    return m.read_virt(pid, va, len(value))


# -- anonymous memory -----------------------------------------------------------------------

def test_anonymous_private_is_demand_zero(env):
    m, pid, _ = env
    used = m.frames.used_count
    va = m.linux.mmap(pid, 0, 1 << 30, RW, ANON)  # 1 GiB: no frame yet
    assert m.frames.used_count == used
    assert m.linux.mincore(pid, va, 3 * PAGE) == b"\0\0\0"
    assert touch(m, pid, va + PAGE, write=True) == b"x"
    assert m.linux.mincore(pid, va, 3 * PAGE) == b"\0\1\0"
    assert m.read_virt(pid, va + 2 * PAGE, 4) == b"\0\0\0\0"  # zero-filled
    m.linux.munmap(pid, va, 1 << 30)
    assert m.frames.used_count == used + 1  # the page table stays; the pages are gone


def test_placement_hint_fixed_and_noreplace(env):
    m, pid, _ = env
    top = m.linux.mmap(pid, 0, PAGE, RW, ANON)
    below = m.linux.mmap(pid, 0, PAGE, RW, ANON)
    assert below == top - PAGE  # top-down
    hinted = m.linux.mmap(pid, 0x50000000, PAGE, RW, ANON)
    assert hinted == 0x50000000
    assert m.linux.mmap(pid, 0x50000000, PAGE, RW, ANON) != 0x50000000  # taken: elsewhere
    touch(m, pid, hinted, write=True, value=b"old")
    assert m.linux.mmap(pid, 0x50000000, PAGE, RW, ANON | MAP_FIXED) == 0x50000000
    assert touch(m, pid, hinted, value=b"\0\0\0") == b"\0\0\0"  # replaced: a new page
    assert errno_of(m.linux.mmap, pid, 0x50000000, PAGE, RW,
                    ANON | MAP_FIXED_NOREPLACE) == linux.EEXIST
    assert m.linux.mmap(pid, 0x51000000, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == 0x51000000


@pytest.mark.parametrize("args,errno", [
    ((0, 0, RW, ANON), linux.EINVAL),  # length 0
    ((0, PAGE, RW, MAP_ANONYMOUS), linux.EINVAL),  # neither shared nor private
    ((0x50000001, PAGE, RW, ANON | MAP_FIXED), linux.EINVAL),  # unaligned fixed address
    ((0, PAGE, RW, MAP_PRIVATE, 3, 100), linux.EINVAL),  # unaligned offset
    ((0, 0xE0000000, RW, ANON), linux.ENOMEM),  # bigger than the address space
    ((0xBF000000, PAGE, RW, ANON | MAP_FIXED_NOREPLACE), linux.EEXIST),  # the stack
    ((0, PAGE, RW, MAP_PRIVATE, 9), linux.EBADF),  # no such fd
    ((0, PAGE, RW, ANON | MAP_FIXED), linux.EPERM),  # below the lowest address
    ((0xBFFFF000, PAGE, RW, ANON | MAP_FIXED), linux.EINVAL),  # over [vdso]: the kernel's
])
def test_mmap_errors(env, args, errno):
    m, pid, _ = env
    m.process(pid).files.open("data.bin", O_RDWR)  # fd 3
    assert errno_of(m.linux.mmap, pid, *args) == errno


def test_populate_prefaults(env):
    m, pid, _ = env
    va = m.linux.mmap(pid, 0, 4 * PAGE, RW, ANON | MAP_POPULATE)
    assert m.linux.mincore(pid, va, 4 * PAGE) == b"\1\1\1\1"


def test_anonymous_shared_frame_is_freed_with_the_last_mapping(env):
    m, pid, _ = env
    other = m.spawn(b"l: jmp l")
    used = m.frames.used_count
    va = m.linux.mmap(pid, 0, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED)
    touch(m, pid, va, write=True, value=b"shared")
    # a second process maps the same object (as fork would give it)
    region = m.process(pid).space.find(va)
    theirs = m.process(other).space
    theirs.add_region(va, va + PAGE, region.prot, "mmap", region.name,
                      backing=region.backing, offset=region.offset, shared=region.shared)
    region.backing.mapped_region()
    assert touch(m, other, va, value=b"shared") == b"shared"
    pa = m.translate(pid, va).pa
    assert m.translate(other, va).pa == pa
    assert len(m.frames.info(pa).rmap) == 2
    m.linux.munmap(pid, va, PAGE)
    assert m.frames.info(pa) is not None  # still mapped by the other
    m.linux.munmap(other, va, PAGE)
    assert m.frames.info(pa) is None
    assert m.frames.used_count <= used + 2  # at most a page table each


# -- files ------------------------------------------------------------------------------

def test_shared_file_mapping_writes_reach_the_file(env):
    m, pid, root = env
    fd = m.process(pid).files.open("data.bin", O_RDWR)
    va = m.linux.mmap(pid, 0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    assert m.read_virt(pid, va + PAGE, 2) == b"BB"
    m.write_virt(pid, va + PAGE, b"bb")
    assert (root / "data.bin").read_bytes()[PAGE:PAGE + 2] == b"BB"  # not yet
    m.linux.msync(pid, va, 2 * PAGE, MS_SYNC)
    assert (root / "data.bin").read_bytes()[PAGE:PAGE + 2] == b"bb"
    m.write_virt(pid, va, b"aa")
    m.linux.munmap(pid, va, 2 * PAGE)
    data = (root / "data.bin").read_bytes()
    assert data[:2] == b"aa" and len(data) == 2 * PAGE + 4  # mmap never grows a file


def test_shared_file_pages_are_one_frame_for_every_mapping(env):
    m, pid, _ = env
    fd = m.process(pid).files.open("data.bin", O_RDWR)
    a = m.linux.mmap(pid, 0, PAGE, RW, MAP_SHARED, fd, 0)
    b = m.linux.mmap(pid, 0, PAGE, RW, MAP_SHARED, fd, 0)
    m.write_virt(pid, a, b"Z")
    assert m.read_virt(pid, b, 1) == b"Z"
    assert m.translate(pid, a).pa == m.translate(pid, b).pa


def test_private_file_mapping_is_copy_on_write(env):
    m, pid, root = env
    fd = m.process(pid).files.open("data.bin", O_RDONLY)
    va = m.linux.mmap(pid, 0, 2 * PAGE, RW, MAP_PRIVATE, fd, 0)
    shared = m.linux.mmap(pid, 0, PAGE, RO, MAP_SHARED, fd, 0)
    assert m.read_virt(pid, va, 2) == b"AA"
    assert m.read_virt(pid, shared, 2) == b"AA"
    cache = m.translate(pid, shared).pa
    assert m.translate(pid, va).pa == cache  # reads share the page cache frame
    assert not m.translate(pid, va, "w").ok  # read-only until a write
    space = m.process(pid).space
    assert m.vm.resolve(space, va, write=True, present=True)  # the write fault: a copy
    m.write_virt(pid, va, b"private")
    assert m.translate(pid, va).pa != cache
    assert m.read_virt(pid, shared, 7) == b"AAAAAAA"  # the file's page is untouched
    assert (root / "data.bin").read_bytes()[:7] == b"AAAAAAA"
    assert space.major_faults == 1  # one read from the file


def test_file_errors(env):
    m, pid, root = env
    files = m.process(pid).files
    ro = files.open("data.bin", O_RDONLY)
    assert errno_of(m.linux.mmap, pid, 0, PAGE, RW, MAP_SHARED, ro, 0) == linux.EACCES
    va = m.linux.mmap(pid, 0, PAGE, RO, MAP_SHARED, ro, 0)
    assert errno_of(m.linux.mprotect, pid, va, PAGE, RW) == linux.EACCES
    from zeros.errors import FileError
    with pytest.raises(FileError) as raised:
        files.open("../outside.txt", O_RDONLY)
    assert raised.value.errno == linux.EACCES
    with pytest.raises(FileError) as raised:
        files.open("/nope.txt", O_RDONLY)
    assert raised.value.errno == linux.ENOENT
    assert files.open("/data.bin", O_RDONLY) > ro  # absolute paths are inside the root


# -- munmap, mprotect, mincore, msync, madvise ----------------------------------------

def test_munmap_splits_and_ignores_holes(env):
    m, pid, _ = env
    va = m.linux.mmap(pid, 0, 4 * PAGE, RW, ANON | MAP_POPULATE)
    m.linux.munmap(pid, va + PAGE, PAGE)
    space = m.process(pid).space
    assert space.find(va).end == va + PAGE and space.find(va + 2 * PAGE).start == va + 2 * PAGE
    assert space.find(va + PAGE) is None
    m.linux.munmap(pid, va, 4 * PAGE)  # the hole inside is fine
    assert space.find(va) is None
    assert errno_of(m.linux.munmap, pid, va + 1, PAGE) == linux.EINVAL
    assert errno_of(m.linux.munmap, pid, va, 0) == linux.EINVAL
    assert errno_of(m.linux.munmap, pid, 0xBFFFE000, PAGE) == linux.EINVAL  # [vvar]


def test_mprotect(env):
    m, pid, _ = env
    va = m.linux.mmap(pid, 0, 3 * PAGE, RW, ANON | MAP_POPULATE)
    m.linux.mprotect(pid, va + PAGE, PAGE, RO)
    assert m.translate(pid, va, "w").ok
    assert m.translate(pid, va + PAGE, "w").fault.error_code == 0x7
    m.linux.mprotect(pid, va + PAGE, PAGE, 0)  # PROT_NONE: the frame stays, U/S goes
    assert m.translate(pid, va + PAGE, "r").fault.error_code == 0x5
    m.linux.mprotect(pid, va, 3 * PAGE, RW)
    assert m.translate(pid, va + PAGE, "w").ok
    assert errno_of(m.linux.mprotect, pid, va + 2, PAGE, RO) == linux.EINVAL
    assert errno_of(m.linux.mprotect, pid, 0x70000000, PAGE, RO) == linux.ENOMEM
    assert errno_of(m.linux.mprotect, pid, va, PAGE, 8) == linux.EINVAL


def _spans(m, pid, start, end):
    return [(r.start, r.end, r.prot.letters) for r in m.process(pid).space.regions
            if r.start < end and r.end > start]


def test_like_neighbours_merge_as_linux_vmas_do(env):
    """mprotect back to the same rights, and an mmap next to a like mapping, leave one
    region (one line of /proc/PID/maps); different rights, objects or files do not."""
    m, pid, _ = env
    va = m.linux.mmap(pid, 0, 4 * PAGE, RW, ANON)
    m.linux.mprotect(pid, va + PAGE, PAGE, RO)
    assert len(_spans(m, pid, va, va + 4 * PAGE)) == 3
    m.linux.mprotect(pid, va + PAGE, PAGE, RW)
    assert _spans(m, pid, va, va + 4 * PAGE) == [(va, va + 4 * PAGE, "rw-")]
    below = m.linux.mmap(pid, 0, PAGE, RW, ANON)  # placed just below: joins it
    assert below == va - PAGE and _spans(m, pid, below, va + 4 * PAGE) == \
        [(below, va + 4 * PAGE, "rw-")]
    other = m.linux.mmap(pid, 0, PAGE, RO, ANON)  # other rights: its own region
    assert len(_spans(m, pid, other, va + 4 * PAGE)) == 2
    shared = [m.linux.mmap(pid, 0x30000000 + k * PAGE, PAGE, RW,
                           MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED) for k in range(2)]
    assert len(_spans(m, pid, shared[0], shared[1] + PAGE)) == 2  # two objects


def test_consecutive_pieces_of_one_file_merge(env):
    m, pid, _ = env
    fd = m.process(pid).files.open("data.bin", O_RDONLY)
    base = 0x30000000
    m.linux.mmap(pid, base, PAGE, RO, MAP_PRIVATE | MAP_FIXED, fd, 0)
    m.linux.mmap(pid, base + PAGE, PAGE, RO, MAP_PRIVATE | MAP_FIXED, fd, PAGE)
    assert _spans(m, pid, base, base + 2 * PAGE) == [(base, base + 2 * PAGE, "r--")]
    m.linux.mmap(pid, base + 2 * PAGE, PAGE, RO, MAP_PRIVATE | MAP_FIXED, fd, 0)  # offset 0
    assert len(_spans(m, pid, base, base + 3 * PAGE)) == 2
    assert m.read_virt(pid, base + PAGE - 1, 2) == b"AB"
    m.linux.munmap(pid, base, 3 * PAGE)
    assert not m.vm.files  # the merged region let the file go with the last mapping


def test_mincore_and_msync_errors(env):
    m, pid, _ = env
    va = m.linux.mmap(pid, 0, PAGE, RW, ANON)
    assert errno_of(m.linux.mincore, pid, va + 4, PAGE) == linux.EINVAL
    assert errno_of(m.linux.mincore, pid, va, 2 * PAGE) == linux.ENOMEM
    assert errno_of(m.linux.msync, pid, va, PAGE, MS_ASYNC | MS_SYNC) == linux.EINVAL
    assert errno_of(m.linux.msync, pid, 0x70000000, PAGE, MS_SYNC) == linux.ENOMEM


def test_madvise_dontneed(env):
    m, pid, _ = env
    fd = m.process(pid).files.open("data.bin", O_RDONLY)
    anon = m.linux.mmap(pid, 0, PAGE, RW, ANON)
    shared = m.linux.mmap(pid, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS)
    private_file = m.linux.mmap(pid, 0, PAGE, RW, MAP_PRIVATE, fd, 0)
    for va in (anon, shared, private_file):
        m.vm.resolve(m.process(pid).space, va, write=True, present=False)
        m.write_virt(pid, va, b"new")
    for va in (anon, shared, private_file):
        m.linux.madvise(pid, va, PAGE, MADV_DONTNEED)
    assert m.read_virt(pid, anon, 3) == b"\0\0\0"  # private anonymous: zeros again
    assert m.read_virt(pid, shared, 3) == b"new"  # shared: the object kept it
    assert m.read_virt(pid, private_file, 3) == b"AAA"  # private file: the file again
    assert errno_of(m.linux.madvise, pid, anon, PAGE, 99) == linux.EINVAL


# -- guests -----------------------------------------------------------------------------

EXIT_WITH_NEG_EAX = "\nneg eax\nmov ebx, eax\nmov eax, 1\nint 0x80\n"


@pytest.mark.parametrize("body,errno", [
    ("mov eax, 192\nmov ebx, 0x50000001\nmov ecx, 4096\nmov edx, 3\nmov esi, 0x32\n"
     "mov edi, -1\nxor ebp, ebp\nint 0x80", linux.EINVAL),  # mmap2 MAP_FIXED unaligned
    ("mov eax, 91\nmov ebx, 0x50000001\nmov ecx, 4096\nint 0x80", linux.EINVAL),
    ("mov eax, 218\nmov ebx, 0x50000000\nmov ecx, 4096\nmov edx, 0x08049000\nint 0x80",
     linux.ENOMEM),  # mincore of nothing
    ("mov eax, 5\nmov ebx, path\nxor ecx, ecx\nint 0x80", linux.EACCES),  # open("../x")
    ("mov eax, 3\nmov ebx, 7\nmov ecx, 0x08049000\nmov edx, 1\nint 0x80", linux.EBADF),
    ("mov eax, 7\nmov ebx, -1\nxor ecx, ecx\nxor edx, edx\nint 0x80", linux.ECHILD),
])
def test_guest_errnos(run_guest, body, errno):
    result = run_guest(body + EXIT_WITH_NEG_EAX + 'section .data\npath: .asciz "../x"\n')
    assert result.exit_code == errno, result.message


def test_fork_shares_private_pages_copy_on_write(machine):
    seen = {}

    def at_breakpoint(proc):
        seen.setdefault(proc.pid, machine.translate(proc.pid, 0x08049000).pa)

    machine.breakpoint_handlers.append(at_breakpoint)
    parent = machine.spawn(b"""
        mov dword ptr [value], 1
        mov eax, 2                  ; fork
        int 0x80
        test eax, eax
        jz child
        int3                        ; the parent, before the child wrote
        mov ebx, eax
        mov eax, 7                  ; waitpid(child)
        xor ecx, ecx
        xor edx, edx
        int 0x80
        mov ebx, [value]            ; still 1: the child's write went to its own copy
        mov eax, 1
        int 0x80
    child:
        mov dword ptr [value], 2
        int3                        ; the child, after its write
        mov eax, 1
        mov ebx, [value]
        int 0x80
        section .data
        value: .long 0
    """)
    results = machine.run(timeout=10)
    child = next(p for p in results if p != parent)
    assert results[parent].exit_code == 1 and results[child].exit_code == 2
    assert seen[parent] != seen[child]  # the write made a copy
