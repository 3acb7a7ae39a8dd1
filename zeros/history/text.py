"""The record in words: the life of a page, the faults, the tables at a moment, a summary.
Entries are spelled with the views' flag letters (upper case = set)."""

from __future__ import annotations

from emu.mmu import PTE_LETTERS, PfError, flag_letters
from emu.paging import NX_BIT

from ..mm.pagetable import is_swap_entry, swap_slot
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
