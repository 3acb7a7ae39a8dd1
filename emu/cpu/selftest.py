"""Start-up calibration and self-test of the Unicorn build (run by every :class:`Cpu`).

A scratch world at the top of RAM, identity-mapped: a ring-0 ``iretd`` enters ring 3, where
a program makes a syscall (the ring-3 template context is saved there) and then three page
faults in a row: a read of a not-present page (error 4), a write to that page now read-only
(error 7), a write to another not-present page (error 6). Each must arrive as vector 14 with
that error code, which is only true once the double-fault remedy works.

Along the way it finds, in the saved context (a copy of QEMU's CPUX86State):

* ``old_exception``: the one 32-bit field that goes from -1 to 14 across the first fault;
* ``error_code`` 112 bytes before it and ``exception_is_int`` right after that (2.1.4);
* ``cr[2]``: where CR0, CR3 and CR4 sit 0, 3 and 4 words into the ``cr`` array.

Then :func:`locate_state` looks for the live CPUX86State itself, so that registers can be
read in place. Nothing found, or any check failing: the CPU keeps the slower API calls. A
failure of the fault self-test itself is fatal (UnicornBuildError): the CPU cannot be used.
"""

from __future__ import annotations

import ctypes
import struct

from .. import gdt as gdtmod
from ..errors import EmulationError, UnicornBuildError
from ..mmu import PAGE_SIZE, Cr0, Cr4, Efer, Pte, pdx, ptx
from .contexts import EFER
from .core import Cpu, unicorn_build
from .registers import EIP_INDEX, GP_INDEX, Reg, Reg64, Seg, StateLayout
from .trap import PF, SYSCALL_VECTOR, Trap

_SCRATCH_PAGES = 9
_PD, _PT, _GDT, _STUB, _KSTACK, _UCODE, _USTACK, _PROBE_A, _PROBE_B = range(_SCRATCH_PAGES)
_ERROR_CODE_BEFORE_OLD_EXCEPTION = 112  # bytes, in CPUX86State of Unicorn 2.1.4
_state_path: tuple[int, int] | None = None  # (offset in uc_struct, distance): found once
_MAGIC = [0x5A5A0001 + 0x01010101 * i for i in range(8)]  # EAX..EDI in QEMU's order
_SIGNATURE = b"".join(struct.pack("<Q", v) for v in _MAGIC)


def _scratch_base(ram_size: int) -> int:
    """The highest run of scratch pages that stays inside one 4 MiB region."""
    base = ram_size - _SCRATCH_PAGES * PAGE_SIZE
    last = base + (_SCRATCH_PAGES - 1) * PAGE_SIZE
    if pdx(base) != pdx(last):
        base = (last & ~0x3FFFFF) - _SCRATCH_PAGES * PAGE_SIZE
    return base


def _refuse(why: str) -> UnicornBuildError:
    return UnicornBuildError(f"{unicorn_build()} cannot be used: {why}")


def _words(blob: bytes, fmt: str = "<i"):
    size = struct.calcsize(fmt)
    return [struct.unpack_from(fmt, blob, i)[0] for i in range(0, len(blob) - size + 1, size)]


def _find_layout(before: bytes, after: bytes, header: int, cr: dict[int, int]) -> StateLayout:
    """Offsets from two snapshots: at the first syscall (before) and at the first #PF."""
    state_before, state_after = before[header:], after[header:]
    b32, a32 = _words(state_before), _words(state_after)
    old = [i for i, (x, y) in enumerate(zip(b32, a32, strict=True)) if x == -1 and y == PF]
    if len(old) != 1:
        raise _refuse(f"the page-fault remedy needs exactly one context field going from -1 "
                      f"to 14 (old_exception), found {len(old)}")
    error_code = old[0] - _ERROR_CODE_BEFORE_OLD_EXCEPTION // 4
    if b32[error_code + 1] != 1 or a32[error_code + 1] != 0:
        raise _refuse(f"the context layout differs from 2.1.4 (exception_is_int reads "
                      f"{b32[error_code + 1]} after int 0x80 and {a32[error_code + 1]} after "
                      f"a page fault, expected 1 and 0)")
    a64 = _words(state_after, "<Q")
    cr0_at = [i for i in range(len(a64) - 4)
              if a64[i] == cr[0] and a64[i + 3] == cr[3] and a64[i + 4] == cr[4]]
    if len(cr0_at) != 1 or a64[cr0_at[0] + 2] != cr[2]:
        raise _refuse("CR0..CR4 were not found in the saved context")
    return StateLayout(header, len(state_after) // 8 * 8, old[0], error_code, error_code + 1,
                       cr0_at[0] + 2)


def _iret_frame(ram, layout: str, kstack: int, code: int, cs: int, ustack: int,
                ds: int) -> int:
    """The frame ``iret`` pops to enter ring 3 at ``code`` (EIP/RIP, CS, flags with IF,
    the user stack, SS), at the top of the kernel stack page; returns where it starts."""
    frame = struct.pack(layout, code, cs, 0x202, ustack + PAGE_SIZE, ds)
    at = kstack + PAGE_SIZE - len(frame)
    ram.write(at, frame)
    return at


def _context_header(cpu: Cpu) -> int:
    """Where the registers start in a saved context: found by writing known values."""
    for r, value in zip(GP_INDEX, _MAGIC, strict=True):
        cpu.set_reg(r, value)
    header = cpu.snapshot().find(_SIGNATURE)
    if header < 0:
        raise _refuse("the registers were not found in a saved context")
    return header


def calibrate(cpu: Cpu, direct_state: bool = True):
    """Calibrate and self-test ``cpu``; returns the (ring-3, ring-0) template contexts.
    With ``direct_state`` False, registers stay behind Unicorn's API calls."""
    ram = cpu.ram
    base = _scratch_base(ram.size)
    page = [base + i * PAGE_SIZE for i in range(_SCRATCH_PAGES)]
    for i in range(_SCRATCH_PAGES):
        ram.zero(page[i])
    ram.write_u32(page[_PD] + 4 * pdx(base), page[_PT] | Pte.P | Pte.RW | Pte.US)
    for i in (_PD, _PT, _GDT, _STUB, _KSTACK, _UCODE, _USTACK):
        flags = Pte.P | Pte.RW | (Pte.US if i in (_UCODE, _USTACK) else 0)
        ram.write_u32(page[_PT] + 4 * ptx(page[i]), page[i] | flags)
    ram.write(page[_GDT], gdtmod.flat_gdt())
    ram.write(page[_STUB], b"\xcf")  # iretd
    a, b = page[_PROBE_A], page[_PROBE_B]
    ram.write(page[_UCODE], b"\xcd\x80"  # int 0x80
              + b"\xa1" + struct.pack("<I", a)  # mov eax, [a]
              + b"\xa3" + struct.pack("<I", a)  # mov [a], eax
              + b"\xa3" + struct.pack("<I", b)  # mov [b], eax
              + b"\xcd\x80")  # int 0x80
    frame_at = _iret_frame(ram, "<5I", page[_KSTACK], page[_UCODE], gdtmod.USER_CS,
                           page[_USTACK], gdtmod.USER_DS)
    header = _context_header(cpu)

    cpu.set_gdtr(page[_GDT], gdtmod.ENTRIES * gdtmod.DESCRIPTOR_SIZE - 1)
    cpu.set_reg(Reg.CR3, page[_PD])
    cpu.set_reg(Reg.CR4, cpu.reg(Reg.CR4) | Cr4.PSE | Cr4.PGE)
    cpu.set_reg(Reg.CR0, cpu.reg(Reg.CR0) | Cr0.PG | Cr0.WP)
    for seg, value in ((Seg.CS, gdtmod.KERNEL_CS), (Seg.SS, gdtmod.KERNEL_DS),
                       (Seg.DS, gdtmod.USER_DS), (Seg.ES, gdtmod.USER_DS), (Seg.FS, 0),
                       (Seg.GS, 0)):
        cpu.set_selector(seg, value)
    cpu.set_reg(Reg.ESP, frame_at)
    kernel_template = cpu.save_new_context()

    template = _self_test(cpu, page[_STUB], header, a, b, lambda target, flags: ram.write_u32(
        page[_PT] + 4 * ptx(target), target | flags), after=1)
    _finish(cpu, direct_state, page)
    return template, kernel_template


_LONG_PAGES = 11
(_L4, _L3, _L2, _L1, _LGDT, _LSTUB, _LKSTACK, _LUCODE, _LUSTACK, _LPROBE_A,
 _LPROBE_B) = range(_LONG_PAGES)


def calibrate64(cpu: Cpu, direct_state: bool = True):
    """The same for a CPU in long mode: 4-level tables identity-map the scratch pages, a
    ring-0 ``iretq`` enters 64-bit code in ring 3, which makes an ``int 0x80``, the three
    faults, a ``syscall`` (the instruction hook) and an ``int 0x80``. Long mode is entered
    here (CR4.PAE, EFER.LME|LMA|SCE|NXE, CR3, CR0.PG) and stays in both templates."""
    ram = cpu.ram
    base = ram.size - _LONG_PAGES * PAGE_SIZE  # inside one 2 MiB region (one page table)
    if base >> 21 != (ram.size - 1) >> 21:
        base = ((ram.size - 1) & ~0x1FFFFF) - _LONG_PAGES * PAGE_SIZE
    page = [base + i * PAGE_SIZE for i in range(_LONG_PAGES)]
    for pa in page:
        ram.zero(pa)

    def put(table: int, index: int, value: int) -> None:
        ram.write(page[table] + 8 * index, struct.pack("<Q", value))

    table_flags = Pte.P | Pte.RW | Pte.US
    put(_L4, (base >> 39) & 511, page[_L3] | table_flags)
    put(_L3, (base >> 30) & 511, page[_L2] | table_flags)
    put(_L2, (base >> 21) & 511, page[_L1] | table_flags)
    for i in (_L4, _L3, _L2, _L1, _LGDT, _LSTUB, _LKSTACK, _LUCODE, _LUSTACK):
        put(_L1, (page[i] >> 12) & 511,
            page[i] | Pte.P | Pte.RW | (Pte.US if i in (_LUCODE, _LUSTACK) else 0))
    ram.write(page[_LGDT], gdtmod.long_gdt())
    ram.write(page[_LSTUB], b"\x48\xcf")  # iretq
    a, b = page[_LPROBE_A], page[_LPROBE_B]
    ram.write(page[_LUCODE], b"\xcd\x80"  # int 0x80
              + b"\x48\x8b\x04\x25" + struct.pack("<I", a)  # mov rax, [a]
              + b"\x48\x89\x04\x25" + struct.pack("<I", a)  # mov [a], rax
              + b"\x48\x89\x04\x25" + struct.pack("<I", b)  # mov [b], rax
              + b"\x0f\x05"  # syscall
              + b"\xcd\x80")  # int 0x80
    frame_at = _iret_frame(ram, "<5Q", page[_LKSTACK], page[_LUCODE], gdtmod.LONG_USER_CS,
                           page[_LUSTACK], gdtmod.LONG_USER_DS)
    header = _context_header(cpu)

    cpu.set_gdtr(page[_LGDT], gdtmod.LONG_ENTRIES * gdtmod.DESCRIPTOR_SIZE - 1)
    cpu.set_reg(Reg.CR4, cpu.reg(Reg.CR4) | Cr4.PAE | Cr4.PGE)
    cpu.uc.msr_write(EFER, Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE)
    cpu.set_reg(Reg.CR3, page[_L4])
    cpu.set_reg(Reg.CR0, cpu.reg(Reg.CR0) | Cr0.PG | Cr0.WP)
    cpu.set_reg(Reg64.RSP, frame_at)
    kernel_template = cpu.save_new_context()

    def map_page(target: int, flags: int) -> None:
        put(_L1, (target >> 12) & 511, target | flags)

    template = _self_test(cpu, page[_LSTUB], header, a, b, map_page, after=2)
    _finish(cpu, direct_state, page)
    return template, kernel_template


def _self_test(cpu: Cpu, stub: int, header: int, a: int, b: int, map_page,
               after: int):
    """Run the scratch program from ``stub``: a syscall (the ring-3 template is saved
    there), three page faults (``map_page(page, flags)`` fixes each), then ``after`` more
    syscalls. Each event must arrive as itself; returns the ring-3 template."""
    events: list[tuple[int, int, int]] = []  # (vector, error code, cr2)
    state: dict = {}

    def on_syscall() -> None:
        events.append((SYSCALL_VECTOR, 0, 0))
        if "template" not in state:
            state["template"] = cpu.save_new_context()
            state["before"] = cpu.snapshot()
        elif events.count((SYSCALL_VECTOR, 0, 0)) == after + 1:
            cpu.stop()

    def on_trap(trap: Trap) -> None:
        events.append((trap.vector, trap.error_code, trap.cr2))
        if trap.vector != PF:
            cpu.stop()
            return
        map_page(trap.cr2 & ~0xFFF, Pte.P | Pte.US | (Pte.RW if trap.error_code & 2 else 0))

    def locate_fields(vector: int) -> None:
        after = cpu.snapshot()
        cr = {i: cpu.reg(r) for i, r in ((0, Reg.CR0), (2, Reg.CR2), (3, Reg.CR3),
                                         (4, Reg.CR4))}
        cpu.use_layout(_find_layout(state["before"], after, header, cr))

    cpu._locate_fields = locate_fields
    cpu.syscall_handler, cpu.trap_handler = on_syscall, on_trap
    try:
        cpu.run(stub, timeout_us=2_000_000)
    except EmulationError as error:
        raise _refuse(f"the start-up self-test stopped with {error}") from None
    finally:
        del cpu._locate_fields
        cpu.syscall_handler, cpu.trap_handler = cpu._unhandled_syscall, cpu._unhandled_trap
    expected = [(SYSCALL_VECTOR, 0, 0), (PF, 4, a), (PF, 7, a), (PF, 6, b)] + \
        [(SYSCALL_VECTOR, 0, 0)] * after
    if events != expected:
        def show(evts):
            return ", ".join(f"vector {v} error {e:#x} cr2 {c:#x}" for v, e, c in evts)
        raise _refuse(f"the page-fault self-test expected [{show(expected)}] but the CPU "
                      f"delivered [{show(events)}]; three page faults in a row must each "
                      f"arrive as vector 14 (Unicorn issue 1883 remedy)")
    return state["template"]


def _finish(cpu: Cpu, direct_state: bool, page: list[int]):
    """Registers in place when the live state is found; the scratch pages cleaned."""
    address = locate_state(cpu) if direct_state else None
    if address is not None:
        cpu.use_state(address)
    for pa in page:
        cpu.ram.zero(pa)
    cpu.flush_code()
    cpu.flush_tlb()


def _read_process_memory(address: int, size: int) -> bytes:
    """Read our own memory without risking a crash: a bad address gives b''."""
    try:
        with open("/proc/self/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            return mem.read(size)
    except (OSError, ValueError, OverflowError):
        return b""


def _writable_ranges() -> list[tuple[int, int]]:
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                span, perms = line.split()[:2]
                if perms.startswith("rw"):
                    lo, hi = (int(x, 16) for x in span.split("-"))
                    ranges.append((lo, hi))
    except OSError:
        pass
    return ranges




def _verify_state(cpu: Cpu, address: int) -> bool:
    """Is ``address`` the live CPUX86State? Round trips in both directions, through the
    API and through memory, for every register read in place."""
    saved = {r: cpu._calls.read(r) for r in GP_INDEX}
    try:
        for r, value in zip(GP_INDEX, _MAGIC, strict=True):
            cpu._calls.write(r, value)
        blob = _read_process_memory(address, 8 * (EIP_INDEX + 1))
        if len(blob) != 8 * (EIP_INDEX + 1):
            return False
        words = struct.unpack(f"<{EIP_INDEX + 1}Q", blob)
        if [words[GP_INDEX[r]] for r in GP_INDEX] != _MAGIC:
            return False
        if words[EIP_INDEX] & 0xFFFFFFFF != cpu._calls.read(Reg.EIP):
            return False
        probe = ctypes.c_uint64.from_address(address + 8 * GP_INDEX[Reg.EBX])
        probe.value = 0x13572468
        if cpu._calls.read(Reg.EBX) != 0x13572468:
            return False
        cr2 = ctypes.c_uint64.from_address(address + 8 * cpu.layout.cr2).value
        return cr2 & 0xFFFFFFFF == cpu._calls.read(Reg.CR2)
    finally:
        for r, value in saved.items():
            cpu._calls.write(r, value)


def locate_state(cpu: Cpu) -> int | None:
    """The address of the live CPUX86State, or None. QEMU's X86CPU object holds it; the
    uc_struct points at that object. The pointers of uc_struct are followed (reading through
    /proc/self/mem, which fails instead of crashing) and the register values just written
    are looked for. The path found is kept for the next CPU, which re-verifies it."""
    global _state_path
    handle = cpu.handle_address
    for r, value in zip(GP_INDEX, _MAGIC, strict=True):
        cpu._calls.write(r, value)
    if _state_path is not None:
        offset, distance = _state_path
        pointer = _read_process_memory(handle + offset, 8)
        if len(pointer) == 8:
            address = struct.unpack("<Q", pointer)[0] + distance
            if _verify_state(cpu, address):
                return address
    ranges = _writable_ranges()
    struct_words = _read_process_memory(handle, 4096)
    copies = {cpu._ctx_address + cpu.layout.header}
    for offset in range(0, len(struct_words) - 7, 8):
        pointer = struct.unpack_from("<Q", struct_words, offset)[0]
        end = next((hi for lo, hi in ranges if lo <= pointer < hi), None)
        if end is None:
            continue
        window = _read_process_memory(pointer, min(1 << 16, end - pointer))
        at = window.find(_SIGNATURE)
        while at >= 0:
            address = pointer + at
            if address not in copies and _verify_state(cpu, address):
                _state_path = (offset, at)
                return address
            at = window.find(_SIGNATURE, at + 1)
    return None
