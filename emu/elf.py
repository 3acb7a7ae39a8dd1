"""Static i386 ELF executables: the ELF header and program headers, read with ``struct``.

Accepted: ELFCLASS32, little endian, EM_386; ET_EXEC, or ET_DYN without PT_INTERP (a
static-pie, placed at ``PIE_BASE`` as a 64-bit Linux kernel places 32-bit PIEs with address
randomisation off). A dynamically linked program (PT_INTERP) is refused with a message that
says how to build it statically. Only what a loader needs is read (ELF32 header, Intel's
and the System V ABI's layout; tests/emu/test_elf.py checks it against ``readelf``)::

    e_ident[16] e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize
    e_phentsize e_phnum e_shentsize e_shnum e_shstrndx            (52 bytes)
    p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align   (32 bytes each)
"""

from __future__ import annotations

import struct

from .errors import ImageError
from .image import Image, Segment

ELF_MAGIC = b"\x7fELF"
PF_X, PF_W, PF_R = 1, 2, 4
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_PHDR = 1, 2, 3, 6
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
EM_386, EM_X86_64 = 3, 62
PIE_BASE = 0x00400000
HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
PROGRAM_HEADER = struct.Struct("<8I")


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def load_elf(data: bytes, source: str = "<bytes>") -> Image:
    if not is_elf(data):
        raise ImageError(f"{source}: not an ELF file")
    if len(data) < HEADER.size:
        raise ImageError(f"{source}: malformed ELF: the header is truncated")
    ident, e_type, machine, _, entry, phoff, _, _, _, phentsize, phnum, *_ = \
        HEADER.unpack_from(data)
    klass, endian = ident[4], ident[5]
    if klass != 1 or endian != 1 or machine != EM_386:
        bits = {1: 32, 2: 64}.get(klass, klass)
        raise ImageError(f"{source}: not an i386 executable (class {bits}, machine "
                         f"{'EM_X86_64' if machine == EM_X86_64 else machine}); build with "
                         f"gcc -m32 -static, or as --32 and ld -m elf_i386")
    if e_type not in (ET_EXEC, ET_DYN):
        kind = {ET_REL: "an object file", ET_CORE: "a core file"}.get(e_type, f"type {e_type}")
        raise ImageError(f"{source}: {kind}, not an executable")
    if phentsize != PROGRAM_HEADER.size or phoff + phnum * phentsize > len(data):
        raise ImageError(f"{source}: malformed ELF: bad program header table")
    headers = [PROGRAM_HEADER.unpack_from(data, phoff + k * phentsize) for k in range(phnum)]
    if any(h[0] == PT_INTERP for h in headers):
        raise ImageError(f"{source}: dynamically linked (it asks for an interpreter); "
                         f"only static programs run here: build with gcc -m32 -static")
    if e_type == ET_DYN and not any(h[0] == PT_DYNAMIC for h in headers):
        raise ImageError(f"{source}: a shared object or PIE, not a static executable "
                         f"(nor a static-pie: it has no dynamic section)")
    base = PIE_BASE if e_type == ET_DYN else 0
    segments, phdr = [], None
    for kind, offset, vaddr, _, filesz, memsz, flags, _ in headers:
        if kind == PT_PHDR:
            phdr = vaddr + base
        if kind != PT_LOAD or memsz == 0:
            continue
        if filesz > memsz:
            raise ImageError(f"{source}: segment at {vaddr:#x} has p_filesz {filesz:#x} > "
                             f"p_memsz {memsz:#x}")
        if offset + filesz > len(data):
            raise ImageError(f"{source}: segment at {vaddr:#x} is truncated")
        if phdr is None and offset <= phoff < offset + filesz:
            phdr = vaddr + base + phoff - offset
        segments.append(Segment(vaddr + base, data[offset:offset + filesz], memsz,
                                read=bool(flags & PF_R), write=bool(flags & PF_W),
                                execute=bool(flags & PF_X),
                                name="text" if flags & PF_X else
                                ("data" if flags & PF_W else "rodata"), offset=offset))
    if not segments:
        raise ImageError(f"{source}: no loadable segment")
    for s in segments:
        if s.va + s.memsz > 1 << 32:
            raise ImageError(f"{source}: segment at {s.va:#x} runs past 4 GiB")
    return Image(entry + base, tuple(segments), "elf", source, phdr=phdr,
                 phent=phentsize, phnum=phnum)
