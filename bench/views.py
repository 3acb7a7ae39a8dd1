"""Issue 5 benchmark: the dumps of a process with 1 GiB mapped (262,144 present entries).

    python bench/views.py

The GiB is a read-only private anonymous mapping populated with MAP_POPULATE: every entry
present, all on the zero page (one frame), so it fits in a small RAM. Target: each dump
well under a second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zeros import Machine  # noqa: E402
from zeros.abi.linux.mman import MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE  # noqa: E402
from zeros.views import frames_view, maps_view, pagetables_view, pmap_view, tlb_view, walk_view  # noqa: E402
from zeros.views.picture import address_space_svg  # noqa: E402


def main() -> None:
    with Machine(ram_size=16 << 20) as m:
        pid = m.spawn(b"l: jmp l")
        start = time.perf_counter()
        va = m.linux.mmap(pid, 0, 1 << 30, 1, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)
        setup = time.perf_counter() - start
        space = m.process(pid).space
        print(f"1 GiB at {va:#010x}: {space.resident} present entries in "
              f"{space.tables.table_count} page tables, made in {setup:.2f} s")
        for name, make in (("walk", lambda: walk_view(m, pid, va + 12345)),
                           ("pagetables (merged runs)", lambda: pagetables_view(m, pid)),
                           ("tlb (one line per entry)", lambda: tlb_view(m, pid)),
                           ("maps", lambda: maps_view(m, pid)),
                           ("pmap -x", lambda: pmap_view(m, pid)),
                           ("frames", lambda: frames_view(m)),
                           ("picture (SVG)", lambda: address_space_svg(m))):
            start = time.perf_counter()
            view = make()
            took = time.perf_counter() - start
            lines = (view if isinstance(view, str) else view.text).count("\n")
            print(f"  {name:<28} {took * 1e3:8.1f} ms  {lines} lines (target: under 1 s)")


if __name__ == "__main__":
    main()
