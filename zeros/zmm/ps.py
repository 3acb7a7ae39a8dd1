"""``ps`` in the ZerOS style: one row per program, and a long form with each heap and shed.

::

    PID    NAME          STATUS   HEAPS SHEDS TOTAL_HEAP TOTAL_SHED
    1234   MyApp         memory       1     1       1024        512
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..proc.process import Process
    from .manager import MemoryManager

HEADER = ("PID", "NAME", "STATUS", "HEAPS", "SHEDS", "TOTAL_HEAP", "TOTAL_SHED")


def ps_data(processes: dict[int, Process], manager: MemoryManager | None,
            pid: int | None = None, everything: bool = False) -> list[dict]:
    """Rows (JSON-ready) for live processes and programs; ``everything`` adds finished ones.
    ``manager``: the MemoryManager, when it was started (its heaps and sheds)."""
    rows = []
    for number, proc in sorted(processes.items()):
        if pid is not None and number != pid:
            continue
        if not everything and not proc.alive:
            continue
        heaps = [h.stats() for h in manager.heaps(number).values()] if manager else []
        sheds = [s.stats() for s in manager.sheds(number).values()] if manager else []
        status = proc.state if proc.context is not None or proc.path else "memory"
        rows.append({"pid": number, "name": proc.name, "status": status,
                     "heaps": heaps, "sheds": sheds,
                     "totalHeap": sum(h["heapSize"] for h in heaps),
                     "totalShed": sum(s["shedSize"] for s in sheds)})
    return rows


def ps_text(rows: list[dict], long: bool = False) -> str:
    widths = (6, 14, 8, 5, 5, 10, 10)
    out = [_line(HEADER, widths)]
    for row in rows:
        out.append(_line((row["pid"], row["name"], row["status"], len(row["heaps"]),
                          len(row["sheds"]), row["totalHeap"], row["totalShed"]), widths))
        if long:
            for h in row["heaps"]:
                out.append(f"  heap {h['heapId']}: size={h['heapSize']} used={h['heapUsed']} "
                           f"free={h['heapFree']} at {h['address']:#010x}")
            for s in row["sheds"]:
                out.append(f"  shed {s['shedId']}: size={s['shedSize']} code={s['codeSize']} "
                           f"resources={s['resources']} at {s['codeAddress']:#010x}")
    if len(rows) > 1:
        out.append(_line(("TOTAL", "", "", sum(len(r["heaps"]) for r in rows),
                          sum(len(r["sheds"]) for r in rows),
                          sum(r["totalHeap"] for r in rows),
                          sum(r["totalShed"] for r in rows)), widths))
    return "\n".join(out) + "\n"


def _line(cells, widths) -> str:
    pid, name, status, *numbers = cells
    text = f"{str(pid):<{widths[0]}} {str(name)[:widths[1]]:<{widths[1]}} {status:<{widths[2]}}"
    for value, width in zip(numbers, widths[3:], strict=True):
        text += f" {str(value):>{width}}"
    return text.rstrip()
