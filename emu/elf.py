"""Static i386 ELF executables (ET_EXEC), read with pyelftools.

Accepted: ELFCLASS32, little endian, EM_386, ET_EXEC, no PT_INTERP and no PT_DYNAMIC, as
produced by ``as --32`` + ``ld -m elf_i386`` or ``gcc -m32 -nostdlib -static``.
"""

from __future__ import annotations

import io

from .errors import ImageError
from .image import Image, Segment

ELF_MAGIC = b"\x7fELF"
PF_X, PF_W, PF_R = 1, 2, 4


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
                             f"machine {header.e_machine}); build with as --32 and "
                             f"ld -m elf_i386, or gcc -m32")
        if header.e_type != "ET_EXEC":
            kind = {"ET_DYN": "a shared object or PIE", "ET_REL": "an object file"}.get(
                header.e_type, header.e_type)
            raise ImageError(f"{source}: {kind}, not a static executable (ET_EXEC); "
                             f"link with ld -m elf_i386 or gcc -m32 -static -no-pie")
        segments = []
        for seg in elf.iter_segments():
            kind = seg["p_type"]
            if kind in ("PT_INTERP", "PT_DYNAMIC"):
                raise ImageError(f"{source}: dynamically linked ({kind}); only static "
                                 f"executables run here")
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
            segments.append(Segment(seg["p_vaddr"], body, memsz, read=bool(flags & PF_R),
                                    write=bool(flags & PF_W), execute=bool(flags & PF_X),
                                    name="text" if flags & PF_X else
                                    ("data" if flags & PF_W else "rodata")))
    except ELFError as error:
        raise ImageError(f"{source}: malformed ELF: {error}") from None
    except (ValueError, OSError, KeyError) as error:
        raise ImageError(f"{source}: malformed ELF: {error}") from None
    if not segments:
        raise ImageError(f"{source}: no loadable segment")
    for s in segments:
        if s.va + s.memsz > 1 << 32:
            raise ImageError(f"{source}: segment at {s.va:#x} runs past 4 GiB")
    return Image(header.e_entry, tuple(segments), "elf", source)
