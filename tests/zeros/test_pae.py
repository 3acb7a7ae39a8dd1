"""PAE paging for i386 guests (``Machine(paging="pae")``, ``zeros run --paging pae``): three
levels of 64-bit entries, and NX: what the guests do is the same, except that data cannot be
run."""

import re

import pytest

from tests.conftest import ASM
from zeros import Machine
from zeros.errors import ZerosError

GUESTS = ["hello", "selfmod", "kernel_read", "stack_grow", "zeros_hello", "zeros_json",
          "zeros_exit", "heap_overflow", "shared_anon", "mincore", "virtualalloc", "scan",
          "mmap_file"]


def _run(source, paging, root):
    with Machine(ram_size=16 << 20, paging=paging, root=str(root)) as m:
        pid = m.spawn(source)
        results = m.run(timeout=20)
        main = results[pid]
        fault = (main.fault.vector, main.fault.error_code, main.fault.cr2) if main.fault else None
        return main.exit_code, main.stdout, fault, len(results)


@pytest.mark.parametrize("name", GUESTS)
def test_every_guest_does_the_same_under_pae(name, tmp_path):
    outcomes = []
    for paging in ("32", "pae"):
        root = tmp_path / paging
        root.mkdir()
        (root / "test.txt").write_text("Hello as an initial sentence here.\n")
        outcomes.append(_run(ASM / f"{name}.asm", paging, root))
    # check_memory names the top table and counts the tables: those differ by design
    same = [(code, re.sub(rb'"(cr3|pageTableFrames)": \d+', b"", out), fault, n)
            for code, out, fault, n in outcomes]
    assert same[0] == same[1]


JUMP_INTO_DATA = """
    mov eax, data
    jmp eax
section .data
data: db 0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80   ; mov eax, 1; xor ebx, ebx; int 0x80
"""


def test_running_data_is_a_fetch_fault_under_pae_only(tmp_path):
    code, _, fault, _ = _run(JUMP_INTO_DATA.encode(), "32", tmp_path)
    assert code == 0 and fault is None  # no NX bit in 32-bit paging: the data runs
    with Machine(ram_size=16 << 20, paging="pae") as m:
        pid = m.spawn(JUMP_INTO_DATA.encode())
        result = m.run(timeout=10)[pid]
    assert result.signal_name == "SIGSEGV"
    assert result.fault.error_code == 0x15  # P|U|I/D: a user fetch from a present page
    assert result.fault.cr2 == result.fault.eip
    assert "instruction fetch from a no-execute page" in result.fault.report


def test_the_walk_has_three_levels_and_nx(machine_pae):
    m, pid = machine_pae
    w = m.translate(pid, 0x08048000, access="x")
    assert [s.level for s in w.steps] == ["PDPTE", "PDE", "PTE"] and w.ok
    stack = m.translate(pid, 0xBF7FF000, access="x")
    assert stack.fault is not None and stack.fault.error_code == 0x15
    assert m.translate(pid, 0xBF7FF000, access="w").ok
    assert m.cr3(pid) % 32 == 0


def test_mprotect_exec_clears_nx_and_back(machine_pae):
    m, pid = machine_pae
    va = m.linux.mmap(pid, 0, 4096, 3, 0x22)  # rw-, private anonymous
    m.write_virt(pid, va, b"\xc3")
    assert m.translate(pid, va, access="x").fault.error_code == 0x15
    m.linux.mprotect(pid, va, 4096, 5)  # r-x
    assert m.translate(pid, va, access="x").ok
    m.linux.mprotect(pid, va, 4096, 3)
    assert m.translate(pid, va, access="x").fault is not None


@pytest.fixture
def machine_pae():
    with Machine(ram_size=16 << 20, paging="pae") as m:
        pid = m.spawn(b"l: jmp l")
        yield m, pid


def test_an_unknown_paging_mode_is_a_clear_error():
    with pytest.raises(ZerosError, match="paging must be one of 32, pae, 4-level"):
        Machine(ram_size=4 << 20, paging="64")


def test_the_seed_example_walked_under_pae(golden):
    """0x12345678 under PAE: PDPTE index 0, PDE index 0x91, PTE index 0x145, offset 0x678
    (the 32-bit split is 0x48, 0x345, 0x678); its page is data, so its PTE has XD."""
    from zeros.views import walk_view
    shown = []
    with Machine(ram_size=16 << 20, paging="pae") as m:
        pid = m.spawn(ASM / "seed_walk.asm")
        m.breakpoint_handlers.append(lambda proc: shown.append(
            walk_view(m, proc.pid, 0x12345678)))
        assert m.run(timeout=10)[pid].exit_code == 0
    view = shown[0]
    assert (view.data["pdpte_index"], view.data["pde_index"], view.data["pte_index"]) == \
        (0, 0x91, 0x145)
    assert view.text.splitlines()[3].startswith("PTE:   0x8000")  # NX: bit 63
    golden("view_walk_pae.txt", view.text)
