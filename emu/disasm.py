"""Disassembly with Capstone (the only module that imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Insn:
    address: int
    raw: bytes
    mnemonic: str
    op_str: str

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".strip()

    def __str__(self) -> str:
        return f"{self.address:#010x}: {self.raw.hex(' '):<24} {self.text}"


@lru_cache(maxsize=1)
def _engine():
    import capstone

    return capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


def disassemble(code: bytes, address: int, count: int = 0) -> list[Insn]:
    """Decode ``code`` placed at ``address``; stops at the first byte that does not decode."""
    return [Insn(i.address, bytes(i.bytes), i.mnemonic, i.op_str)
            for i in _engine().disasm(code, address, count)]


def around(code: bytes, code_va: int, target: int, before: int = 3, after: int = 3) -> list[Insn]:
    """Instructions around ``target`` given bytes from ``code_va``: x86 cannot be decoded
    backwards, so try each start in front of the target and keep the first that lands on it."""
    for start in range(max(code_va, target - 24), target + 1):
        insns = disassemble(code[start - code_va:], start)
        addresses = [i.address for i in insns]
        if target in addresses:
            k = addresses.index(target)
            return insns[max(0, k - before):k + after + 1]
    return disassemble(code[target - code_va:], target, after + 1)
