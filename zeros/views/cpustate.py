"""Control registers bit by bit (Bochs's ``creg``), and the registers of a process."""

from __future__ import annotations

from emu.mmu import Cr0, Cr4, Efer

from .base import View

CR0_BITS = ("PG", "CD", "NW", "AM", "WP", "NE", "ET", "TS", "EM", "MP", "PE")
CR4_BITS = ("SMAP", "SMEP", "OSXSAVE", "PCIDE", "FSGSBASE", "SMXE", "VMXE", "UMIP",
            "OSXMMEXCPT", "OSFXSR", "PCE", "PGE", "MCE", "PAE", "PSE", "DE", "TSD", "PVI",
            "VME")
EFER_BITS = ("NXE", "LMA", "LME", "SCE")
EFLAGS_BITS = (("OF", 11), ("DF", 10), ("IF", 9), ("TF", 8), ("SF", 7), ("ZF", 6),
               ("AF", 4), ("PF", 2), ("CF", 0))


def _letters(value: int, names, flag) -> str:
    return " ".join(n if value & flag[n] else n.lower() for n in names)


def creg_view(machine, pid: int | None = None) -> View:
    """CR0, CR2, CR3, CR4 and EFER. With a pid, CR3 is that process's top table (its page
    directory, or its PDPT under PAE)."""
    cpu = machine.cpu
    cr0, cr2, cr4, efer = cpu.cr0, cpu.cr2, cpu.cr4, cpu.efer
    cr3 = machine.cr3(pid) if pid is not None else cpu.cr3
    data = {"cr0": cr0, "cr2": cr2, "cr3": cr3, "cr4": cr4, "efer": efer,
            "cr0_set": [n for n in CR0_BITS if cr0 & Cr0[n]],
            "cr4_set": [n for n in CR4_BITS if cr4 & Cr4[n]],
            "efer_set": [n for n in EFER_BITS if efer & Efer[n]]}
    top = f"PML4={cr3 & ~0xFFF:#010x}" if efer & Efer.LMA else \
        f"PDPT={cr3 & ~0x1F:#010x}" if cr4 & Cr4.PAE else f"PDB={cr3 & ~0xFFF:#010x}"
    text = (f"CR0={cr0:#010x}: {_letters(cr0, CR0_BITS, Cr0.__members__)}\n"
            f"CR2={cr2:#010x}: page fault linear address\n"
            f"CR3={cr3:#010x}: {top} {'PCD' if cr3 & 16 else 'pcd'} "
            f"{'PWT' if cr3 & 8 else 'pwt'}\n"
            f"CR4={cr4:#010x}: {_letters(cr4, CR4_BITS, Cr4.__members__)}\n"
            f"EFER={efer:#x}: {_letters(efer, EFER_BITS, Efer.__members__)}\n")
    return View("creg", data, text)


def regs_view(machine, pid: int) -> View:
    """General registers, EIP (RIP), EFLAGS bit by bit, and the selectors of a stopped
    process; in long mode the 64-bit registers and the FS base."""
    regs = machine.registers(pid)
    wide = "rip" in regs
    flags = regs["rflags" if wide else "eflags"]
    regs["cpl"] = regs["cs"] & 3
    bits = " ".join(n if flags & (1 << b) else n.lower() for n, b in EFLAGS_BITS)
    selectors = "  ".join(f"{s}={regs[s]:#06x}" for s in ("cs", "ss", "ds", "es", "fs", "gs"))
    if wide:
        order = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                 "r11", "r12", "r13", "r14", "r15")
        lines = ["  ".join(f"{r:>3}={regs[r]:#018x}" for r in order[k:k + 4])
                 for k in range(0, 16, 4)]
        lines += [f"rip={regs['rip']:#018x}  rflags={flags:#010x}: {bits}",
                  f"{selectors}  (CPL {regs['cpl']})  fs_base={regs['fs_base']:#x}"]
    else:
        order = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp")
        lines = ["  ".join(f"{r}={regs[r]:#010x}" for r in order[:4]),
                 "  ".join(f"{r}={regs[r]:#010x}" for r in order[4:]),
                 f"eip={regs['eip']:#010x}  eflags={flags:#010x}: {bits}",
                 f"{selectors}  (CPL {regs['cpl']})"]
    return View("regs", {"pid": pid, **regs}, "\n".join(lines) + "\n")
