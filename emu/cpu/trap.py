"""CPU exceptions and interrupts as the hooks deliver them: vectors, and the Trap record."""

from __future__ import annotations

import enum
from typing import NamedTuple

SYSCALL_VECTOR = 0x80  # int 0x80: the i386 Linux system call gate


class Vector(enum.IntEnum):
    """Exception vectors (Intel SDM vol. 3, table 6-1)."""

    DE = 0  # divide error
    DB = 1  # debug
    NMI = 2
    BP = 3  # breakpoint (int3)
    OF = 4  # overflow (into)
    BR = 5  # bound range exceeded
    UD = 6  # invalid opcode
    NM = 7  # device not available
    DF = 8  # double fault
    TS = 10  # invalid TSS
    NP = 11  # segment not present
    SS = 12  # stack-segment fault
    GP = 13  # general protection
    PF = 14  # page fault
    MF = 16  # x87 floating-point error
    AC = 17  # alignment check
    MC = 18  # machine check
    XM = 19  # SIMD floating-point error


VECTOR_NAMES = {
    Vector.DE: "#DE divide error", Vector.DB: "#DB debug", Vector.NMI: "NMI",
    Vector.BP: "#BP breakpoint", Vector.OF: "#OF overflow", Vector.BR: "#BR bound range",
    Vector.UD: "#UD invalid opcode", Vector.NM: "#NM device not available",
    Vector.DF: "#DF double fault", Vector.TS: "#TS invalid TSS",
    Vector.NP: "#NP segment not present", Vector.SS: "#SS stack fault",
    Vector.GP: "#GP general protection", Vector.PF: "#PF page fault",
    Vector.MF: "#MF x87 error", Vector.AC: "#AC alignment check",
    Vector.MC: "#MC machine check", Vector.XM: "#XM SIMD error",
}
# Plain ints for the hot paths (comparing with an IntEnum member calls Python code).
PF, GP, BP, UD, DE = int(Vector.PF), int(Vector.GP), int(Vector.BP), int(Vector.UD), \
    int(Vector.DE)


def vector_name(vector: int) -> str:
    return VECTOR_NAMES.get(vector, f"int {vector:#x}")


class Trap(NamedTuple):
    """An exception or software interrupt delivered by the CPU (a named tuple: built on
    every page fault, several times faster than a frozen dataclass)."""

    vector: int
    eip: int  # faulting instruction for faults; the next instruction for traps and `int n`
    error_code: int = 0
    cr2: int = 0
    software: bool = False  # raised by an `int n` instruction (including int3)

    @property
    def name(self) -> str:
        return vector_name(self.vector)
