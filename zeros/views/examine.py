"""Hex and ASCII dumps: virtual memory through one process's walk (``x``), and physical
memory (``xp``). A page that does not translate shows as ``??`` with the reason; nothing is
faulted in."""

from __future__ import annotations

from emu.errors import EmuError
from emu.mmu import PAGE_MASK, PAGE_SIZE
from emu.walk import walk

from .base import View

UNITS = {1: "b", 2: "h", 4: "w", 8: "g"}


def _lines(base: int, data: list[int | None], unit: int, width: int = 16) -> list[str]:
    lines = []
    for row in range(0, len(data), width):
        chunk = data[row:row + width]
        cells = []
        for k in range(0, len(chunk), unit):
            group = chunk[k:k + unit]
            if any(b is None for b in group):
                cells.append("??" * unit)
            else:
                cells.append(int.from_bytes(bytes(group), "little").to_bytes(unit, "big").hex())
        text = "".join("." if b is None or not 32 <= b < 127 else chr(b) for b in chunk)
        lines.append(f"{base + row:#010x}: {' '.join(cells):<{(2 * unit + 1) * (width // unit)}}"
                     f" |{text}|")
    return lines


def x_view(machine, pid: int, va: int, size: int = 64, unit: int = 1) -> View:
    if unit not in UNITS:
        raise ValueError(f"unit must be 1, 2, 4 or 8 bytes, not {unit}")
    space = machine.process(pid).space
    cr3, fmt, read = space.cr3, space.fmt, machine.ram.reader(space.fmt.entry_size)
    data: list[int | None] = []
    holes = []
    address = va
    while address < va + size:
        step = min(PAGE_SIZE - (address & PAGE_MASK), va + size - address)
        w = walk(read, cr3, address, "r", user=True, fmt=fmt)
        if w.fault is None:
            data += list(machine.ram.read(w.pa, step))
        else:
            data += [None] * step
            holes.append({"va": address, "reason": w.fault.reason})
        address += step
    lines = _lines(va, data, unit)
    lines += [f"  ?? at {h['va']:#010x}: {h['reason']}" for h in holes]
    return View("x", {"pid": pid, "address": va, "size": size, "unit": unit,
                      "bytes": [b for b in data], "holes": holes}, "\n".join(lines) + "\n")


def xp_view(machine, pa: int, size: int = 64, unit: int = 1) -> View:
    if unit not in UNITS:
        raise ValueError(f"unit must be 1, 2, 4 or 8 bytes, not {unit}")
    try:
        raw = list(machine.ram.read(pa, size))
    except EmuError as error:
        raise ValueError(str(error)) from None
    return View("xp", {"address": pa, "size": size, "unit": unit, "bytes": raw},
                "\n".join(_lines(pa, raw, unit)) + "\n")
