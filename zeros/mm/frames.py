"""The physical frame allocator, with an owner recorded for every frame in use.

Every frame is accounted for: page directories and page tables count like data pages, and
``used + free == total`` always holds. Frame 0 is reserved and never handed out. Each frame
in use knows its holders (``refs``) and where it is mapped (``rmap``: (space, va) pairs).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable

from emu.mmu import PAGE_SHIFT, PAGE_SIZE
from emu.ram import PhysicalMemory

from ..errors import OutOfMemory

KERNEL = -1  # owner id of frames that belong to no process
POPULATE_AHEAD = 4 << 20  # host memory is populated at least this far ahead of use
# Freed frames go back to the host in batches of this many, while at least as many are free
# (under memory pressure a freed frame is about to be reused: returning it would not pay)
TRIM_FRAMES = 2048  # 8 MiB
_FREED, _RETURNED = 1, 2  # a free frame's host state: freed since the last trim; given back


def _runs(states: bytearray, state: int):
    """(start, end) of each run of ``state`` in ``states`` (found with bytearray.find: C)."""
    mark, others = bytes((state,)), [bytes((s,)) for s in (0, _FREED, _RETURNED) if s != state]
    start = states.find(mark)
    while start >= 0:
        ends = [e for e in (states.find(other, start) for other in others) if e >= 0]
        end = min(ends) if ends else len(states)
        yield start, end
        start = states.find(mark, end)


class FrameKind(enum.StrEnum):
    """What a frame in use holds."""

    RESERVED = "reserved"  # frame 0: never handed out
    PAGEDIR = "pagedir"  # a process's top paging structure (what CR3 points at)
    PAGETABLE = "pagetable"  # any lower paging structure
    PAGE = "page"  # a private user page
    SHARED = "shared"  # a page of a MAP_SHARED anonymous object
    PAGECACHE = "pagecache"  # a file's page
    ZERO = "zero"  # the shared zero page
    GDT = "gdt"
    VDSO = "vdso"
    VVAR = "vvar"  # written by the kernel: never paged out


class Frame:
    """What a frame in use holds. (A slots class with a plain __init__: one is made for every
    page fault, and a dataclass with a default factory costs twice as much.)"""

    __slots__ = ("owner", "kind", "label", "refs", "executable", "rmap", "pinned")

    def __init__(self, owner: int, kind: FrameKind, label: str = "", refs: int = 1,
                 executable: bool = False, rmap: dict | None = None):
        self.owner = owner  # pid, or KERNEL
        self.kind = kind
        self.label = label  # the region for pages: "[stack]", "heap 1", "/path/prog"
        self.refs = refs  # holders: each mapping, and the memory object it is in
        self.executable = executable  # mapped where code may run: drop its translations
        # (address space, va) of every mapping, in the order they were made (a dict: a
        # frame mapped a million times, as the zero page can be, unmaps in O(1))
        self.rmap = {} if rmap is None else rmap
        self.pinned = 0  # the kernel is working on it: the page file must leave it alone

    def __repr__(self) -> str:
        return (f"Frame(owner={self.owner}, kind={str(self.kind)!r}, label={self.label!r}, "
                f"refs={self.refs}, mappings={len(self.rmap)})")


class FrameAllocator:
    """Frames in use are Frame objects, except a private page a fault has just made: that one
    is the tuple (owner, label, executable, space, va) until anything asks about it (one
    object instead of three: a Frame, its rmap and the key; a third of a fault's work). Every
    access goes through :meth:`_frame`, which makes the Frame then.

    Host memory: frames above ``pristine_from`` were never used (zero, and backed by the
    host only as the allocator nears them); frames the guests freed go back to the host in
    batches (:meth:`_trim`) and are then known to be zero until handed out again."""

    def __init__(self, ram: PhysicalMemory):
        self.ram = ram
        self.total = ram.frames
        self._frames: list[Frame | None] = [None] * self.total
        self._free = list(range(self.total - 1, 0, -1))  # pop() hands out the lowest first
        self._frames[0] = Frame(KERNEL, FrameKind.RESERVED, "null frame")
        self.code_dirty = False  # a frame that may hold translated code was freed or reused
        self.pristine_from = 1  # frames from here up were never handed out: still all zero
        # called when no frame is free: try to free one (the page file); True if it did
        self.on_exhausted: Callable[[], bool] | None = None
        self._populate_mark = 0  # allocating past here asks for more host RAM
        self.recorder = None  # zeros.record.Recorder while a history is recorded
        # per frame: _FREED (its memory still backed) or _RETURNED (given back to the host,
        # all zero) while free; 0 in use, or never used (above pristine_from)
        self._host = bytearray(self.total)
        self._frees = 0  # frames freed since the last trim
        self.returned_count = 0

    @property
    def free_count(self) -> int:
        return len(self._free)

    @property
    def used_count(self) -> int:
        return self.total - len(self._free)

    def alloc(self, owner: int, kind: FrameKind, label: str = "", zero: bool = True,
              executable: bool = False) -> int:
        """A frame's physical address, zero-filled unless ``zero`` is False."""
        if not self._free and not (self.on_exhausted and self.on_exhausted()):
            raise OutOfMemory(f"out of physical memory: all {self.total} frames "
                              f"({self.total * PAGE_SIZE >> 10} KiB) are in use")
        number = self._free.pop()
        self._frames[number] = Frame(owner, kind, label, 1, executable)
        pa = number << PAGE_SHIFT
        if self.recorder is not None:
            self.recorder.frame("alloc", pa, owner, kind.value)
        if number >= self.pristine_from:
            self.pristine_from = number + 1  # fresh host memory is zero already
            if pa >= self._populate_mark:
                self._populate_ahead(pa)
        else:
            self._reuse(number, zero)
        return pa

    def _populate_ahead(self, pa: int) -> None:
        """The allocator reached fresh RAM: have the host back as much again ahead of it
        (at least POPULATE_AHEAD): what a guest uses grows geometrically, and so does the
        RAM the host backs, never far ahead of use."""
        ahead = max(POPULATE_AHEAD, pa)
        self._populate_mark = pa + ahead // 2
        self.ram.populate_to(pa + ahead)

    def alloc_page(self, owner: int, label: str, executable: bool, space, va: int) -> int:
        """A zeroed frame for a user page mapped at ``va`` of ``space``: alloc() and
        mapped() in one call, for the page-fault path."""
        if not self._free and not (self.on_exhausted and self.on_exhausted()):
            raise OutOfMemory(f"out of physical memory: all {self.total} frames "
                              f"({self.total * PAGE_SIZE >> 10} KiB) are in use")
        number = self._free.pop()
        self._frames[number] = (owner, label, executable, space, va)
        pa = number << PAGE_SHIFT
        if self.recorder is not None:
            self.recorder.frame("alloc", pa, owner, "page")
        if number >= self.pristine_from:
            self.pristine_from = number + 1
            if pa >= self._populate_mark:
                self._populate_ahead(pa)
        else:
            self._reuse(number, True)
        return pa

    def _reuse(self, number: int, zero: bool) -> None:
        """A frame used before is handed out again: zeroed (if asked), unless the host gave
        its memory back, which reads as zeros already."""
        state = self._host[number]
        if state:
            self._host[number] = 0
        if state == _RETURNED:
            self.returned_count -= 1
        elif zero:
            self.ram.zero(number << PAGE_SHIFT)

    def _frame(self, number: int) -> Frame | None:
        """The Frame of a frame number (made now from a fault's tuple)."""
        frame = self._frames[number]
        if frame.__class__ is tuple:
            owner, label, executable, space, va = frame
            frame = self._frames[number] = Frame(owner, FrameKind.PAGE, label, 1, executable,
                                                 {(space, va): None})
        return frame

    def dirtied(self, pa: int, size: int) -> None:
        """The host wrote physical memory directly: frames up to there are no longer known
        to be zero."""
        first, end = pa >> PAGE_SHIFT, min(((pa + size - 1) >> PAGE_SHIFT) + 1, self.total)
        self.pristine_from = max(self.pristine_from, end)
        self.returned_count -= self._host.count(bytes((_RETURNED,)), first, end)
        self._host[first:end] = bytes(max(0, end - first))

    def free(self, pa: int) -> None:
        number = pa >> PAGE_SHIFT
        frame = self._frame(number) if 0 <= number < self.total else None
        if frame is None or frame.kind is FrameKind.RESERVED:
            raise ValueError(f"free: frame {pa:#010x} is not allocated")
        self._forget(number, frame.owner, frame.kind, frame.executable)

    def _forget(self, number: int, owner: int, kind: str, executable: bool) -> None:
        """Put a frame back on the free list."""
        if executable:
            self.code_dirty = True
        if self.recorder is not None:
            self.recorder.frame("free", number << PAGE_SHIFT, owner, str(kind))
        self._frames[number] = None
        self._free.append(number)
        self._host[number] = _FREED
        self._frees += 1
        if self._frees >= TRIM_FRAMES:
            self._trim()

    def _trim(self) -> None:
        """Give the host back the memory of the frames freed since the last time (runs of
        consecutive frames), if enough are free for it to pay (see TRIM_FRAMES)."""
        self._frees = 0
        if len(self._free) < TRIM_FRAMES:
            return  # (the frames keep their mark for a later trim, unless reused first)
        host = self._host
        for start, end in list(_runs(host, _FREED)):
            if self.ram.discard(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT):
                host[start:end] = bytes((_RETURNED,)) * (end - start)
                self.returned_count += end - start

    def returned_numbers(self) -> list[int]:
        """Numbers of the frames given back to the host (for the audit: all free)."""
        return [n for start, end in _runs(self._host, _RETURNED) for n in range(start, end)]

    def hold(self, pa: int) -> None:
        """One more holder of a frame in use."""
        self._frame(pa >> PAGE_SHIFT).refs += 1

    def release(self, pa: int) -> None:
        """One holder less; the frame is freed with the last one."""
        frame = self._frame(pa >> PAGE_SHIFT)
        frame.refs -= 1
        if frame.refs <= 0:
            self.free(pa)

    def mapped(self, pa: int, space, va: int, new: bool = False) -> None:
        """Record a mapping of ``pa`` at ``va`` in ``space``. ``new``: the frame was just
        allocated for this mapping, whose reference it already counts."""
        frame = self._frame(pa >> PAGE_SHIFT)
        if not new:
            frame.refs += 1
        frame.rmap[(space, va)] = None

    def unmapped(self, pa: int, space, va: int) -> None:
        """Forget a mapping and release its reference."""
        number = pa >> PAGE_SHIFT
        frame = self._frames[number]
        if frame.__class__ is tuple:  # a fault's page, never shared: its only mapping
            self._forget(number, frame[0], "page", frame[2])
            return
        if frame.refs == 1:  # the common case: this mapping was its only holder
            self._forget(number, frame.owner, frame.kind, frame.executable)
            return
        frame.rmap.pop((space, va), None)
        self.release(pa)

    def pin(self, pa: int) -> None:
        """Keep a frame in RAM while the kernel works on it (the page file skips it)."""
        self._frame(pa >> PAGE_SHIFT).pinned += 1

    def unpin(self, pa: int) -> None:
        frame = self._frame(pa >> PAGE_SHIFT)
        if frame is not None:
            frame.pinned -= 1

    def info(self, pa: int) -> Frame | None:
        number = pa >> PAGE_SHIFT
        return self._frame(number) if 0 <= number < self.total else None

    def free_numbers(self) -> list[int]:
        """Numbers of the free frames (for the audit)."""
        return list(self._free)

    def at(self, number: int) -> Frame | None:
        """The frame with this number (the page file's clock hand walks them)."""
        return self._frame(number)

    def owned_by(self, owner: int) -> int:
        return sum(1 for _, f in self.used() if f.owner == owner)

    def counts(self) -> Counter:
        """Frames in use per (owner, kind)."""
        return Counter((f.owner, f.kind) for _, f in self.used())

    def used(self):
        """(physical address, Frame) of every frame in use, in address order."""
        for number, frame in enumerate(self._frames):
            if frame is not None:
                yield number << PAGE_SHIFT, self._frame(number)
