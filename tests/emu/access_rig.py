"""What the differential tests share: three one-access programs, a CPU whose every
syscall and trap is recorded and stops it, and the comparison with the reference walk."""

import struct

from emu.cpu import Cpu, Reg, Trap
from emu.cpu.contexts import EFER
from emu.cpu.registers import Reg64
from emu.mmu import Cr0, Efer
from emu.paging import PagingFormat
from emu.walk import Access, Walk, accessed_dirty_updates, walk


def u64(ram, pa, value=None):
    """An 8-byte entry: read, or written (and returned)."""
    if value is None:
        return struct.unpack("<Q", ram.read(pa, 8))[0]
    ram.write(pa, struct.pack("<Q", value))
    return value

# mov eax, [ebx]; int 0x80 -- mov [ebx], ecx; int 0x80 -- jmp ebx
PROGRAMS = {Access.READ: (0x000, b"\x8b\x03\xcd\x80"), Access.WRITE: (0x100, b"\x89\x0b\xcd\x80"),
            Access.EXECUTE: (0x200, b"\xff\xe3")}


class AccessRig:
    """``cpu`` with the access programs written into the page at ``code``."""

    def __init__(self, cpu: Cpu, code: int):
        self.cpu, self.ram, self.code = cpu, cpu.ram, code
        # the address, the value and the result: EBX, ECX, EAX (RBX, RCX, RAX in long mode)
        self.regs = (Reg64.RBX, Reg64.RCX, Reg64.RAX) if cpu.mode == 64 else \
            (Reg.EBX, Reg.ECX, Reg.EAX)
        for offset, program in PROGRAMS.values():
            self.ram.write(code + offset, program)
        self.events = []
        cpu.syscall_handler = self._syscall
        cpu.trap_handler = self._trap

    def start(self, access: Access) -> int:
        return self.code + PROGRAMS[access][0]

    def access(self, access: Access, va: int, value: int) -> tuple:
        """Run the program making ``access`` at ``va`` (a write stores ``value``); the one
        event it ended with."""
        cpu = self.cpu
        address, data, result = self.regs
        cpu.set_reg(address, va)
        cpu.set_reg(data, value)
        cpu.set_reg(result, 0x80)  # int 0x80 arrives with it unless the read replaced it
        self.events.clear()
        cpu.run(self.start(access), timeout_us=1_000_000)
        assert len(self.events) == 1, self.events
        return self.events[0]

    def agrees(self, event: tuple, reference: Walk, value: int, case) -> None:
        """The CPU did what the reference walk says: the same fault, or the access (a read
        saw ``value ^ 0xFFFFFFFF``, placed there; the fetched ``int 0x80`` ran)."""
        access, va = reference.access, reference.va
        if reference.fault:
            assert event[0] == "trap", (case, event)
            trap = event[1]
            assert trap.vector == reference.fault.vector, (case, trap, reference.fault)
            if trap.vector == 14:
                assert trap.cr2 == va, (case, trap)
                assert trap.error_code == reference.fault.error_code, \
                    (case, trap, reference.fault)
            assert trap.eip == (va if access is Access.EXECUTE else self.start(access))
            return
        assert event[0] == "syscall", (case, event)
        if access is Access.READ:
            assert event[2] == value ^ 0xFFFFFFFF
        elif access is Access.WRITE:
            assert self.ram.read(reference.pa, 4) == struct.pack("<I", value)
        else:
            assert event[1] == va + 2  # the int 0x80 placed at the translated address ran

    def _syscall(self):
        self.events.append(("syscall", self.cpu.reg(self.cpu.pc_reg),
                            self.cpu.reg(self.regs[2])))
        self.cpu.stop()

    def _trap(self, trap: Trap):
        self.events.append(("trap", trap))
        self.cpu.stop()

    def check_case(self, case, root: int, fmt: PagingFormat, written: dict[int, int]):
        """One case whose entries (``written``: address -> value, 8-byte entries) are in
        place: the reference walk, the CPU's access from the case's ring with its CR0.WP and
        EFER.NXE, the outcome and the A/D bits compared; the entries cleared. Returns the
        reference's fault (None: translated)."""
        ram, cpu = self.ram, self.cpu
        va, access, value = case["va"], case["access"], case["value"]
        reference = walk(lambda pa: u64(ram, pa), root, va, access, user=case["user"],
                         wp=case["wp"], fmt=fmt, nxe=case["nxe"])
        if reference.ok:  # what a read should see, or the code a fetch should run
            ram.write(reference.pa, b"\xcd\x80" if access is Access.EXECUTE else
                      struct.pack("<I", value ^ 0xFFFFFFFF))
        expected = {pa: u64(ram, pa) for pa in written}
        for entry_pa, new in accessed_dirty_updates(reference, fmt=fmt):
            expected[entry_pa] = new
        cpu.load_context(self.user if case["user"] else self.kernel, root)
        cr0 = cpu.reg(Reg.CR0)
        cpu.set_reg(Reg.CR0, (cr0 | Cr0.WP) if case["wp"] else (cr0 & ~Cr0.WP))
        efer = cpu.uc.msr_read(EFER)
        cpu.uc.msr_write(EFER, (efer | Efer.NXE) if case["nxe"] else (efer & ~Efer.NXE))
        cpu.flush_tlb()
        self.agrees(self.access(access, va, value), reference, value, case)
        for entry_pa, new in expected.items():
            assert u64(ram, entry_pa) == new, (case, hex(entry_pa))
        for entry_pa in written:
            u64(ram, entry_pa, 0)
        return reference.fault
