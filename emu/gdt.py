"""Segment descriptors for a flat protected-mode GDT (Intel SDM vol. 3, 3.4.5).

Every segment is base 0, limit 4 GiB; only privilege differs. Selectors carry the RPL in
their low two bits, so the ring-3 selectors end in 3::

    index  selector  segment
      0      0x00    null
      1      0x08    ring-0 code  (access 0x9A: present, DPL 0, code, readable)
      2      0x10    ring-0 data  (access 0x92: present, DPL 0, data, writable)
      3      0x1B    ring-3 code  (access 0xFA: present, DPL 3, code, readable)
      4      0x23    ring-3 data  (access 0xF2: present, DPL 3, data, writable)
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


def descriptor(base: int, limit: int, access: int, flags: int) -> bytes:
    """Encode one 8-byte segment descriptor."""
    return struct.pack("<HHBBBB", limit & 0xFFFF, base & 0xFFFF, (base >> 16) & 0xFF, access,
                       ((limit >> 16) & 0xF) | (flags << 4), (base >> 24) & 0xFF)


def flat_gdt() -> bytes:
    """The five-entry flat GDT described above."""
    return (bytes(8)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_CODE, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_KERNEL_DATA, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_CODE, FLAGS_4K_32BIT)
            + descriptor(0, 0xFFFFF, ACCESS_USER_DATA, FLAGS_4K_32BIT))
