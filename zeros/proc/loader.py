"""Programs into address spaces: reading a program file, mapping its image, the first stack."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from emu.asm import assemble
from emu.elf import is_elf, load_elf
from emu.errors import AssemblyError, ImageError
from emu.image import Image
from emu.mmu import PAGE_SIZE, page_down, page_up

from ..errors import MappingError, ProgramError
from ..layout import PROGRAM_BASE, STACK_LIMIT, STACK_TOP, USER_MIN, USER_TOP
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, RegionKind

INCLUDE_DIR = Path(__file__).resolve().parent.parent / "uapi" / "include"

AT_NULL, AT_PAGESZ, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_RANDOM = (
    0, 6, 9, 11, 12, 13, 14, 25)
AT_RANDOM_BYTES = bytes(range(0xA0, 0xB0))  # fixed: runs are reproducible


def read_program(program) -> tuple[Image, str]:
    """An Image from a path, from bytes (an ELF file or assembly text), or an Image."""
    if isinstance(program, Image):
        return program, program.source
    if isinstance(program, (bytes, bytearray, memoryview)):
        data, source = bytes(program), "<bytes>"
    else:
        path = Path(os.fspath(program))
        source = str(program)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProgramError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise ProgramError(f"{source}: is a directory") from None
        except OSError as error:
            raise ProgramError(f"{source}: {error.strerror}") from None
    try:
        if is_elf(data):
            return load_elf(data, source), source
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ProgramError(f"{source}: neither an ELF executable nor assembly text") from None
        return assemble(text, PROGRAM_BASE, None if source == "<bytes>" else source,
                        include_dirs=(INCLUDE_DIR,)), source
    except (ImageError, AssemblyError) as error:
        raise ProgramError(str(error)) from None


def _page_prots(image: Image) -> dict[int, tuple[Prot, RegionKind]]:
    """Protection of every page the image touches; pages shared by two segments get both."""
    pages: dict[int, tuple[Prot, RegionKind]] = {}
    for seg in image.segments:
        prot = (Prot.READ if seg.read else 0) | (Prot.WRITE if seg.write else 0) | \
            (Prot.EXEC if seg.execute else 0)
        for va in range(page_down(seg.va), page_up(seg.end), PAGE_SIZE):
            old, kind = pages.get(va, (Prot.NONE, RegionKind(seg.name)))
            pages[va] = (Prot(old | prot), RegionKind.DATA if (old | prot) & Prot.WRITE
                         else RegionKind(seg.name))
    return pages


def map_image(space: AddressSpace, image: Image, name: str) -> None:
    for seg in image.segments:
        if seg.va < USER_MIN or seg.end > USER_TOP:
            where = "kernel space" if seg.end > USER_TOP else "the null page"
            raise ProgramError(f"{image.source}: segment {seg.va:#010x}-{seg.end:#010x} lands "
                               f"in {where} (user space is {USER_MIN:#010x}-{USER_TOP:#010x})")
        if seg.end > STACK_LIMIT:
            raise ProgramError(f"{image.source}: segment {seg.va:#010x}-{seg.end:#010x} "
                               f"overlaps the stack area ({STACK_LIMIT:#010x}-{STACK_TOP:#010x})")
    pages = sorted(_page_prots(image).items())
    run_start = None
    for i, (va, (prot, kind)) in enumerate(pages):
        if run_start is None:
            run_start = va
        nxt = pages[i + 1] if i + 1 < len(pages) else None
        if nxt is None or nxt[0] != va + PAGE_SIZE or nxt[1] != (prot, kind):
            try:
                region = space.add_region(run_start, va + PAGE_SIZE, prot, kind, name,
                                          demand=False)
            except MappingError as error:
                raise ProgramError(f"{image.source}: {error}") from None
            space.fill(region.start, region.end, region)
            run_start = None
    for seg in image.segments:
        if seg.data:
            space.write(seg.va, seg.data, mark=False)  # loaded pages are clean
    space.brk_start = space.brk = page_up(image.end)


def build_stack(space: AddressSpace, argv: list[str], envp: list[str], entry: int) -> int:
    """Make the stack region, write argc/argv/envp/auxv as Linux i386 does; returns ESP."""
    region = space.add_region(STACK_LIMIT, STACK_TOP, Prot.READ | Prot.WRITE,
                              RegionKind.STACK, "[stack]", grows_down=True)
    strings = b""
    offsets = []
    for s in argv + envp:
        offsets.append(len(strings))
        strings += s.encode(errors="surrogateescape") + b"\0"
    top = STACK_TOP - 16
    random_at = top - 16
    strings_at = (random_at - len(strings)) & ~3
    argv_ptrs = [strings_at + o for o in offsets[:len(argv)]]
    env_ptrs = [strings_at + o for o in offsets[len(argv):]]
    auxv = [AT_PAGESZ, PAGE_SIZE, AT_ENTRY, entry, AT_UID, 0, AT_EUID, 0, AT_GID, 0,
            AT_EGID, 0, AT_RANDOM, random_at, AT_NULL, 0]
    words = [len(argv)] + argv_ptrs + [0] + env_ptrs + [0] + auxv
    esp = (strings_at - 4 * len(words)) & ~15
    block = struct.pack(f"<{len(words)}I", *words)
    space.fill(esp, STACK_TOP, region)
    space.write(esp, block)
    space.write(strings_at, strings)
    space.write(random_at, AT_RANDOM_BYTES)
    return esp
