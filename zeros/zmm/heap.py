"""A ZerOS heap: a range of a process's virtual memory with a first-fit block allocator.

The heap's bytes live only in guest memory, in frames mapped by the process's page tables:
what the host writes with :meth:`Heap.write_data` is what the guest reads at the same
address, and the other way round. The block bookkeeping is the kernel's, kept here, as a
kernel allocator keeps its own.

Layout of one heap, inside a window of the ZerOS heap area (0x40000000-0x60000000)::

    start                       start + mapped        window end
    |  blocks (8-byte aligned)  |   not mapped: a fault, the heap's guard
    +---------------------------+----------------------------------+ guard page
    <---------- size ------>
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.mmu import PAGE_SIZE, page_up

from ..errors import HeapError

if TYPE_CHECKING:
    from ..vm.addrspace import AddressSpace
    from ..vm.regions import Region

ALIGN = 8


@dataclass(slots=True)
class Block:
    address: int
    size: int  # as requested
    key: object = None


def encode(data) -> bytes:
    """What write_data stores: bytes as they are, text as UTF-8, anything else as JSON."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    try:
        return json.dumps(data, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise HeapError(f"cannot store {type(data).__name__}: {error}") from None


class Heap:
    def __init__(self, heap_id: int, space: AddressSpace, region: Region, size: int,
                 area_end: int, guard: Region):
        self.heap_id = heap_id
        self.area_end = area_end  # the heap may grow up to here
        self.guard = guard  # the unmapped page after the heap's window
        self.on_resize = None  # called with the heap when its size changes
        self.freed = False  # its memory was given back (free_memory, or its process ended)
        self.pid = space.pid
        self.space = space
        self.region = region
        self.start = region.start
        self.size = size  # capacity in bytes; grows as allocations need
        self._blocks: dict[int, Block] = {}
        self._starts: list[int] = []  # sorted block addresses
        self._keys: dict[object, int] = {}
        self._used = 0
        self._top = 0  # offset past the highest block
        self._holes = False  # a freed block may have left a gap below _top
        self._map_to(size)

    # -- figures -------------------------------------------------------------------------

    @property
    def used(self) -> int:
        return self._used

    @property
    def available(self) -> int:
        return self.size - self._used

    @property
    def mapped(self) -> int:
        """Bytes of the heap backed by pages now."""
        return self._mapped

    @property
    def end(self) -> int:
        return self.start + self.size

    def stats(self) -> dict:
        return {"heapId": self.heap_id, "heapSize": self.size, "heapUsed": self._used,
                "heapFree": self.size - self._used, "blocks": len(self._blocks),
                "address": self.start, "mappedBytes": self._mapped}

    def blocks(self) -> list[Block]:
        return [self._blocks[a] for a in self._starts]

    # -- allocation ----------------------------------------------------------------------

    def allocate(self, size: int, key=None, *, zero: bool = True) -> int:
        """A block of ``size`` bytes, zero-filled (unless ``zero`` is False, for a caller
        that overwrites it at once); its guest virtual address."""
        self._check_alive()
        if not isinstance(size, int) or size <= 0:
            raise HeapError(f"heap {self.heap_id}: cannot allocate {size!r} bytes")
        if key is not None and key in self._keys:
            raise HeapError(f"heap {self.heap_id}: key {key!r} is already in use")
        offset = self._first_fit(size)
        if offset is None:
            self.expand(max(size + ALIGN, self.size))
            offset = self._first_fit(size)
        address = self.start + offset
        block = Block(address, size, key)
        self._blocks[address] = block
        bisect.insort(self._starts, address)
        if key is not None:
            self._keys[key] = address
        self._used += size
        self._top = max(self._top, offset + size)
        if zero:
            self.space.write(address, bytes(size))
        return address

    def _first_fit(self, size: int) -> int | None:
        """Offset of the first gap that fits; above the last block when there is no gap."""
        if self._holes:
            cursor, gaps = 0, False
            for address in self._starts:
                gap = address - self.start - cursor
                if gap >= size:
                    return cursor
                gaps = gaps or gap > 0
                cursor = _align(address - self.start + self._blocks[address].size)
            self._holes = gaps
        cursor = _align(self._top)
        return cursor if self.size - cursor >= size else None

    def free(self, address: int, size: int | None = None) -> None:
        """Free the block that starts at ``address``."""
        self._check_alive()
        block = self._blocks.get(address)
        if block is None:
            inside = self._block_at(address)
            where = (f"inside the block at {inside.address:#010x}" if inside else
                     "not the start of a block (already freed, or never allocated)")
            raise HeapError(f"heap {self.heap_id}: free({address:#010x}): {where}")
        if size is not None and size != block.size:
            raise HeapError(f"heap {self.heap_id}: free({address:#010x}, {size}): the block "
                            f"holds {block.size} bytes")
        del self._blocks[address]
        del self._starts[bisect.bisect_left(self._starts, address)]
        if block.key is not None:
            del self._keys[block.key]
        self._used -= block.size
        if self._starts:
            last = self._blocks[self._starts[-1]]
            self._top = last.address - self.start + last.size
            self._holes = self._holes or address < last.address
        else:
            self._top, self._holes = 0, False

    def free_all(self) -> None:
        self._check_alive()
        self._blocks.clear()
        self._starts.clear()
        self._keys.clear()
        self._used = self._top = 0
        self._holes = False

    def address_of(self, key) -> int:
        """The address of the block allocated with ``key``."""
        try:
            return self._keys[key]
        except KeyError:
            raise HeapError(f"heap {self.heap_id}: no block with key {key!r}") from None

    def __contains__(self, key) -> bool:
        return key in self._keys

    def expand(self, extra: int) -> None:
        """Grow the capacity by ``extra`` bytes, mapping pages as needed."""
        self._check_alive()
        if extra <= 0:
            raise HeapError(f"heap {self.heap_id}: cannot expand by {extra!r} bytes")
        self._map_to(self.size + extra)
        self.size += extra
        if self.on_resize is not None:
            self.on_resize(self)

    # -- data ----------------------------------------------------------------------------

    def write_data(self, address: int, data) -> None:
        """Store ``data`` (bytes, str, or a JSON-serialisable object) at ``address``, inside
        one block; text gets a NUL terminator when the block has room for it."""
        payload = encode(data)
        block = self._owner(address, len(payload), "write")
        if not isinstance(data, (bytes, bytearray, memoryview)) and \
                address + len(payload) < block.address + block.size:
            payload += b"\0"
        self.space.write(address, payload)

    def read_data(self, address: int, size: int) -> bytes:
        self._owner(address, size, "read")
        return self.space.read(address, size)

    def read_string(self, address: int, max_length: int) -> str:
        """Text from ``address`` up to the first NUL, at most ``max_length`` bytes, never past
        the end of the block."""
        block = self._owner(address, 0, "read")
        limit = min(max_length, block.address + block.size - address)
        raw = self.space.read(address, max(limit, 0))
        end = raw.find(b"\0")
        return (raw if end < 0 else raw[:end]).decode(errors="replace")

    # -- internals -----------------------------------------------------------------------

    def _owner(self, address: int, length: int, what: str) -> Block:
        self._check_alive()
        block = self._blocks.get(address) or self._block_at(address)
        if block is None:
            raise HeapError(f"heap {self.heap_id}: {what} at {address:#010x}: no allocated "
                            f"block there")
        if length < 0 or address + length > block.address + block.size:
            raise HeapError(f"heap {self.heap_id}: {what} of {length} bytes at {address:#010x} "
                            f"runs past the block at {block.address:#010x} "
                            f"({block.size} bytes)")
        return block

    def _block_at(self, address: int) -> Block | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            block = self._blocks[self._starts[i]]
            if address < block.address + block.size:
                return block
        return None

    def _map_to(self, size: int) -> None:
        """Map the pages of the first ``size`` bytes; grow the window (moving the guard page
        up) when they do not fit in it."""
        want = page_up(max(size, 1))
        if self.start + want > self.region.end:
            self._grow_window(min(self.start + page_up(want * 2), self.area_end - PAGE_SIZE),
                              size)
        self.space.fill(self.start, self.start + want, self.region)
        self._mapped = want

    def _grow_window(self, new_end: int, size: int) -> None:
        regions = self.space.regions
        if new_end < self.start + page_up(size) or \
                [r for r in regions.overlapping(self.region.end, new_end + PAGE_SIZE)
                 if r is not self.guard]:
            raise HeapError(f"heap {self.heap_id} cannot grow to {size} bytes: the address "
                            f"space after it is taken")
        regions.remove(self.guard)
        regions.resize(self.region, self.region.start, new_end)
        self.guard.start, self.guard.end = new_end, new_end + PAGE_SIZE
        regions.insert(self.guard)

    def _check_alive(self) -> None:
        if not self.space.alive or self.freed:
            raise HeapError(f"heap {self.heap_id} of pid {self.pid} has been freed")


def _align(offset: int) -> int:
    return (offset + ALIGN - 1) & ~(ALIGN - 1)

