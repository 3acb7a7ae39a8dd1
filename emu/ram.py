"""Physical RAM: one anonymous host mapping, handed to Unicorn at physical address 0.

The host reads and writes it in place (no copies through Unicorn), so whatever the host
writes is what the emulated CPU sees at the same physical address, and the other way round.

Host memory follows use: pages of the mapping are backed by the host when first touched.
So that a guest's page fault does not also pay the host's, a background thread populates
RAM ahead of the frame allocator, a chunk at a time (:meth:`PhysicalMemory.populate_to`);
memory the guests gave back can be returned to the host (:meth:`PhysicalMemory.discard`).
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
MADV_REMOVE = 9  # RAM is a shared anonymous mapping: this frees the memory (DONTNEED would not)
MADV_POPULATE_WRITE = 23  # Linux 5.14+
PREFAULT_CHUNK = 16 << 20
INITIAL_POPULATE = 4 << 20


def _madvise():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        return madvise
    except (OSError, AttributeError):
        return None


class PhysicalMemory:
    """``size`` bytes of RAM at physical addresses 0..size-1, zero-filled."""

    def __init__(self, size: int, prefault: bool = True):
        """``prefault``: back RAM with host memory ahead of use, in a background thread,
        so that the host kernel's first-touch fault does not land in the middle of each
        guest page fault."""
        if size <= 0 or size % PAGE_SIZE:
            raise ValueError(f"RAM size must be a positive multiple of 4 KiB, not {size:#x}")
        self.size = size
        self._map = mmap.mmap(-1, size)
        self.view = memoryview(self._map)
        self._anchor = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._anchor)  # host pointer, for mem_map_ptr
        self.populated = 0  # backed by the host up to here
        self._madvise = None  # libc's madvise, for discard (False: not available)
        self._target = 0
        self._stop = threading.Event()
        self._wanted = threading.Event()
        self._prefaulter = None
        if prefault:
            self._prefaulter = threading.Thread(target=self._prefault, name="zeros-ram",
                                                daemon=True)
            self._prefaulter.start()
            self.populate_to(INITIAL_POPULATE)

    def populate_to(self, pa: int) -> None:
        """Have the background thread back RAM with host memory up to ``pa``."""
        target = min(self.size, pa)
        if target > self._target:
            self._target = target
            self._wanted.set()

    def _prefault(self) -> None:
        """madvise(MADV_POPULATE_WRITE) a chunk at a time, through ctypes so that the GIL
        is released and the work happens on another core; then wait to be asked for more.
        Best effort: an error ends it (pages are then backed on first touch)."""
        madvise = _madvise()
        if madvise is None:
            return
        while not self._stop.is_set():
            self._wanted.wait()
            self._wanted.clear()
            while self.populated < self._target and not self._stop.is_set():
                length = min(PREFAULT_CHUNK, self._target - self.populated)
                if madvise(self.address + self.populated, length, MADV_POPULATE_WRITE):
                    return
                self.populated += length

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

    def discard(self, pa: int, n: int) -> bool:
        """Give the host memory behind [pa, pa + n) back (page aligned): it reads as zeros
        from then on, and is backed again when next touched. False if the host refused."""
        self._check(pa, n)
        if self._madvise is None:
            self._madvise = _madvise() or False
        return bool(self._madvise) and self._madvise(self.address + pa, n, MADV_REMOVE) == 0

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
            self._wanted.set()
            self._prefaulter.join()
        self.view.release()
        del self._anchor
        self._map.close()
