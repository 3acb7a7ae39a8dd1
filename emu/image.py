"""What a loader maps: an entry point and segments with their protections."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Segment:
    va: int  # first byte (need not be page aligned for ELF segments)
    data: bytes  # initialised bytes; the rest up to memsz is zero (bss)
    memsz: int
    read: bool = True
    write: bool = False
    execute: bool = False
    name: str = ""
    offset: int | None = None  # where ``data`` starts in the file (ELF), for /proc/PID/maps

    @property
    def end(self) -> int:
        return self.va + self.memsz

    @property
    def perms(self) -> str:
        return ("r" if self.read else "-") + ("w" if self.write else "-") + \
            ("x" if self.execute else "-")


@dataclass(frozen=True)
class Image:
    entry: int
    segments: tuple[Segment, ...]
    kind: str  # "elf" or "asm"
    source: str = "<bytes>"
    phdr: int | None = None  # where the program headers are mapped (AT_PHDR), for ELF
    phent: int = 0
    phnum: int = 0
    bits: int = 32  # 64: an x86-64 program (long mode, 4-level paging)
    relocatable: bool = False  # a static-pie: an OS may place it elsewhere (rebased)

    def rebased(self, delta: int) -> Image:
        """The same program ``delta`` bytes higher (a page multiple)."""
        return replace(self, entry=self.entry + delta,
                       segments=tuple(replace(s, va=s.va + delta) for s in self.segments),
                       phdr=None if self.phdr is None else self.phdr + delta)

    @property
    def start(self) -> int:
        """The lowest byte of the lowest segment."""
        return min((s.va for s in self.segments), default=self.entry)

    @property
    def end(self) -> int:
        """First byte after the highest segment (the program break starts above it)."""
        return max((s.end for s in self.segments), default=self.entry)
