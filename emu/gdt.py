"""Segment descriptors for a flat protected-mode GDT (Intel SDM vol. 3, 3.4.5).

Every segment is base 0, limit 4 GiB; only privilege differs. Selectors carry the RPL in
their low two bits, so the ring-3 selectors end in 3::

    index  selector  segment
      0      0x00    null
      1      0x08    ring-0 code  (access 0x9A: present, DPL 0, code, readable)
      2      0x10    ring-0 data  (access 0x92: present, DPL 0, data, writable)
      3      0x1B    ring-3 code  (access 0xFA: present, DPL 3, code, readable)
      4      0x23    ring-3 data  (access 0xF2: present, DPL 3, data, writable)
      5              unused
      6-8    0x33..  thread-local storage: each process's own (set_thread_area), written
                     into the table when it runs, as Linux's GDT_ENTRY_TLS_MIN..MAX

A descriptor (Intel SDM vol. 3, figure 3-8), as :func:`descriptor` packs it::

     63      56 55 52 51   48 47 45  44 43  40 39         16 15           0
    | base 31:24 | G D 0 AVL | lim 19:16 | P DPL S | type | base 23:0  | limit 15:0 |
"""

from __future__ import annotations

import struct

KERNEL_CS = 0x08
KERNEL_DS = 0x10
USER_CS = 0x1B
USER_DS = 0x23

ACCESS_KERNEL_CODE = 0x9A
ACCESS_KERNEL_DATA = 0x92
ACCESS_USER_CODE = 0xFA
ACCESS_USER_DATA = 0xF2
FLAGS_4K_32BIT = 0xC  # G (limit in 4 KiB units) | D/B (32-bit)
TLS_FIRST, TLS_COUNT = 6, 3  # GDT entries for thread-local storage
ENTRIES = TLS_FIRST + TLS_COUNT
DESCRIPTOR_SIZE = 8


def descriptor(base: int, limit: int, access: int, flags: int) -> bytes:
    """Encode one 8-byte segment descriptor."""
    return struct.pack("<HHBBBB", limit & 0xFFFF, base & 0xFFFF, (base >> 16) & 0xFF, access,
                       ((limit >> 16) & 0xF) | (flags << 4), (base >> 24) & 0xFF)


def flat_gdt() -> bytes:
    """The GDT described above, its TLS entries empty (not present)."""
    return (bytes(8)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_CODE, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_DATA, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_CODE, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_DATA, FLAGS_4K_32BIT)
            + bytes(DESCRIPTOR_SIZE * (ENTRIES - 5)))


# Long mode (Linux x86-64's order, arch/x86/include/asm/segment.h): what `iretq` and
# `sysretq` expect. Base and limit are ignored for 64-bit code and for data.
LONG_KERNEL_CS, LONG_KERNEL_DS = 0x10, 0x18
LONG_USER32_CS, LONG_USER_DS, LONG_USER_CS = 0x23, 0x2B, 0x33
FLAGS_4K_64BIT = 0xA  # G | L (64-bit code)
LONG_ENTRIES = 7


def long_gdt() -> bytes:
    """The long-mode GDT: null, (1 unused), kernel code and data, user 32-bit code, user
    data, user 64-bit code."""
    return (bytes(16)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_CODE, FLAGS_4K_64BIT)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_DATA, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_CODE, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_DATA, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_CODE, FLAGS_4K_64BIT))


def tls_descriptor(base: int, limit: int, seg_32bit: bool, contents: int,
                   read_exec_only: bool, limit_in_pages: bool, present: bool,
                   useable: bool) -> bytes:
    """A DPL-3 descriptor from the fields of Linux's ``struct user_desc`` (fill_ldt)."""
    type_ = 1 | ((not read_exec_only) << 1) | ((contents & 3) << 2)  # accessed, writable
    access = type_ | 0x10 | (3 << 5) | (0x80 if present else 0)  # S, DPL 3, P
    flags = (0x1 if useable else 0) | (0x4 if seg_32bit else 0) | \
        (0x8 if limit_in_pages else 0)
    return descriptor(base, limit, access, flags)


def descriptor_fields(raw: bytes) -> dict:
    """The fields of a descriptor, as ``struct user_desc`` gives them back."""
    limit0, base0, base1, access, flags_limit, base2 = struct.unpack("<HHBBBB", raw)
    flags = flags_limit >> 4
    return {"base": base0 | (base1 << 16) | (base2 << 24),
            "limit": limit0 | ((flags_limit & 0xF) << 16),
            "seg_32bit": bool(flags & 0x4), "contents": (access >> 2) & 3,
            "read_exec_only": not access & 0x2, "limit_in_pages": bool(flags & 0x8),
            "seg_not_present": not access & 0x80, "useable": bool(flags & 0x1)}
