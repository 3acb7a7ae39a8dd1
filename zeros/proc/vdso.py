"""[vvar] and [vdso]: kernel data and code a guest uses without a trap.

[vvar] is one read-only user page per process, right below the vDSO (the layout's
vvar_base: 0xbfffe000, or 0x7fffffffd000 for x86-64)::

    +0x00  u32  pid                    +0x04  u32  page size (4096)
    +0x08  u64  milliseconds since the machine booted
    +0x10  u32  scheduler slices so far
    +0x18  u64  time-stamp counter at the last update
    +0x20  u64  CLOCK_REALTIME at the last update, in nanoseconds
    +0x28  u64  CLOCK_MONOTONIC at the last update, in nanoseconds
    +0x30  u32  nanoseconds per TSC tick, 32.32 fixed point (0: time moves at updates only)

The kernel updates it before the process runs and at kernel entries; the vDSO interpolates
from there with ``rdtsc``, as Linux's does.

[vdso] is one read-only executable page, one frame for everyone: an ELF shared object
(``linux-gate.so.1``; for x86-64 processes ``linux-vdso.so.1``, ELFCLASS64, whose functions
are ``__vdso_clock_gettime``, ``__vdso_gettimeofday``, ``__vdso_time``, ``__vdso_getcpu`` and
``__vdso_clock_getres`` at LINUX_2.6) with a dynamic section, a SysV hash table and symbol
versions, so that glibc and musl find their functions in it, as they do on Linux. The
images are built by :mod:`.vdso_image`. For i386::

    __kernel_vsyscall       LINUX_2.5   int 0x80; ret (AT_SYSINFO points here)
    __kernel_sigreturn      LINUX_2.5   __kernel_rt_sigreturn   LINUX_2.5
    __vdso_clock_gettime    LINUX_2.6   __vdso_clock_gettime64  LINUX_2.6
    __vdso_gettimeofday     LINUX_2.6   __vdso_time             LINUX_2.6
    __vdso_clock_getres     LINUX_2.6

and ZerOS's own, at fixed addresses (``include/syscalls.inc``): VDSO_GETPID (EAX = pid),
VDSO_CLOCK_MS (EDX:EAX = milliseconds since boot), VDSO_PAGE_SIZE (EAX = 4096).
"""

from __future__ import annotations

import base64
import struct
import sys
import textwrap
import zlib
from pathlib import Path

from emu.mmu import PAGE_SIZE, Pte

from ..layout import Layout
from ..mm.frames import KERNEL, FrameAllocator, FrameKind
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, RegionKind
from .clock import Clock
from .vdso_image import VV_MS, VV_TSC, build_image

_USER_RO = int(Pte.US)


def vdso_image(bits: int = 32) -> tuple[bytes, dict[str, int]]:
    """The [vdso] page and its symbols' offsets, as built into ``vdso_built.py`` (start-up
    need not assemble it: ``python -m zeros.proc.vdso`` rebuilds that file, and a test
    checks that it matches the source)."""
    from . import vdso_built
    image, symbols = (vdso_built.IMAGE64, vdso_built.SYMBOLS64) if bits == 64 else \
        (vdso_built.IMAGE, vdso_built.SYMBOLS)
    return zlib.decompress(base64.b64decode(image)), dict(symbols)


class Vdso:
    def __init__(self, frames: FrameAllocator, clock: Clock | None = None):
        self.frames = frames
        self.clock = clock or Clock()
        self.ticks = 0
        self._images: dict[int, tuple[int, dict[str, int]]] = {}  # bits -> (frame, symbols)
        self.frame = self._image(32)[0]

    def _image(self, bits: int) -> tuple[int, dict[str, int]]:
        """The frame holding the image for ``bits`` (made the first time it is needed)."""
        if bits not in self._images:
            image, symbols = vdso_image(bits)
            frame = self.frames.alloc(KERNEL, FrameKind.VDSO, "[vdso]", executable=True)
            self.frames.ram.write(frame, image)
            self._images[bits] = (frame, symbols)
        return self._images[bits]

    @property
    def image_frames(self) -> list[int]:
        """The frames holding vDSO images (the kernel's: one per kind of process)."""
        return [frame for frame, _ in self._images.values()]

    @property
    def symbols(self) -> dict[str, int]:
        return self._images[32][1]

    def address(self, name: str, layout: Layout | None = None) -> int:
        """Where ``name`` is in a process with ``layout`` (default: a 32-bit one)."""
        if layout is None or layout.word == 4:
            return 0xBFFFF000 + self._images[32][1][name]
        return layout.vdso_base + self._image(64)[1][name]

    def setup(self, space: AddressSpace) -> None:
        """Give a new address space its [vvar] page and the shared [vdso] page."""
        self.add_vvar(space)
        base = space.layout.vdso_base
        frame = self._image(8 * space.layout.word)[0]
        region = space.add_region(base, base + PAGE_SIZE, Prot.READ | Prot.EXEC,
                                  RegionKind.VDSO, "[vdso]", demand=False)
        space.map_frame(region.start, frame, _USER_RO)

    def add_vvar(self, space: AddressSpace) -> None:
        base = space.layout.vvar_base
        region = space.add_region(base, base + PAGE_SIZE, Prot.READ, RegionKind.VVAR,
                                  "[vvar]", demand=False)
        pa = space.map_new(region.start, region)
        self.frames.info(pa).kind = FrameKind.VVAR  # the kernel writes it: never paged out
        self.frames.ram.write(pa, struct.pack("<II", space.pid, PAGE_SIZE))
        self._write_clock(pa)

    def update(self, space: AddressSpace) -> None:
        """Refresh the clock in a process's [vvar] (before it runs, and at kernel entries)."""
        pte = space.tables.entry(space.layout.vvar_base)
        if pte & 1:
            self._write_clock(pte & space.fmt.addr_mask)

    def _write_clock(self, pa: int) -> None:
        counter, real, mono, mult = self.clock.sample()
        self.frames.ram.write(pa + VV_MS, struct.pack("<QI", mono // 1_000_000, self.ticks))
        self.frames.ram.write(pa + VV_TSC, struct.pack("<QQQI", counter, real, mono, mult))


BUILT = Path(__file__).with_name("vdso_built.py")


def write_built(path: Path = BUILT) -> None:
    """Rebuild ``vdso_built.py`` from the source (after changing the vDSO)."""
    parts = []
    for suffix, bits in (("", 32), ("64", 64)):
        image, symbols = build_image(bits)
        encoded = base64.b64encode(zlib.compress(image, 9)).decode()
        body = "\n".join(f'    "{line}"' for line in textwrap.wrap(encoded, 88))
        entries = "".join(f"    {name!r}: {offset:#x},\n"
                          for name, offset in sorted(symbols.items()))
        parts.append(f"IMAGE{suffix} = (\n{body}\n)\nSYMBOLS{suffix} = {{\n{entries}}}\n")
    path.write_text('"""The [vdso] pages, built by ``python -m zeros.proc.vdso`` from the sources '
                    'in vdso_image.py\n(a test checks they agree). Generated: do not edit."""\n\n'
                    + "\n".join(parts))


if __name__ == "__main__":
    write_built()
    sys.exit(0)
