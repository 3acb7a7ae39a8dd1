"""Virtual memory: memory objects shared between mappings, and the page-fault resolver.

Every lazily backed page arrives through a real #PF that lands in :meth:`VirtualMemory.resolve`:

=====================  ===========================================  ===========
fault                  what happens                                 counted as
=====================  ===========================================  ===========
not present, private   read: the shared zero page, read-only;       minor
                       write: a zeroed frame of its own
not present, shared    the object's frame (made zeroed if new)      minor
not present, file      the page cache frame, read from the file     major (read)
  MAP_PRIVATE read     ... mapped read-only: copy-on-write          major/minor
  MAP_PRIVATE write    ... copied into a private frame              major/minor
swap entry             read back from the page file                 major
present, write, COW    frame copied (or made writable when alone)   minor
Windows guard page     one-shot alarm, then the access goes on      minor
=====================  ===========================================  ===========

Region attributes (``Region.extra``): ``backing`` (a :class:`MemoryObject`, absent for private
anonymous memory), ``offset`` (bytes into the object where the region starts), ``shared``
(MAP_SHARED), ``guard`` (Windows PAGE_GUARD), and the Windows state (``reservation``,
``state``, ``protect``, ``alloc_protect``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from emu.mmu import FRAME_MASK, PAGE_SIZE, Pte, page_down

from .addrspace import AddressSpace, is_swap_entry, pte_flags
from .frames import KERNEL
from .regions import Prot, Region

if TYPE_CHECKING:
    from .machine import Machine

log = logging.getLogger("zeros.vm")
_PRESENT, _WRITABLE, _USER = int(Pte.P), int(Pte.RW), int(Pte.US)
_R, _W, _X = int(Prot.READ), int(Prot.WRITE), int(Prot.EXEC)  # ints: IntFlag math is slow
_R_OR_W = _R | _W


class MemoryObject:
    """Pages shared by every mapping of one object. Each page's frame is held by the object
    and by each PTE that maps it; the object lets its pages go when no region maps it."""

    kind = "shared"

    def __init__(self, vm: "VirtualMemory", label: str):
        self.vm, self.frames, self.label = vm, vm.frames, label
        self.pages: dict[int, int] = {}  # page index -> frame
        self.regions = 0

    def mapped_region(self) -> None:
        self.regions += 1

    def unmapped_region(self, region: Region | None = None) -> None:
        self.regions -= 1
        if self.regions <= 0:
            self.vm.object_unused(self)

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

    kind = "shared"


class FileObject(MemoryObject):
    """A host file's page cache: one frame per file page, shared by every mapping of it."""

    kind = "pagecache"

    def __init__(self, vm: "VirtualMemory", path: str):
        super().__init__(vm, path)
        self.path = path
        self.written = False  # a shared writable mapping may have changed a page

    def load(self, index: int) -> tuple[int, bool]:
        pa = self.frames.alloc(KERNEL, self.kind, self.label)
        with open(self.path, "rb") as f:
            f.seek(index * PAGE_SIZE)
            data = f.read(PAGE_SIZE)
        if data:
            self.frames.ram.write(pa, data)
        return pa, True

    def unmapped_region(self, region: Region | None = None) -> None:
        """A region went (munmap, exit): its shared writes reach the file now."""
        if region is not None and region.extra.get("shared"):
            first = region.extra.get("offset", 0) // PAGE_SIZE
            self.write_back(first, first + region.size // PAGE_SIZE)
        super().unmapped_region(region)

    def write_back(self, first: int = 0, last: int | None = None) -> int:
        """Write cached pages [first, last) to the file, never past its current end (mmap
        does not grow files). Returns the number of pages written."""
        if not self.written:
            return 0
        size = os.path.getsize(self.path)
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


class VirtualMemory:
    """The per-machine side of virtual memory: memory objects and fault resolution."""

    def __init__(self, machine: "Machine"):
        self.machine = machine
        self.frames = machine.frames
        self.files: dict[str, FileObject] = {}
        self.alarms: list[tuple[int, int]] = []  # (pid, va) of Windows guard-page alarms
        # Reads of untouched private memory map this one read-only frame; the first write
        # copies it (Linux's ZERO_PAGE). A 1 GiB region can be read through with one frame.
        self.zero_page = self.frames.alloc(KERNEL, "zero", "zero page")

    # -- memory objects ------------------------------------------------------------------

    def file_object(self, path: str) -> FileObject:
        path = os.path.realpath(path)
        obj = self.files.get(path)
        if obj is None:
            obj = self.files[path] = FileObject(self, path)
        return obj

    def object_unused(self, obj: MemoryObject) -> None:
        if isinstance(obj, FileObject):
            obj.write_back()
            self.files.pop(obj.path, None)
        obj.drop()

    # -- faults --------------------------------------------------------------------------

    def resolve(self, space: AddressSpace, va: int, write: bool, present: bool) -> bool:
        """Make the access possible if the region allows it; False means a real fault."""
        region = space.find(va)
        if region is None:
            return False
        extra = region.extra
        prot = int(region.prot)
        if not present and region.demand and "backing" not in extra and \
                not extra.get("guard") and prot & _R_OR_W:
            if write:
                if prot & _W and space.map_zero_page(va, region):
                    return True  # the common fault: private, zero-filled, first write
            elif not space.tables.entry(va):  # a first read: the shared zero page, as Linux
                space.map_frame(va, self.zero_page, _USER)
                space.minor_faults += 1
                return True
        if extra.get("guard"):
            self._guard_alarm(space, va, region)
            region = space.find(va)
            extra = region.extra
        prot = int(region.prot)
        if write and not prot & _W or not prot & (_R | _W | _X):
            return False
        pte = space.tables.entry(va)
        if pte & _PRESENT:
            return self._write_protected(space, va, pte, region) if write else \
                self._user_restored(space, va, pte, region)
        if is_swap_entry(pte):
            return self.machine.pagefile.swap_in(space, va, region, pte)
        if not region.demand:
            return False
        backing = extra.get("backing")
        if backing is None:
            space.map_new(va, region, old=pte)
            space.minor_faults += 1
            return True
        index = (extra.get("offset", 0) + page_down(va) - region.start) // PAGE_SIZE
        pa, major = backing.page(index)
        if extra.get("shared"):
            space.map_frame(va, pa, pte_flags(prot))
            if prot & _W and isinstance(backing, FileObject):
                backing.written = True
        elif write:  # a private write: copy now
            space.map_new(va, region, content=self.frames.ram.read(pa, PAGE_SIZE))
        else:  # a private read: share the cache page read-only until a write
            space.map_frame(va, pa, pte_flags(prot) & ~_WRITABLE)
        if major:
            space.major_faults += 1
        else:
            space.minor_faults += 1
        return True

    def _write_protected(self, space: AddressSpace, va: int, pte: int, region: Region) -> bool:
        """A write to a present read-only page of a writable private region: copy-on-write."""
        if region.extra.get("shared"):
            space.set_flags(va, pte_flags(region.prot))  # a shared page made writable
            return True
        pa = pte & FRAME_MASK
        frame = self.frames.info(pa)
        if frame.refs == 1 and frame.kind == "page":  # the only holder: make it writable
            space.set_flags(va, pte_flags(region.prot))
        else:
            content = self.frames.ram.read(pa, PAGE_SIZE)
            space.unmap(page_down(va), page_down(va) + PAGE_SIZE)
            space.map_new(va, region, content=content)
        space.minor_faults += 1
        return True

    def _user_restored(self, space: AddressSpace, va: int, pte: int, region: Region) -> bool:
        """A read of a present page the user may not touch: a guard page that went off."""
        if not pte & _USER and region.prot & (Prot.READ | Prot.EXEC):
            space.set_flags(va, pte_flags(region.prot))
            return True
        return False

    def _guard_alarm(self, space: AddressSpace, va: int, region: Region) -> None:
        """PAGE_GUARD: the first touch of a page raises a one-shot alarm and clears the
        guard of that page; the access then goes on."""
        page = page_down(va)
        for piece in space.carve(page, page + PAGE_SIZE):
            piece.extra["guard"] = False
            protect = piece.extra.get("protect")
            if protect is not None:
                piece.extra["protect"] = protect & ~0x100
        if space.tables.entry(page) & _PRESENT:
            space.set_flags(page, pte_flags(space.find(page).prot))
        self.alarms.append((space.pid, page))
        log.info("pid %d: guard page %#010x touched: alarm", space.pid, page)
        proc = self.machine.processes.get(space.pid)
        if proc is not None:
            proc.alarms.append(page)

    # -- fork ----------------------------------------------------------------------------

    def copy_space(self, parent: AddressSpace, child: AddressSpace) -> None:
        """The child gets the parent's regions; private pages are shared copy-on-write
        (read-only in both until one writes), shared pages are shared."""
        self.machine.pagefile.swap_in_all(parent)
        for region in parent.regions:
            if region.kind == "vvar":
                continue  # every process has its own
            copy = child.add_region(region.start, region.end, region.prot, region.kind,
                                    region.name, region.demand, **dict(region.extra))
            copy.grows_down = region.grows_down
            backing = region.extra.get("backing")
            if backing is not None:
                backing.mapped_region()
            shared = region.extra.get("shared")
            for va, pte in list(parent.tables.present_pages(region.start, region.end)):
                flags = pte & (_WRITABLE | _USER)
                if not shared and flags & _WRITABLE:
                    parent.set_flags(va, flags & ~_WRITABLE)
                    flags &= ~_WRITABLE
                child.map_frame(va, pte & FRAME_MASK, flags)
        child.brk_start, child.brk = parent.brk_start, parent.brk
        child.commit_charge = parent.commit_charge
