"""What every view is: a name, data (JSON-ready) and text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str
    data: object  # dicts, lists, ints and strings only
    text: str

    def to_json(self) -> dict:
        return {"view": self.name, "data": self.data}

    def __str__(self) -> str:
        return self.text


def size_text(size: int) -> str:
    """4K, 16M, 1G: sizes with units, as ptdump prints them."""
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return f"{size}B" if size < 1024 else f"{size / 1024:.1f}K"
