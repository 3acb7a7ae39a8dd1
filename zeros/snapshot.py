"""Machine snapshots: the whole state, to go back to (``restore``) or to keep in a file.

A snapshot holds:

* RAM up to the highest frame ever handed out (above it, RAM is all zero still): the page
  tables, every process's pages, the kernel half, the vDSO, the page cache;
* the operating system: every part the machine composed (processes with their saved CPU
  contexts, regions, memory objects, the frame allocator, page-file slots, files and
  descriptors, signals, the MemoryManager, the scheduler, the clock), pickled with the
  hardware (the CPU, RAM, the page file's host file) and module constants (paging formats,
  layouts) named rather than copied;
* the page file's used slots.

Not in it, and kept from the machine restored into: the observers (``on_output``, breakpoint
handlers, a debugger, exit handlers), and files on the host that guests wrote.

A file is ``MAGIC``, a format version, then the pickle: a snapshot of another format is
refused with a clear message.
"""

from __future__ import annotations

import ctypes
import io
import pickle
import sys
import types
from dataclasses import dataclass, field

from emu.mmu import PAGE_SIZE

from .errors import ZerosError

FORMAT = 1
MAGIC = b"ZEROS-SNAPSHOT\n"


class SnapshotError(ZerosError):
    """A snapshot that cannot be taken back: another format, another machine, a bad file."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    config: dict  # what the machine was made with (a machine to restore into must match)
    state: bytes  # the operating system, pickled
    ram: bytes  # physical RAM up to the highest frame ever handed out
    pagefile: bytes  # the page file's slots in use
    version: int = FORMAT
    info: dict = field(default_factory=dict)  # processes and frames, for people


_known: tuple[int, dict] = (0, {})


def _constants() -> dict[int, tuple[tuple[str, str], object]]:
    """Module-level objects of zeros and emu (formats, layouts, structs): by name (found
    again when modules were imported since)."""
    global _known
    if _known[0] == len(sys.modules):
        return _known[1]
    out = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("zeros", "emu"):
            continue
        for key, value in vars(module).items():
            if not isinstance(value, (type, types.FunctionType, types.ModuleType, int, str,
                                      float, bool, bytes, type(None))):
                out.setdefault(id(value), ((name, key), value))  # (kept: ids stay theirs)
    _known = (len(sys.modules), out)
    return out


def _hardware(machine) -> dict[int, tuple]:
    """What a snapshot names instead of copying: the machine, its hardware, its observers."""
    named = [(machine, ("machine",)), (machine.cpu, ("cpu",)), (machine.ram, ("ram",)),
             (machine.traps.breakpoint_handlers, ("observer", "breakpoint_handlers")),
             (machine.table.on_exit, ("observer", "on_exit"))]
    if machine.pagefile._file is not None:
        named.append((machine.pagefile._file, ("pagefile",)))
    if machine.traps.debugger is not None:
        named.append((machine.traps.debugger, ("observer", "debugger")))
    if machine.recorder is not None:
        named.append((machine.recorder, ("observer", "recorder")))
    return {id(obj): (name, obj) for obj, name in named}


class _Pickler(pickle.Pickler):
    def __init__(self, out, machine):
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self.named = {**_constants(), **_hardware(machine)}
        self.context_type = type(machine.cpu.save_new_context())

    def persistent_id(self, obj):
        known = self.named.get(id(obj))
        if known is not None and known[1] is obj:
            return known[0]
        if type(obj) is self.context_type:  # a saved CPU context: its bytes
            return ("context", ctypes.string_at(obj.context, obj.size))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, machine, observers: dict):
        super().__init__(io.BytesIO(data))
        self.machine = machine
        self.observers = observers

    def persistent_load(self, pid):
        m = self.machine
        kind = pid[0]
        if kind == "machine":
            return m
        if kind == "cpu":
            return m.cpu
        if kind == "ram":
            return m.ram
        if kind == "pagefile":
            return m.pagefile._file
        if kind == "observer":
            return self.observers[pid[1]]
        if kind == "context":
            ctx = m.cpu.save_new_context()
            if ctx.size != len(pid[1]):
                raise SnapshotError("the snapshot's CPU contexts do not fit this Unicorn build")
            ctypes.memmove(ctx.context, pid[1], ctx.size)
            return ctx
        module, name = pid  # a module constant
        return getattr(sys.modules[module], name)


STATE = ("layout", "frames", "kernel", "vm", "clock", "vdso", "signals", "tls", "table",
         "scheduler", "traps", "syscalls", "linux", "windows", "_memory_manager")


def config_of(machine) -> dict:
    return {"ram_size": machine.ram.size, "paging": machine.paging,
            "page_file": machine.pagefile.size, "root": machine.root, "seed": machine.seed}


def take(machine) -> Snapshot:
    out = io.BytesIO()
    _Pickler(out, machine).dump({name: getattr(machine, name) for name in STATE})
    extent = machine.frames.pristine_from * PAGE_SIZE
    pagefile = b""
    if machine.pagefile._file is not None and machine.pagefile._next:
        machine.pagefile._file.seek(0)
        pagefile = machine.pagefile._file.read(machine.pagefile._next * PAGE_SIZE)
    return Snapshot(config_of(machine), out.getvalue(), machine.ram.read(0, extent), pagefile,
                    info={"processes": sorted(machine.processes),
                          "frames_used": machine.frames.used_count})


def put_back(machine, snap: Snapshot) -> None:
    """Make ``machine`` what it was when ``snap`` was taken (observers stay its own)."""
    if not isinstance(snap, Snapshot):
        raise SnapshotError(f"not a snapshot: {type(snap).__name__}")
    if snap.version != FORMAT:
        raise SnapshotError(f"a snapshot of format {snap.version}; this ZerOS reads "
                            f"format {FORMAT}")
    mine = config_of(machine)
    if {k: snap.config[k] for k in ("ram_size", "paging", "page_file")} != \
            {k: mine[k] for k in ("ram_size", "paging", "page_file")}:
        raise SnapshotError(f"the snapshot is of another machine ({snap.config}); this one "
                            f"is {mine}")
    observers = {"breakpoint_handlers": machine.traps.breakpoint_handlers,
                 "on_exit": machine.table.on_exit, "debugger": machine.traps.debugger,
                 "recorder": machine.recorder}
    held = machine.traps.held
    try:
        state = _Unpickler(snap.state, machine, observers).load()
    except (pickle.UnpicklingError, AttributeError, KeyError, EOFError, TypeError) as error:
        raise SnapshotError(f"the snapshot cannot be read: {error}") from None
    dirty_to = machine.frames.pristine_from * PAGE_SIZE
    machine.ram.write(0, snap.ram)
    if dirty_to > len(snap.ram):  # frames handed out since: zero again, as never used
        machine.ram.zero(len(snap.ram), dirty_to - len(snap.ram))
    for name, value in state.items():
        setattr(machine, name, value)
    machine.pagefile = machine.vm.pagefile
    if machine.pagefile._file is not None:
        machine.pagefile._file.seek(0)
        machine.pagefile._file.truncate()
        machine.pagefile._file.write(snap.pagefile)
    machine.traps.debugger = observers["debugger"]
    machine.traps.held = held if observers["debugger"] is not None else {}
    cpu = machine.cpu
    cpu.syscall_handler = machine.syscalls.dispatch
    cpu.trap_handler = machine.traps.handle
    cpu.page_fault_handler = machine.traps.page_fault if machine.recorder is None else \
        machine.traps.recorded_page_fault
    machine.scheduler.forget_loaded()
    cpu.flush_tlb()
    cpu.flush_code()


def write(snap: Snapshot, path) -> None:
    with open(path, "wb") as out:
        out.write(MAGIC + FORMAT.to_bytes(4, "little"))
        pickle.dump(snap, out, protocol=pickle.HIGHEST_PROTOCOL)


def read(path) -> Snapshot:
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 4)
            if head[:len(MAGIC)] != MAGIC:
                raise SnapshotError(f"{path} is not a ZerOS snapshot")
            version = int.from_bytes(head[len(MAGIC):], "little")
            if version != FORMAT:
                raise SnapshotError(f"{path} is a snapshot of format {version}; this ZerOS "
                                    f"reads format {FORMAT}")
            snap = pickle.load(f)
    except OSError as error:
        raise SnapshotError(f"cannot read {path}: {error.strerror}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError) as error:
        raise SnapshotError(f"{path} is damaged: {error}") from None
    if not isinstance(snap, Snapshot):
        raise SnapshotError(f"{path} does not hold a snapshot")
    return snap
