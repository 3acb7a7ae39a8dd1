"""The emulated CPU in long mode against the reference walk under 4-level paging.

Each case writes a random PML4E, PDPTE (a page directory, a 1 GiB page, or not present),
PDE (a page table, a 2 MiB page, or not present) and PTE, with random rights at every level,
NX bits, now and then a reserved bit (address bits 51:40, PS in a PML4E, the frame bits
below a large page's alignment), picks CR0.WP and EFER.NXE, then makes one access (read,
write or instruction fetch) from ring 3 or ring 0 at a user, kernel-half or non-canonical
address. The CPU must agree with :func:`emu.walk.walk` in 4-level format: the same fault
(#PF with CR2 and error code, or #GP for a non-canonical address), or the same bytes, and
the same Accessed and Dirty bits written back.

Physical layout (16 MiB): the PML4 and an identity map of the first 2 MiB (the fixed world:
GDT, code, stacks), the cases' tables in 4..8 MiB, their frames in 8..16 MiB (a 1 GiB page
is frame 0, reached only at offsets inside 8..16 MiB).
"""

import random

import pytest

from emu.cpu import Cpu
from emu.mmu import Pde, Pte
from emu.paging import IA32E, NX_BIT
from emu.ram import PhysicalMemory
from emu.walk import Access
from tests.emu.access_rig import AccessRig, u64

RAM = 16 << 20
PML4, PDPT0, PD0, PT0, GDT, CODE, USTACK, KSTACK = (0x1000 * i for i in range(1, 9))
TABLES = (4 << 20, 8 << 20)
FRAMES = (8 << 20, 16 << 20)
SEED = 20261201
CASES = 2000


class Rig(AccessRig):
    def __init__(self):
        self.ram = PhysicalMemory(RAM)
        self.cpu = Cpu(self.ram, mode=64)
        self.cpu.install_gdt(GDT, GDT)
        for page in (PML4, PDPT0, PD0, PT0, GDT, CODE, USTACK, KSTACK):
            flags = Pte.P | Pte.RW | (Pte.US if page in (CODE, USTACK) else 0)
            u64(self.ram, PT0 + 8 * (page >> 12), page | flags)
        table = Pte.P | Pte.RW | Pte.US
        u64(self.ram, PD0, PT0 | table)
        u64(self.ram, PDPT0, PD0 | table)
        u64(self.ram, PML4, PDPT0 | table)
        self.user = self.cpu.new_user_context(CODE, USTACK + 0x1000, PML4)
        self.kernel = self.cpu.new_kernel_context(CODE, KSTACK + 0x1000, PML4)
        super().__init__(self.cpu, CODE)


@pytest.fixture(scope="module")
def rig():
    r = Rig()
    yield r
    r.cpu.close()


RIGHTS = [Pte.RW, Pte.US, Pte.A, Pte.D, Pte.G, Pte.PWT, Pte.PCD]


def _flags(rnd, bits=RIGHTS, present=0.93, nx=0.15):
    out = Pte.P if rnd.random() < present else 0
    for bit in bits:
        if rnd.random() < 0.6:
            out |= bit
    if rnd.random() < nx:
        out |= NX_BIT
    if rnd.random() < 0.1:
        out |= 1 << rnd.choice([52, 55, 62])  # ignored in 4-level entries
    if rnd.random() < 0.04:
        out |= 1 << rnd.choice([40, 45, 51])  # above MAXPHYADDR: reserved
    return out


def random_case(rnd: random.Random):
    pml4i = rnd.choice([rnd.randrange(1, 256), rnd.randrange(256, 512)])
    pdpti, pdi, pti = rnd.randrange(512), rnd.randrange(512), rnd.randrange(512)
    shape = rnd.random()
    huge = shape < 0.12  # a 1 GiB page
    large = not huge and shape < 0.35  # a 2 MiB page
    if huge:
        low = rnd.randrange(FRAMES[0], FRAMES[1] - 8)
    else:
        low = (pdi << 21) | (pti << 12) | rnd.randrange(0, 0xFF8)
        low &= (1 << 30) - 1
    va = (pml4i << 39) | (pdpti << 30) | low
    if pml4i >= 256:
        va |= 0xFFFF << 48  # the kernel half, canonical
    if rnd.random() < 0.04:
        va ^= 1 << 50  # non-canonical: #GP
    tables = rnd.sample(range(*TABLES, 0x1000), 3)
    pml4e = tables[0] | _flags(rnd)
    if rnd.random() < 0.03:
        pml4e |= Pde.PS  # reserved in a PML4E
    pdpte = _flags(rnd)
    if huge:
        pdpte |= Pde.PS  # frame 0
        if rnd.random() < 0.05:
            pdpte |= 1 << rnd.choice([13, 20, 29])  # below the 1 GiB alignment: reserved
    else:
        pdpte |= tables[1]
    pde = _flags(rnd)
    if large:
        pde |= rnd.choice([8 << 20, 10 << 20, 12 << 20, 14 << 20]) | Pde.PS
        if rnd.random() < 0.05:
            pde |= 1 << rnd.choice([13, 20])  # below the 2 MiB alignment: reserved
    else:
        pde |= tables[2]
    pte = rnd.randrange(*FRAMES, 0x1000) | _flags(rnd, present=0.9, nx=0.3)
    return dict(va=va, pml4e=pml4e, pdpte=pdpte, pde=pde, pte=pte,
                access=rnd.choice(list(Access)), user=rnd.random() < 0.6,
                wp=rnd.random() < 0.7, nxe=rnd.random() < 0.8, value=rnd.getrandbits(32))


def run_case(rig: Rig, case):
    ram = rig.ram
    va = case["va"]
    written = {}
    canonical = IA32E.is_canonical(va)
    if canonical:
        slot = PML4 + 8 * ((va >> 39) & 511)
        written[slot] = u64(ram, slot, case["pml4e"])
        pdpt = case["pml4e"] & 0xFF_FFFF_F000
        if TABLES[0] <= pdpt < TABLES[1]:
            slot = pdpt + 8 * ((va >> 30) & 511)
            written[slot] = u64(ram, slot, case["pdpte"])
            pd = case["pdpte"] & 0xFF_FFFF_F000
            if not case["pdpte"] & Pde.PS and TABLES[0] <= pd < TABLES[1]:
                slot = pd + 8 * ((va >> 21) & 511)
                written.setdefault(slot, u64(ram, slot, case["pde"]))
                pt = case["pde"] & 0xFF_FFFF_F000
                if not case["pde"] & Pde.PS and TABLES[0] <= pt < TABLES[1]:
                    slot = pt + 8 * ((va >> 12) & 511)
                    written.setdefault(slot, u64(ram, slot, case["pte"]))
    return rig.check_case(case, PML4, IA32E, written)


def test_cpu_agrees_with_the_4level_reference_walk(rig):
    rnd = random.Random(SEED)
    seen = {"ok": 0, "pf": 0, "gp": 0, "nx": 0, "rsvd": 0, "1g": 0, "kernel": 0}
    for _ in range(CASES):
        case = random_case(rnd)
        fault = run_case(rig, case)
        seen["1g"] += bool(case["pdpte"] & Pde.PS and fault is None)
        seen["kernel"] += case["va"] >> 63 and fault is None
        if fault is None:
            seen["ok"] += 1
        elif fault.vector == 13:
            seen["gp"] += 1
        else:
            seen["pf"] += 1
            seen["nx"] += bool(fault.error_code & 0x10 and fault.error_code & 1)
            seen["rsvd"] += bool(fault.error_code & 0x8)
    assert seen["ok"] > CASES // 10 and seen["pf"] > CASES // 5, seen
    assert min(seen["gp"], seen["nx"], seen["rsvd"], seen["1g"], seen["kernel"]) > 10, seen
