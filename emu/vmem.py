"""Host access to guest virtual memory, always through the reference walk.

There is no shadow copy: each page of the range is translated with :func:`emu.walk.walk`
over physical RAM and read or written in place, so the host sees exactly the bytes the
guest sees at the same virtual address. A fault raises :class:`TranslationError`.

Reads have no side effects (a debugger's view). Writes behave like a kernel's
``copy_to_user``: the entries get the Accessed and Dirty bits the CPU would set.
"""

from __future__ import annotations

from .errors import TranslationError
from .mmu import PAGE_MASK, PAGE_SIZE
from .paging import X86_32, PagingFormat
from .ram import PhysicalMemory
from .walk import Access, Walk, accessed_dirty_updates, walk


def chunks(va: int, n: int):
    """(va, length) pieces of [va, va+n) that do not cross a 4 KiB page."""
    end = va + n
    while va < end:
        step = min(PAGE_SIZE - (va & PAGE_MASK), end - va)
        yield va, step
        va += step


def translate(ram: PhysicalMemory, cr3: int, va: int, access: Access | str = Access.READ,
              user: bool = True, wp: bool = True, fmt: PagingFormat = X86_32) -> Walk:
    return walk(ram.reader(fmt.entry_size), cr3, va, access, user=user, wp=wp, fmt=fmt)


def read_virt(ram: PhysicalMemory, cr3: int, va: int, n: int, user: bool = True,
              fmt: PagingFormat = X86_32) -> bytes:
    if n < 0 or va < 0 or va + n > fmt.top:
        raise ValueError(f"read_virt: range {va:#x}+{n:#x} is outside the address space")
    read = ram.reader(fmt.entry_size)
    out = bytearray()
    for chunk_va, size in chunks(va, n):
        w = walk(read, cr3, chunk_va, Access.READ, user=user, fmt=fmt)
        if w.fault:
            raise TranslationError(w)
        out += ram.read(w.pa, size)
    return bytes(out)


def write_virt(ram: PhysicalMemory, cr3: int, va: int, data: bytes, user: bool = True,
               force: bool = False, on_fault=None, mark: bool = True,
               fmt: PagingFormat = X86_32) -> list[int]:
    """Write ``data`` at ``va``; returns the physical address written for each page.

    ``force`` writes read-only pages too (as a debugger does); presence and the U/S bit are
    still checked. ``on_fault(walk)`` is asked to resolve a fault the way the OS would for
    the CPU (fill a page in, copy-on-write); when it returns True the page is walked again.
    ``mark``: set the Accessed and Dirty bits the CPU would set (False: a loader's write).

    Nothing is written until one pass over the range finds every page present: bringing a
    page in may send an earlier one out (a page file), and a walk made before that would
    point at a frame that is no longer this page's. A range that cannot be present all at
    once (larger than RAM) is then written page by page.
    """
    data = bytes(data)
    if va < 0 or va + len(data) > fmt.top:
        raise ValueError(f"write_virt: range {va:#x}+{len(data):#x} is outside the "
                         f"address space")
    access = Access.READ if force else Access.WRITE
    read = ram.reader(fmt.entry_size)
    write_entry = ram.write_u32 if fmt.entry_size == 4 else ram.write_u64
    for _ in range(3):
        plan, brought_in = [], False
        for chunk_va, size in chunks(va, len(data)):
            w = walk(read, cr3, chunk_va, access, user=user, fmt=fmt)
            if w.fault is not None and on_fault is not None and on_fault(w):
                brought_in = True
                w = walk(read, cr3, chunk_va, access, user=user, fmt=fmt)
            if w.fault is not None:
                raise TranslationError(w)
            plan.append((w, size))
        if not brought_in:
            break
    else:
        if len(plan) > 1:  # it does not stay resident as a whole: one page at a time
            written, offset = [], 0
            for chunk_va, size in chunks(va, len(data)):
                written += write_virt(ram, cr3, chunk_va, data[offset:offset + size], user,
                                      force, on_fault, mark, fmt)
                offset += size
            return written
    offset = 0
    for w, size in plan:
        ram.write(w.pa, data[offset:offset + size])
        offset += size
        if mark:  # a forced write still dirties the page: mark it as the CPU marks a write
            for entry_pa, value in accessed_dirty_updates(w, write=True, fmt=fmt):
                write_entry(entry_pa, value)
    return [w.pa for w, _ in plan]
