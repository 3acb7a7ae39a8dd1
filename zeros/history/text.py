"""The record in words: the life of a page, the faults, the tables at a moment, a summary.
Entries are spelled with the views' flag letters (upper case = set)."""

from __future__ import annotations

from emu.mmu import PTE_LETTERS, PfError, flag_letters
from emu.paging import NX_BIT

from ..mm.pagetable import is_swap_entry, swap_slot
from ..views.base import size_text
from ..views.ptdump import _tlb_letters
from .reader import Event, History

_PRESENT = 1


def entry_words(entry: int, nx: bool) -> str:
    """'0x0002c067 [g pat D A pcd pwt U W P] frame 0x0002c000', 'swap slot 7', 'empty'."""
    if not entry:
        return "empty"
    if not entry & _PRESENT:
        return f"{entry:#010x} swap slot {swap_slot(entry)}" if is_swap_entry(entry) else \
            f"{entry:#010x} not present"
    xd = ("XD " if entry & NX_BIT else "xd ") if nx else ""
    frame = entry & 0x000FFFFFFFFFF000
    return f"{entry:#010x} [{xd}{flag_letters(entry, PTE_LETTERS)}] frame {frame:#010x}"


def _error(code: int) -> str:
    return "|".join(bit.name for bit in PfError if code & bit) or "0"


def event_line(e: Event, nx: bool) -> str:
    head = f"#{e.seq:<7} {e.ns / 1e6:9.3f} ms  pid {e.pid:<5}"
    if e.kind == "entry":
        return (f"{head} {e.cause:<12} {e.level} {e.va:#010x}: {entry_words(e.old, nx)}\n"
                f"{'':>45}-> {entry_words(e.new, nx)}")
    if e.kind == "fault":
        return (f"{head} {'fault':<12} cr2 {e.va:#010x} error {e.old:#x} ({_error(e.old)}) "
                f"at eip {e.new:#010x}: {e.cause}")
    if e.kind == "gone":
        return f"{head} {e.cause:<12} the process's page tables are freed"
    if e.kind == "cr3":
        return f"{head} {'cr3':<12} load {e.new:#010x}"
    if e.kind == "flush":
        return f"{head} {'tlb':<12} flush"
    if e.kind == "maps":
        return f"{head} {e.cause:<12} its regions changed (--at {e.seq} --view maps)"
    return f"{head} {e.cause:<12} frame {e.new:#010x} ({e.level})"


def life_text(h: History, pid: int, va: int) -> str:
    nx = h.meta.get("paging", "32") != "32"
    events = h.page_life(pid, va)
    lines = [f"page {va & ~0xFFF:#010x} of pid {pid}: {len(events)} events "
             f"(record of {h.meta.get('paging', '32')} paging)"]
    lines += [event_line(e, nx) for e in events]
    return "\n".join(lines) + "\n"


def faults_text(h: History, pid: int | None = None) -> str:
    nx = h.meta.get("paging", "32") != "32"
    faults = h.faults(pid)
    return "\n".join([f"{len(faults)} page faults"] + [event_line(e, nx) for e in faults]) + "\n"


def _cr3s(h: History, seq: int) -> dict[int, int]:
    return {pid: cr3 for pid, cr3 in h.db.execute(
        "SELECT pid, new FROM events WHERE kind = 'cr3' AND seq <= ? ORDER BY seq", (seq,))}


def pagetables_text(h: History, seq: int) -> str:
    """The ``pagetables`` view (runs of equal rights, QEMU's ``info mem``) of every process
    after event ``seq``, from the record: the user half, and swapped runs too."""
    nx = h.meta.get("paging", "32") != "32"
    cr3s = _cr3s(h, seq)
    lines = [f"after event #{seq} (of {h.last}):"]
    for pid, entries in h.tables_at(seq).items():
        cr3 = cr3s.get(pid)
        lines.append(f"cr3 {cr3:#010x} (pid {pid})" if cr3 is not None else
                     f"cr3 ? (pid {pid}: not yet run)")
        runs: list[list] = []
        for va, entry in entries.items():
            present = bool(entry & _PRESENT)
            key = (present, bool(entry & 4), bool(entry & 2), not entry & NX_BIT) \
                if present else (False,)
            if runs and runs[-1][0] == key and runs[-1][2] == va:
                runs[-1][2] += 0x1000
                runs[-1][3] += 1
            else:
                runs.append([key, va, va + 0x1000, 1])
        for key, start, end, pages in runs:
            if not key[0]:
                lines.append(f"{start:#010x}-{end:#010x} {size_text(end - start):>7}  "
                             f"in the page file: {pages} swapped")
                continue
            _, user, writable, executable = key
            lines.append(f"{start:#010x}-{end:#010x} {size_text(end - start):>7}  "
                         f"{'USR' if user else '   '} {'RW' if writable else 'ro'} "
                         f"{('x  ' if executable else 'NX ') if nx else ''}"
                         f"     pte  {pages} present")
    return "\n".join(lines) + "\n"


def tlb_text(h: History, seq: int) -> str:
    """The ``tlb`` view (every present page, ``vaddr: paddr XGPDACTUW``) after ``seq``."""
    lines = []
    for pid, entries in h.tables_at(seq).items():
        lines.append(f"pid {pid}:")
        lines += [f"{va:#010x}: {e & 0x000FFFFFFFFFF000:#010x} {_tlb_letters(e, 'PTE')}"
                  for va, e in entries.items() if e & _PRESENT]
    return "\n".join(lines) + "\n"


def maps_text_at(h: History, seq: int) -> str:
    """The ``maps`` view (/proc/PID/maps) of every process after event ``seq``."""
    out = [f"after event #{seq} (of {h.last}):"]
    for pid, text in h.maps_at(seq).items():
        out.append(f"pid {pid}:")
        out.append(text.rstrip("\n"))
    return "\n".join(out) + "\n"


def tables_text(h: History, seq: int) -> str:
    nx = h.meta.get("paging", "32") != "32"
    lines = [f"page tables after event #{seq} (of {h.last}):"]
    for pid, entries in h.tables_at(seq).items():
        present = sum(1 for e in entries.values() if e & _PRESENT)
        lines.append(f"pid {pid}: {present} present, {len(entries) - present} swapped")
        lines += [f"  {va:#010x}  {entry_words(entry, nx)}" for va, entry in entries.items()]
    frames = h.frames_at(seq)
    lines.append(f"{len(frames)} frames handed out since the record began, still in use")
    return "\n".join(lines) + "\n"


def summary_text(h: History) -> str:
    s = h.summary()
    lines = [f"{h.path}: {s['events']} events, {s['meta'].get('paging', '32')} paging, "
             f"processes {', '.join(map(str, s['processes']))}",
             "events: " + ", ".join(f"{k} {v}" for k, v in sorted(s["kinds"].items())),
             "entry changes by cause: " + ", ".join(f"{k} {v}"
                                                    for k, v in s["entry_causes"].items())]
    return "\n".join(lines) + "\n"
