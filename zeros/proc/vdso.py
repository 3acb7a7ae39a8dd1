"""[vvar] and [vdso]: kernel data and code a guest uses without a trap.

[vvar] is one read-only user page per process, at VVAR_BASE::

    +0x00  u32  pid                    +0x04  u32  page size (4096)
    +0x08  u64  milliseconds since the machine booted
    +0x10  u32  scheduler slices so far
    +0x18  u64  time-stamp counter at the last update
    +0x20  u64  CLOCK_REALTIME at the last update, in nanoseconds
    +0x28  u64  CLOCK_MONOTONIC at the last update, in nanoseconds
    +0x30  u32  nanoseconds per TSC tick, 32.32 fixed point (0: time moves at updates only)

The kernel updates it before the process runs and at kernel entries; the vDSO interpolates
from there with ``rdtsc``, as Linux's does.

[vdso] is one read-only executable page, one frame for everyone: an ELF shared object
(``linux-gate.so.1``) with a dynamic section, a SysV hash table and symbol versions, so that
glibc and musl find their functions in it, as they do on Linux::

    __kernel_vsyscall       LINUX_2.5   int 0x80; ret (AT_SYSINFO points here)
    __kernel_sigreturn      LINUX_2.5   __kernel_rt_sigreturn   LINUX_2.5
    __vdso_clock_gettime    LINUX_2.6   __vdso_clock_gettime64  LINUX_2.6
    __vdso_gettimeofday     LINUX_2.6   __vdso_time             LINUX_2.6
    __vdso_clock_getres     LINUX_2.6

and ZerOS's own, at fixed addresses (``include/syscalls.inc``): VDSO_GETPID (EAX = pid),
VDSO_CLOCK_MS (EDX:EAX = milliseconds since boot), VDSO_PAGE_SIZE (EAX = 4096).
"""

from __future__ import annotations

import base64
import struct
import sys
import textwrap
import zlib
from functools import lru_cache
from pathlib import Path

from emu.asm import assemble_symbols
from emu.mmu import PAGE_SIZE, Pte

from ..layout import VDSO_BASE, VVAR_BASE
from ..mm.frames import KERNEL, FrameAllocator, FrameKind
from ..vm.addrspace import AddressSpace
from ..vm.regions import Prot, RegionKind
from .clock import Clock

VV_PID, VV_PAGE, VV_MS, VV_TICKS = 0x00, 0x04, 0x08, 0x10
VV_TSC, VV_REAL, VV_MONO, VV_MULT = 0x18, 0x20, 0x28, 0x30
TEXT_OFFSET = 0x400  # the code, after the ELF structures
ZEROS_OFFSETS = {"zeros_getpid": 0xF00, "zeros_clock_ms": 0xF10, "zeros_page_size": 0xF20}
_USER_RO = int(Pte.US)

SOURCE = f"""
__kernel_vsyscall:
    int 0x80
    ret
__kernel_sigreturn:
    pop eax
    mov eax, 119
    int 0x80
__kernel_rt_sigreturn:
    mov eax, 173
    int 0x80
__vdso_clock_gettime:
    mov edx, 265
    jmp clock_gettime_any
__vdso_clock_gettime64:
    mov edx, 403
clock_gettime_any:
    push ebx
    push esi
    push edi
    push edx
    mov eax, dword ptr [esp + 20]
    mov ebx, {VVAR_BASE + VV_REAL:#x}
    test eax, eax
    je clock_read
    cmp eax, 5
    je clock_read
    mov ebx, {VVAR_BASE + VV_MONO:#x}
    cmp eax, 1
    je clock_read
    cmp eax, 4
    je clock_read
    cmp eax, 6
    je clock_read
    cmp eax, 7
    je clock_read
    pop eax
    mov ebx, dword ptr [esp + 16]
    mov ecx, dword ptr [esp + 20]
    int 0x80
    jmp clock_done
clock_read:
    call read_ns
    mov ecx, 1000000000
    div ecx
    mov ecx, dword ptr [esp + 24]
    mov dword ptr [ecx], eax
    pop esi
    cmp esi, 265
    je clock_narrow
    mov dword ptr [ecx + 4], 0
    mov dword ptr [ecx + 8], edx
    mov dword ptr [ecx + 12], 0
    xor eax, eax
    jmp clock_done
clock_narrow:
    mov dword ptr [ecx + 4], edx
    xor eax, eax
clock_done:
    pop edi
    pop esi
    pop ebx
    ret
__vdso_gettimeofday:
    push ebx
    push esi
    push edi
    mov ecx, dword ptr [esp + 16]
    test ecx, ecx
    je tod_zone
    mov ebx, {VVAR_BASE + VV_REAL:#x}
    call read_ns
    mov ecx, 1000000000
    div ecx
    mov ecx, dword ptr [esp + 16]
    mov dword ptr [ecx], eax
    mov eax, edx
    xor edx, edx
    mov esi, 1000
    div esi
    mov dword ptr [ecx + 4], eax
tod_zone:
    mov ecx, dword ptr [esp + 20]
    test ecx, ecx
    je tod_done
    mov dword ptr [ecx], 0
    mov dword ptr [ecx + 4], 0
tod_done:
    xor eax, eax
    pop edi
    pop esi
    pop ebx
    ret
__vdso_time:
    push ebx
    push esi
    push edi
    mov ebx, {VVAR_BASE + VV_REAL:#x}
    call read_ns
    mov ecx, 1000000000
    div ecx
    mov ecx, dword ptr [esp + 16]
    test ecx, ecx
    je time_done
    mov dword ptr [ecx], eax
time_done:
    pop edi
    pop esi
    pop ebx
    ret
__vdso_clock_getres:
    push ebx
    mov eax, 266
    mov ebx, dword ptr [esp + 8]
    mov ecx, dword ptr [esp + 12]
    int 0x80
    pop ebx
    ret
read_ns:
    rdtsc
    sub eax, dword ptr [{VVAR_BASE + VV_TSC:#x}]
    sbb edx, dword ptr [{VVAR_BASE + VV_TSC + 4:#x}]
    mov esi, edx
    mul dword ptr [{VVAR_BASE + VV_MULT:#x}]
    mov edi, edx
    mov eax, esi
    mul dword ptr [{VVAR_BASE + VV_MULT:#x}]
    add eax, edi
    adc edx, 0
    add eax, dword ptr [ebx]
    adc edx, dword ptr [ebx + 4]
    ret
"""
ZEROS_SOURCE = {
    "zeros_getpid": f"mov eax, dword ptr [{VVAR_BASE + VV_PID:#x}]\nret",
    "zeros_clock_ms": f"mov eax, dword ptr [{VVAR_BASE + VV_MS:#x}]\n"
                      f"mov edx, dword ptr [{VVAR_BASE + VV_MS + 4:#x}]\nret",
    "zeros_page_size": f"mov eax, dword ptr [{VVAR_BASE + VV_PAGE:#x}]\nret",
}
# (symbol, version index): 2 is LINUX_2.5, 3 is LINUX_2.6
SYMBOLS = [("__kernel_vsyscall", 2), ("__kernel_sigreturn", 2), ("__kernel_rt_sigreturn", 2),
           ("__vdso_clock_gettime", 3), ("__vdso_clock_gettime64", 3),
           ("__vdso_gettimeofday", 3), ("__vdso_time", 3), ("__vdso_clock_getres", 3)]
VERSIONS = ["linux-gate.so.1", "LINUX_2.5", "LINUX_2.6"]


def elf_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = (h << 4) + c
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g
    return h


def vdso_image() -> tuple[bytes, dict[str, int]]:
    """The [vdso] page and its symbols' offsets, as built into ``vdso_built.py`` (start-up
    need not assemble it: ``python -m zeros.proc.vdso`` rebuilds that file, and a test
    checks that it matches this source)."""
    from . import vdso_built
    return zlib.decompress(base64.b64decode(vdso_built.IMAGE)), dict(vdso_built.SYMBOLS)


@lru_cache(maxsize=1)
def build_image() -> tuple[bytes, dict[str, int]]:
    """The [vdso] page (an ELF shared object linked at 0) and its symbols' offsets, built
    from the assembly source above."""
    names = [name for name, _ in SYMBOLS]
    code, where = assemble_symbols(SOURCE, TEXT_OFFSET, names)
    page = bytearray(PAGE_SIZE)
    page[TEXT_OFFSET:TEXT_OFFSET + len(code)] = code
    for name, offset in ZEROS_OFFSETS.items():
        piece, _ = assemble_symbols(ZEROS_SOURCE[name], offset, [])
        page[offset:offset + len(piece)] = piece
    if TEXT_OFFSET + len(code) > min(ZEROS_OFFSETS.values()):
        raise AssertionError("the vdso code runs into ZerOS's functions")
    # strings, symbols, hash, versions, dynamic section
    strtab = bytearray(b"\0")

    def string(text: str) -> int:
        at = len(strtab)
        strtab.extend(text.encode() + b"\0")
        return at
    sym_names = [string(name) for name in names]
    ver_names = [string(v) for v in VERSIONS]
    dynsym = bytes(16) + b"".join(
        struct.pack("<IIIBBH", sym_names[k], where[name], 0, 0x12, 0, 1)  # GLOBAL FUNC
        for k, name in enumerate(names))
    nsyms = len(names) + 1
    nbucket = 3
    buckets, chains = [0] * nbucket, [0] * nsyms
    for k, name in enumerate(names, 1):
        b = elf_hash(name.encode()) % nbucket
        chains[k], buckets[b] = buckets[b], k
    hashtab = struct.pack(f"<II{nbucket}I{nsyms}I", nbucket, nsyms, *buckets, *chains)
    versym = struct.pack(f"<{nsyms}H", 0, *[v for _, v in SYMBOLS])
    verdef = b""
    for index, version in enumerate(VERSIONS, 1):
        last = index == len(VERSIONS)
        verdef += struct.pack("<HHHHIII", 1, 1 if index == 1 else 0, index, 1,
                              elf_hash(version.encode()), 20, 0 if last else 28)
        verdef += struct.pack("<II", ver_names[index - 1], 0)
    layout, at = {}, 0x80
    for key, blob in (("hash", hashtab), ("dynsym", dynsym), ("dynstr", bytes(strtab)),
                      ("versym", versym), ("verdef", verdef)):
        at = (at + 7) & ~7
        layout[key] = at
        page[at:at + len(blob)] = blob
        at += len(blob)
    dynamic_at = (at + 7) & ~7
    dynamic = struct.pack("<18i", 4, layout["hash"], 5, layout["dynstr"], 6, layout["dynsym"],
                          10, len(strtab), 11, 16, 14, ver_names[0],
                          0x6FFFFFF0, layout["versym"], 0x6FFFFFFC, layout["verdef"],
                          0x6FFFFFFD, len(VERSIONS))
    dynamic += struct.pack("<ii", 0, 0)
    page[dynamic_at:dynamic_at + len(dynamic)] = dynamic
    if dynamic_at + len(dynamic) > TEXT_OFFSET:
        raise AssertionError("the vdso's ELF structures run into its code")
    # the ELF header and program headers
    phnum = 2
    page[0:52] = struct.pack("<4sBBBBB7sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, bytes(7),
                             3, 3, 1, where["__kernel_vsyscall"], 52, 0, 0, 52, 32, phnum,
                             40, 0, 0)
    page[52:52 + 64] = struct.pack("<8I", 1, 0, 0, 0, PAGE_SIZE, PAGE_SIZE, 5, PAGE_SIZE) + \
        struct.pack("<8I", 2, dynamic_at, dynamic_at, dynamic_at, len(dynamic), len(dynamic),
                    4, 4)
    symbols = dict(where)
    symbols.update(ZEROS_OFFSETS)
    return bytes(page), symbols


class Vdso:
    def __init__(self, frames: FrameAllocator, clock: Clock | None = None):
        self.frames = frames
        self.clock = clock or Clock()
        self.ticks = 0
        image, self.symbols = vdso_image()
        self.frame = self.frames.alloc(KERNEL, FrameKind.VDSO, "[vdso]", executable=True)
        self.frames.ram.write(self.frame, image)

    def address(self, name: str) -> int:
        return VDSO_BASE + self.symbols[name]

    def setup(self, space: AddressSpace) -> None:
        """Give a new address space its [vvar] page and the shared [vdso] page."""
        self.add_vvar(space)
        region = space.add_region(VDSO_BASE, VDSO_BASE + PAGE_SIZE, Prot.READ | Prot.EXEC,
                                  RegionKind.VDSO, "[vdso]", demand=False)
        space.map_frame(region.start, self.frame, _USER_RO)

    def add_vvar(self, space: AddressSpace) -> None:
        region = space.add_region(VVAR_BASE, VVAR_BASE + PAGE_SIZE, Prot.READ, RegionKind.VVAR,
                                  "[vvar]", demand=False)
        pa = space.map_new(region.start, region)
        self.frames.info(pa).kind = FrameKind.VVAR  # the kernel writes it: never paged out
        self.frames.ram.write(pa, struct.pack("<II", space.pid, PAGE_SIZE))
        self._write_clock(pa)

    def update(self, space: AddressSpace) -> None:
        """Refresh the clock in a process's [vvar] (before it runs, and at kernel entries)."""
        pte = space.tables.entry(VVAR_BASE)
        if pte & 1:
            self._write_clock(pte & space.fmt.addr_mask)

    def _write_clock(self, pa: int) -> None:
        counter, real, mono, mult = self.clock.sample()
        self.frames.ram.write(pa + VV_MS, struct.pack("<QI", mono // 1_000_000, self.ticks))
        self.frames.ram.write(pa + VV_TSC, struct.pack("<QQQI", counter, real, mono, mult))


BUILT = Path(__file__).with_name("vdso_built.py")


def write_built(path: Path = BUILT) -> None:
    """Rebuild ``vdso_built.py`` from the source (after changing the vDSO)."""
    image, symbols = build_image()
    encoded = base64.b64encode(zlib.compress(image, 9)).decode()
    lines = textwrap.wrap(encoded, 88)
    body = "\n".join(f'    "{line}"' for line in lines)
    entries = "".join(f"    {name!r}: {offset:#x},\n" for name, offset in sorted(symbols.items()))
    path.write_text('"""The [vdso] page, built by ``python -m zeros.proc.vdso`` from the source in '
                    'vdso.py\n(a test checks they agree). Generated: do not edit."""\n\n'
                    f"IMAGE = (\n{body}\n)\nSYMBOLS = {{\n{entries}}}\n")


if __name__ == "__main__":
    write_built()
    sys.exit(0)
