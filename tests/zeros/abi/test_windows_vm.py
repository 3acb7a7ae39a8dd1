"""The Windows family: reserve and commit, free, protect, query, guard pages."""

import pytest

from zeros import Machine
from zeros.abi.windows.virtual import (
    ERROR_COMMITMENT_LIMIT,
    ERROR_INVALID_ADDRESS,
    ERROR_INVALID_PARAMETER,
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_FREE,
    MEM_IMAGE,
    MEM_PRIVATE,
    MEM_RELEASE,
    MEM_RESERVE,
    MEM_TOP_DOWN,
    PAGE_EXECUTE_READ,
    PAGE_GUARD,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    Win32Error,
)

PAGE = 4096


@pytest.fixture
def env():
    m = Machine(ram_size=16 << 20)
    pid = m.spawn(b"l: jmp l")
    yield m, pid, m.windows
    m.close()


def winerror(call, *args):
    with pytest.raises(Win32Error) as raised:
        call(*args)
    return raised.value.winerror


def test_reserve_takes_no_frames_and_64k_granularity(env):
    m, pid, win = env
    used = m.frames.used_count
    base = win.virtual_alloc(pid, 0, 1 << 30, MEM_RESERVE, PAGE_READWRITE)  # 1 GiB
    assert base % 0x10000 == 0 and m.frames.used_count == used
    info = win.virtual_query(pid, base + 5 * PAGE)
    assert (info.State, info.Protect, info.AllocationBase, info.AllocationProtect) == (
        MEM_RESERVE, 0, base, PAGE_READWRITE)
    assert info.BaseAddress == base + 5 * PAGE and info.RegionSize == (1 << 30) - 5 * PAGE
    assert not m.translate(pid, base).ok
    explicit = win.virtual_alloc(pid, 0x00123456, PAGE, MEM_RESERVE, PAGE_READONLY)
    assert explicit == 0x00120000  # rounded down to the allocation granularity


def test_top_down(env):
    m, pid, win = env
    low = win.virtual_alloc(pid, 0, PAGE, MEM_RESERVE, PAGE_READWRITE)
    high = win.virtual_alloc(pid, 0, PAGE, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE)
    assert low == 0x00010000 and high > 0x70000000 and high % 0x10000 == 0


def test_commit_charges_but_takes_a_frame_on_first_touch(env):
    m, pid, win = env
    used = m.frames.used_count
    base = win.virtual_alloc(pid, 0, 0x1B000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    space = m.process(pid).space
    assert space.commit_charge == 0x1B000
    assert m.frames.used_count == used  # nothing touched yet
    assert m.read_virt(pid, base, 0x1B000) == bytes(0x1B000)  # zero-filled
    assert space.resident >= 0x1B
    info = win.virtual_query(pid, base)
    assert (info.State, info.Protect, info.RegionSize, info.Type) == (
        MEM_COMMIT, PAGE_READWRITE, 0x1B000, MEM_PRIVATE)


def test_commit_inside_a_reservation_only(env):
    m, pid, win = env
    base = win.virtual_alloc(pid, 0, 0x10000, MEM_RESERVE, PAGE_NOACCESS)
    assert win.virtual_alloc(pid, base + 0x1234, 0x10, MEM_COMMIT, PAGE_READWRITE) == \
        base + 0x1000
    assert m.process(pid).space.commit_charge == PAGE
    # committing again does not fail and charges nothing more
    win.virtual_alloc(pid, base + 0x1000, PAGE, MEM_COMMIT, PAGE_READWRITE)
    assert m.process(pid).space.commit_charge == PAGE
    assert winerror(win.virtual_alloc, pid, base + 0xF000, 0x2000, MEM_COMMIT,
                    PAGE_READWRITE) == ERROR_INVALID_ADDRESS  # runs out of the reservation
    assert winerror(win.virtual_alloc, pid, 0x30000000, PAGE, MEM_COMMIT,
                    PAGE_READWRITE) == ERROR_INVALID_ADDRESS  # not reserved


def test_touching_reserved_memory_is_an_access_violation(machine):
    pid = machine.spawn(b"""
        mov eax, 1010
        xor ebx, ebx
        mov ecx, 0x10000
        mov edx, 0x2000            ; MEM_RESERVE only
        mov esi, 4
        int 0x80
        mov dword ptr [eax], 1     ; reserved, not committed
        mov eax, 1
        int 0x80
    """)
    result = machine.run(timeout=10)[pid]
    assert result.signal_name == "SIGSEGV" and result.fault.error_code == 0x6
    assert "vm" in result.fault.report  # the region that refused it


def test_decommit_and_release(env):
    m, pid, win = env
    base = win.virtual_alloc(pid, 0, 4 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    m.write_virt(pid, base + PAGE, b"data")
    win.virtual_free(pid, base + PAGE, PAGE, MEM_DECOMMIT)
    assert m.process(pid).space.commit_charge == 3 * PAGE
    assert win.virtual_query(pid, base + PAGE).State == MEM_RESERVE
    assert not m.translate(pid, base + PAGE).ok
    win.virtual_free(pid, base + PAGE, PAGE, MEM_DECOMMIT)  # again: not an error
    assert winerror(win.virtual_free, pid, base, PAGE, MEM_RELEASE) == \
        ERROR_INVALID_PARAMETER  # size must be 0
    assert winerror(win.virtual_free, pid, base + PAGE, 0, MEM_RELEASE) == \
        ERROR_INVALID_ADDRESS  # not the base
    assert winerror(win.virtual_free, pid, base, 0, MEM_RELEASE | MEM_DECOMMIT) == \
        ERROR_INVALID_PARAMETER
    win.virtual_free(pid, base, 0, MEM_RELEASE)
    assert win.virtual_query(pid, base).State == MEM_FREE
    assert m.process(pid).space.commit_charge == 0


def test_protect_returns_the_old_protection(env):
    m, pid, win = env
    base = win.virtual_alloc(pid, 0, 2 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    m.write_virt(pid, base, b"x")
    assert win.virtual_protect(pid, base, PAGE, PAGE_READONLY) == PAGE_READWRITE
    assert win.virtual_protect(pid, base, PAGE, PAGE_EXECUTE_READ) == PAGE_READONLY
    assert m.translate(pid, base, "w").fault.error_code == 0x7
    assert win.virtual_query(pid, base).Protect == PAGE_EXECUTE_READ
    assert win.virtual_query(pid, base + PAGE).Protect == PAGE_READWRITE
    reserved = win.virtual_alloc(pid, 0, PAGE, MEM_RESERVE, PAGE_READWRITE)
    assert winerror(win.virtual_protect, pid, reserved, PAGE, PAGE_READONLY) == \
        ERROR_INVALID_ADDRESS


def test_noaccess_and_guard_pages(machine):
    win = machine.windows
    pid = machine.spawn(b"""
        int3                        ; the host sets up the pages
        mov eax, [0x00010000]       ; the guard page: an alarm, then the read goes on
        mov eax, [0x00010000]       ; no alarm the second time
        mov ebx, 5
        mov eax, [0x00011000]       ; PAGE_NOACCESS: an access violation
        mov eax, 1
        int 0x80
    """)

    def setup(proc):
        base = win.virtual_alloc(pid, 0, 2 * PAGE, MEM_RESERVE, PAGE_READWRITE)
        win.virtual_alloc(pid, base, PAGE, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD)
        win.virtual_alloc(pid, base + PAGE, PAGE, MEM_COMMIT, PAGE_NOACCESS)

    machine.breakpoint_handlers.append(setup)
    result = machine.run(timeout=10)[pid]
    assert machine.vm.alarms == [(pid, 0x00010000)]
    assert machine.process(pid).alarms == [0x00010000]
    assert result.signal_name == "SIGSEGV" and result.fault.cr2 == 0x00011000


def test_query_describes_every_kind_of_region(env):
    m, pid, win = env
    text = win.virtual_query(pid, 0x08048000)
    assert (text.State, text.Type, text.Protect) == (MEM_COMMIT, MEM_IMAGE, PAGE_EXECUTE_READ)
    stack = win.virtual_query(pid, 0xBF7FF000)
    assert (stack.State, stack.Type, stack.Protect) == (MEM_COMMIT, MEM_PRIVATE, PAGE_READWRITE)
    assert stack.AllocationBase == 0xBF000000  # the bottom of the 8 MiB it may grow to
    below = win.virtual_query(pid, 0xBF000123)  # where it grows: reserved, as on Windows
    assert (below.State, below.BaseAddress, below.AllocationBase, below.Type) == \
        (MEM_RESERVE, 0xBF000000, 0xBF000000, MEM_PRIVATE)
    assert below.BaseAddress + below.RegionSize == m.process(pid).space.find(0xBF7FF000).start
    free = win.virtual_query(pid, 0x20000123)
    assert (free.State, free.BaseAddress, free.AllocationBase) == (MEM_FREE, 0x20000000, 0)
    assert free.BaseAddress + free.RegionSize == 0xBF000000  # up to the stack
    assert winerror(win.virtual_query, pid, 0xC0000000) == ERROR_INVALID_PARAMETER


@pytest.mark.parametrize("args,error", [
    ((0, PAGE, 0, PAGE_READWRITE), ERROR_INVALID_PARAMETER),  # no MEM_RESERVE or COMMIT
    ((0, PAGE, MEM_RESERVE, 0x3), ERROR_INVALID_PARAMETER),  # not a protection
    ((0, PAGE, MEM_RESERVE, PAGE_NOACCESS | PAGE_GUARD), ERROR_INVALID_PARAMETER),
    ((0, 0, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_PARAMETER),  # size 0
    ((0x08048000, PAGE, MEM_RESERVE, PAGE_READWRITE), ERROR_INVALID_ADDRESS),  # taken
])
def test_alloc_errors(env, args, error):
    m, pid, win = env
    assert winerror(win.virtual_alloc, pid, *args) == error


def test_commit_limit():
    with Machine(ram_size=2 << 20, page_file=0) as m:
        pid = m.spawn(b"l: jmp l")
        assert winerror(m.windows.virtual_alloc, pid, 0, 4 << 20, MEM_RESERVE | MEM_COMMIT,
                        PAGE_READWRITE) == ERROR_COMMITMENT_LIMIT
        assert m.process(pid).space.reservations == {}  # nothing left behind
