"""Physical RAM: one anonymous host mapping, handed to Unicorn at physical address 0.

The host reads and writes it in place (no copies through Unicorn), so whatever the host
writes is what the emulated CPU sees at the same physical address, and the other way round.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
import threading

from .errors import PhysicalAddressError
from .mmu import PAGE_SIZE

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
ZERO_PAGE = bytes(PAGE_SIZE)
MADV_POPULATE_WRITE = 23  # Linux 5.14+
PREFAULT_CHUNK = 4 << 20


class PhysicalMemory:
    """``size`` bytes of RAM at physical addresses 0..size-1, zero-filled."""

    def __init__(self, size: int, prefault: bool = True):
        """``prefault``: back every page with host memory in a background thread (the host
        kernel's first-touch fault otherwise lands in the middle of each guest page fault)."""
        if size <= 0 or size % PAGE_SIZE:
            raise ValueError(f"RAM size must be a positive multiple of 4 KiB, not {size:#x}")
        self.size = size
        self._map = mmap.mmap(-1, size)
        self.view = memoryview(self._map)
        self._anchor = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._anchor)  # host pointer, for mem_map_ptr
        self._stop = threading.Event()
        self._prefaulter = None
        if prefault:
            self._prefaulter = threading.Thread(target=self._prefault, name="zeros-ram",
                                                daemon=True)
            self._prefaulter.start()

    def _prefault(self) -> None:
        """madvise(MADV_POPULATE_WRITE) chunk by chunk, through ctypes so that the GIL is
        released and the work happens on another core. Best effort: any error ends it."""
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            madvise = libc.madvise
            madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        except (OSError, AttributeError):
            return
        for offset in range(0, self.size, PREFAULT_CHUNK):
            if self._stop.is_set():
                return
            if madvise(self.address + offset, min(PREFAULT_CHUNK, self.size - offset),
                       MADV_POPULATE_WRITE):
                return  # an older kernel: pages will be backed on first touch

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

    def read_u64(self, pa: int) -> int:
        if pa < 0 or pa + 8 > self.size:
            raise PhysicalAddressError(pa, 8, self.size)
        return _U64.unpack_from(self._map, pa)[0]

    def write_u64(self, pa: int, value: int) -> None:
        if pa < 0 or pa + 8 > self.size:
            raise PhysicalAddressError(pa, 8, self.size)
        _U64.pack_into(self._map, pa, value)

    def reader(self, entry_size: int):
        """The function reading one paging entry of ``entry_size`` bytes."""
        return self.read_u32 if entry_size == 4 else self.read_u64

    def table_reader(self, entry_size: int):
        """(pa, count) -> that many entries of ``entry_size`` bytes, read in one unpack."""
        code = "I" if entry_size == 4 else "Q"

        def read(pa: int, count: int) -> tuple:
            self._check(pa, count * entry_size)
            return struct.unpack_from(f"<{count}{code}", self._map, pa)
        return read

    def zero(self, pa: int, n: int = PAGE_SIZE) -> None:
        self._check(pa, n)
        if n == PAGE_SIZE:
            self._map[pa:pa + n] = ZERO_PAGE
        else:
            self._map[pa:pa + n] = bytes(n)

    def close(self) -> None:
        """Release the host mapping; only once nothing (Unicorn included) uses it."""
        if self._prefaulter is not None:
            self._stop.set()
            self._prefaulter.join()
        self.view.release()
        del self._anchor
        self._map.close()
