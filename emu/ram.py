"""Physical RAM: one anonymous host mapping, handed to Unicorn at physical address 0.

The host reads and writes it in place (no copies through Unicorn), so whatever the host
writes is what the emulated CPU sees at the same physical address, and the other way round.
"""

from __future__ import annotations

import ctypes
import mmap
import struct

from .errors import PhysicalAddressError
from .mmu import PAGE_SIZE

_U32 = struct.Struct("<I")
ZERO_PAGE = bytes(PAGE_SIZE)


class PhysicalMemory:
    """``size`` bytes of RAM at physical addresses 0..size-1, zero-filled."""

    def __init__(self, size: int):
        if size <= 0 or size % PAGE_SIZE:
            raise ValueError(f"RAM size must be a positive multiple of 4 KiB, not {size:#x}")
        self.size = size
        self._map = mmap.mmap(-1, size)
        self.view = memoryview(self._map)
        self._anchor = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._anchor)  # host pointer, for mem_map_ptr

    @property
    def frames(self) -> int:
        return self.size // PAGE_SIZE

    def _check(self, pa: int, n: int) -> None:
        if pa < 0 or n < 0 or pa + n > self.size:
            raise PhysicalAddressError(pa, n, self.size)

    def read(self, pa: int, n: int) -> bytes:
        self._check(pa, n)
        return self._map[pa:pa + n]

    def write(self, pa: int, data: bytes) -> None:
        self._check(pa, len(data))
        self._map[pa:pa + len(data)] = data

    def read_u32(self, pa: int) -> int:
        if pa < 0 or pa + 4 > self.size:
            raise PhysicalAddressError(pa, 4, self.size)
        return _U32.unpack_from(self._map, pa)[0]

    def write_u32(self, pa: int, value: int) -> None:
        if pa < 0 or pa + 4 > self.size:
            raise PhysicalAddressError(pa, 4, self.size)
        _U32.pack_into(self._map, pa, value)

    def zero(self, pa: int, n: int = PAGE_SIZE) -> None:
        self._check(pa, n)
        if n == PAGE_SIZE:
            self._map[pa:pa + n] = ZERO_PAGE
        else:
            self._map[pa:pa + n] = bytes(n)

    def close(self) -> None:
        """Release the host mapping; only once nothing (Unicorn included) uses it."""
        self.view.release()
        del self._anchor
        self._map.close()
