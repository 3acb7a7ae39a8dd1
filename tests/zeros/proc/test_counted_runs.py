"""After a counted run (Machine.resume, an instruction budget, gdb), an uncounted run goes on
at full speed and correctly, even when the code the counting instrumented is paged out.

Unicorn 2.1.4 drops its counting hook by translating the instrumented addresses through the
current page tables; a page not present there used to raise a #PF that no hook saw, after
which the process's runs ended at once forever (docs/unicorn.md). The CPU now drops the
hook with paging off."""

from __future__ import annotations

import pytest

from zeros import Machine

from ...conftest import gcc_static
from ..snapshot.test_snapshot import HERE as SNAPSHOT_HERE


@pytest.mark.parametrize("paging", ["32", "pae", "4-level"])
def test_a_free_run_after_a_counted_one_while_swapping(tmp_path, paging):
    wide = paging == "4-level"  # (paging off, in long mode, leaves it for the empty run)
    gcc_static(SNAPSHOT_HERE / "forks_maps_swaps.c", tmp_path / "fms", "-m64" if wide else
               "-m32", "-O1")
    with Machine(ram_size=4 << 20, root=str(tmp_path), seed=1, paging=paging) as m:
        out = []
        m.on_output = lambda proc, fd, data: out.append(data)
        pid = m.spawn(str(tmp_path / "fms"), argv=["fms"])
        m.resume(3_000_000)  # counted: after the fork, pages of both going to the page file
        assert m.cpu.counting and m.pagefile.used_slots > 0
        results = m.run(timeout=120)
        assert not m.cpu.counting  # the rest was not counted (ten times faster)
        assert results[pid].exit_code == 0, results[pid].message
        assert b"child status 5, file again" in b"".join(out)
        assert all(r.exit_code is not None and r.signal is None for r in results.values())
        m.check()


def test_counted_slices_then_a_free_run_print_what_a_free_run_prints(tmp_path):
    gcc_static(SNAPSHOT_HERE / "forks_maps_swaps.c", tmp_path / "fms", "-m32", "-O1")
    outputs = []
    for slices in (0, 5):
        with Machine(ram_size=4 << 20, root=str(tmp_path), seed=1) as m:
            out = []
            m.on_output = lambda proc, fd, data, out=out: out.append(b"%d:" % proc.pid + data)
            pid = m.spawn(str(tmp_path / "fms"), argv=["fms"])
            for _ in range(slices):
                m.resume(400_000)
            results = m.run(timeout=120)
            assert results[pid].exit_code == 0, results[pid].message
            assert not m.cpu.counting
            outputs.append(sorted(b"".join(out).splitlines()))  # (processes interleave)
            m.check()
    assert outputs[0] == outputs[1]
