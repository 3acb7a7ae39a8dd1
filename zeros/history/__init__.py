"""Reading a recorded page-table history (``zeros run --record FILE``; zeros.record writes
it): the life of one page, the faults, the page tables at any moment, as text or JSON.

    h = zeros.history.open("run.db")
    h.page_life(pid, va)       # every change of that page's entry, and its faults
    h.tables_at(seq)           # {pid: {va: entry}}: the leaf entries at that moment
    h.faults()
"""

from .reader import History, HistoryError, open  # noqa: A004 - zeros.history.open

__all__ = ["History", "HistoryError", "open"]
