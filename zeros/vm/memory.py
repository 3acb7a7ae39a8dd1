"""The machine's virtual memory: address spaces made, faults resolved, pages cached and paged
out. Given the frame allocator and the kernel half; it hands each part only what it uses."""

from __future__ import annotations

from ..layout import LAYOUT32, Layout
from ..mm.frames import FrameAllocator
from ..mm.pagetable import KernelHalf, PageTables
from .addrspace import AddressSpace
from .fault import FaultResolver
from .fork import copy_space
from .objects import PageCache
from .pagefile import PageFile


class VirtualMemory:
    def __init__(self, frames: FrameAllocator, kernel: KernelHalf, fmt, page_file_size: int,
                 layout: Layout = LAYOUT32):
        self.frames = frames
        self.layout = layout
        self.kernel = kernel
        self.fmt = fmt
        self.pagefile = PageFile(frames, page_file_size)
        if self.pagefile.slots:
            frames.on_exhausted = self.pagefile.evict_one
        self.resolver = FaultResolver(frames, self.pagefile)
        self.cache = PageCache(frames)

    @property
    def zero_page(self) -> int:
        return self.resolver.zero_page

    @property
    def alarms(self) -> list[tuple[int, int]]:
        return self.resolver.alarms

    @property
    def files(self):
        return self.cache.files

    def resolve(self, space: AddressSpace, va: int, write: bool, present: bool) -> bool:
        return self.resolver.resolve(space, va, write, present)

    def new_space(self, pid: int) -> AddressSpace:
        tables = PageTables(self.frames, pid, self.fmt, self.kernel)
        return AddressSpace(self.frames, pid, tables, self.resolver.resolve,
                            self.pagefile.release, self.layout)

    def fork_space(self, parent: AddressSpace, pid: int) -> AddressSpace:
        """A new space for ``pid`` holding a copy-on-write copy of ``parent``."""
        child = self.new_space(pid)
        try:
            copy_space(parent, child, self.pagefile)
        except BaseException:
            child.destroy()
            raise
        return child

    def close(self) -> None:
        self.pagefile.close()
