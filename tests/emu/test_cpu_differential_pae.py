"""The emulated CPU against the reference walk under PAE paging, on random tables.

Each case writes a random PDPTE (a page directory, or not present), a random PDE (a page
table or a 2 MiB page), a random PTE, with random rights, NX bits and now and then a
reserved bit, picks CR0.WP and EFER.NXE, then makes one access (read, write or instruction
fetch) from ring 3 or ring 0. The CPU must agree with :func:`emu.walk.walk` in PAE format:
the same fault (CR2 and error code, I/D and RSVD included), or the same bytes, and the same
Accessed and Dirty bits written back.

Physical layout (16 MiB): the PDPT at 0x1000, a page directory and an identity page table
for the first 2 MiB (the fixed world: GDT, code, stacks), the cases' tables in 4..8 MiB,
their frames in 8..16 MiB. Cases use PDPT entries 1 and 2 (0x40000000-0xBFFFFFFF).
"""

import random

import pytest

from emu.cpu import Cpu
from emu.mmu import Cr4, Efer, Pde, Pte
from emu.paging import NX_BIT, PAE
from emu.ram import PhysicalMemory
from emu.walk import Access
from tests.emu.access_rig import AccessRig, u64

RAM = 16 << 20
PDPT, PD0, PT0, GDT, CODE, USTACK, KSTACK = (0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000,
                                             0x7000)
TABLES = (4 << 20, 8 << 20)
FRAMES = (8 << 20, 16 << 20)
SEED = 20261130
CASES = 2000


class Rig(AccessRig):
    def __init__(self):
        self.ram = PhysicalMemory(RAM)
        self.cpu = Cpu(self.ram)
        self.cpu.install_gdt(GDT, GDT)
        self.cpu.set_control_bits(cr4=Cr4.PAE, efer=Efer.NXE)
        for page in (PDPT, PD0, PT0, GDT, CODE, USTACK, KSTACK):
            flags = Pte.P | Pte.RW | (Pte.US if page in (CODE, USTACK) else 0)
            u64(self.ram, PT0 + 8 * (page >> 12), page | flags)
        u64(self.ram, PD0, PT0 | Pde.P | Pde.RW | Pde.US)
        u64(self.ram, PDPT, PD0 | Pde.P)
        self.user = self.cpu.new_user_context(CODE, USTACK + 0x1000, PDPT)
        self.kernel = self.cpu.new_kernel_context(CODE, KSTACK + 0x1000, PDPT)
        super().__init__(self.cpu, CODE)


@pytest.fixture(scope="module")
def rig():
    r = Rig()
    yield r
    r.cpu.close()


def _flags(rnd, bits):
    out = 0
    for bit in bits:
        if rnd.random() < 0.5:
            out |= bit
    return out


def _reserved(rnd, entry, large_pde=False):
    """Now and then one bit the CPU must refuse (bits 40..62, or 13..20 of a 2 MiB PDE)."""
    if rnd.random() < 0.06:
        entry |= 1 << rnd.choice([40, 45, 51, 52, 58, 62] + ([13, 20] if large_pde else []))
    return entry


def random_case(rnd: random.Random):
    pdpi = rnd.choice([1, 2])
    va = (pdpi << 30) | (rnd.randrange(512) << 21) | (rnd.randrange(512) << 12) | \
        rnd.randrange(0, 0xFF8)
    rights = [Pte.RW, Pte.US, Pte.A, Pte.D, Pte.G, Pte.PWT, Pte.PCD]
    pdpte = rnd.randrange(*TABLES, 0x1000) | (Pte.P if rnd.random() < 0.93 else 0) | \
        _flags(rnd, [Pte.PWT, Pte.PCD])
    if rnd.random() < 0.03:
        pdpte |= NX_BIT  # reserved in a PAE PDPTE, NXE or not
    pdpte = _reserved(rnd, pdpte)
    large = rnd.random() < 0.3
    pde = (Pde.P if rnd.random() < 0.92 else 0) | _flags(rnd, rights) | \
        (NX_BIT if rnd.random() < 0.2 else 0)
    if large:
        pde |= rnd.choice([8 << 20, 10 << 20, 12 << 20, 14 << 20]) | Pde.PS
        pde = _reserved(rnd, pde, large_pde=True)
    else:
        while True:
            table = rnd.randrange(*TABLES, 0x1000)
            if table != pdpte & 0xFFFFF000:
                break
        pde = _reserved(rnd, pde | table)
    pte = rnd.randrange(*FRAMES, 0x1000) | (Pte.P if rnd.random() < 0.9 else 0) | \
        _flags(rnd, rights) | (NX_BIT if rnd.random() < 0.3 else 0)
    pte = _reserved(rnd, pte)
    return dict(va=va, pdpte=pdpte, pde=pde, pte=pte, access=rnd.choice(list(Access)),
                user=rnd.random() < 0.6, wp=rnd.random() < 0.7, nxe=rnd.random() < 0.8,
                value=rnd.getrandbits(32))


def run_case(rig: Rig, case):
    ram = rig.ram
    va = case["va"]
    pdpte_pa = PDPT + 8 * (va >> 30)
    written = {pdpte_pa: u64(ram, pdpte_pa, case["pdpte"])}
    pd = case["pdpte"] & 0xFFFFF000
    pde_pa = pd + 8 * ((va >> 21) & 511)
    written[pde_pa] = u64(ram, pde_pa, case["pde"])
    pte_pa = None
    if not case["pde"] & Pde.PS:
        pte_pa = (case["pde"] & 0xFFFFF000) + 8 * ((va >> 12) & 511)
        if pte_pa != pde_pa:
            written[pte_pa] = u64(ram, pte_pa, case["pte"])
    return rig.check_case(case, PDPT, PAE, written)


def test_cpu_agrees_with_the_pae_reference_walk(rig):
    rnd = random.Random(SEED)
    outcomes = {"ok": 0, "fault": 0, "nx": 0, "rsvd": 0}
    for _ in range(CASES):
        fault = run_case(rig, random_case(rnd))
        if fault is None:
            outcomes["ok"] += 1
            continue
        outcomes["fault"] += 1
        outcomes["nx"] += bool(fault.error_code & 0x10 and fault.error_code & 1)
        outcomes["rsvd"] += bool(fault.error_code & 0x8)
    # every kind of outcome must be well represented for the comparison to mean anything
    assert outcomes["ok"] > CASES // 5 and outcomes["fault"] > CASES // 5, outcomes
    assert outcomes["nx"] > 20 and outcomes["rsvd"] > 20, outcomes
