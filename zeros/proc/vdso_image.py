"""The [vdso] images: the code (i386 and x86-64) and the ELF shared objects around it.

Both are built the same way: the functions assembled at TEXT_OFFSET, then the dynamic
symbols, a SysV hash table, symbol versions and the dynamic section before them, and the
ELF header (ELFCLASS32 for ``linux-gate.so.1``, ELFCLASS64 for ``linux-vdso.so.1``). The
clock functions read [vvar] (the page below the vDSO: its layout is in
:mod:`zeros.proc.vdso`) and interpolate with ``rdtsc``; other clocks make the syscall.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from emu.mmu import PAGE_SIZE

from ..layout import LAYOUT64, VVAR_BASE

VV_PID, VV_PAGE, VV_MS, VV_TICKS = 0x00, 0x04, 0x08, 0x10
VV_TSC, VV_REAL, VV_MONO, VV_MULT = 0x18, 0x20, 0x28, 0x30
TEXT_OFFSET = 0x400  # the code, after the ELF structures
ZEROS_OFFSETS = {"zeros_getpid": 0xF00, "zeros_clock_ms": 0xF10, "zeros_page_size": 0xF20}

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


# x86-64 (System V calls: RDI, RSI; RAX back). read_ns takes the address of a [vvar] clock
# in RAX and returns nanoseconds now in RAX (clobbers RCX, RDX, R8).
VVAR64 = LAYOUT64.vvar_base
SOURCE64 = f"""
__vdso_clock_gettime:
    mov rax, {VVAR64 + VV_REAL:#x}
    test edi, edi
    je clock_read
    cmp edi, 5
    je clock_read
    mov rax, {VVAR64 + VV_MONO:#x}
    cmp edi, 1
    je clock_read
    cmp edi, 4
    je clock_read
    cmp edi, 6
    je clock_read
    cmp edi, 7
    je clock_read
    mov eax, 228
    syscall
    ret
clock_read:
    call read_ns
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    mov qword ptr [rsi], rax
    mov qword ptr [rsi + 8], rdx
    xor eax, eax
    ret
__vdso_gettimeofday:
    test rdi, rdi
    je tod_zone
    mov rax, {VVAR64 + VV_REAL:#x}
    call read_ns
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    mov qword ptr [rdi], rax
    mov rax, rdx
    xor edx, edx
    mov rcx, 1000
    div rcx
    mov qword ptr [rdi + 8], rax
tod_zone:
    test rsi, rsi
    je tod_done
    mov qword ptr [rsi], 0
tod_done:
    xor eax, eax
    ret
__vdso_time:
    mov rax, {VVAR64 + VV_REAL:#x}
    call read_ns
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    test rdi, rdi
    je time_done
    mov qword ptr [rdi], rax
time_done:
    ret
__vdso_getcpu:
    test rdi, rdi
    je cpu_node
    mov dword ptr [rdi], 0
cpu_node:
    test rsi, rsi
    je cpu_done
    mov dword ptr [rsi], 0
cpu_done:
    xor eax, eax
    ret
__vdso_clock_getres:
    mov eax, 229
    syscall
    ret
read_ns:
    mov r8, rax
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rcx, {VVAR64 + VV_TSC:#x}
    sub rax, qword ptr [rcx]
    mov rcx, {VVAR64 + VV_MULT:#x}
    mov ecx, dword ptr [rcx]
    mul rcx
    shrd rax, rdx, 32
    add rax, qword ptr [r8]
    ret
"""
# (symbol, version index): 2 is LINUX_2.6
SYMBOLS64 = [("__vdso_clock_gettime", 2), ("__vdso_gettimeofday", 2), ("__vdso_time", 2),
             ("__vdso_getcpu", 2), ("__vdso_clock_getres", 2)]
VERSIONS64 = ["linux-vdso.so.1", "LINUX_2.6"]


def elf_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = (h << 4) + c
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g
    return h



@lru_cache(maxsize=2)
def build_image(bits: int = 32) -> tuple[bytes, dict[str, int]]:
    """The [vdso] page (an ELF shared object linked at 0) and its symbols' offsets, built
    from the assembly source above: i386 (``bits=32``) or x86-64."""
    from emu.asm import assemble_symbols  # only when building: start-up uses vdso_built.py

    wide = bits == 64
    symbols = SYMBOLS64 if wide else SYMBOLS
    versions = VERSIONS64 if wide else VERSIONS
    names = [name for name, _ in symbols]
    code, where = assemble_symbols(SOURCE64 if wide else SOURCE, TEXT_OFFSET, names, bits)
    page = bytearray(PAGE_SIZE)
    page[TEXT_OFFSET:TEXT_OFFSET + len(code)] = code
    if not wide:  # ZerOS's own functions, at fixed places
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
    ver_names = [string(v) for v in versions]
    if wide:  # Elf64_Sym: name, info, other, shndx, value, size
        sym = struct.Struct("<IBBHQQ")
        dynsym = bytes(sym.size) + b"".join(sym.pack(sym_names[k], 0x12, 0, 1, where[name], 0)
                                            for k, name in enumerate(names))
    else:  # Elf32_Sym: name, value, size, info, other, shndx
        sym = struct.Struct("<IIIBBH")
        dynsym = bytes(sym.size) + b"".join(sym.pack(sym_names[k], where[name], 0, 0x12, 0, 1)
                                            for k, name in enumerate(names))
    nsyms = len(names) + 1
    nbucket = 3
    buckets, chains = [0] * nbucket, [0] * nsyms
    for k, name in enumerate(names, 1):
        b = elf_hash(name.encode()) % nbucket
        chains[k], buckets[b] = buckets[b], k
    hashtab = struct.pack(f"<II{nbucket}I{nsyms}I", nbucket, nsyms, *buckets, *chains)
    versym = struct.pack(f"<{nsyms}H", 0, *[v for _, v in symbols])
    verdef = b""
    for index, version in enumerate(versions, 1):
        last = index == len(versions)
        verdef += struct.pack("<HHHHIII", 1, 1 if index == 1 else 0, index, 1,
                              elf_hash(version.encode()), 20, 0 if last else 28)
        verdef += struct.pack("<II", ver_names[index - 1], 0)
    layout, at = {}, 0x80 if not wide else 0x100
    for key, blob in (("hash", hashtab), ("dynsym", dynsym), ("dynstr", bytes(strtab)),
                      ("versym", versym), ("verdef", verdef)):
        at = (at + 7) & ~7
        layout[key] = at
        page[at:at + len(blob)] = blob
        at += len(blob)
    dynamic_at = (at + 7) & ~7
    tags = [(4, layout["hash"]), (5, layout["dynstr"]), (6, layout["dynsym"]),
            (10, len(strtab)), (11, sym.size), (14, ver_names[0]),
            (0x6FFFFFF0, layout["versym"]), (0x6FFFFFFC, layout["verdef"]),
            (0x6FFFFFFD, len(versions)), (0, 0)]
    dyn = struct.Struct("<qQ" if wide else "<iI")
    dynamic = b"".join(dyn.pack(tag, value) for tag, value in tags)
    page[dynamic_at:dynamic_at + len(dynamic)] = dynamic
    if dynamic_at + len(dynamic) > TEXT_OFFSET:
        raise AssertionError("the vdso's ELF structures run into its code")
    # the ELF header and program headers: PT_LOAD of the page, PT_DYNAMIC
    entry = where[names[0]]
    if wide:
        header = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, bytes(7),
                             3, 62, 1, entry, 64, 0, 0, 64, 56, 2, 64, 0, 0)
        programs = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE) + \
            struct.pack("<IIQQQQQQ", 2, 4, dynamic_at, dynamic_at, dynamic_at, len(dynamic),
                        len(dynamic), 8)
    else:
        header = struct.pack("<4sBBBBB7sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, bytes(7),
                             3, 3, 1, entry, 52, 0, 0, 52, 32, 2, 40, 0, 0)
        programs = struct.pack("<8I", 1, 0, 0, 0, PAGE_SIZE, PAGE_SIZE, 5, PAGE_SIZE) + \
            struct.pack("<8I", 2, dynamic_at, dynamic_at, dynamic_at, len(dynamic),
                        len(dynamic), 4, 4)
    page[0:len(header)] = header
    page[len(header):len(header) + len(programs)] = programs
    out = dict(where)
    if not wide:
        out.update(ZEROS_OFFSETS)
    return bytes(page), out
