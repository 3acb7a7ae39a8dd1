"""Trace mode: every instruction with its disassembly, every data access with the virtual
address and the physical address it went to. The only mode that hooks each instruction
(about 500 times slower), and only when asked."""

from __future__ import annotations

from collections.abc import Callable

from emu.disasm import disassemble
from emu.errors import EmuError
from emu.vmem import read_virt


class Tracer:
    def __init__(self, machine, write: Callable[[str], None], limit: int | None = None):
        self.machine = machine
        self.write = write
        self.limit = limit  # stop tracing after this many instructions
        self.count = 0
        self._printing = False  # whether the current instruction was printed
        self._remove = None

    def start(self) -> Tracer:
        self._remove = self.machine.cpu.trace(self.instruction, self.memory)
        return self

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    def instruction(self, eip: int, size: int) -> None:
        proc = self.machine.scheduler.current
        self._printing = proc is not None and (self.limit is None or self.count < self.limit)
        if not self._printing:
            return
        self.count += 1
        try:
            raw = read_virt(self.machine.ram, proc.space.cr3, eip, size, fmt=proc.space.fmt)
            insns = disassemble(raw, eip, 1)
            text = str(insns[0]) if insns else f"{eip:#010x}: {raw.hex(' ')}"
        except EmuError:
            text = f"{eip:#010x}: (does not translate)"
        self.write(f"[{proc.pid}] {text}\n")

    def memory(self, write: bool, pa: int, size: int, value: int) -> None:
        proc = self.machine.scheduler.current
        if proc is None or not self._printing:
            return
        frame = self.machine.frames.info(pa & ~0xFFF)
        mine = [va for space, va in (frame.rmap if frame else ()) if space is proc.space]
        va = f"{mine[0] | (pa & 0xFFF):#010x}" if mine else "?"
        what = f"write {size} = {value & ((1 << 8 * size) - 1):#x}" if write else f"read  {size}"
        self.write(f"        {what} @ va {va} -> pa {pa:#010x}\n")
