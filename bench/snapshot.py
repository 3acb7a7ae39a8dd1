"""Issue 13 benchmark: snapshots cheap enough to take per test.

    python bench/snapshot.py [--repeat N]

A 16 MiB machine running a few processes (asm guests: hello, the MemoryManager demo, a
guest that maps a file, one that grows its stack), each stopped part way: the time of
``snapshot()``, of ``restore()``, and of ``save()`` + ``Machine.load()`` through a file,
with the snapshot's size. Target: snapshot and restore each well under 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from zeros import Machine  # noqa: E402

ASM = HERE.parent / "asm"
GUESTS = ["hello.asm", "zeros_hello.asm", "mmap_file.asm", "stack_grow.asm", "isolation.asm"]


def machine() -> Machine:
    m = Machine(ram_size=16 << 20, root=str(ASM))
    for name in GUESTS:
        m.spawn(str(ASM / name))
    m.resume(2_000)  # part way: every process has run a little
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    take, back, files, sizes = [], [], [], []
    with machine() as m, tempfile.TemporaryDirectory() as tmp:
        alive = sum(p.alive for p in m.processes.values())
        for _ in range(args.repeat):
            start = time.perf_counter()
            snap = m.snapshot()
            take.append(time.perf_counter() - start)
            start = time.perf_counter()
            m.restore(snap)
            back.append(time.perf_counter() - start)
            sizes.append(len(snap.state) + len(snap.ram) + len(snap.pagefile))
        path = Path(tmp) / "m.zs"
        for _ in range(max(3, args.repeat // 4)):
            start = time.perf_counter()
            m.save(path)
            Machine.load(path, root=str(ASM)).close()
            files.append(time.perf_counter() - start)
        frames = m.frames.used_count
    print(f"16 MiB machine, {alive} live processes, {frames} frames in use, "
          f"snapshot {sizes[-1] / 1024:.0f} KiB (state {len(snap.state) / 1024:.0f} KiB)")
    for label, times in (("snapshot()", take), ("restore()", back),
                         ("save() + Machine.load()", files)):
        print(f"  {label:<26} median {statistics.median(times) * 1000:6.1f} ms   "
              f"min {min(times) * 1000:6.1f} ms   max {max(times) * 1000:6.1f} ms")
    print(f"  target: snapshot and restore each under 50 ms: "
          f"{'met' if max(statistics.median(take), statistics.median(back)) < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
