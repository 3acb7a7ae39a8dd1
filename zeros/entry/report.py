"""Fault reports: what a process did, where, and the page walk that refused it."""

from __future__ import annotations

from emu.cpu import Trap, Vector
from emu.disasm import around
from emu.errors import EmuError
from emu.mmu import PfError
from emu.vmem import read_virt
from emu.walk import Access, Walk, describe_error_code, walk
from emu.walkfmt import error_code_bits, report_lines

from ..proc.process import Process


def fault_walk(proc: Process, trap: Trap) -> Walk:
    code = trap.error_code
    access = Access.WRITE if code & PfError.W else (
        Access.EXECUTE if trap.cr2 == trap.eip else Access.READ)
    space = proc.space
    return walk(space.ram.reader(space.fmt.entry_size), space.cr3, trap.cr2, access,
                user=bool(code & PfError.U), fmt=space.fmt)


def code_lines(proc: Process, eip: int) -> list[str]:
    """A few instructions around EIP, read through the walk as ring 3 would fetch them."""
    page_start, page_end = eip & ~0xFFF, (eip | 0xFFF) + 1
    for start in (max(eip - 24, 0), page_start):  # the page before may be unmapped
        for stop in (eip + 16, page_end):  # and so may the page after
            try:
                data = read_virt(proc.space.ram, proc.space.cr3, start, stop - start,
                                 fmt=proc.space.fmt)
            except (EmuError, ValueError):
                continue
            insns = around(data, start, eip, before=2, after=2)
            if insns:
                return [("> " if i.address == eip else "  ") + str(i) for i in insns]
            return [f"{eip:#010x}: bytes {data[eip - start:eip - start + 8].hex(' ')} "
                    f"do not decode"]
    return [f"{eip:#010x}: (no code: the address does not translate for ring 3)"]


def describe(trap: Trap, w: Walk | None) -> str:
    if trap.vector == Vector.PF:
        if w is not None and w.fault is not None:
            return w.fault.reason
        return describe_error_code(trap.error_code)
    return {Vector.DE: "division by zero or quotient overflow",
            Vector.UD: "invalid or undefined opcode",
            Vector.GP: "privileged or protected instruction in ring 3",
            Vector.BP: "breakpoint (int3)", Vector.DB: "debug trap"}.get(trap.vector,
                                                                         trap.name)


def fault_report(proc: Process, trap: Trap, signal_name: str, w: Walk | None,
                 what: str) -> str:
    lines = [f"zeros: pid {proc.pid} ({proc.name}) killed by {signal_name}: "
             f"{trap.name} (vector {trap.vector}): {what}"]
    if trap.vector == Vector.PF:
        lines.append(f"  cr2    {trap.cr2:#010x}")
        lines.append(f"  error  {trap.error_code:#x} = {error_code_bits(trap.error_code)}: "
                     f"{describe_error_code(trap.error_code)}")
    code = code_lines(proc, trap.eip)
    current = next((line[2:] for line in code if line.startswith("> ")), None)
    lines.append(f"  eip    {current or hex(trap.eip)}")
    lines += ["  code   " + code[0]] + ["         " + line for line in code[1:]]
    if w is not None:
        wl = report_lines(w, proc.space.fmt)
        lines += ["  walk   " + wl[0]] + ["         " + line for line in wl[1:]]
    region = proc.space.find(trap.cr2 if trap.vector == Vector.PF else trap.eip)
    if region is not None:
        lines.append(f"  region {region.start:#010x}-{region.end:#010x} {region.prot.letters} "
                     f"{region.kind} {region.name}".rstrip())
    elif trap.vector == Vector.PF and trap.cr2 >= proc.space.layout.user_top:
        lines.append(f"  region kernel half: {trap.cr2:#010x} is supervisor-only")
    elif trap.vector == Vector.PF:
        lines.append(f"  region none: {trap.cr2:#010x} is in no region of this process")
    return "\n".join(lines)
