"""Issue 3 benchmark: the MemoryManager from Python.

    python bench/memory_manager.py

1. allocate(64) + write_data(a 64-byte string) + read_string, in a loop on one heap:
   target >= 20k triples per second.
2. check_memory(-1) over 1000 programs, each with a heap (some blocks in use) and a shed:
   target < 100 ms.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zeros import Machine  # noqa: E402


def triples(count: int) -> float:
    with Machine(ram_size=64 << 20) as m:
        heap = m.memory_manager.allocate_memory(1, 1 << 20, -1).heap
        text = "x" * 63
        start = time.perf_counter()
        for _ in range(count):
            address = heap.allocate(64)
            heap.write_data(address, text)
            if heap.read_string(address, 64) != text:
                raise SystemExit("read back something else")
        return count / (time.perf_counter() - start)


def check_memory(programs: int, repeat: int = 5) -> tuple[float, float]:
    with Machine(ram_size=256 << 20) as m:
        mm = m.memory_manager
        start = time.perf_counter()
        for pid in range(1, programs + 1):
            memory = mm.allocate_memory(pid, 1024, 64)
            memory.heap.allocate(100)
            memory.heap.allocate(28)
        setup = time.perf_counter() - start
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            info = mm.check_memory(-1)
            best = min(best, time.perf_counter() - start)
        assert info["totalPrograms"] == programs + 1  # and Exploit
        return best, setup


def main() -> None:
    rates = [triples(20000) for _ in range(3)]
    print(f"allocate + write_data + read_string, 64-byte strings: "
          f"{max(rates) / 1e3:.1f}k triples/s (best of 3: "
          f"{', '.join(f'{r / 1e3:.1f}k' for r in rates)}; target >= 20k)")
    best, setup = check_memory(1000)
    print(f"check_memory(-1) over 1000 programs: {best * 1e3:.1f} ms (best of 5; target "
          f"< 100 ms); making the 1000 programs took {setup:.2f} s")


if __name__ == "__main__":
    main()
