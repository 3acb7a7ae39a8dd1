"""Fuzz cases, each made from (family, seed) alone, so any finding can be replayed.

Families:

* ``code``: random machine code biased toward system instructions (int n, int3, hlt, port
  I/O, control-register moves, descriptor loads, far jumps, segment loads, division by zero,
  loads and stores at hostile addresses), registers seeded with boundary values;
* ``syscalls``: sequences of syscalls, known numbers and random ones, with random, boundary
  and hostile arguments (kernel addresses, unmapped pages, huge lengths, unaligned values,
  pointers to paths that escape the root or are not UTF-8), fork and exit among them;
* ``multi``: 2-4 processes of the families above in one machine, forks included;
* ``code64``, ``syscalls64``: the same two for x86-64 programs in long mode (4-level paging:
  64-bit hostile addresses, non-canonical ones, the kernel half, x86-64 syscall numbers);
* ``api``: a host program misusing the Python API (wrong pids, hostile addresses and sizes,
  odd budgets, MemoryManager calls with bad ids, calls after close);
* ``cli``: the command line with bad arguments and bad files.

:func:`run_case` runs one case in the calling process and returns what it saw: how many
guests ran, and any leak, broken invariant or unclear error.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
from dataclasses import dataclass, field

FAMILIES = ("code", "syscalls", "multi", "code64", "syscalls64", "api", "cli")
TEXT, DATA = 0x08048000, 0x08049000

INTERESTING = [0, 1, 2, 3, 4, 7, 0xFF, 0xFFF, 0x1000, 0x1001, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 0xFFFFF000, 0xFFFFFFF0, 0xC0000000, 0xC0001000, 0xBFFFF000,
               0xBFFFE000, 0xBF7FF000, 0xBF7FFFF0, 0xBF000000, TEXT, DATA, DATA + 0x10,
               DATA + 0xFFC, 0x40000000, 0x60000000, 0x7FFF0000, 0x10000, 0x100000,
               1 << 30, 0x12345678]
KNOWN_SYSCALLS = [1, 2, 3, 4, 5, 6, 7, 19, 20, 45, 91, 125, 144, 158, 192, 218, 219, 252,
                  1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1010, 1011, 1012,
                  1013]
# (mnemonic bytes) that a kernel must survive from ring 3
SYSTEM = [b"\xcc", b"\xcd\x03", b"\xcd\x80", b"\xcd\x0e", b"\xcd\x08", b"\xcd\xff", b"\xce",
          b"\xf4", b"\xfa", b"\xfb", b"\xec", b"\xee", b"\xe4\x60", b"\x0f\x0b", b"\xcf",
          b"\x0f\x34", b"\x0f\x05", b"\x0f\x01\x10", b"\x0f\x22\xd8", b"\x0f\x22\xc0",
          b"\x0f\x01\x38", b"\x0f\x30", b"\x0f\x31", b"\x0f\xa2", b"\x8e\xd8", b"\x8e\xd0",
          b"\x8e\xe8", b"\x8e\xe0", b"\x9c\x9d", b"\xf0\x90", b"\xf7\xf1", b"\x0f\x00\xd8",
          b"\x0f\x01\xf8", b"\xd9\xe8\xdf\x38", b"\x0f\xae\x00", b"\x62\x00", b"\x63\x00",
          b"\x0f\x20\xc0", b"\x0f\x21\xc0", b"\x0f\x09", b"\x0f\x08", b"\xcd\x2e"]


@dataclass
class Outcome:
    guests: int = 0
    leaks: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)


# -- guests as raw machine code (no assembler: fast, and any byte is possible) --------------

def _mov(reg: int, value: int) -> bytes:
    return bytes([0xB8 + reg]) + struct.pack("<I", value & 0xFFFFFFFF)


EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI = range(8)
EXIT = _mov(EAX, 1) + _mov(EBX, 0) + b"\xcd\x80"


def _value(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.6:
        return (rng.choice(INTERESTING) + rng.choice([0, 0, 0, 1, -1, 4, 0x1000])) \
            & 0xFFFFFFFF
    if roll < 0.8:
        return rng.randrange(0, 1 << 32) & ~0xFFF
    return rng.randrange(0, 1 << 32)


def code_bytes(rng: random.Random, length: int) -> bytes:
    out = bytearray()
    for reg in (EAX, EBX, ECX, EDX, ESI, EDI, EBP):
        out += _mov(reg, _value(rng))
    while len(out) < length:
        roll = rng.random()
        if roll < 0.35:
            out += rng.choice(SYSTEM)
        elif roll < 0.5:
            out += _mov(rng.randrange(8) if rng.random() < 0.1 else rng.choice(
                [EAX, EBX, ECX, EDX, ESI, EDI]), _value(rng))
        elif roll < 0.6:  # a load, store, jump or call through a hostile address
            op = rng.choice([b"\xa1", b"\xa3", b"\x8b\x00", b"\x89\x00", b"\xff\x20",
                             b"\xff\x10", b"\xff\xe0"])
            out += op + (struct.pack("<I", _value(rng)) if op in (b"\xa1", b"\xa3") else b"")
        elif roll < 0.65:  # syscall with a random number
            out += _mov(EAX, rng.choice(KNOWN_SYSCALLS + [rng.randrange(0, 1 << 32)]))
            out += b"\xcd\x80"
        elif roll < 0.7:  # far jump or call to a random selector
            out += rng.choice([b"\xea", b"\x9a"]) + struct.pack("<IH", _value(rng),
                                                               rng.randrange(1 << 16))
        elif roll < 0.75:  # a segment load from a random selector
            out += b"\x66" + _mov(EAX, rng.randrange(1 << 16))[:3] + rng.choice(
                [b"\x8e\xd8", b"\x8e\xe8", b"\x8e\xc0", b"\x8e\xd0"])
        elif roll < 0.8:  # deep recursion or a push storm
            out += b"\x68" + struct.pack("<I", _value(rng)) + rng.choice(
                [b"", b"\xe8\xf6\xff\xff\xff"])
        else:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    return bytes(out) + EXIT


def pressure_bytes(rng: random.Random) -> bytes:
    """Map and write more than RAM may hold, fork, write again: eviction everywhere."""
    pages = rng.choice([64, 256, 1024, 3000])
    out = bytearray()
    out += _mov(EAX, 192) + _mov(EBX, 0) + _mov(ECX, pages * 4096) + _mov(EDX, 3) + \
        _mov(ESI, rng.choice([0x22, 0x21, 0x8022])) + _mov(EDI, 0xFFFFFFFF) + \
        _mov(EBP, 0) + b"\xcd\x80"
    touch = _mov(ECX, pages) + b"\x89\xc6" + \
        b"\x89\x0e\x81\xc6\x00\x10\x00\x00\x49\x75\xf5"  # mov [esi],ecx; add esi; loop
    out += b"\x50"  # push eax: the mapping's address
    out += b"\x8b\x04\x24" + touch  # mov eax, [esp]
    for _ in range(rng.randrange(1, 3)):
        out += _mov(EAX, 2) + b"\xcd\x80"  # fork
        out += b"\x8b\x04\x24" + touch
    return bytes(out)


def syscall_bytes(rng: random.Random, count: int) -> bytes:
    out = bytearray(pressure_bytes(rng) if rng.random() < 0.25 else b"")
    for _ in range(count):
        number = rng.choice(KNOWN_SYSCALLS) if rng.random() < 0.85 else \
            rng.randrange(0, 1 << 32)
        if number == 1 and rng.random() < 0.8:
            number = 20  # exit rarely, so that the sequence goes on
        if number == 2 and rng.random() < 0.5:
            number = 20  # fork now and then, not every time
        out += _mov(EAX, number)
        for reg in (EBX, ECX, EDX, ESI, EDI, EBP):
            if rng.random() < 0.9:
                out += _mov(reg, _value(rng) if rng.random() < 0.8 else
                            rng.choice([DATA, DATA + 16, DATA + 64, DATA + 128]))
        out += b"\xcd\x80"
    return bytes(out) + EXIT


def data_page(rng: random.Random) -> bytes:
    strings = [b"f\0", b"dir/g\0", b"../escape\0", b"/etc/passwd\0", b"\xff\xfe\0",
               b"x" * 300 + b"\0", b"\0", b"name\0", b"{\"a\":1}\0"]
    out = bytearray()
    while len(out) < 4096:
        out += rng.choice(strings) if rng.random() < 0.6 else struct.pack("<I", _value(rng))
    return bytes(out[:4096])


def image(text: bytes, data: bytes):
    from emu.image import Image, Segment
    return Image(TEXT, (Segment(TEXT, text, max(len(text), 1), execute=True, name="text"),
                        Segment(DATA, data, 4096, write=True, name="data")), "asm", "<fuzz>")


# -- x86-64 guests ------------------------------------------------------------------------

TEXT64, DATA64 = 0x400000, 0x401000
INTERESTING64 = [0, 1, 0xFFF, 0x1000, TEXT64, DATA64, DATA64 + 0x10, 0x7FFFFFFFF000,
                 0x7FFFFFFFE000, 0x7FFFFFFFD000, 0x7FFFFF7FF000, 0x7FFFFF000000,
                 0x800000000000, 0xFFFF800000000000, 0xFFFF888000000000, (1 << 64) - 1,
                 0x600000000000, 0x680000000000, 0x7FFFFFFFFFFF, 0x80000000, 0xFFFFFFFF,
                 1 << 32, 0x555555554000]
KNOWN_SYSCALLS64 = [0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 25, 28, 32, 39, 56,
                    57, 59, 60, 61, 62, 63, 72, 89, 96, 97, 131, 158, 186, 202, 217, 218, 228,
                    231, 257, 262, 302, 318, 1000, 1001, 1006, 1010, 1013]
RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10


def _mov64(reg: int, value: int) -> bytes:
    """mov reg, imm64 (REX.W B8+r; REX.B for r8..r15)."""
    return bytes([0x49 if reg >= 8 else 0x48, 0xB8 + (reg & 7)]) + \
        struct.pack("<Q", value & ((1 << 64) - 1))


EXIT64 = _mov64(RAX, 60) + _mov64(RDI, 0) + b"\x0f\x05"


def _value64(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.6:
        return (rng.choice(INTERESTING64) + rng.choice([0, 0, 1, -1, 8, 0x1000])) % (1 << 64)
    if roll < 0.8:
        return rng.randrange(0, 1 << 48) & ~0xFFF
    return rng.randrange(0, 1 << 64)


def code64_bytes(rng: random.Random, length: int) -> bytes:
    out = bytearray()
    for reg in (RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8, R9, R10):
        out += _mov64(reg, _value64(rng))
    while len(out) < length:
        roll = rng.random()
        if roll < 0.3:
            out += rng.choice(SYSTEM)
        elif roll < 0.45:
            out += _mov64(rng.choice([RAX, RBX, RCX, RDX, RSI, RDI, R8, R9, R10]),
                          _value64(rng))
        elif roll < 0.6:  # a load, store, jump or call through a hostile address in RBX
            out += _mov64(RBX, _value64(rng)) + rng.choice(
                [b"\x48\x8b\x03", b"\x48\x89\x03", b"\xff\xe3", b"\xff\xd3",
                 b"\x0f\xb6\x03", b"\xc6\x03\x01"])
        elif roll < 0.7:  # syscall with a random number
            out += _mov64(RAX, rng.choice(KNOWN_SYSCALLS64 + [rng.randrange(0, 1 << 64)]))
            out += b"\x0f\x05"
        elif roll < 0.75:  # the FS base pointed anywhere, then used
            out += _mov64(RAX, 158) + _mov64(RDI, 0x1002) + _mov64(RSI, _value64(rng)) + \
                b"\x0f\x05" + b"\x64\x48\x8b\x04\x25\x00\x00\x00\x00"  # mov rax, fs:[0]
        elif roll < 0.8:  # a push storm or deep recursion
            out += b"\x53" + rng.choice([b"", b"\xe8\xfa\xff\xff\xff"])
        else:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    return bytes(out) + EXIT64


def syscall64_bytes(rng: random.Random, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        number = rng.choice(KNOWN_SYSCALLS64) if rng.random() < 0.85 else \
            rng.randrange(0, 1 << 64)
        if number in (60, 231) and rng.random() < 0.8:
            number = 39  # exit rarely, so that the sequence goes on
        if number in (56, 57) and rng.random() < 0.5:
            number = 39
        out += _mov64(RAX, number)
        for reg in (RDI, RSI, RDX, R10, R8, R9):
            if rng.random() < 0.9:
                out += _mov64(reg, _value64(rng) if rng.random() < 0.8 else
                              rng.choice([DATA64, DATA64 + 16, DATA64 + 64, DATA64 + 128]))
        out += b"\x0f\x05"
    return bytes(out) + EXIT64


def image64(text: bytes, data: bytes):
    from emu.image import Image, Segment
    return Image(TEXT64, (Segment(TEXT64, text, max(len(text), 1), execute=True, name="text"),
                          Segment(DATA64, data, 4096, write=True, name="data")), "asm",
                 "<fuzz64>", bits=64)


# -- running ------------------------------------------------------------------------------

def _is_clear(error: BaseException) -> bool:
    from zeros.errors import ZerosError
    if isinstance(error, UnicodeError):
        return False
    return isinstance(error, (ZerosError, ValueError, TypeError))


def _finish(machine, outcome: Outcome) -> None:
    """Check a machine whose run is over: the audit, then (every guest finished) that
    nothing of theirs is left."""
    from zeros.errors import IntegrityError
    from zeros.layout import EXPLOIT_PID
    from zeros.mm.frames import KERNEL, FrameKind
    try:
        machine.check()
    except IntegrityError as error:
        for problem in error.problems:
            (outcome.leaks if "leaked" in problem else outcome.integrity).append(problem)
    if machine.cpu is None:
        return
    live = {pid for pid, p in machine.processes.items() if p.alive}
    for pa, frame in machine.frames.used():
        if frame.owner not in (KERNEL, EXPLOIT_PID) and frame.owner not in live:
            outcome.leaks.append(f"frame {pa:#x} of finished pid {frame.owner} "
                                 f"({frame.kind})")
        if frame.owner == KERNEL and frame.kind in (FrameKind.SHARED, FrameKind.PAGECACHE) \
                and not live:
            outcome.leaks.append(f"frame {pa:#x} ({frame.kind}) outlived every process")
    if not live and machine.pagefile.used_slots and EXPLOIT_PID not in machine.processes:
        outcome.leaks.append(f"{machine.pagefile.used_slots} page-file slots in use with no "
                             f"process")


def _run_guests(programs, rng: random.Random, root: str, outcome: Outcome,
                long_mode: bool = False) -> None:
    from zeros import Machine
    ram = rng.choice([1 << 20, 2 << 20, 4 << 20, 16 << 20])
    page_file = rng.choice([0, 4 * ram, 1 << 20])
    paging = "4-level" if long_mode else rng.choice(["32", "pae"])
    with Machine(ram_size=ram, page_file=page_file, root=root, paging=paging) as m:
        for program in programs:
            try:
                m.spawn(program)
            except Exception as error:  # noqa: BLE001 - classified, not hidden
                if not _is_clear(error):
                    outcome.unclear.append(f"spawn: {type(error).__name__}: {error}")
        try:
            results = m.run(timeout=rng.choice([0.2, 0.5, 1.0]),
                            max_instructions=rng.choice([None, None, 200_000]))
        except Exception as error:  # noqa: BLE001
            outcome.unclear.append(f"run: {type(error).__name__}: {error}")
            results = m.results()
        outcome.guests += len(results)
        for result in results.values():
            if "kernel error" in result.message:
                outcome.unclear.append(f"pid {result.pid}: {result.message}")
        _finish(m, outcome)


def run_case(family: str, seed: int, root: str) -> Outcome:
    rng = random.Random(f"{family}:{seed}")
    outcome = Outcome()
    if family == "code":
        _run_guests([image(code_bytes(rng, rng.randrange(16, 400)), data_page(rng))], rng,
                    root, outcome)
    elif family == "syscalls":
        _run_guests([image(syscall_bytes(rng, rng.randrange(1, 40)), data_page(rng))], rng,
                    root, outcome)
    elif family == "multi":
        programs = []
        for _ in range(rng.randrange(2, 5)):
            body = code_bytes(rng, rng.randrange(16, 200)) if rng.random() < 0.4 else \
                syscall_bytes(rng, rng.randrange(1, 20))
            programs.append(image(_mov(EAX, 2) + b"\xcd\x80" + body, data_page(rng)))
        _run_guests(programs, rng, root, outcome)
    elif family == "code64":
        _run_guests([image64(code64_bytes(rng, rng.randrange(16, 400)), data_page(rng))],
                    rng, root, outcome, long_mode=True)
    elif family == "syscalls64":
        _run_guests([image64(syscall64_bytes(rng, rng.randrange(1, 40)), data_page(rng))],
                    rng, root, outcome, long_mode=True)
    elif family == "api":
        _api_case(rng, root, outcome)
    elif family == "cli":
        _cli_case(rng, root, outcome)
    else:
        raise ValueError(f"unknown family {family!r}")
    return outcome


# -- the host API, misused ----------------------------------------------------------------

def _arg(rng: random.Random):
    roll = rng.random()
    if roll < 0.6:
        return _value(rng) if rng.random() < 0.8 else -rng.choice([1, 4096, 1 << 40])
    if roll < 0.7:
        return rng.choice([1 << 40, 1 << 64, -(1 << 63)])
    if roll < 0.8:
        return rng.choice(["", "x", "0x10", "\0", "ü" * 5])
    if roll < 0.9:
        return rng.choice([b"", b"abc", bytes(5000)])
    return rng.choice([None, 1.5, float("nan"), [], {}, True])


def _api_case(rng: random.Random, root: str, outcome: Outcome) -> None:
    from zeros import Machine
    m = Machine(ram_size=rng.choice([1 << 20, 4 << 20]), root=root,
                paging=rng.choice(["32", "pae", "4-level"]))
    pids = []
    try:
        for _ in range(rng.randrange(1, 3)):
            try:
                pids.append(m.spawn(image(syscall_bytes(rng, 3), data_page(rng))))
            except Exception as error:  # noqa: BLE001
                if not _is_clear(error):
                    outcome.unclear.append(f"spawn: {type(error).__name__}: {error}")
        outcome.guests += len(pids)

        def pid():
            return rng.choice(pids + [0, 10000, 99999, -1]) if pids else 1

        calls = [
            lambda: m.read_virt(pid(), _arg(rng), rng.choice([0, 1, 4096, 8192, _arg(rng)])),
            lambda: m.write_virt(pid(), _arg(rng), rng.choice([b"x", bytes(5000), _arg(rng)]),
                                 force=rng.random() < 0.5),
            lambda: m.translate(pid(), _arg(rng), rng.choice(["r", "w", "x", "q"])),
            lambda: m.registers(pid()),
            lambda: m.set_registers(pid(), eax=_arg(rng)),
            lambda: m.linux.mmap(pid(), _arg(rng), _arg(rng), rng.randrange(8),
                                 rng.choice([0x22, 0x21, 0x32, 0x8022, _arg(rng)])),
            lambda: m.linux.munmap(pid(), _arg(rng), _arg(rng)),
            lambda: m.linux.mprotect(pid(), _arg(rng), _arg(rng), _arg(rng)),
            lambda: m.linux.mincore(pid(), _arg(rng), _arg(rng)),
            lambda: m.linux.madvise(pid(), _arg(rng), _arg(rng), rng.randrange(6)),
            lambda: m.linux.brk(pid(), _arg(rng)),
            lambda: m.windows.virtual_alloc(pid(), _arg(rng), _arg(rng),
                                            rng.choice([0x1000, 0x2000, 0x3000, _arg(rng)]),
                                            rng.choice([4, 0x104, 1, _arg(rng)])),
            lambda: m.windows.virtual_free(pid(), _arg(rng), _arg(rng), rng.choice(
                [0x4000, 0x8000, _arg(rng)])),
            lambda: m.windows.virtual_protect(pid(), _arg(rng), _arg(rng), _arg(rng)),
            lambda: m.windows.virtual_query(pid(), _arg(rng)),
            lambda: m.memory_manager.allocate_memory(rng.choice([pid(), 5000, _arg(rng)]),
                                                     _arg(rng), _arg(rng)),
            lambda: m.memory_manager.free_memory(rng.choice([pid(), 5000, _arg(rng)])),
            lambda: m.memory_manager.check_memory(rng.choice([-1, pid(), _arg(rng)])),
            lambda: m.memory_manager.register_program_name(pid(), _arg(rng)),
            lambda: _heap_call(m, rng),
            lambda: m.run(timeout=rng.choice([0.1, 0.3, -1, float("inf"), 0.2]),
                          max_instructions=rng.choice([None, 1000, 0, -5, 2.5])),
            lambda: m.cr3(pid()),
            lambda: m.read_phys(_arg(rng), rng.choice([1, 4096, _arg(rng)])),
            lambda: m.ps(long=True, everything=True),
            lambda: m.pause(),
        ]
        for _ in range(rng.randrange(5, 40)):
            try:
                rng.choice(calls)()
            except Exception as error:  # noqa: BLE001
                if not _is_clear(error):
                    outcome.unclear.append(f"{type(error).__name__}: {error}")
        for p in list(m.processes.values()):
            if p.alive and p.path:
                m.kill(p, 9, "fuzz: the end")
        _finish(m, outcome)
    finally:
        m.close()


def _heap_call(m, rng: random.Random):
    manager = m.memory_manager
    programs = [pid for pid in m.processes if manager.heaps(pid)]
    if not programs:
        return manager.allocate_memory(5000 + rng.randrange(3), rng.choice([16, 4096, 1 << 20]),
                                       rng.choice([-1, 0, 64]))
    heap = next(iter(manager.heaps(rng.choice(programs)).values()))
    action = rng.randrange(5)
    if action == 0:
        return heap.allocate(_arg(rng))
    if action == 1:
        return heap.free(_arg(rng))
    if action == 2:
        return heap.write_data(_arg(rng), rng.choice([b"x", "text", {"a": 1}, _arg(rng)]))
    if action == 3:
        return heap.read_string(_arg(rng), _arg(rng))
    return heap.expand(_arg(rng))


# -- the command line, misused ------------------------------------------------------------

def _cli_case(rng: random.Random, root: str, outcome: Outcome) -> None:
    from zeros import cli
    files = [os.path.join(root, name) for name in ("prog.asm", "bad.asm", "empty",
                                                    "binary", "f", "dir", "missing",
                                                    "elf64", "prog.bin")]
    options = [["--ram", rng.choice(["16M", "1M", "0", "-1", "lots", "2G", "1.5M", "infM"])],
               ["--timeout", rng.choice(["0.3", "0", "-1", "nan", "inf", "x"])],
               ["--page-file", rng.choice(["0", "1M", "-4K", "x"])],
               ["--max-instructions", rng.choice(["1000", "0", "-3", "1.5"])],
               ["--show", rng.choice(["maps", "walk:0x08048000", "x:0:0", "xp:-1", "zz",
                                      "walk:0x1:q", "pagetables,tlb", "xp:0:99999999",
                                      "frames,creg,regs,ps,memory", "x:0xFFFFFFFF:16"])],
               ["--at", rng.choice(["exit", "fault", "break", "never", ""])],
               ["--map", rng.choice([os.path.join(root, "p.svg"), "/nonexistent/p.svg",
                                     os.path.join(root, "p.png")])],
               ["--root", rng.choice([root, "/nonexistent", files[0]])],
               ["--json"], ["--ps"], ["--trace", "--trace-limit", "50"]]
    argv = ["run"]
    for option in rng.sample(options, rng.randrange(0, 4)):
        argv += option
    argv += rng.sample(files, rng.randrange(0, 3)) or [files[0]]
    out, err = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as done:  # argparse refusing
            status = done.code
    err.flush()
    text = err.buffer.getvalue().decode(errors="replace")
    outcome.guests += sum(1 for f in argv if f.endswith((".asm", ".bin")))
    if status == 70 or "Traceback" in text or "internal error" in text:
        outcome.unclear.append(f"zeros {' '.join(argv)}: status {status}: {text[-300:]}")


def make_root(path: str) -> str:
    """The files the guests and the command line find."""
    os.makedirs(os.path.join(path, "dir"), exist_ok=True)
    with open(os.path.join(path, "f"), "wb") as f:
        f.write(b"file contents\n" * 600)
    with open(os.path.join(path, "dir", "g"), "wb") as f:
        f.write(b"g")
    with open(os.path.join(path, "prog.asm"), "w") as f:
        f.write("mov eax, 4\nmov ebx, 1\nmov ecx, msg\nmov edx, 3\nint 0x80\nint3\n"
                "mov eax, 1\nxor ebx, ebx\nint 0x80\nsection .data\nmsg: db 'hi', 10\n")
    with open(os.path.join(path, "bad.asm"), "w") as f:
        f.write("mov eax, (\n")
    open(os.path.join(path, "empty"), "w").close()
    with open(os.path.join(path, "binary"), "wb") as f:
        f.write(bytes(range(256)))
    with open(os.path.join(path, "elf64"), "wb") as f:
        f.write(b"\x7fELF\x02\x01\x01" + bytes(57))
    with open(os.path.join(path, "prog.bin"), "wb") as f:
        f.write(b"\x7fELF\x01\x01\x01" + bytes(200))
    return path
