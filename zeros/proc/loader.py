"""Programs into address spaces: reading a program file, mapping its image, the first stack."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from emu.elf import is_elf, load_elf
from emu.errors import AssemblyError, ImageError
from emu.image import Image
from emu.mmu import PAGE_SIZE, page_down, page_up

from ..errors import MappingError, ProgramError
from ..layout import LAYOUT64, PROGRAM_BASE
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, RegionKind

INCLUDE_DIR = Path(__file__).resolve().parent.parent / "uapi" / "include"

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = \
    0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_SYSINFO, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = \
    23, 25, 26, 31, 32, 33, 51
HWCAP = 0x078BFBFD  # CPUID.1:EDX of the emulated CPU (tests/zeros/proc/test_loader.py)
CLOCK_TICKS = 100
MINSIGSTKSZ = 2048


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
        from emu.asm import assemble, source_bits  # here: ELF programs do without them

        bits = source_bits(text)  # `bits 64`: an x86-64 source, placed where ld puts one
        return assemble(text, PROGRAM_BASE if bits == 32 else LAYOUT64.program_base,
                        None if source == "<bytes>" else source,
                        include_dirs=(INCLUDE_DIR,), bits=bits), source
    except (ImageError, AssemblyError) as error:
        raise ProgramError(str(error)) from None


def _pages(image: Image) -> dict[int, tuple[Prot, RegionKind, int | None]]:
    """Every page the image touches: its protection (pages shared by two segments get
    both), its kind, and the file offset its bytes come from (None: anonymous, the part of
    ``.bss`` past the file's bytes, as Linux maps it)."""
    pages: dict[int, tuple[Prot, RegionKind, int | None]] = {}
    for seg in image.segments:
        prot = (Prot.READ if seg.read else 0) | (Prot.WRITE if seg.write else 0) | \
            (Prot.EXEC if seg.execute else 0)
        file_end = page_up(seg.va + len(seg.data)) if seg.data or seg.offset is None \
            else page_down(seg.va)
        for va in range(page_down(seg.va), page_up(seg.end), PAGE_SIZE):
            old, kind, offset = pages.get(va, (Prot.NONE, RegionKind(seg.name), None))
            if va < file_end:
                offset = 0 if seg.offset is None else \
                    page_down(seg.offset) + va - page_down(seg.va)
            merged = Prot(old | prot)
            pages[va] = (merged, RegionKind.DATA if merged & Prot.WRITE else RegionKind(seg.name),
                         offset)
    return pages


def map_image(space: AddressSpace, image: Image, name: str) -> Image:
    """Regions for the image's segments (named after the file, with their file offsets; the
    anonymous part of ``.bss`` unnamed); a frame for every page that holds file bytes, and
    none for the rest: those arrive zero-filled at the first touch, as Linux maps them.

    A static-pie is placed as Linux places one (it has no interpreter): at the top of the
    mmap area, with the program break at ELF_ET_DYN_BASE. Returns the image as placed."""
    layout = space.layout
    if image.relocatable:
        low = page_down(image.start)
        span = page_up(image.end) - low
        image = image.rebased(page_down(layout.mmap_top - span) - low)
    low, high, limit = layout.user_min, layout.user_top, layout.stack_limit
    for seg in image.segments:
        if seg.va < low or seg.end > high:
            where = "kernel space" if seg.end > high else "the null page"
            raise ProgramError(f"{image.source}: segment {seg.va:#010x}-{seg.end:#010x} lands "
                               f"in {where} (user space is {low:#010x}-{high:#010x})")
        if seg.end > limit:
            raise ProgramError(f"{image.source}: segment {seg.va:#010x}-{seg.end:#010x} "
                               f"overlaps the stack area ({limit:#010x}-"
                               f"{layout.stack_top:#010x})")
    pages = sorted(_pages(image).items())
    run_start = None
    for i, (va, (prot, kind, offset)) in enumerate(pages):
        if run_start is None:
            run_start, run_offset = va, offset
        nxt = pages[i + 1] if i + 1 < len(pages) else None
        joined = nxt is not None and nxt[0] == va + PAGE_SIZE and nxt[1][:2] == (prot, kind) \
            and (nxt[1][2] is None) == (offset is None) and \
            (offset is None or nxt[1][2] == offset + PAGE_SIZE or image.kind != "elf")
        if not joined:
            try:
                space.add_region(run_start, va + PAGE_SIZE, prot, kind,
                                 name if run_offset is not None else "",
                                 offset=run_offset or 0)
            except MappingError as error:
                raise ProgramError(f"{image.source}: {error}") from None
            run_start = None
    for seg in image.segments:
        if seg.data:
            space.fill(seg.va, seg.va + len(seg.data), space.find(page_down(seg.va)))
    for seg in image.segments:
        if seg.data:
            space.write(seg.va, seg.data, mark=False)  # loaded pages are clean
    space.brk_start = space.brk = layout.pie_brk if image.relocatable else page_up(image.end)
    return image


@dataclass(frozen=True)
class Auxv:
    """What the auxiliary vector tells a program about itself and the machine."""

    entry: int
    phdr: int = 0
    phent: int = 0
    phnum: int = 0
    execfn: str = ""
    random: bytes = bytes(16)  # AT_RANDOM: the stack protector's canary, pointer guard
    vdso_base: int = 0  # AT_SYSINFO_EHDR
    vdso_entry: int = 0  # AT_SYSINFO: __kernel_vsyscall
    hwcap: int = HWCAP


def build_stack(space: AddressSpace, argv: list[str], envp: list[str], aux: Auxv) -> int:
    """Make the stack region and lay out the initial stack as Linux does
    (fs/binfmt_elf.c create_elf_tables): strings at the top (the file name last), the
    platform string, 16 random bytes, then auxv, envp, argv and argc in words of the
    process's size (4 bytes, 8 for x86-64), the stack pointer 16-aligned. Returns it."""
    layout = space.layout
    word, stack_top, stack_limit = layout.word, layout.stack_top, layout.stack_limit

    def encode(text: str) -> bytes:
        return text.encode(errors="surrogateescape") + b"\0"

    top = stack_top - word  # a NULL pointer ends the stack
    execfn = encode(aux.execfn or (argv[0] if argv else ""))
    execfn_at = top - len(execfn)
    strings = b"".join(encode(s) for s in argv + envp)
    strings_at = execfn_at - len(strings)
    platform = encode(layout.platform)
    platform_at = strings_at - len(platform)
    random_at = (platform_at - 16) & ~15
    pointers, offset = [], 0
    for s in argv + envp:
        pointers.append(strings_at + offset)
        offset += len(encode(s))
    argv_ptrs, env_ptrs = pointers[:len(argv)], pointers[len(argv):]
    auxv = [AT_SYSINFO, aux.vdso_entry, AT_SYSINFO_EHDR, aux.vdso_base,
            AT_MINSIGSTKSZ, MINSIGSTKSZ, AT_HWCAP, aux.hwcap, AT_PAGESZ, PAGE_SIZE,
            AT_CLKTCK, CLOCK_TICKS, AT_PHDR, aux.phdr, AT_PHENT, aux.phent,
            AT_PHNUM, aux.phnum, AT_BASE, 0, AT_FLAGS, 0, AT_ENTRY, aux.entry,
            AT_UID, 0, AT_EUID, 0, AT_GID, 0, AT_EGID, 0, AT_SECURE, 0,
            AT_RANDOM, random_at, AT_HWCAP2, 0, AT_EXECFN, execfn_at,
            AT_PLATFORM, platform_at, AT_NULL, 0]
    if not aux.vdso_entry:
        auxv = auxv[2:]  # no AT_SYSINFO (x86-64 has none) ...
    if not aux.vdso_base:
        pairs = zip(auxv[::2], auxv[1::2], strict=True)  # ... nor a vDSO
        auxv = [word for pair in pairs if pair[0] != AT_SYSINFO_EHDR for word in pair]
    words = [len(argv)] + argv_ptrs + [0] + env_ptrs + [0] + auxv
    esp = (random_at - word * len(words)) & ~15
    if esp < stack_limit + PAGE_SIZE:
        raise ProgramError("the arguments and environment do not fit on the stack")
    block = struct.pack(f"<{len(words)}{'Q' if word == 8 else 'I'}", *words)
    space.auxv = block[-word * len(auxv):]  # what /proc/PID/auxv and a debugger read
    # the stack region holds what is there now and 128 KiB more, as Linux's setup_arg_pages
    # leaves it, and grows down as it is used (to 8 MiB)
    start = max(page_down(esp) - layout.stack_expand, stack_limit)
    region = space.add_region(start, stack_top, Prot.READ | Prot.WRITE,
                              RegionKind.STACK, "[stack]", grows_down=True)
    space.fill(esp, stack_top, region)
    space.write(esp, block)
    space.write(random_at, aux.random)
    space.write(platform_at, platform)
    space.write(strings_at, strings)
    space.write(execfn_at, execfn)
    return esp
