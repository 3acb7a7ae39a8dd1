"""Syscall numbers, read from the guests' header ``include/syscalls.inc`` (one source)."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = Path(__file__).parent / "include" / "syscalls.inc"
_LINE = re.compile(r"^\s*(SYS_\w+)\s+equ\s+(\w+)", re.M)

NUMBERS: dict[str, int] = {name[4:]: int(value, 0)
                           for name, value in _LINE.findall(HEADER.read_text())}
NAMES: dict[int, str] = {number: name for name, number in NUMBERS.items()}
globals().update({f"SYS_{name}": number for name, number in NUMBERS.items()})
