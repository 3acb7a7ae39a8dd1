import pytest
from hypothesis import given
from hypothesis import strategies as st

from emu.mmu import (
    Pde,
    Pte,
    decode_pde,
    decode_pte,
    entry_letters,
    flag_letters,
    join,
    make_entry,
    make_large_pde,
    split,
)


@given(st.integers(0, 2**32 - 1))
def test_split_join_round_trip(va):
    d, t, o = split(va)
    assert 0 <= d < 1024 and 0 <= t < 1024 and 0 <= o < 4096
    assert join(d, t, o) == va


@given(st.integers(0, 2**20 - 1), st.integers(0, 0xFFF))
def test_pte_encode_decode_round_trip(frame, flags):
    entry = make_entry(frame << 12, flags)
    assert decode_pte(entry) == (frame << 12, Pte(flags))


@given(st.integers(0, 1023), st.integers(0, 0x1FFF).filter(lambda f: not f & 0x80))
def test_large_pde_round_trip(frame, flags):
    entry = make_large_pde(frame << 22, flags & 0x11FF)
    pa, decoded = decode_pde(entry)
    assert pa == frame << 22 and decoded & Pde.PS


def test_encoders_refuse_bad_input():
    with pytest.raises(ValueError, match="aligned"):
        make_entry(0x1234, 0)
    with pytest.raises(ValueError, match="spill"):
        make_entry(0x1000, 0x1000)
    with pytest.raises(ValueError, match="4 MiB aligned"):
        make_large_pde(0x1000, 0)


def test_flag_letters_bochs_style():
    assert flag_letters(0x067) == "g pat D A pcd pwt U W P"
    assert entry_letters("PDE", 0x004001E7) == "PS G pat D A pcd pwt U W P"
    # bit 12 of a PDE that points at a page table is an address bit, not PAT
    assert entry_letters("PDE", 0x0012D027) == "ps g d A pcd pwt U W P"
