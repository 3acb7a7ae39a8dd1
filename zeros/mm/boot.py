"""Boot: the kernel half of every address space, and the GDT.

The kernel half maps all of physical RAM (up to 1 GiB) at KERNEL_BASE + pa, supervisor-only,
read-write, global (G), through tables made once here (:func:`build_kernel_half`). Every new
top table copies their entries, so the kernel's tables are shared, never duplicated.
"""

from __future__ import annotations

from emu.cpu import Cpu
from emu.paging import X86_32, PagingFormat

from ..layout import LAYOUT32, MAX_DIRECT_MAP, Layout
from .frames import KERNEL, FrameAllocator, FrameKind
from .pagetable import KernelHalf, build_kernel_half


class Kernel:
    """What boot made: the GDT frame and the shared kernel half."""

    def __init__(self, cpu: Cpu, frames: FrameAllocator, fmt: PagingFormat = X86_32,
                 layout: Layout = LAYOUT32):
        self.fmt = fmt
        self.layout = layout
        self.gdt_pa = frames.alloc(KERNEL, FrameKind.GDT, "GDT")
        self.direct_map_size = min(frames.ram.size, MAX_DIRECT_MAP)
        self.half: KernelHalf = build_kernel_half(frames, fmt, layout.kernel_base,
                                                  self.direct_map_size)
        cpu.install_gdt(self.gdt_pa, layout.kernel_va(self.gdt_pa))

    @property
    def page_tables(self) -> tuple[int, ...]:
        return self.half.tables

    @property
    def direct_map_end(self) -> int:
        return self.layout.kernel_base + self.direct_map_size
