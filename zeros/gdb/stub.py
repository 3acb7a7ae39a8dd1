"""The gdb remote stub: a real gdb attaches with ``target remote HOST:PORT``.

Every process is a gdb thread (its pid is the thread id); registers and memory are those of
the selected thread (``Hg``), memory through that process's page walk (a read makes no frame
and sets no Accessed bit; an unmapped address is an error). ``monitor`` reaches the debug
views. The packets served, as gdb uses them with QEMU: qSupported, QStartNoAckMode,
qXfer:features/threads, ?, g/G, p/P, m/M/X, Z0-Z4/z0-z4, c/C/s/S, vCont, H, T, qC,
qfThreadInfo, qThreadExtraInfo, qRcmd, vFile (``info proc mappings``), k, D.
"""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from emu.cpu.debug import decode, encode

from ..errors import ZerosError
from ..uapi.signals import SIGKILL, SIGTRAP
from .control import Control, Stop
from .monitor import Monitor
from .packets import Connection, Disconnected, escape, unescape
from .target import target_xml

MAX_PACKET = 0x4000


def parse_address(text: str) -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); ValueError with a clear message."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--gdb takes [HOST:]PORT, not {text!r}") from None
    if not 0 <= number < 65536:
        raise ValueError(f"--gdb: port {number} is not between 0 and 65535")
    return host or "127.0.0.1", number


def xml_escape(text: str) -> str:
    return quoteattr(text)[1:-1]


class GdbStub:
    """Serve ``machine`` (with ``pid`` spawned and not yet run) to one gdb."""

    def __init__(self, machine, pid: int, snapshots: dict | None = None):
        self.m = machine
        self.pid = pid
        self.control = Control(machine, pid)
        self.monitor = Monitor(machine, snapshots)
        self.monitor.on_restore = self._restored
        self.selected = pid  # Hg: registers and memory
        self.resume_thread = -1  # Hc
        self.last = Stop(pid, SIGTRAP)
        self.conn: Connection | None = None
        self.listener: socket.socket | None = None
        self.files: dict[int, bytes] = {}
        self.detached = False
        self.killed = False
        self.multiprocess = False
        self._threads_xml = b""

    # -- the socket ----------------------------------------------------------------------

    def listen(self, host: str = "127.0.0.1", port: int = 1234) -> int:
        """Bind and listen; returns the port (useful with port 0)."""
        self.listener = socket.create_server((host, port))
        return self.listener.getsockname()[1]

    def serve(self, announce: Callable[[str], None] | None = None) -> None:
        """Wait for gdb, then answer it until it detaches, kills, or the program ends."""
        host, port = self.listener.getsockname()[:2]
        if announce is not None:
            announce(f"zeros: waiting for gdb on {host}:{port} "
                     f"(in gdb: target remote {host}:{port})")
        sock, _ = self.listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.listener.close()
        self.conn = Connection(sock)
        try:
            self._loop()
        except (Disconnected, BrokenPipeError, ConnectionResetError):
            self.detached = True
        finally:
            self.conn.close()
            self.control.close()

    def _loop(self) -> None:
        while True:
            data = self.conn.receive()
            if data is None:  # Ctrl-C while stopped: say where we are again
                self.conn.send(self._stop_reply(self.last))
                continue
            reply = self.handle(data.decode("latin-1"), data)
            if reply is not None:
                self.conn.send(reply)
            if self.detached or self.killed or self._over():
                return

    def _over(self) -> bool:
        return self.last.exited is not None or self.last.killed is not None

    # -- packets -------------------------------------------------------------------------

    def handle(self, text: str, raw: bytes) -> str | bytes | None:
        kind = text[:1]
        if not kind:
            return ""  # an empty packet asks nothing
        try:
            if kind == "?":
                return self._stop_reply(self.last)
            if kind == "q" or kind == "Q":
                return self._query(text, raw)
            if kind == "H":
                tid = self._tid(text[2:])
                if text[1] == "g":
                    self.selected = tid if tid > 0 else self.selected
                else:
                    self.resume_thread = tid
                return "OK"
            if kind == "T":
                return "OK" if self._tid(text[1:]) in self.control.threads() else "E01"
            if kind == "g":
                return "".join(encode(bits, v).hex()
                               for _n, bits, v in self.m.debug_registers(self.selected))
            if kind == "G":
                return self._write_all(bytes.fromhex(text[1:]))
            if kind == "p":
                regs = self.m.debug_registers(self.selected)
                n = int(text[1:], 16)
                return encode(regs[n][1], regs[n][2]).hex() if n < len(regs) else "E00"
            if kind == "P":
                number, _, value = text[1:].partition("=")
                n = int(number, 16)
                bits = self.m.cpu.gdb_registers()[n][1]
                self.m.set_debug_register(self.selected, n, decode(bits, bytes.fromhex(value)))
                return "OK"
            if kind == "m":
                return self._read_memory(text[1:])
            if kind == "M":
                where, _, hexdata = text[1:].partition(":")
                return self._write_memory(where, bytes.fromhex(hexdata))
            if kind == "X":
                where, _, _ = text[1:].partition(":")
                return self._write_memory(where, unescape(raw[raw.index(b":") + 1:]))
            if kind in "Zz":
                return self._breakpoint(text)
            if kind in "cCsS":
                if len(text) != (3 if kind in "CS" else 1):
                    raise ValueError("resuming at another address is not served")
                return self._resume([(kind.lower(), int(text[1:3], 16) if kind in "CS" else 0,
                                      self.resume_thread)])
            if text.startswith("vCont?"):
                return "vCont;c;C;s;S"
            if text.startswith("vCont;"):
                return self._vcont(text[6:])
            if text.startswith("vFile:"):
                return self._vfile(text[6:], raw)
            if kind == "k" or text.startswith("vKill"):
                self._kill()
                return None if kind == "k" else "OK"
            if kind == "D":
                self.detached = True
                return "OK"
        except (ZerosError, ValueError, IndexError, KeyError) as error:
            print(f"zeros: gdb packet {text[:40]!r}: {error}", file=sys.stderr)
            return "E01"
        return ""  # not supported

    def _query(self, text: str, raw: bytes) -> str | bytes:
        if text.startswith("qSupported"):
            # multiprocess: the inferior has a pid (the first process's): `info proc` works
            self.multiprocess = "multiprocess+" in text
            return (f"PacketSize={MAX_PACKET:x};qXfer:features:read+;qXfer:threads:read+;"
                    "QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+;"
                    "qXfer:siginfo:read+;qXfer:auxv:read+" +
                    (";multiprocess+" if self.multiprocess else ""))
        if text == "QStartNoAckMode":
            self.conn.send("OK")
            self.conn.ack = False
            return None
        if text.startswith("qAttached"):
            return "1"  # gdb detaches on quit: the program then runs to its end
        if text == "qC":
            return f"QC{self._id(self.last.pid or self.pid)}"
        if text == "qfThreadInfo":
            return "m" + ",".join(self._id(pid) for pid in self.control.threads())
        if text == "qsThreadInfo":
            return "l"
        if text.startswith("qThreadExtraInfo,"):
            proc = self.m.process(self._tid(text.split(",")[1]))
            return f"pid {proc.pid} {proc.name} ({proc.state})".encode().hex()
        if text.startswith("qXfer:features:read:target.xml:"):
            xml = target_xml(self.m.cpu.gdb_registers(), self.m.cpu.mode == 64).encode()
            return self._xfer(xml, text.rsplit(":", 1)[1])
        if text.startswith("qXfer:threads:read::"):
            offset = text.rsplit(":", 1)[1]
            if offset.startswith("0,"):
                self._threads_xml = ("<?xml version=\"1.0\"?><threads>" + "".join(
                    f"<thread id=\"{self._id(pid)}\" core=\"0\" "
                    f"name=\"{xml_escape(self.m.process(pid).name)}\">pid {pid}</thread>"
                    for pid in self.control.threads()) + "</threads>").encode()
            return self._xfer(self._threads_xml, offset)
        if text.startswith("qXfer:auxv:read::"):  # where a static-pie program was loaded
            return self._xfer(self.m.process(self._selected_or_stopped()).space.auxv,
                              text.rsplit(":", 1)[1])
        if text.startswith("qXfer:siginfo:read::"):
            return self._xfer(self._siginfo(), text.rsplit(":", 1)[1])
        if text.startswith("qRcmd,"):
            out = self.monitor.run(self.selected if self.selected in self.control.threads()
                                   else self.last.pid, bytes.fromhex(text[6:]).decode())
            for start in range(0, len(out), 1024):
                self.conn.send("O" + out[start:start + 1024].encode().hex())
            return "OK"
        if text.startswith("qSymbol"):
            return "OK"
        return ""

    def _selected_or_stopped(self) -> int:
        return self.selected if self.selected in self.control.threads() else self.last.pid

    @staticmethod
    def _xfer(data: bytes, span: str) -> bytes:
        offset, length = (int(x, 16) for x in span.split(","))
        chunk = data[offset:offset + length]
        return (b"l" if offset + length >= len(data) else b"m") + escape(chunk)

    def _id(self, pid: int) -> str:
        """A process as gdb names the thread: ``pMAIN.PID`` with multiprocess, else PID."""
        return f"p{self.pid:x}.{pid:x}" if self.multiprocess else f"{pid:x}"

    @staticmethod
    def _tid(text: str) -> int:
        if text.startswith("p"):  # pPID.TID: the thread part names the process
            _, _, text = text[1:].partition(".")
            text = text or "-1"
        return -1 if text == "-1" else int(text or "0", 16)

    # -- registers and memory ------------------------------------------------------------

    def _siginfo(self) -> bytes:
        """Linux's siginfo_t of the trap the selected thread stopped on ($_siginfo)."""
        held = self.m.traps.held.get(self.selected)
        if held is None:
            raise ValueError("the thread did not stop on a signal")
        trap, _what = held
        signal, code, address = self.m.traps.signal_of(self.m.process(self.selected), trap)
        word = 8 if self.m.cpu.mode == 64 else 4
        head = struct.pack("<iii", signal, 0, code) + bytes(word - 4)
        return (head + address.to_bytes(word, "little")).ljust(128, b"\0")

    def _write_all(self, raw: bytes) -> str:
        at = 0
        regs = self.m.debug_registers(self.selected)
        for n, (_name, bits, value) in enumerate(regs):
            size = bits // 8
            new = decode(bits, raw[at:at + size])
            at += size
            if new != value:
                self.m.set_debug_register(self.selected, n, new)
        return "OK"

    def _read_memory(self, args: str) -> str:
        address, length = (int(x, 16) for x in args.split(","))
        length = min(length, MAX_PACKET // 2 - 16)
        out = bytearray()
        while len(out) < length:  # page by page: what reads before an unmapped page
            at = address + len(out)
            n = min(length - len(out), 0x1000 - (at & 0xFFF))
            try:
                out += self.m.peek(self.selected, at, n)
            except ZerosError:
                break
        if not out:
            return "E14"  # EFAULT
        return self.control.shadow(self.selected, address, bytes(out)).hex()

    def _write_memory(self, where: str, data: bytes) -> str:
        address, length = (int(x, 16) for x in where.split(","))
        data = data[:length]
        if data:
            self.m.write_virt(self.selected, address, data, force=True)
            self.m.frames.code_dirty = True
            self.control.wrote(self.selected, address, data)
        return "OK"

    def _breakpoint(self, text: str) -> str:
        kind, address, length = text[1], *text[3:].split(";")[0].split(",")
        address, length = int(address, 16), int(length, 16)
        insert = text[0] == "Z"
        c = self.control
        if kind == "0":
            if insert:
                c.insert_software(self.selected if self.selected in c.threads()
                                  else self.last.pid, address)
            else:
                c.remove_software(address)
        elif kind == "1":
            (c.insert_hardware if insert else c.remove_hardware)(address)
        elif kind in "234":
            (c.insert_watch if insert else c.remove_watch)(int(kind), address, length)
        else:
            return ""
        return "OK"

    # -- running -------------------------------------------------------------------------

    def _vcont(self, spec: str) -> str | None:
        actions = []
        for part in spec.split(";"):
            action, _, tid = part.partition(":")
            if action[:1] not in ("c", "C", "s", "S") or \
                    len(action) != (3 if action[:1] in "CS" else 1):
                raise ValueError(f"vCont action {action!r} is not served (c, C, s, S)")
            signal = int(action[1:3], 16) if action[:1] in "CS" else 0
            actions.append((action[:1].lower(), signal, self._tid(tid) if tid else -1))
        return self._resume(actions)

    def _resume(self, actions: list[tuple[str, int, int]]) -> str:
        signals = {}
        step = None
        threads = self.control.threads()
        for kind, signal, tid in actions:
            targets = threads if tid in (-1, 0) else [tid]
            for pid in targets:
                signals.setdefault(pid, signal)
            if kind == "s" and step is None:
                step = targets[0] if tid not in (-1, 0) else (
                    self.last.pid if self.last.pid in threads else threads[0])
        poll = self.conn.poll_interrupt if self.conn is not None else (lambda: False)
        if step is not None:
            stop = self.control.step(step, signals, poll)
        else:
            stop = self.control.cont(signals, poll)
        if self.conn is not None:
            self.conn.interrupted = False
        self.last = stop
        if stop.exited is None and stop.killed is None:
            self.selected = stop.pid
        return self._stop_reply(stop)

    def _stop_reply(self, stop: Stop) -> str:
        process = f";process:{self.pid:x}" if self.multiprocess else ""
        if stop.exited is not None:
            return f"W{stop.exited:02x}{process}"
        if stop.killed is not None:
            return f"X{stop.killed:02x}{process}"
        extra = "".join(f"{k}:{v};" for k, v in stop.info.items())
        return f"T{stop.signal:02x}thread:{self._id(stop.pid)};{extra}"

    def _kill(self) -> None:
        self.killed = True
        for pid in list(self.m.traps.held):  # the held signals are not sent: SIGKILL is
            self.m.release_trap(pid, False)
        pids = self.control.threads()
        self.control.close()
        for pid in pids:
            self.m.kill(self.m.process(pid), SIGKILL, "killed by SIGKILL: gdb killed it")

    def _restored(self) -> None:
        """After monitor restore: the processes are those of the snapshot."""
        threads = self.control.threads()
        self.control.forget_breakpoints()
        if self.selected not in threads and threads:
            self.selected = threads[0]

    # -- host I/O: gdb's `info proc mappings` reads /proc/PID/maps ----------------------

    def _vfile(self, text: str, raw: bytes) -> str | bytes:
        op, _, args = text.partition(":")
        if op == "setfs":
            return "F0"
        if op == "open":
            path = bytes.fromhex(args.split(",")[0]).decode(errors="replace")
            data = self._proc_file(path)
            if data is None:
                return "F-1,2"  # ENOENT
            fd = max(self.files, default=0) + 1
            self.files[fd] = data
            return f"F{fd:x}"
        if op == "pread":
            fd, count, offset = (int(x, 16) for x in args.split(","))
            data = self.files.get(fd)
            if data is None:
                return "F-1,9"  # EBADF
            chunk = data[offset:offset + min(count, MAX_PACKET // 2)]
            return b"F%x;" % len(chunk) + escape(chunk)
        if op == "close":
            return "F0" if self.files.pop(int(args, 16), None) is not None else "F-1,9"
        return ""

    def _proc_file(self, path: str) -> bytes | None:
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[0] == "proc" and parts[2] == "task":
            parts = ["proc", parts[3], parts[4]]  # /proc/PID/task/TID/...: the thread's
        if len(parts) != 3 or parts[0] != "proc":
            return None
        threads = self.control.threads()
        pid = int(parts[1]) if parts[1].isdigit() and int(parts[1]) in threads else \
            (self.selected if self.selected in threads else self.last.pid)
        if pid not in self.m.processes:
            return None
        proc = self.m.process(pid)
        if parts[2] == "maps":
            from ..vm.maps import maps_rows, maps_text
            return maps_text(maps_rows(proc.space), proc.space.layout.word).encode()
        if parts[2] == "cmdline":
            return b"".join(a.encode() + b"\0" for a in proc.argv)
        return None
