"""The reference walk on hand-built tables: no Unicorn involved."""

import itertools

import pytest

from emu.mmu import Pde, PfError, Pte
from emu.walk import Access, accessed_dirty_updates, describe_error_code, walk


class Memory(dict):
    """Sparse physical memory of 32-bit words."""

    def read_u32(self, pa):
        return self.get(pa, 0)


CR3 = 0x1000
PT = 0x2000
FRAME = 0x5000
VA = 0x0804_8123  # PDE 0x20, PTE 0x48, offset 0x123


def tables(pde_flags, pte_flags):
    mem = Memory()
    mem[CR3 + 4 * 0x20] = PT | pde_flags
    mem[PT + 4 * 0x48] = FRAME | pte_flags
    return mem


def expected_4k(pde, pte, access, user, wp):
    """The rules of Intel SDM vol. 3 4.6, written out case by case."""
    w = PfError.W if access == "w" else 0
    u = PfError.U if user else 0
    if not pde & Pde.P:
        return ("fault", "PDE", w | u)
    if not pte & Pte.P:
        return ("fault", "PTE", w | u)
    if user and not (pde & Pde.US and pte & Pte.US):
        return ("fault", "PTE", PfError.P | w | u)
    if access == "w":
        read_only = not (pde & Pde.RW and pte & Pte.RW)
        if read_only and (user or wp):
            return ("fault", "PTE", PfError.P | w | u)
    return ("ok", FRAME | 0x123)


BITS = [Pte.P, Pte.RW, Pte.US]
COMBOS = [sum(c, Pte(0)) for n in range(4) for c in itertools.combinations(BITS, n)]


@pytest.mark.parametrize("pde", COMBOS, ids=lambda f: f"pde={int(f):x}")
@pytest.mark.parametrize("pte", COMBOS, ids=lambda f: f"pte={int(f):x}")
@pytest.mark.parametrize("access", ["r", "w", "x"])
@pytest.mark.parametrize("user", [True, False], ids=["user", "super"])
@pytest.mark.parametrize("wp", [True, False], ids=["wp", "nowp"])
def test_every_combination_4k(pde, pte, access, user, wp):
    mem = tables(pde, pte)
    result = walk(mem.read_u32, CR3, VA, access, user=user, wp=wp)
    want = expected_4k(pde, pte, access, user, wp)
    if want[0] == "ok":
        assert result.ok and result.pa == want[1] and result.page_size == 4096
    else:
        assert not result.ok
        assert result.fault.level == want[1]
        assert result.fault.error_code == want[2]
        assert result.fault.cr2 == VA
        assert result.pa is None


@pytest.mark.parametrize("pde", COMBOS, ids=lambda f: f"pde={int(f):x}")
@pytest.mark.parametrize("access", ["r", "w", "x"])
@pytest.mark.parametrize("user", [True, False], ids=["user", "super"])
@pytest.mark.parametrize("wp", [True, False], ids=["wp", "nowp"])
def test_every_combination_4m(pde, access, user, wp):
    mem = Memory()
    mem[CR3 + 4 * 0x20] = 0x0840_0000 | Pde.PS | pde
    result = walk(mem.read_u32, CR3, VA, access, user=user, wp=wp)
    w = PfError.W if access == "w" else 0
    u = PfError.U if user else 0
    if not pde & Pde.P:
        assert result.fault.error_code == w | u
    elif user and not pde & Pde.US:
        assert result.fault.error_code == PfError.P | w | u
    elif access == "w" and not pde & Pde.RW and (user or wp):
        assert result.fault.error_code == PfError.P | w | u
    else:
        assert result.ok
        assert result.pa == 0x0840_0000 | (VA & 0x3FFFFF)
        assert result.page_size == 4 << 20
        assert len(result.steps) == 1


@pytest.mark.parametrize("pde,pte,access,user,wp,code,words", [
    (7, 5, "w", True, True, 0x7, "user write to a read-only page"),
    (7, 3, "r", True, True, 0x5, "user read of a supervisor page"),
    (7, 0, "r", True, True, 0x4, "user read of a not-present page"),
    (7, 0, "w", True, True, 0x6, "user write to a not-present page"),
    (7, 1, "w", False, True, 0x3, "supervisor write to a read-only page (CR0.WP=1)"),
    (0, 0, "r", False, True, 0x0, "supervisor read of a not-present page"),
    (0, 0, "x", True, True, 0x4, "user instruction fetch from a not-present page"),
])
def test_error_codes_in_words(pde, pte, access, user, wp, code, words):
    result = walk(tables(pde, pte).read_u32, CR3, VA, access, user=user, wp=wp)
    assert int(result.fault.error_code) == code
    assert result.fault.reason.startswith(words)


def test_supervisor_writes_read_only_page_when_wp_is_clear():
    result = walk(tables(7, 1).read_u32, CR3, VA, "w", user=False, wp=False)
    assert result.ok and result.writable


def test_seed_example_0x12345678():
    """The VirtualAlloc article: 0x12345678 -> PDE index 0x48, PTE index 0x345, offset 0x678;
    its PDE leads to a table at 0xA0000000, its PTE to the page at 0x40000000."""
    mem = Memory()
    mem[CR3 + 4 * 0x48] = 0xA000_0000 | 7
    mem[0xA000_0000 + 4 * 0x345] = 0x4000_0000 | 7
    result = walk(mem.read_u32, CR3, 0x1234_5678, "r")
    assert [(s.level, s.index, s.entry_pa) for s in result.steps] == [
        ("PDE", 0x48, CR3 + 0x120), ("PTE", 0x345, 0xA000_0000 + 0xD14)]
    assert result.pa == 0x4000_0678


def test_large_page_reserved_bit_21_is_a_rsvd_fault():
    mem = Memory()
    mem[CR3 + 4 * 0x20] = 0x0840_0000 | Pde.PS | 7 | (1 << 21)
    result = walk(mem.read_u32, CR3, VA, "r", user=True)
    assert result.fault.error_code == PfError.RSVD | PfError.P | PfError.U


def test_large_page_pse36_high_bits_give_physical_bits_32_to_39():
    mem = Memory()
    mem[CR3 + 4 * 0x20] = 0x0840_0000 | Pde.PS | 7 | (0x3 << 13)
    result = walk(mem.read_u32, CR3, VA, "r")
    assert result.pa == (0x3 << 32) | 0x0840_0000 | (VA & 0x3FFFFF)


def test_ps_bit_is_ignored_without_cr4_pse():
    mem = tables(Pde.PS | 7, 7)
    result = walk(mem.read_u32, CR3, VA, "r", pse=False)
    assert result.ok and result.page_size == 4096 and len(result.steps) == 2


def test_walk_has_no_side_effects():
    mem = tables(7, 7)
    before = dict(mem)
    walk(mem.read_u32, CR3, VA, "w")
    assert mem == before


def test_accessed_dirty_updates_follow_the_cpu():
    mem = tables(7, 7)
    read = walk(mem.read_u32, CR3, VA, "r")
    assert accessed_dirty_updates(read) == [
        (CR3 + 0x80, PT | 7 | Pde.A), (PT + 0x120, FRAME | 7 | Pte.A)]
    write = walk(mem.read_u32, CR3, VA, "w")
    assert accessed_dirty_updates(write)[-1] == (PT + 0x120, FRAME | 7 | Pte.A | Pte.D)
    # a PTE fault still marks the PDE it went through, not the PTE
    faulting = walk(tables(7, 5).read_u32, CR3, VA, "w")
    assert accessed_dirty_updates(faulting) == [(CR3 + 0x80, PT | 7 | Pde.A)]
    # nothing to write when the bits are there already
    done = walk(tables(7 | Pde.A, 7 | Pte.A | Pte.D).read_u32, CR3, VA, "w")
    assert accessed_dirty_updates(done) == []


def test_describe_error_code_alone():
    assert describe_error_code(0x7) == "user write to a protected page"
    assert describe_error_code(0x4) == "user read of a not-present page"
    assert describe_error_code(0x2) == "supervisor write to a not-present page"
    assert "reserved" in describe_error_code(0xD)


def test_access_names():
    assert Access.parse("w") is Access.WRITE
    with pytest.raises(ValueError, match="access must be"):
        Access.parse("q")
