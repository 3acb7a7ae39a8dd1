"""The debug views: golden text on fixed guests, JSON shapes, and the facts they show."""

import json

import pytest

from tests.conftest import ASM
from zeros import Machine
from zeros.views import (
    creg_view,
    frames_view,
    maps_view,
    pagetables_view,
    pmap_view,
    regs_view,
    select,
    tlb_view,
    walk_view,
    x_view,
    xp_view,
)


@pytest.fixture
def stopped():
    """asm/seed_walk.asm stopped at its int3: 0x12345678 mapped and written."""
    m = Machine(ram_size=16 << 20)
    m.breakpoint_handlers.append(lambda proc: m.pause())
    pid = m.spawn(ASM / "seed_walk.asm")
    m.run(timeout=10)
    yield m, pid
    m.close()


def test_seed_walk_0x12345678(stopped, golden):
    m, pid = stopped
    view = walk_view(m, pid, 0x12345678)
    d = view.data
    assert (d["pde_index"], d["pte_index"], d["offset"]) == (0x48, 0x345, 0x678)
    assert [s["index"] for s in d["steps"]] == [0x48, 0x345]
    assert d["steps"][0]["entry_address"] == d["cr3"] + 4 * 0x48
    assert d["pa"] == m.translate(pid, 0x12345678).pa
    assert m.read_phys(d["pa"], 4) == (0x600DF00D).to_bytes(4, "little")
    assert "D A" in d["steps"][1]["flags"]  # written: accessed and dirty
    golden("view_walk.txt", view.text)


def test_walk_of_a_fault_gives_the_error_code(stopped):
    m, pid = stopped
    view = walk_view(m, pid, 0x08048000, "w")
    assert view.data["fault"]["error_code"] == 0x7 and view.data["pa"] is None
    assert "#PF error code 0x7 (P|W|U)" in view.text


def test_pagetables_runs_and_sections(stopped, golden):
    m, pid = stopped
    view = pagetables_view(m, pid)
    sections = [run["section"] for run in view.data["runs"]]
    assert sections == ["program", "mmap", "stack", "vvar", "vdso", "kernel"]
    kernel = view.data["runs"][-1]
    assert kernel["start"] == 0xC0000000 and kernel["size"] == 16 << 20
    assert not kernel["user"] and kernel["glob"] and kernel["pages"] == 4096
    mmap = view.data["runs"][1]
    assert (mmap["start"], mmap["user"], mmap["writable"]) == (0x12345000, True, True)
    assert "---[ kernel ]---" in view.text and "16M" in view.text
    golden("view_pagetables.txt", view.text)


def test_tlb_lists_present_leaves_with_a_and_d(stopped, golden):
    m, pid = stopped
    view = tlb_view(m, pid)
    assert view.data["columns"] == ["va", "pa", "size", "flags"]
    entry = dict(zip(view.data["columns"],
                     next(row for row in view.data["entries"] if row[0] == 0x12345000),
                     strict=True))
    assert entry["flags"] == "---DA--UW"  # dirty, accessed, user, writable
    assert entry["pa"] == m.translate(pid, 0x12345000).frame and entry["size"] == 4096
    golden("view_tlb.txt", view.text)


def test_maps_and_pmap(stopped, golden):
    m, pid = stopped
    maps = maps_view(m, pid)
    assert [r["pathname"] for r in maps.data["regions"]] == [
        str(ASM / "seed_walk.asm"), "", "[stack]", "[vvar]", "[vdso]"]
    assert maps.data["regions"][1]["perms"] == "rw-p"
    pmap = pmap_view(m, pid)
    mmap_row = pmap.data["regions"][1]
    assert (mmap_row["kbytes"], mmap_row["rss"], mmap_row["dirty"]) == (4, 4, 4)
    assert pmap.data["total_rss"] == sum(r["rss"] for r in pmap.data["regions"])
    assert pmap.text.splitlines()[-1].startswith("total kB")
    golden("view_maps.txt", maps.text)
    golden("view_pmap.txt", pmap.text)


def test_examine_virtual_and_physical(stopped, golden):
    m, pid = stopped
    view = x_view(m, pid, 0x12345670, 32)
    assert view.data["bytes"][8:12] == [0x0D, 0xF0, 0x0D, 0x60]
    pa = m.translate(pid, 0x12345670).pa
    assert xp_view(m, pa, 32).data["bytes"] == view.data["bytes"]
    holes = x_view(m, pid, 0x12344FF0, 32)  # half of it on an unmapped page
    assert holes.data["bytes"][:16] == [None] * 16 and holes.data["holes"]
    assert "??" in holes.text
    assert not m.translate(pid, 0x12344000).ok  # and nothing was faulted in
    golden("view_x.txt", view.text + holes.text)


def test_creg_and_regs(stopped, golden):
    m, pid = stopped
    creg = creg_view(m, pid)
    assert creg.data["cr3"] == m.cr3(pid)
    assert {"PG", "WP", "PE"} <= set(creg.data["cr0_set"])
    assert {"PSE", "PGE"} <= set(creg.data["cr4_set"])
    assert "CR0=0x80010011: PG cd nw am WP ne ET ts em mp PE" in creg.text
    regs = regs_view(m, pid)
    assert regs.data["cpl"] == 3 and regs.data["cs"] == 0x1B
    assert regs.data["eip"] == m.registers(pid)["eip"]
    assert "IF" in regs.text
    golden("view_creg_regs.txt", creg.text + regs.text)


def test_frames_text(stopped, golden):
    m, _ = stopped
    view = frames_view(m)
    assert view.data["used"] == sum(row["total"] for row in view.data["owners"])
    golden("view_frames.txt", view.text)


def test_frames_owners_and_aliases():
    with Machine(ram_size=16 << 20, root=str(ASM)) as m:
        seen = {}

        def at_exit(proc):
            if "view" not in seen:  # the child exits first: both processes are there
                seen["view"] = frames_view(m, long=True)
        m.exit_handlers.append(at_exit)
        pid = m.spawn(ASM / "shared_anon.asm")
        m.run(timeout=10)
    view = seen["view"]
    owners = {row["name"]: row["kinds"] for row in view.data["owners"]}
    assert owners["kernel"]["pagetable"] == 4  # the direct map of 16 MiB
    parent = next(k for name, k in owners.items() if name.startswith(f"pid {pid} "))
    assert parent["pagedir"] == 1 and parent["pagetable"] >= 2
    vdso = [a for a in view.data["aliases"] if a["kind"] == "vdso"]
    assert len(vdso) == 1 and len({p for p, _ in vdso[0]["mappings"]}) == 2  # both pids
    child_page = [f for f in view.data["frames"] if f["kind"] == "shared"]
    assert len(child_page) == 1  # the MAP_SHARED page, written by the child
    assert view.data["used"] + view.data["free"] == view.data["total"]
    assert "aliases: one frame, several mappings" in view.text


def test_every_view_is_json(stopped):
    m, pid = stopped
    for spec in select.parse("walk:0x12345678,pagetables,tlb,maps,pmap,x:0x12345000:16,"
                             "regs,frames,creg,ps,memory,xp:0x1000:16"):
        view = select.render(m, spec, pid)
        assert json.loads(json.dumps(view.to_json()))["view"] == spec.name
        assert view.text.endswith("\n")


@pytest.mark.parametrize("text,words", [
    ("nope", "unknown view 'nope'"), ("walk", "needs an address"),
    ("walk:zz", "not an address"), ("walk:0x10:q", "access is r, w or x"),
    ("maps:1", "takes no argument"), ("x:0x10:big", "is not a number"),
])
def test_bad_view_specs(text, words):
    with pytest.raises(ValueError, match=words):
        select.parse(text)


def test_zero_page_for_reads_of_untouched_memory(machine):
    pid = machine.spawn(b"l: jmp l")
    va = machine.linux.mmap(pid, 0, 8 * 4096, 3, 0x22)
    for k in range(8):
        assert machine.read_virt(pid, va + k * 4096, 4) == b"\0\0\0\0"
    frames = {machine.translate(pid, va + k * 4096).pa for k in range(8)}
    assert frames == {machine.vm.zero_page}  # one frame for all eight
    assert not machine.translate(pid, va, "w").ok  # read-only until written
    machine.write_virt(pid, va, b"x")
    assert machine.translate(pid, va).pa != machine.vm.zero_page
    assert machine.read_virt(pid, va + 4096, 1) == b"\0"
