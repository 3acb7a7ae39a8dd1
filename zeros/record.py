"""The page-table history's recorder (``zeros run --record FILE``, ``Machine(record=path)``).

Every change the kernel makes to a paging entry, with its cause; every page fault with its
resolution; CR3 loads and TLB flushes; frame allocation and release: one row each, in an
SQLite database (Python's own ``sqlite3``). ``zeros.history`` reads it back.

Schema (``PRAGMA user_version`` is the format, 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)       paging, ram, format, program...
    events(seq INTEGER PRIMARY KEY,              the order things happened in
           ns INTEGER,                           host monotonic time, ns from the start
           entries INTEGER,                      kernel entries so far (syscalls, faults)
           kind TEXT,                            entry | fault | cr3 | flush | frame |
                                                 maps (the regions changed: see maps) |
                                                 gone (the process's tables freed, and
                                                 with them every entry: the entries
                                                 cleared as a process ends are not
                                                 listed one by one)
           pid INTEGER,                          the process (0: the kernel)
           level TEXT,                           entry: PTE, PDE, PDPTE, PML4E
           va INTEGER,                           entry: the first address it covers;
                                                 fault: CR2
           old INTEGER, new INTEGER,             entry: its value before and after;
                                                 fault: error code, EIP; cr3: -, CR3;
                                                 frame: -, the frame's physical address
           cause TEXT)                           why: the syscall's name, the fault's
                                                 resolution (zero-fill, zero page, cow,
                                                 swap-in, file, shared, guard, stack),
                                                 page-out, exit; frame: alloc | free
    maps(seq, pid, text)                         a process's /proc/PID/maps text, each
                                                 time a call or fault changed its regions
                                                 (seq: its `maps` event)
    indexes on (pid, va) and (kind)

What is not recorded: the Accessed and Dirty bits the CPU itself sets as it walks (they
show in the ``old`` value of the kernel's next change of that entry), and instruction
counts (counting costs a hook per instruction). Nothing is recorded, and nothing costs
more than a test of ``frames.recorder``, when recording is off.
"""

from __future__ import annotations

import os
import time

FORMAT = 1
_now = time.monotonic_ns
BATCH = 100_000  # rows kept before a write

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE maps(seq INTEGER, pid INTEGER, text TEXT);
CREATE TABLE events(seq INTEGER PRIMARY KEY, ns INTEGER, entries INTEGER, kind TEXT,
                    pid INTEGER, level TEXT, va INTEGER, old INTEGER, new INTEGER,
                    cause TEXT);
"""
INDEXES = """
CREATE INDEX events_page ON events(pid, va);
CREATE INDEX events_kind ON events(kind);
"""


class Recorder:
    """Rows are kept in a list and written in batches of BATCH (a thread writing them
    competed with the emulation for the GIL: slower)."""

    def __init__(self, path, meta: dict):
        import sqlite3  # (only when recording: start-up does not pay for it)

        path = os.fspath(path)
        if os.path.exists(path):
            os.unlink(path)  # a record is of one run
        self.path = path
        db = sqlite3.connect(path, check_same_thread=False)
        db.executescript(SCHEMA)
        db.execute("PRAGMA journal_mode = OFF")  # a record is written once, from scratch
        db.execute("PRAGMA synchronous = OFF")
        db.execute(f"PRAGMA user_version = {FORMAT}")
        db.executemany("INSERT INTO meta VALUES (?, ?)",
                       [(k, str(v)) for k, v in {**meta, "format": FORMAT}.items()])
        db.commit()
        self.db = db
        self.rows: list[tuple] = []
        self._maps: dict[int, str] = {}  # pid -> the maps text last written
        self.seq = 0
        self.cause = "boot"
        self.quiet = False  # a space being destroyed: its "gone" says every entry went
        self.clock = None  # an object with ``entries`` (kernel entries so far), if wired
        self._t0 = time.monotonic_ns()

    def _add(self, kind: str, pid: int, level, va, old, new, cause) -> None:
        self.seq = seq = self.seq + 1
        clock = self.clock
        rows = self.rows
        rows.append((seq, _now() - self._t0, clock.entries if clock is not None else 0,
                     kind, pid, level, va, old, new, cause))
        if len(rows) >= BATCH:
            self.flush_rows()

    def entry(self, pid: int, level: str, va: int, old: int, new: int) -> None:
        if old != new and not self.quiet:  # (SQLite integers are signed: the NX bit
            # makes a negative one)
            self._add("entry", pid, level, va, old - (old >> 63 << 64),
                      new - (new >> 63 << 64), self.cause)

    def fault(self, pid: int, cr2: int, code: int, eip: int, resolution: str) -> None:
        self._add("fault", pid, None, cr2, code, eip, resolution)

    def cr3(self, pid: int, cr3: int) -> None:
        self._add("cr3", pid, None, None, None, cr3, self.cause)

    def tlb_flush(self, pid: int) -> None:
        self._add("flush", pid, None, None, None, None, self.cause)

    def gone(self, pid: int) -> None:
        """``pid``'s paging structures are freed (every page was unmapped first)."""
        self._add("gone", pid, None, None, None, None, self.cause)

    def frame(self, op: str, pa: int, owner: int, what: str) -> None:
        self._add("frame", owner, what, None, None, pa, op)

    def maps(self, pid: int, text: str) -> None:
        """``pid``'s regions now (written when they differ from the last)."""
        if self._maps.get(pid) != text:
            self._maps[pid] = text
            self._add("maps", pid, None, None, None, None, self.cause)
            self.db.execute("INSERT INTO maps VALUES (?, ?, ?)", (self.seq, pid, text))

    def flush_rows(self) -> None:
        if self.rows and self.db is not None:
            self.db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", self.rows)
            self.rows.clear()

    def close(self) -> None:
        if self.db is None:
            return
        self.flush_rows()
        self.db.executescript(INDEXES)
        self.db.commit()
        self.db.close()
        self.db = None
