"""What the differential tests share: three one-access programs, a CPU whose every
syscall and trap is recorded and stops it, and the comparison with the reference walk."""

import struct

from emu.cpu import Cpu, Reg, Trap
from emu.walk import Access, Walk

# mov eax, [ebx]; int 0x80 -- mov [ebx], ecx; int 0x80 -- jmp ebx
PROGRAMS = {Access.READ: (0x000, b"\x8b\x03\xcd\x80"), Access.WRITE: (0x100, b"\x89\x0b\xcd\x80"),
            Access.EXECUTE: (0x200, b"\xff\xe3")}


class AccessRig:
    """``cpu`` with the access programs written into the page at ``code``."""

    def __init__(self, cpu: Cpu, code: int):
        self.cpu, self.ram, self.code = cpu, cpu.ram, code
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
        cpu.set_reg(Reg.EBX, va)
        cpu.set_reg(Reg.ECX, value)
        cpu.set_reg(Reg.EAX, 0x80)  # int 0x80 arrives with it unless the read replaced it
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
            assert (trap.vector, trap.cr2) == (14, va), (case, trap)
            assert trap.error_code == reference.fault.error_code, (case, trap, reference.fault)
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
        self.events.append(("syscall", self.cpu.reg(Reg.EIP), self.cpu.reg(Reg.EAX)))
        self.cpu.stop()

    def _trap(self, trap: Trap):
        self.events.append(("trap", trap))
        self.cpu.stop()
