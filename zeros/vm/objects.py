"""Memory objects: pages shared by every mapping of one thing (Linux's address_space).

Each page's frame is held by the object and by each entry that maps it; the object lets its
pages go when no region maps it any more. :class:`PageCache` keeps one :class:`FileObject`
per host file, so two mappings of a file share its frames.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from emu.mmu import PAGE_SIZE

from ..errors import FileError
from ..mm.frames import KERNEL, FrameAllocator, FrameKind
from ..uapi import errno
from .regions import Region


class MemoryObject:
    kind = FrameKind.SHARED

    def __init__(self, frames: FrameAllocator, label: str,
                 on_unused: Callable[[MemoryObject], None] | None = None):
        self.frames, self.label = frames, label
        self.on_unused = on_unused
        self.pages: dict[int, int] = {}  # page index -> frame
        self.regions = 0

    def mapped_region(self) -> None:
        self.regions += 1

    def merged_region(self) -> None:
        """Two of its regions became one."""
        self.regions -= 1

    def unmapped_region(self, region: Region | None = None) -> None:
        self.regions -= 1
        if self.regions <= 0:
            if self.on_unused is not None:
                self.on_unused(self)
            self.drop()

    def page(self, index: int) -> tuple[int, bool]:
        """(frame of page ``index``, whether it had to be read from storage)."""
        pa = self.pages.get(index)
        if pa is not None:
            return pa, False
        pa, major = self.load(index)
        self.pages[index] = pa
        return pa, major

    def load(self, index: int) -> tuple[int, bool]:
        return self.frames.alloc(KERNEL, self.kind, self.label), False

    def drop(self) -> None:
        for pa in self.pages.values():
            self.frames.release(pa)
        self.pages.clear()


class SharedMemory(MemoryObject):
    """MAP_SHARED | MAP_ANONYMOUS: zero-filled pages shared by every mapping."""

    kind = FrameKind.SHARED


class FileObject(MemoryObject):
    """A host file's page cache: one frame per file page, shared by every mapping of it."""

    kind = FrameKind.PAGECACHE

    def __init__(self, frames: FrameAllocator, path: str,
                 on_unused: Callable[[MemoryObject], None] | None = None):
        super().__init__(frames, path, on_unused)
        self.path = path
        self.written = False  # a shared writable mapping may have changed a page

    def load(self, index: int) -> tuple[int, bool]:
        try:
            with open(self.path, "rb") as f:
                f.seek(index * PAGE_SIZE)
                data = f.read(PAGE_SIZE)
        except (OSError, OverflowError, ValueError) as error:
            raise FileError(errno.EIO, f"{self.path}: page {index}: {error}") from None
        pa = self.frames.alloc(KERNEL, self.kind, self.label)
        if data:
            self.frames.ram.write(pa, data)
        return pa, True

    def unmapped_region(self, region: Region | None = None) -> None:
        """A region went (munmap, exit): its shared writes reach the file now."""
        if region is not None and region.shared:
            first = region.offset // PAGE_SIZE
            self.write_back(first, first + region.size // PAGE_SIZE)
        super().unmapped_region(region)

    def write_back(self, first: int = 0, last: int | None = None) -> int:
        """Write cached pages [first, last) to the file, never past its current end (mmap
        does not grow files). Returns the number of pages written."""
        if not self.written:
            return 0
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return 0  # the file went away: nothing to write to
        count = 0
        with open(self.path, "r+b") as f:
            for index in sorted(self.pages):
                if index < first or (last is not None and index >= last):
                    continue
                offset = index * PAGE_SIZE
                if offset >= size:
                    continue
                f.seek(offset)
                f.write(self.frames.ram.read(self.pages[index], min(PAGE_SIZE, size - offset)))
                count += 1
        return count


class PageCache:
    """One :class:`FileObject` per host file in use."""

    def __init__(self, frames: FrameAllocator):
        self.frames = frames
        self.files: dict[str, FileObject] = {}

    def file_object(self, path: str) -> FileObject:
        path = os.path.realpath(path)
        obj = self.files.get(path)
        if obj is None:
            obj = self.files[path] = FileObject(self.frames, path, self._unused)
        return obj

    def shared_memory(self, label: str = "[anon:shared]") -> SharedMemory:
        return SharedMemory(self.frames, label)

    def _unused(self, obj: MemoryObject) -> None:
        if isinstance(obj, FileObject):
            obj.write_back()
            self.files.pop(obj.path, None)
