"""Static i386 ELF executables, read with pyelftools.

Accepted: ELFCLASS32, little endian, EM_386; ET_EXEC, or ET_DYN without PT_INTERP (a
static-pie, placed at ``PIE_BASE`` as a 64-bit Linux kernel places 32-bit PIEs with address
randomisation off). A dynamically linked program (PT_INTERP) is refused with a message that
says how to build it statically.
"""

from __future__ import annotations

import io

from .errors import ImageError
from .image import Image, Segment

ELF_MAGIC = b"\x7fELF"
PF_X, PF_W, PF_R = 1, 2, 4
PIE_BASE = 0x00400000


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def load_elf(data: bytes, source: str = "<bytes>") -> Image:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if not is_elf(data):
        raise ImageError(f"{source}: not an ELF file")
    try:
        elf = ELFFile(io.BytesIO(data))
        header = elf.header
        if elf.elfclass != 32 or not elf.little_endian or header.e_machine != "EM_386":
            raise ImageError(f"{source}: not an i386 executable (class {elf.elfclass}, "
                             f"machine {header.e_machine}); build with gcc -m32 -static, "
                             f"or as --32 and ld -m elf_i386")
        if header.e_type not in ("ET_EXEC", "ET_DYN"):
            kind = {"ET_REL": "an object file", "ET_CORE": "a core file"}.get(
                header.e_type, header.e_type)
            raise ImageError(f"{source}: {kind}, not an executable")
        raw = list(elf.iter_segments())
        if any(seg["p_type"] == "PT_INTERP" for seg in raw):
            raise ImageError(f"{source}: dynamically linked (it asks for an interpreter); "
                             f"only static programs run here: build with gcc -m32 -static")
        base = PIE_BASE if header.e_type == "ET_DYN" else 0
        segments, phdr = [], None
        for seg in raw:
            kind = seg["p_type"]
            if kind == "PT_PHDR":
                phdr = seg["p_vaddr"] + base
            if kind != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            filesz, memsz = seg["p_filesz"], seg["p_memsz"]
            if filesz > memsz:
                raise ImageError(f"{source}: segment at {seg['p_vaddr']:#x} has p_filesz "
                                 f"{filesz:#x} > p_memsz {memsz:#x}")
            flags = seg["p_flags"]
            body = seg.data()
            if len(body) != filesz:
                raise ImageError(f"{source}: segment at {seg['p_vaddr']:#x} is truncated")
            if phdr is None and seg["p_offset"] <= header.e_phoff < seg["p_offset"] + filesz:
                phdr = seg["p_vaddr"] + base + header.e_phoff - seg["p_offset"]
            segments.append(Segment(seg["p_vaddr"] + base, body, memsz,
                                    read=bool(flags & PF_R), write=bool(flags & PF_W),
                                    execute=bool(flags & PF_X),
                                    name="text" if flags & PF_X else
                                    ("data" if flags & PF_W else "rodata")))
        if header.e_type == "ET_DYN" and not any(s["p_type"] == "PT_DYNAMIC" for s in raw):
            raise ImageError(f"{source}: a shared object or PIE, not a static executable "
                             f"(nor a static-pie: it has no dynamic section)")
    except ELFError as error:
        raise ImageError(f"{source}: malformed ELF: {error}") from None
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise ImageError(f"{source}: malformed ELF: {error}") from None
    if not segments:
        raise ImageError(f"{source}: no loadable segment")
    for s in segments:
        if s.va + s.memsz > 1 << 32:
            raise ImageError(f"{source}: segment at {s.va:#x} runs past 4 GiB")
    return Image(header.e_entry + base, tuple(segments), "elf", source, phdr=phdr,
                 phent=header.e_phentsize, phnum=header.e_phnum)
