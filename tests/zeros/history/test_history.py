"""The page-table history: replaying the record to any moment gives exactly the page tables
the machine had then; the life of a page is what the guest did to it; the command line."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys

import pytest

from zeros import Machine, history
from zeros.history import HistoryError
from zeros.vm.maps import maps_rows, maps_text

from ...conftest import ASM, gcc_static
from ..snapshot.test_snapshot import HERE as SNAPSHOT_HERE

HERE = __import__("pathlib").Path(__file__).resolve().parent
AD = 0x60  # the Accessed and Dirty bits the CPU sets: not in the record


def _gcc32(source, out):
    return gcc_static(source, out, "-m32", "-O1")


def _live(m) -> dict:
    out = {}
    for pid, proc in m.processes.items():
        if proc.space.alive:
            entries = {va: e & ~AD for va, e in proc.space.tables.entries(
                proc.space.layout.user_min, proc.space.layout.user_top)}
            if entries:
                out[pid] = entries
    return out


def _maps(m) -> dict:
    return {pid: maps_text(maps_rows(p.space), p.space.layout.word)
            for pid, p in m.processes.items() if p.space.alive}


def _replayed(h, seq) -> dict:
    return {pid: {va: e & ~AD for va, e in t.items()} for pid, t in h.tables_at(seq).items()}


@pytest.mark.parametrize("paging", ["32", "pae"])
def test_replay_to_any_moment_gives_the_live_tables(tmp_path, paging):
    """A guest that forks, maps its own file and swaps, and the MemoryManager's heaps and
    sheds beside it; the live tables dumped at random kernel entries."""
    program = _gcc32(SNAPSHOT_HERE / "forks_maps_swaps.c", tmp_path / "fms")
    record = tmp_path / "run.db"
    moments = []
    chance = random.Random(7)
    with Machine(ram_size=4 << 20, root=str(tmp_path), seed=1, paging=paging,
                 record=record) as m:
        booted = {pa for pa, _ in m.frames.used()}  # before the first recorded event

        def frames():
            return {pa for pa, _ in m.frames.used()}
        m.spawn(str(program), argv=["fms"])
        m.spawn(str(ASM / "zeros_hello.asm"))
        dispatch = m.syscalls.dispatch

        def at_syscall():
            if chance.random() < 0.2:
                moments.append((m.recorder.seq, _live(m), _maps(m), frames()))
            dispatch()
        m.cpu.syscall_handler = at_syscall
        m.run(timeout=120)
        moments.append((m.recorder.seq, _live(m), _maps(m), frames()))
    assert len(moments) > 10
    with history.open(record) as h:
        for seq, live, maps, in_use in moments:
            assert _replayed(h, seq) == live, f"at event {seq}"
            assert h.maps_at(seq) == maps, f"maps at event {seq}"
            replayed = set(h.frames_at(seq))  # every alloc and free is in the record
            assert replayed <= in_use and in_use - replayed <= booted, f"frames at {seq}"
        summary = h.summary()
        assert {"zero-fill", "page-out", "swap-in", "clone", "spawn"} <= \
            set(summary["entry_causes"])
        assert summary["kinds"]["gone"] >= 2  # both processes ended


def test_the_life_of_a_page_of_a_forked_program(tmp_path):
    program = _gcc32(HERE / "life.c", tmp_path / "life")
    record = tmp_path / "life.db"
    with Machine(ram_size=4 << 20, root=str(tmp_path), seed=1, record=record) as m:
        pid = m.spawn(str(program), argv=["life"])
        result = m.run(timeout=120)[pid]
    assert result.exit_code == 0
    page = int(result.stdout.split()[0], 16)
    with history.open(record) as h:
        life = h.page_life(pid, page)
        steps = [e.cause for e in life if e.kind in ("entry", "gone")]
        faults = [e.cause for e in life if e.kind == "fault"]
    # zero-filled by the first write; fork makes the entry read-only; the parent's write
    # after the child ended makes it writable again (alone: no copy); paged out; back in
    assert steps[0] == "zero-fill" and "clone" in steps, steps
    assert steps.index("clone") < steps.index("cow") < steps.index("page-out") < \
        steps.index("swap-in"), steps
    assert life[-1].kind == "gone" and life[-1].cause == "exit"  # the tables freed
    assert faults[:1] == ["zero-fill"] and "cow" in faults and "swap-in" in faults, faults
    first = next(e for e in life if e.kind == "entry")
    assert first.old == 0 and first.new & 1  # present from then on


def zeros(*args):
    return subprocess.run([sys.executable, "-m", "zeros.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_the_command_line(tmp_path):
    record = tmp_path / "stack.db"
    done = zeros("run", "--record", record, ASM / "stack_grow.asm")
    assert done.returncode == 0 and done.stdout.startswith("recursed 4000 levels")
    summary = zeros("history", record)
    assert summary.returncode == 0 and "entry changes by cause:" in summary.stdout
    assert "spawn" in summary.stdout and "gone 1" in summary.stdout
    faults = json.loads(zeros("history", record, "--faults", "--json").stdout)
    assert faults and all(f["kind"] == "fault" for f in faults)
    stack = next(f for f in faults if f["va"] >= 0xbf000000)
    life = zeros("history", record, "--pid", 1, "--va", hex(stack["va"]))
    assert life.returncode == 0
    assert f"page {stack['va'] & ~0xfff:#010x} of pid 1" in life.stdout
    assert "zero-fill" in life.stdout
    assert re.search(r"-> 0x[0-9a-f]{8} \[g pat [dD] [aA] pcd pwt U W P\] frame", life.stdout)
    with history.open(record) as h:
        last = h.last
        middle = next(e.seq for e in h.faults()) + 1
    at = zeros("history", record, "--at", middle)  # the pagetables view, from the record
    assert at.returncode == 0 and "(pid 1)" in at.stdout
    # the first fault's page joined the stack page that was there: one run of two pages
    assert re.search(r"0xbf7fe000-0xbf800000 +8K  USR RW +pte  2 present", at.stdout), at.stdout
    entries = zeros("history", record, "--at", middle, "--view", "entries")
    assert "pid 1:" in entries.stdout and "frame 0x" in entries.stdout
    maps = zeros("history", record, "--at", middle, "--view", "maps")
    assert re.search(r"bf7df000-bf800000 rw-p 00000000 00:00 0 +\[stack\]", maps.stdout)
    tlb = zeros("history", record, "--at", middle, "--view", "tlb")
    assert re.search(r"0xbf7ff000: 0x[0-9a-f]{8} ---[D-][A-]--UW", tlb.stdout), tlb.stdout
    tables = json.loads(zeros("history", record, "--at", middle, "--json").stdout)
    assert tables["tables"]["1"]
    bad = zeros("history", record, "--at", last + 1)
    assert bad.returncode == 2 and bad.stderr.strip() == \
        f"zeros: error: --at {last + 1}: the record has events 1 to {last}"
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    assert zeros("history", junk).stderr.startswith(f"zeros: error: {junk} is not a ZerOS record")
    assert zeros("history", tmp_path / "none.db").stderr.strip() == \
        f"zeros: error: {tmp_path / 'none.db'}: no such record"
    with pytest.raises(HistoryError):
        history.open(junk)


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path, *args):
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                           "--v=0", "--window-size=1200,800", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(BROWSER is None, reason="no headless browser (Debian's chromium)")
def test_the_timeline_page_renders_each_moment(tmp_path):
    program = _gcc32(HERE / "life.c", tmp_path / "life")
    record = tmp_path / "life.db"
    with Machine(ram_size=4 << 20, root=str(tmp_path), seed=1, record=record) as m:
        m.spawn(str(program), argv=["life"])
        m.run(timeout=120)
    page = tmp_path / "life.html"
    done = zeros("history", record, "--html", page)
    assert done.returncode == 0
    html = page.read_text()
    assert "src=\"http" not in html and "href=\"http" not in html  # self-contained
    with history.open(record) as h:
        early = next(e.seq for e in h.faults()) + 1  # just after the first fault
        late = h.faults()[-1].seq  # at the last fault: far more pages, many swapped
        expected = {seq: {pid: len(t) for pid, t in h.tables_at(seq).items()}
                    for seq in (early, late)}
    shots = {}
    for seq in (early, late):
        dom = _chromium(tmp_path, "--dump-dom", f"{page.as_uri()}#at={seq}")
        assert f"event #{seq}" in dom.stdout
        for pid, count in expected[seq].items():  # the page counts the replay gives
            assert f"pid {pid}: {count} pages" in dom.stdout, (seq, pid, count)
        assert "CONSOLE" not in dom.stderr, dom.stderr
        shot = tmp_path / f"at{seq}.png"
        _chromium(tmp_path, f"--screenshot={shot}", f"{page.as_uri()}#at={seq}")
        shots[seq] = shot.read_bytes()
    assert shots[early] != shots[late]
