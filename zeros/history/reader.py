"""The reader: SQL over the record, and replay of its entry changes."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass

from ..errors import ZerosError
from ..record import FORMAT

_MASK64 = (1 << 64) - 1


class HistoryError(ZerosError):
    """Not a record, or a record of another format."""


@dataclass(frozen=True)
class Event:
    seq: int
    ns: int
    entries: int  # kernel entries (syscalls, faults) before it
    kind: str  # entry, fault, cr3, flush, frame, gone
    pid: int
    level: str | None
    va: int | None
    old: int | None
    new: int | None
    cause: str | None

    def to_json(self) -> dict:
        return asdict(self)


def _event(row) -> Event:
    seq, ns, entries, kind, pid, level, va, old, new, cause = row
    if kind == "entry":  # stored signed (SQLite): the NX bit back on top
        old, new = old & _MASK64, new & _MASK64
    return Event(seq, ns, entries, kind, pid, level, va, old, new, cause)


def open(path) -> History:  # noqa: A001 - zeros.history.open, as the issue names it
    return History(path)


class History:
    def __init__(self, path):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise HistoryError(f"{path}: no such record")
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self.meta = dict(self.db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as error:
            raise HistoryError(f"{path} is not a ZerOS record ({error})") from None
        if version != FORMAT:
            raise HistoryError(f"{path} is a record of format {version}; this ZerOS reads "
                               f"format {FORMAT}")
        self.path = path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def last(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def events(self, kind: str | None = None, pid: int | None = None,
               until: int | None = None) -> list[Event]:
        sql, args = "SELECT * FROM events WHERE 1", []
        for column, value in (("kind", kind), ("pid", pid)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if until is not None:
            sql += " AND seq <= ?"
            args.append(until)
        return [_event(row) for row in self.db.execute(sql + " ORDER BY seq", args)]

    def faults(self, pid: int | None = None) -> list[Event]:
        """Every page fault: ``va`` is CR2, ``old`` the error code, ``new`` EIP, ``cause``
        the resolution (or "unresolved": the process got a signal)."""
        return self.events("fault", pid)

    def page_life(self, pid: int, va: int) -> list[Event]:
        """Every change of the leaf entry of ``va``'s page in ``pid``, the faults on that
        page, and the end of the process's tables."""
        page = va & ~0xFFF
        rows = self.db.execute(
            "SELECT * FROM events WHERE pid = ? AND ((kind = 'entry' AND va = ? AND level "
            "NOT IN ('PDE', 'PDPTE', 'PML4E')) OR (kind = 'fault' AND va >= ? AND va < ?) "
            "OR kind = 'gone') ORDER BY seq", (pid, page, page, page + 0x1000))
        return [_event(row) for row in rows]

    def tables_at(self, seq: int) -> dict[int, dict[int, int]]:
        """The leaf entries of every process after event ``seq``: {pid: {va: entry}}
        (entries the kernel wrote; the Accessed and Dirty bits the CPU set are not in the
        record)."""
        tables: dict[int, dict[int, int]] = {}
        rows = self.db.execute(
            "SELECT kind, pid, level, va, new FROM events WHERE seq <= ? AND kind IN "
            "('entry', 'gone') ORDER BY seq", (seq,))
        for kind, pid, level, va, new in rows:
            if kind == "gone":
                tables.pop(pid, None)
                continue
            if level in ("PDE", "PDPTE", "PML4E"):
                continue
            mine = tables.setdefault(pid, {})
            if new:
                mine[va] = new & _MASK64
            else:
                mine.pop(va, None)
        return {pid: dict(sorted(t.items())) for pid, t in sorted(tables.items()) if t}

    def frames_at(self, seq: int) -> dict[int, tuple[int, str]]:
        """Frames in use after event ``seq``: {pa: (owner, what)} (frames the kernel had
        before recording began are not in it)."""
        frames: dict[int, tuple[int, str]] = {}
        for pid, level, new, cause in self.db.execute(
                "SELECT pid, level, new, cause FROM events WHERE seq <= ? AND kind = 'frame' "
                "ORDER BY seq", (seq,)):
            if cause == "alloc":
                frames[new] = (pid, level)
            else:
                frames.pop(new, None)
        return frames

    def maps_at(self, seq: int) -> dict[int, str]:
        """Each live process's /proc/PID/maps text after event ``seq``."""
        out: dict[int, str] = {}
        for pid, text in self.db.execute(
                "SELECT pid, text FROM maps WHERE seq <= ? ORDER BY rowid", (seq,)):
            out[pid] = text
        gone = {pid for (pid,) in self.db.execute(
            "SELECT pid FROM events WHERE kind = 'gone' AND seq <= ?", (seq,))}
        return {pid: text for pid, text in sorted(out.items()) if pid not in gone}

    def summary(self) -> dict:
        kinds = dict(self.db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind"))
        causes = dict(self.db.execute(
            "SELECT cause, COUNT(*) FROM events WHERE kind = 'entry' GROUP BY cause "
            "ORDER BY 2 DESC"))
        pids = [p for (p,) in self.db.execute(
            "SELECT DISTINCT pid FROM events WHERE kind = 'entry' ORDER BY pid")]
        return {"meta": self.meta, "events": self.last, "kinds": kinds,
                "entry_causes": causes, "processes": pids}
