"""Static x86 ELF executables: the ELF header and program headers, read with ``struct``.

Accepted: little endian, ELFCLASS32 with EM_386 or ELFCLASS64 with EM_X86_64; ET_EXEC, or
ET_DYN without PT_INTERP (a static-pie: read at ``PIE_BASE`` for i386, ``PIE_BASE64`` for
x86-64, and marked relocatable: an OS may place it elsewhere, as ZerOS does). A dynamically linked
program (PT_INTERP) is refused with a message that says how to build it statically. Only
what a loader needs is read (the System V ABI's layouts; tests/emu/test_elf.py checks them
against ``readelf``)::

    e_ident[16] e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize
    e_phentsize e_phnum e_shentsize e_shnum e_shstrndx      (52 bytes; 64 in ELF64)
    p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align   (32 bytes)
    p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align   (ELF64: 56 bytes)
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
PIE_BASE64 = 0x555555554000  # ELF_ET_DYN_BASE of x86-64 Linux, page aligned
HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
PROGRAM_HEADER = struct.Struct("<8I")
HEADER64 = struct.Struct("<16sHHIQQQIHHHHHH")
PROGRAM_HEADER64 = struct.Struct("<IIQQQQQQ")


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def load_elf(data: bytes, source: str = "<bytes>") -> Image:
    if not is_elf(data):
        raise ImageError(f"{source}: not an ELF file")
    if len(data) < HEADER.size:
        raise ImageError(f"{source}: malformed ELF: the header is truncated")
    klass, endian = data[4], data[5]
    wide = klass == 2
    header = HEADER64 if wide else HEADER
    if len(data) < header.size:
        raise ImageError(f"{source}: malformed ELF: the header is truncated")
    ident, e_type, machine, _, entry, phoff, _, _, _, phentsize, phnum, *_ = \
        header.unpack_from(data)
    if endian != 1 or (klass, machine) not in ((1, EM_386), (2, EM_X86_64)):
        bits = {1: 32, 2: 64}.get(klass, klass)
        raise ImageError(f"{source}: not an i386 or x86-64 executable (class {bits}, machine "
                         f"{machine}, {'little' if endian == 1 else 'big'} endian)")
    if e_type not in (ET_EXEC, ET_DYN):
        kind = {ET_REL: "an object file", ET_CORE: "a core file"}.get(e_type, f"type {e_type}")
        raise ImageError(f"{source}: {kind}, not an executable")
    program_header = PROGRAM_HEADER64 if wide else PROGRAM_HEADER
    if phentsize != program_header.size or phoff + phnum * phentsize > len(data):
        raise ImageError(f"{source}: malformed ELF: bad program header table")
    headers = [program_header.unpack_from(data, phoff + k * phentsize) for k in range(phnum)]
    if wide:  # the same fields in the ELF32 order
        headers = [(t, off, va, pa, fs, ms, fl, al) for t, fl, off, va, pa, fs, ms, al in headers]
    if any(h[0] == PT_INTERP for h in headers):
        raise ImageError(f"{source}: dynamically linked (it asks for an interpreter); "
                         f"only static programs run here: build with gcc "
                         f"{'' if wide else '-m32 '}-static")
    if e_type == ET_DYN and not any(h[0] == PT_DYNAMIC for h in headers):
        raise ImageError(f"{source}: a shared object or PIE, not a static executable "
                         f"(nor a static-pie: it has no dynamic section)")
    base = (PIE_BASE64 if wide else PIE_BASE) if e_type == ET_DYN else 0
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
    top = 1 << (47 if wide else 32)
    for s in segments:
        if s.va + s.memsz > top:
            raise ImageError(f"{source}: segment at {s.va:#x} runs past "
                             f"{'the lower half' if wide else '4 GiB'}")
    return Image(entry + base, tuple(segments), "elf", source, phdr=phdr,
                 phent=phentsize, phnum=phnum, bits=64 if wide else 32,
                 relocatable=e_type == ET_DYN)
