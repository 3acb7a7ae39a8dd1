"""The emulated CPU against the reference walk, on thousands of random page tables.

Each case writes a random PDE (4 KiB table or 4 MiB page), a random PTE, random CR0.WP and
CR4.PSE, then makes one access (read, write or instruction fetch) from ring 3 or ring 0.
The CPU must agree with :func:`emu.walk.walk`: the same fault (vector 14, CR2, error code),
or the same bytes read / frame written / code executed, and the same Accessed and Dirty
bits written back into the tables.

Physical layout (16 MiB): below 4 MiB the fixed world (page directory, an identity page
table for PDE 0, the GDT, the access code, stacks); page tables of the cases in 4..8 MiB;
their frames (4 KiB or 4 MiB) in 8..16 MiB, so a write never lands on a paging structure.
"""

import random
import struct

import pytest

from emu.cpu import Cpu, Reg
from emu.mmu import Cr0, Cr4, Pde, Pte, pdx, ptx
from emu.ram import PhysicalMemory
from emu.walk import Access, accessed_dirty_updates, walk
from tests.emu.access_rig import AccessRig

RAM = 16 << 20
PD, PT0, GDT, CODE, USTACK, KSTACK = 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000
CODE_READ = CODE  # where the read program starts (tests.emu.access_rig)
TABLES = (4 << 20, 8 << 20)
FRAMES = (8 << 20, 16 << 20)
SEED = 20261122
CASES = 3000


class Rig(AccessRig):
    def __init__(self, direct_state=True):
        self.ram = PhysicalMemory(RAM)
        self.cpu = Cpu(self.ram, direct_state=direct_state)
        self.cpu.install_gdt(GDT, GDT)
        for page in (PD, PT0, CODE, USTACK, KSTACK):
            flags = Pte.P | Pte.RW | (Pte.US if page in (CODE, USTACK) else 0)
            self.ram.write_u32(PT0 + 4 * ptx(page), page | flags)
        self.ram.write_u32(PT0 + 4 * ptx(GDT), GDT | Pte.P | Pte.RW)
        self.ram.write_u32(PD, PT0 | Pde.P | Pde.RW | Pde.US)
        self.user = self.cpu.new_user_context(CODE, USTACK + 0x1000, PD)
        self.kernel = self.cpu.new_kernel_context(CODE, KSTACK + 0x1000, PD)
        super().__init__(self.cpu, CODE)

    def close(self):
        self.cpu.close()


@pytest.fixture(scope="module", params=[True, False], ids=["direct-state", "api-calls"])
def rig(request):
    """Both ways of reaching the CPU state: in place, and through Unicorn's API."""
    r = Rig(direct_state=request.param)
    assert r.cpu.direct_state == request.param
    yield r
    r.close()


def random_case(rnd: random.Random):
    va_pdx = rnd.randrange(1, 768)
    offset = rnd.randrange(0, 0xFFD)  # the access stays inside its page
    va = (va_pdx << 22) | (rnd.randrange(1024) << 12) | offset
    flag_bits = [Pte.P, Pte.RW, Pte.US, Pte.A, Pte.D, Pte.G, Pte.PWT, Pte.PCD]
    large = rnd.random() < 0.3
    pde_flags = Pde.P if rnd.random() < 0.9 else 0
    for bit in flag_bits[1:]:
        if rnd.random() < 0.5:
            pde_flags |= bit
    if large:
        pde = rnd.choice([8 << 20, 12 << 20]) | pde_flags | Pde.PS
        if rnd.random() < 0.05:
            pde |= 1 << 21  # reserved in a 4 MiB PDE
    else:
        pde = rnd.randrange(*TABLES, 0x1000) | pde_flags
    pte = rnd.randrange(*FRAMES, 0x1000) | (Pte.P if rnd.random() < 0.9 else 0)
    for bit in flag_bits[1:]:
        if rnd.random() < 0.5:
            pte |= bit
    access = rnd.choice(list(Access))
    return dict(va=va, pde=pde, pte=pte, access=access, user=rnd.random() < 0.6,
                wp=rnd.random() < 0.7, pse=rnd.random() < 0.9,
                value=rnd.getrandbits(32))


def run_case(rig: Rig, case):
    ram, cpu = rig.ram, rig.cpu
    va, access = case["va"], case["access"]
    pde_pa = PD + 4 * pdx(va)
    ram.write_u32(pde_pa, case["pde"])
    table = case["pde"] & ~0xFFF
    pte_pa = None
    if not (case["pse"] and case["pde"] & Pde.PS):
        pte_pa = table + 4 * ptx(va)
        ram.write_u32(pte_pa, case["pte"])
    reference = walk(ram.read_u32, PD, va, access, user=case["user"], wp=case["wp"],
                     pse=case["pse"])
    marker = struct.pack("<I", case["value"] ^ 0xFFFFFFFF)
    if reference.ok:
        # what a read should see, or the code a fetch should run (int 0x80)
        ram.write(reference.pa, b"\xcd\x80" if access is Access.EXECUTE else marker)
    expected_tables = {pde_pa: case["pde"]}
    if pte_pa is not None:
        expected_tables[pte_pa] = case["pte"]
    for entry_pa, value in accessed_dirty_updates(reference):
        expected_tables[entry_pa] = value

    context = rig.user if case["user"] else rig.kernel
    cpu.load_context(context, PD)  # the CR3 write flushes the TLB
    cr0 = cpu.reg(Reg.CR0)
    cpu.set_reg(Reg.CR0, (cr0 | Cr0.WP) if case["wp"] else (cr0 & ~Cr0.WP))
    cr4 = cpu.reg(Reg.CR4)
    cpu.set_reg(Reg.CR4, (cr4 | Cr4.PSE) if case["pse"] else (cr4 & ~Cr4.PSE))
    rig.agrees(rig.access(access, va, case["value"]), reference, case["value"], case)
    for entry_pa, value in expected_tables.items():
        assert ram.read_u32(entry_pa) == value, (case, hex(entry_pa))
    # clean up for the next case
    ram.write_u32(pde_pa, 0)
    if pte_pa is not None:
        ram.write_u32(pte_pa, 0)
    return bool(reference.fault)


def test_cpu_agrees_with_reference_walk(rig):
    rnd = random.Random(SEED)
    faults = successes = 0
    for _ in range(CASES):
        if run_case(rig, random_case(rnd)):
            faults += 1
        else:
            successes += 1
    # both outcomes must be well represented for the comparison to mean anything
    assert faults > CASES // 5 and successes > CASES // 5


def test_tlb_keeps_a_downgraded_entry_until_flushed(rig):
    """Why the OS flushes after downgrading a PTE: the CPU caches translations."""
    ram, cpu = rig.ram, rig.cpu
    va = 0x1000_0000
    table, frame = 4 << 20, 8 << 20
    ram.write_u32(PD + 4 * pdx(va), table | 7)
    ram.write_u32(table + 4 * ptx(va), frame | 7)
    ram.write(frame, b"\x11\x22\x33\x44")
    cpu.load_context(rig.user, PD)
    cpu.set_reg(Reg.EBX, va)
    rig.events.clear()
    cpu.run(CODE_READ, timeout_us=1_000_000)
    assert rig.events[-1][0] == "syscall"
    ram.write_u32(table + 4 * ptx(va), 0)  # downgrade to not-present, no flush
    cpu.set_reg(Reg.EBX, va)
    cpu.run(CODE_READ, timeout_us=1_000_000)
    assert rig.events[-1][0] == "syscall"  # the stale translation was used
    cpu.flush_tlb()
    cpu.set_reg(Reg.EBX, va)
    cpu.run(CODE_READ, timeout_us=1_000_000)
    assert rig.events[-1][0] == "trap" and rig.events[-1][1].error_code == 0x4
    ram.write_u32(PD + 4 * pdx(va), 0)


def test_three_faults_in_a_row_stay_page_faults(rig):
    """The Unicorn 1883 remedy at work: no #DF, no triple fault."""
    cpu = rig.cpu
    va = 0x2000_0000
    cpu.load_context(rig.user, PD)
    for _ in range(3):
        cpu.set_reg(Reg.EBX, va)
        rig.events.clear()
        cpu.run(CODE_READ, timeout_us=1_000_000)
        assert rig.events[0][0] == "trap" and rig.events[0][1].vector == 14
