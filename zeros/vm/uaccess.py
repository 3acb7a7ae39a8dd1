"""Copying to and from guest virtual memory: the one checked path (Linux's uaccess).

Every byte goes through the reference walk over physical RAM, so the host and the guest
always see the same bytes. A page that a region allows but that is not present (never
touched, or in the page file) is brought in first through the fault resolver, as the
kernel's ``copy_from_user`` would fault it in. An address that does not translate is an
:class:`AddressError` (``-EFAULT`` for a guest); nothing is written unless every page of
the range can be.

Each page is read or written while it is present: bringing a later page in may send an
earlier one to the page file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from emu.errors import TranslationError
from emu.mmu import PAGE_SIZE, Pte, page_down
from emu.vmem import chunks, read_virt, write_virt
from emu.walk import Access, walk

from ..errors import AddressError, MappingError, OutOfMemory, SyscallError
from ..mm.frames import FrameKind
from ..mm.pagetable import is_swap_entry, swap_slot
from ..uapi import errno
from .regions import Prot

if TYPE_CHECKING:
    from .addrspace import AddressSpace

_PRESENT = int(Pte.P)
_RIGHTS = int(Pte.RW | Pte.US)
PATH_MAX = 4096


def _bring_in(space: AddressSpace, va: int, write: bool) -> bool:
    """Resolve a fault at ``va`` the way the CPU's fault would be; False if it cannot be."""
    if va >= space.layout.user_top or space.resolve is None:
        return False
    recorder = space.frames.recorder
    prior = recorder.cause if recorder is not None else None
    try:
        return space.resolve(space, va, write, bool(space.tables.entry(va) & _PRESENT))
    except OutOfMemory:
        return False
    finally:
        if recorder is not None:  # the call's own changes go on under its name
            recorder.cause = prior


def _check(space: AddressSpace, va: int, n: int) -> None:
    if not space.alive:
        raise AddressError(f"pid {space.pid} has no address space")
    if n < 0 or va < 0 or va + n > space.fmt.top:
        raise AddressError(f"pid {space.pid}: range {va:#x}+{n:#x} is outside the "
                           f"address space")


def copy_from_user(space: AddressSpace, va: int, n: int, user: bool = True) -> bytes:
    """``n`` bytes at ``va``, read as ring 3 (``user``) or ring 0 would."""
    _check(space, va, n)
    out = bytearray()
    for chunk_va, size in chunks(va, n):
        for attempt in range(3):
            try:
                out += read_virt(space.ram, space.cr3, chunk_va, size, user=user,
                                 fmt=space.fmt)
                break
            except TranslationError as error:
                if attempt == 2 or not _bring_in(space, chunk_va, False):
                    raise AddressError(f"pid {space.pid}: {error}", error.walk) from None
    return bytes(out)


def peek_user(space: AddressSpace, va: int, n: int,
              read_slot: Callable[[int], bytes]) -> bytes:
    """What ring 3 would read at ``va``, with no side effect at all (a debugger's read): no
    frame made, no page brought back, no Accessed bit set. A page in the page file is read
    from its slot (``read_slot``); a page of a private anonymous region never touched reads
    as zeros; anything else that does not translate is an AddressError."""
    _check(space, va, n)
    read = space.ram.reader(space.fmt.entry_size)
    out = bytearray()
    for chunk_va, size in chunks(va, n):
        w = walk(read, space.cr3, chunk_va, Access.READ, user=True, fmt=space.fmt)
        if w.fault is None:
            out += space.ram.read(w.pa, size)
            continue
        region = space.find(chunk_va)
        entry = space.tables.entry(chunk_va) if region is not None else 0
        offset = chunk_va & (PAGE_SIZE - 1)
        if region is not None and region.prot & Prot.READ and is_swap_entry(entry):
            out += read_slot(swap_slot(entry))[offset:offset + size]
        elif region is not None and region.prot & Prot.READ and region.demand and \
                region.backing is None and not entry & _PRESENT:
            out += bytes(size)
        else:
            raise AddressError(f"pid {space.pid}: {chunk_va:#x}: {w.fault.reason}", w)
    return bytes(out)


def as_bytes(data) -> bytes:
    """``data`` if it is bytes-like (TypeError otherwise: ``bytes(3 << 30)`` would try to
    make three gigabytes)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return bytes(data)


def copy_to_user(space: AddressSpace, va: int, data: bytes, user: bool = True,
                 force: bool = False) -> list[int]:
    """Write ``data`` at ``va``; ``force`` also writes pages the guest may only read (a
    debugger's write: a page shared copy-on-write is copied first, so that no other
    mapping sees the change). Returns the physical address written for each page."""
    data = as_bytes(data)
    _check(space, va, len(data))
    if force:
        return _forced_write(space, va, data, user=user, mark=True, fill=False)
    try:
        written = write_virt(space.ram, space.cr3, va, data, user=user,
                             on_fault=lambda w: _bring_in(space, w.va, True), fmt=space.fmt)
    except TranslationError as error:
        raise AddressError(f"pid {space.pid}: {error}", error.walk) from None
    _code_written(space, written)
    return written


def _code_written(space: AddressSpace, written: list[int]) -> None:
    frames = space.frames
    if any(frames.info(pa).executable for pa in written):
        frames.code_dirty = True


def _own(space: AddressSpace, page: int, fill: bool) -> None:
    """Make ``page`` present and this mapping's own before a forced write: brought in as a
    fault would bring it, then, unless the region is shared, copied out of any frame with
    other holders (the zero page, a page-cache page, a frame shared after fork). ``fill``:
    a page of a region that does not fill itself in gets a fresh frame (the kernel's own
    heaps and sheds)."""
    region = space.regions.find(page)
    if region is None:
        raise AddressError(f"pid {space.pid}: {page:#010x} is in no region")
    entry = space.tables.entry(page)
    if not entry & _PRESENT:
        if not _bring_in(space, page, bool(region.prot & Prot.WRITE)):
            if fill and not entry:
                space.map_new(page, region)
            else:
                raise AddressError(f"pid {space.pid}: {page:#010x} cannot be brought in")
        entry = space.tables.entry(page)
    if region.shared:
        return
    pa = entry & space.fmt.addr_mask
    frame = space.frames.info(pa)
    if frame.refs > 1 or frame.kind is not FrameKind.PAGE:
        content = space.ram.read(pa, PAGE_SIZE)
        space.unmap(page, page + PAGE_SIZE)
        space.map_new(page, region, flags=entry & _RIGHTS, content=content)


def _forced_write(space: AddressSpace, va: int, data: bytes, user: bool, mark: bool,
                  fill: bool) -> list[int]:
    """Page by page: each page is made present and private, then written at once (bringing
    a later page in may send an earlier one to the page file). Every page's region is
    checked first, so a bad range writes nothing."""
    for chunk_va, _ in chunks(va, len(data)):
        if space.regions.find(chunk_va) is None:
            raise AddressError(f"pid {space.pid}: {chunk_va:#010x} is in no region")
    written, offset = [], 0
    for chunk_va, size in chunks(va, len(data)):
        _own(space, page_down(chunk_va), fill)
        try:
            written += write_virt(space.ram, space.cr3, chunk_va, data[offset:offset + size],
                                  user=user, force=True, mark=mark, fmt=space.fmt)
        except TranslationError as error:
            raise AddressError(f"pid {space.pid}: {error}", error.walk) from None
        offset += size
    _code_written(space, written)
    return written


def string_from_user(space: AddressSpace, va: int, limit: int = PATH_MAX) -> bytes:
    """A NUL-terminated string (without the NUL); ENAMETOOLONG past ``limit`` bytes."""
    out = b""
    while len(out) < limit:
        at = va + len(out)
        chunk = copy_from_user(space, at, min(256, 0x1000 - (at & 0xFFF), limit - len(out)))
        end = chunk.find(b"\0")
        if end >= 0:
            return out + chunk[:end]
        out += chunk
    raise SyscallError(errno.ENAMETOOLONG, f"string at {va:#010x} is longer than {limit} "
                                           f"bytes")


def text_from_user(space: AddressSpace, va: int, limit: int = PATH_MAX) -> str:
    """A NUL-terminated UTF-8 string; EINVAL when it is not UTF-8."""
    raw = string_from_user(space, va, limit)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise SyscallError(errno.EINVAL, f"string at {va:#010x} is not UTF-8") from None


def kernel_write(space: AddressSpace, va: int, data: bytes, mark: bool = True) -> None:
    """The kernel filling its own mappings (loader, heaps, sheds): read-only pages too, and
    a page of a region that does not fill itself in gets a fresh frame. MappingError when a
    page cannot be had."""
    try:
        _forced_write(space, va, as_bytes(data), user=True, mark=mark, fill=True)
    except AddressError as error:
        raise MappingError(f"write: {error}") from None


def kernel_read(space: AddressSpace, va: int, n: int) -> bytes:
    """The kernel reading its own mappings (heaps, sheds): pages in the page file come
    back first. MappingError when a page cannot be had."""
    try:
        return copy_from_user(space, va, n)
    except AddressError as error:
        raise MappingError(str(error)) from None
