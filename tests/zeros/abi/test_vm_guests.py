"""The virtual-memory guest programs of asm/, with golden outputs."""

import pytest

from tests.conftest import ASM
from zeros import Machine


@pytest.fixture
def root(tmp_path):
    (tmp_path / "test.txt").write_text("Hello as an initial sentence here.\n")
    return tmp_path


def run(program, root, **machine_args):
    with Machine(ram_size=16 << 20, root=str(root), **machine_args) as m:
        pid = m.spawn(ASM / program)
        results = m.run(timeout=20)
        return results, pid, m.pagefile.page_outs


def test_mmap_file_writes_reach_the_host_file(root, golden):
    results, pid, _ = run("mmap_file.asm", root)
    assert results[pid].exit_code == 0, results[pid].message
    assert (root / "test.txt").read_text() == "Hello, mmap!initial sentence here.\n"
    assert results[pid].major_faults == 1  # the file page was read in
    golden("mmap_file.stdout", results[pid].stdout.decode())


def test_shared_anonymous_memory_between_parent_and_child(root, golden):
    results, pid, _ = run("shared_anon.asm", root)
    parent = results[pid]
    assert parent.stdout == b"shared contents: Hello, Shared Memory!\n"
    child = [r for p, r in results.items() if p != pid]
    assert len(child) == 1 and child[0].exit_code == 0 and child[0].stdout == b""
    golden("shared_anon.stdout", parent.stdout.decode())


def test_mincore_after_touching_some_pages(root, golden):
    results, pid, _ = run("mincore.asm", root)
    assert results[pid].stdout == b"resident pages: 1001000100000001\n"
    golden("mincore.stdout", results[pid].stdout.decode())


def test_virtualalloc_pages_read_as_zero(root, golden):
    results, pid, _ = run("virtualalloc.asm", root)
    assert results[pid].exit_code == 0
    assert results[pid].minor_faults >= 0x1b  # each page arrived on first touch
    golden("virtualalloc.stdout", results[pid].stdout.decode())


def test_scan_lists_every_mapped_region(root, golden):
    results, pid, _ = run("scan.asm", root)
    lines = results[pid].stdout.decode().splitlines()
    assert lines[0].startswith("0x08048000-0x08049000")  # text
    assert "0xbf000000-0xbf7df000 state 0x00002000 protect 0x00000000" in lines  # reserved
    assert "0xbf7df000-0xbf800000 state 0x00001000 protect 0x00000004" in lines  # the stack
    assert any(line.startswith("0xbfffe000-0xbffff000") for line in lines)  # [vvar]
    assert lines[-1].startswith("0xc0000000-0xffffffff kernel")
    golden("scan.stdout", results[pid].stdout.decode())
