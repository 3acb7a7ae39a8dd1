"""The ``zeros`` command line.

``zeros run [OPTIONS] PROGRAM [ARG ...]`` runs a program with its arguments, the host's
environment and standard input, and forwards what it writes; ``--also 'PROGRAM [ARG ...]'``
runs more programs beside it, each as its own process (lines are then prefixed by
``[pid]``). The exit status is the program's (128 + signal when it was killed: 139 for a
fault, as a shell reports SIGSEGV; with --also, the first non-zero one). Bad input gets one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys

from .errors import IntegrityError, ZerosError

EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Forwarder:
    """Writes guest output as it arrives; with several processes, line by line with a pid
    prefix so that lines of different processes never mix."""

    def __init__(self, prefix: bool):
        self.prefix = prefix
        self.partial: dict[tuple[int, int], bytes] = {}

    def __call__(self, proc, fd: int, data: bytes) -> None:
        stream = sys.stdout.buffer if fd == 1 else sys.stderr.buffer
        if not self.prefix:
            stream.write(data)
            stream.flush()
            return
        key = (proc.pid, fd)
        text = self.partial.pop(key, b"") + data
        *lines, rest = text.split(b"\n")
        for line in lines:
            stream.write(b"[%d] %s\n" % (proc.pid, line))
        if rest:
            self.partial[key] = rest
        stream.flush()

    def flush(self) -> None:
        for (pid, fd), rest in self.partial.items():
            stream = sys.stdout.buffer if fd == 1 else sys.stderr.buffer
            stream.write(b"[%d] %s\n" % (pid, rest))
            stream.flush()
        self.partial.clear()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeros", description="ZerOS paging emulator")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a program (an assembly source or a static i386 "
                                     "ELF file) with its arguments; options come first",
                         usage="zeros run [OPTIONS] PROGRAM [ARG ...]")
    run.add_argument("program", metavar="PROGRAM")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG",
                     help="arguments for the program (argv[0] is PROGRAM as given)")
    run.add_argument("--also", action="append", default=[], metavar="'PROGRAM [ARG ...]'",
                     help="run another program beside it, as its own process (repeatable; "
                          "quote it with its arguments)")
    run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="set an environment variable for the guests (repeatable)")
    run.add_argument("--clean-env", action="store_true",
                     help="start from an empty environment instead of the host's")
    run.add_argument("--seed", type=int, default=None, metavar="N",
                     help="a repeatable run: a virtual clock and random bytes from seed N")
    run.add_argument("--paging", choices=["32", "pae", "4-level"], default=None,
                     help="the paging mode: 32 (two levels, 32-bit entries) or pae (three "
                          "levels, 64-bit entries, NX: data cannot be run) for i386 "
                          "programs; 4-level (long mode) for x86-64 ones. Default: 32, or "
                          "4-level when the program is an x86-64 ELF")
    run.add_argument("--ram", default="128M", help="physical RAM size (default 128M)")
    run.add_argument("--page-file", default=None, metavar="SIZE",
                     help="page file size (default 4 x RAM, 0 for none)")
    run.add_argument("--root", default=None, metavar="DIR",
                     help="the directory guests open files in (default: the current one)")
    run.add_argument("--timeout", type=float, default=30.0,
                     help="wall-time budget in seconds, 0 for none (default 30)")
    run.add_argument("--max-instructions", type=int, default=None, metavar="N",
                     help="instruction budget (counts with a hook: about 10x slower)")
    run.add_argument("--json", action="store_true",
                     help="print the results as JSON instead of forwarding guest output")
    run.add_argument("--check", action="store_true",
                     help="after the run, check the whole memory state (frames, page "
                          "tables, reverse maps, page file); a broken invariant exits 70")
    run.add_argument("--ps", action="store_true",
                     help="print the ZerOS ps table (long form, every process) to stderr "
                          "after the run")
    run.add_argument("--show", action="append", default=[], metavar="VIEWS",
                     help="views to print (comma-separated, repeatable): walk:ADDR[:r|w|x], "
                          "pagetables, tlb, maps, pmap, x:ADDR[:SIZE], regs, frames, creg, ps, "
                          "memory, xp:ADDR[:SIZE]")
    run.add_argument("--at", action="append", default=[], metavar="WHEN",
                     help="when to show them: exit (the default), fault, break (at each int3, "
                          "then the guest goes on); comma-separated, repeatable")
    run.add_argument("--map", metavar="FILE",
                     help="draw the address spaces (.svg or .html) at the first of those "
                          "moments")
    run.add_argument("--record", metavar="FILE",
                     help="record the page-table history in FILE (SQLite; read it with "
                          "zeros history FILE)")
    run.add_argument("--gdb", metavar="[HOST:]PORT",
                     help="wait for gdb (target remote HOST:PORT) before the first "
                          "instruction; HOST defaults to 127.0.0.1")
    run.add_argument("--trace", action="store_true",
                     help="print every instruction and memory access, with its translation "
                          "(slow: a hook per instruction)")
    run.add_argument("--trace-limit", type=int, default=100_000, metavar="N",
                     help="instructions to trace at most (default 100000, 0 for no limit)")
    history = sub.add_parser("history", help="read a page-table history (zeros run --record)",
                             usage="zeros history FILE [--pid P --va ADDR | --faults | "
                                   "--at N | --html OUT.html] [--json]")
    history.add_argument("file", metavar="FILE")
    history.add_argument("--pid", type=int, help="the process (with --va, or --faults)")
    history.add_argument("--va", type=lambda t: int(t, 0), metavar="ADDR",
                         help="the life of the page holding ADDR, step by step")
    history.add_argument("--faults", action="store_true", help="every page fault")
    history.add_argument("--at", type=int, metavar="N",
                         help="the page tables after event N")
    history.add_argument("--view", choices=["pagetables", "tlb", "maps", "entries"],
                         default="pagetables",
                         help="with --at: the pagetables view (runs of equal rights, the "
                              "default), the tlb view, the maps view, or every entry with "
                              "its flags")
    history.add_argument("--json", action="store_true", help="JSON instead of text")
    history.add_argument("--html", metavar="OUT.html",
                         help="write the timeline page (self-contained; OUT.html#at=N opens "
                              "it at event N)")
    return parser


def cmd_history(args) -> int:
    from . import history
    from .history import text

    with history.open(args.file) as h:
        if args.html is not None:
            from .history.html import history_html
            with open(args.html, "w") as out:
                out.write(history_html(h))
            print(f"zeros: wrote {args.html} ({h.last} events)", file=sys.stderr)
            return 0
        if args.va is not None:
            if args.pid is None:
                raise ValueError("--va needs --pid")
            data, words = ([e.to_json() for e in h.page_life(args.pid, args.va)],
                           text.life_text(h, args.pid, args.va))
        elif args.faults:
            data, words = ([e.to_json() for e in h.faults(args.pid)],
                           text.faults_text(h, args.pid))
        elif args.at is not None:
            if not 0 <= args.at <= h.last:
                raise ValueError(f"--at {args.at}: the record has events 1 to {h.last}")
            data = {"seq": args.at,
                    "tables": {str(pid): {f"{va:#x}": e for va, e in t.items()}
                               for pid, t in h.tables_at(args.at).items()},
                    "frames": {f"{pa:#x}": list(v) for pa, v in h.frames_at(args.at).items()}}
            data["maps"] = {str(pid): t for pid, t in h.maps_at(args.at).items()}
            words = {"pagetables": text.pagetables_text, "tlb": text.tlb_text,
                     "maps": text.maps_text_at, "entries": text.tables_text}[args.view](
                h, args.at)
        else:
            data, words = h.summary(), text.summary_text(h)
    if args.json:
        import json  # (only some commands need it: start-up)
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        sys.stdout.write(words)
    return 0


def _paging_for(program: str) -> str:
    """4-level paging for an x86-64 program (an ELFCLASS64 file, or an assembly source that
    says ``bits 64``), 32-bit paging otherwise."""
    try:
        with open(program, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return "32"  # the machine says what is wrong with it
    if head[:4] == b"\x7fELF":
        return "4-level" if head[4:5] == b"\x02" else "32"
    from emu.asm import source_bits
    return "4-level" if source_bits(head.decode(errors="replace")) == 64 else "32"


def _readable_stdin() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.fileno() >= 0
    except (OSError, ValueError):
        return False


def _exit_status(results, pids: list[int]) -> int:
    """The program's status, as a shell reports it (1 if it never finished); with --also,
    the first non-zero status of the programs started (not of what they forked)."""
    codes = [results[pid].exit_code if results[pid].exit_code is not None else 1
             for pid in pids]
    if len(codes) == 1:
        return codes[0]
    return next((c for c in codes if c), 0)


class _Views:
    """Prints (or collects, for --json) the views asked for, at the moments asked for."""

    MOMENTS = ("exit", "fault", "break")

    def __init__(self, machine, args):
        self.machine, self.json = machine, args.json
        self.specs = []
        if args.show:  # (the views are imported only when asked for: start-up)
            from .views import select
            self.specs = [spec for text in args.show for spec in select.parse(text)]
        moments = {m.strip() for text in args.at for m in text.split(",") if m.strip()}
        unknown = moments - set(self.MOMENTS)
        if unknown:
            raise ValueError(f"--at: unknown moment {sorted(unknown)[0]!r} (exit, fault or "
                             f"break)")
        self.moments = moments or {"exit"}
        self.map_path = args.map
        if self.map_path and not self.map_path.lower().endswith((".svg", ".html", ".htm")):
            raise ValueError(f"--map {self.map_path}: the picture is .svg or .html")
        if self.map_path and not os.path.isdir(os.path.dirname(os.path.abspath(self.map_path))):
            raise ValueError(f"--map {self.map_path}: no such directory")
        for spec in self.specs:
            if spec.name == "xp" and spec.address + int(spec.extra or 64) > machine.ram.size:
                raise ValueError(f"view xp: {spec.address:#x}+{int(spec.extra or 64):#x} is "
                                 f"outside RAM (0-{machine.ram.size - 1:#x})")
        self.collected: list[dict] = []
        self.drawn = False
        if self.specs or self.map_path:
            machine.exit_handlers.append(self.at_exit)
            if "break" in self.moments:
                machine.breakpoint_handlers.append(lambda proc: self.show(proc, "break"))

    def at_exit(self, proc) -> None:
        if not proc.path:
            return
        if proc.fault is not None and "fault" in self.moments:
            self.show(proc, "fault")
        elif "exit" in self.moments:
            self.show(proc, "exit")

    def show(self, proc, moment: str) -> None:
        """Print the views (a view that fails says so; it never touches the guest)."""
        from .views import select

        if self.map_path and not self.drawn:
            from .views.picture import write_picture
            self.drawn = True
            try:
                write_picture(self.machine, self.map_path)
            except OSError as error:
                sys.stderr.write(f"zeros: --map {self.map_path}: {error.strerror or error}\n")
        for spec in self.specs:
            try:
                view = select.render(self.machine, spec, proc.pid)
            except Exception as error:  # a view must never change what happens to a guest
                sys.stderr.write(f"zeros: view {spec.name} of pid {proc.pid}: "
                                 f"{type(error).__name__}: {error}\n")
                continue
            if self.json:
                self.collected.append({"moment": moment, "pid": proc.pid, **view.to_json()})
            else:
                sys.stderr.write(f"--- pid {proc.pid} ({proc.name}) at {moment}: "
                                 f"{view.name} ---\n{view.text}")
        sys.stderr.flush()


def _peak_rss_kib() -> int:
    """This process's own peak RSS: VmHWM (ru_maxrss also counts what the parent had
    resident when it started us: Linux folds the old address space's peak in at exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _host(machine) -> dict:
    """What the run cost the host: its peak RSS, and how much of the guest RAM it backs."""
    return {"peak_rss_kib": _peak_rss_kib(),
            "ram_bytes": machine.ram.size,
            "ram_backed_bytes": max(0, min(machine.ram.populated, machine.ram.size)
                                    - machine.frames.returned_count * 4096),
            "frames_used": machine.frames.used_count}


def cmd_run(args) -> int:
    from .machine import Machine

    if args.timeout < 0:
        raise ValueError("--timeout must be 0 (no limit) or more")
    if args.max_instructions is not None and args.max_instructions <= 0:
        raise ValueError("--max-instructions must be positive")
    if args.trace_limit < 0:
        raise ValueError("--trace-limit must be 0 (no limit) or more")
    env = {} if args.clean_env else dict(os.environ)
    for item in args.env:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ValueError(f"--env {item!r}: expected NAME=VALUE")
        env[name] = value
    environment = [f"{k}={v}" for k, v in env.items()]
    programs = [[args.program, *args.args]] + [shlex.split(text) for text in args.also]
    if any(not argv for argv in programs):
        raise ValueError("--also: no program given")
    machine = Machine(ram_size=args.ram, page_file=args.page_file, root=args.root,
                      seed=args.seed, paging=args.paging or _paging_for(args.program),
                      record=args.record)
    try:
        machine.table.console_fds = (0, 1, 2)  # what the guests' descriptors 0-2 stand for
        views = _Views(machine, args)
        pids = [machine.spawn(argv[0], argv=argv, env=environment,
                              stdin=sys.stdin.fileno() if k == 0 and _readable_stdin()
                              else None)
                for k, argv in enumerate(programs)]
        forward = None
        if not args.json:
            forward = _Forwarder(prefix=len(programs) > 1)
            machine.on_output = forward
        tracer = None
        if args.trace:
            from .views.trace import Tracer
            tracer = Tracer(machine, sys.stderr.write, args.trace_limit or None).start()
        if args.gdb is not None:
            from .gdb import GdbStub, parse_address
            host, port = parse_address(args.gdb)
            stub = GdbStub(machine, pids[0])
            stub.listen(host, port)
            stub.serve(lambda text: print(text, file=sys.stderr, flush=True))
            if stub.detached:  # the program goes on by itself
                machine.run(max_instructions=args.max_instructions,
                            timeout=args.timeout or None)
            results = machine.results()
        else:
            results = machine.run(max_instructions=args.max_instructions,
                                  timeout=args.timeout or None)
        if tracer is not None:
            tracer.stop()
        if forward is not None:
            forward.flush()
            for result in results.values():
                if result.fault is not None:
                    print(result.fault.report, file=sys.stderr)
                elif result.message:
                    print(f"zeros: pid {result.pid} ({result.name}) {result.message}",
                          file=sys.stderr)
        else:
            document = {"processes": [r.to_json() for r in results.values()],
                        "host": _host(machine)}
            if views.specs:
                document["views"] = views.collected
            if args.ps:
                from .zmm.ps import ps_data
                document["ps"] = ps_data(machine.processes, machine.memory_manager_if_started,
                                         everything=True)
            import json
            json.dump(document, sys.stdout, indent=2)
            print()
        if args.ps and not args.json:
            print(machine.ps(long=True, everything=True), end="", file=sys.stderr)
        if args.check:
            try:
                summary = machine.check()
            except IntegrityError as error:
                for problem in error.problems:
                    print(f"zeros: integrity: {problem}", file=sys.stderr)
                return EXIT_INTERNAL
            print(f"zeros: check: every invariant holds ({summary['frames_used']} frames in "
                  f"use, {summary['swap_slots']} page-file slots)", file=sys.stderr)
        return _exit_status(results, pids)
    finally:
        machine.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="zeros: %(message)s", stream=sys.stderr)
    try:
        return {"run": cmd_run, "history": cmd_history}[args.command](args)
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ZerosError, ValueError, OSError) as error:
        print(f"zeros: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130

    except Exception as error:  # a bug: one line, the traceback on request
        if os.environ.get("ZEROS_DEBUG"):
            raise
        print(f"zeros: internal error: {type(error).__name__}: {error} "
              f"(set ZEROS_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
