"""Virtual memory without a Machine: frames, page tables, a page file and the fault resolver,
each built from its own collaborators (no CPU involved)."""

from dataclasses import dataclass

import pytest

from emu.paging import X86_32
from emu.ram import PhysicalMemory
from zeros.layout import KERNEL_BASE
from zeros.mm.frames import FrameAllocator
from zeros.mm.pagetable import PageTables, build_kernel_half
from zeros.vm.addrspace import AddressSpace
from zeros.vm.fault import FaultResolver
from zeros.vm.pagefile import PageFile


@dataclass
class Parts:
    frames: FrameAllocator
    pagefile: PageFile
    resolver: FaultResolver
    half: object

    def space(self, pid: int) -> AddressSpace:
        tables = PageTables(self.frames, pid, X86_32, self.half)
        return AddressSpace(self.frames, pid, tables, self.resolver.resolve,
                            self.pagefile.release)

    def fault(self, space, va, write=False):
        """What the CPU's fault would do: resolve at va with the entry's present bit."""
        present = bool(space.tables.entry(va) & 1)
        return self.resolver.resolve(space, va, write, present)


def make_parts(ram: int = 2 << 20, page_file: int = 0) -> Parts:
    frames = FrameAllocator(PhysicalMemory(ram, prefault=False))
    half = build_kernel_half(frames, X86_32, KERNEL_BASE, ram)
    pagefile = PageFile(frames, page_file)
    if pagefile.slots:
        frames.on_exhausted = pagefile.evict_one
    return Parts(frames, pagefile, FaultResolver(frames, pagefile), half)


@pytest.fixture
def parts():
    made = make_parts()
    yield made
    made.pagefile.close()
    made.frames.ram.close()
