"""``monitor`` commands: the debug views, from gdb, for the selected thread's process.

``monitor walk ADDR [r|w|x]``, ``pagetables``, ``tlb``, ``maps``, ``pmap``, ``regs``,
``x ADDR [SIZE]`` (virtual, through the walk), ``xp ADDR [SIZE]`` (physical), ``frames``,
``creg``, ``ps``, ``check`` (the whole-state audit), ``fault`` (the held fault's report),
``snapshot NAME`` / ``restore NAME`` / ``snapshots``, ``help``.
"""

from __future__ import annotations

from ..errors import ZerosError
from ..views.select import parse, render

HELP = """\
monitor walk ADDR [r|w|x]  the page walk of ADDR in this thread's process (Bochs 'page')
monitor pagetables         runs of equal protection (QEMU 'info mem')
monitor tlb                every present page with A and D (QEMU 'info tlb')
monitor maps | pmap        regions (/proc/PID/maps); resident and dirty pages (pmap -x)
monitor regs | creg        registers; control registers bit by bit
monitor x ADDR [SIZE]      bytes at a virtual address, through the walk (nothing faulted in)
monitor xp ADDR [SIZE]     bytes at a physical address
monitor frames             who owns each physical frame
monitor ps                 processes, heaps and sheds (ZerOS ps)
monitor check              audit the whole memory state
monitor fault              the report of the fault this thread stopped on
monitor snapshot NAME      save the machine; monitor restore NAME goes back to it
monitor snapshots          the snapshots taken
"""

VIEWS = {"walk", "pagetables", "tlb", "maps", "pmap", "regs", "x", "xp", "frames", "creg",
         "ps"}


class Monitor:
    def __init__(self, machine, snapshots: dict | None = None):
        self.m = machine
        self.snapshots = {} if snapshots is None else snapshots
        self.on_restore = None  # the stub forgets its stop state after a restore

    def run(self, pid: int, line: str) -> str:
        words = line.split()
        if not words or words[0] in ("help", "?"):
            return HELP
        name, args = words[0], words[1:]
        try:
            if name in VIEWS:
                spec = ":".join([name, *args])
                view = parse(spec)[0]
                return str(render(self.m, view, pid))
            if name == "check":
                summary = self.m.check()
                return "memory state is whole: " + ", ".join(
                    f"{k} {v}" for k, v in summary.items()) + "\n"
            if name == "fault":
                return self._fault(pid)
            if name in ("snapshot", "restore") and len(args) != 1:
                return f"usage: monitor {name} NAME\n"
            if name == "snapshot":
                self.snapshots[args[0]] = self.m.snapshot()
                return f"snapshot {args[0]!r} taken\n"
            if name == "restore":
                snap = self.snapshots.get(args[0])
                if snap is None:
                    return f"no snapshot {args[0]!r} (monitor snapshots lists them)\n"
                self.m.restore(snap)
                if self.on_restore is not None:
                    self.on_restore()
                return f"restored {args[0]!r}\n"
            if name == "snapshots":
                return "".join(f"{n}\n" for n in self.snapshots) or "no snapshots\n"
        except (ValueError, ZerosError) as error:
            return f"{name}: {error}\n"
        return f"unknown monitor command {name!r}; 'monitor help' lists them\n"

    def _fault(self, pid: int) -> str:
        held = self.m.traps.held.get(pid)
        if held is None:
            return f"pid {pid} is not stopped on a fault\n"
        trap, what = held
        _walk, _what, report = self.m.traps.report(self.m.process(pid), trap, what)
        report = report.replace(" killed by ", " stopped by ", 1)  # not yet: gdb holds it
        return report if report.endswith("\n") else report + "\n"
