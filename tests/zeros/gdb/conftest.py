"""The gdb stub's tests: a stub serving a machine from a thread of the test, and either a
real ``gdb -batch`` (skipped without gdb or without ``gcc -m32 -static``) or a small client
speaking the remote protocol byte by byte."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import gcc_static
from zeros.gdb import GdbStub
from zeros.gdb.packets import checksum

HERE = Path(__file__).resolve().parent


class Served:
    """A stub listening on a free port, serving from a thread."""

    def __init__(self, machine, pid: int):
        self.machine = machine
        self.stub = GdbStub(machine, pid)
        self.port = self.stub.listen("127.0.0.1", 0)
        self.error: BaseException | None = None
        self.clients: list[Client] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.stub.serve()
        except BaseException as error:  # noqa: B036 - reported by join()
            self.error = error

    def connect(self) -> Client:
        client = Client(self.port)
        self.clients.append(client)
        return client

    def join(self, timeout: float = 60) -> None:
        self.thread.join(timeout)
        for client in self.clients:
            client.close()
        assert not self.thread.is_alive(), "the stub did not finish"
        if self.error is not None:
            raise self.error


class Client:
    """The remote protocol by hand (acknowledged mode), for what gdb's output cannot show."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def _read(self, n: int = 1) -> bytes:
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            assert data, "the stub closed the connection"
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, packet: str | bytes) -> None:
        data = packet.encode("latin-1") if isinstance(packet, str) else packet
        self.sock.sendall(b"$" + data + b"#%02x" % checksum(data))
        assert self._read() == b"+"

    def reply(self) -> str:
        while self._read() != b"$":
            pass
        data = b""
        while not data.endswith(b"#"):
            data += self._read()
        sent = self._read(2)
        assert int(sent, 16) == checksum(data[:-1])
        self.sock.sendall(b"+")
        return data[:-1].decode("latin-1")

    def ask(self, packet: str | bytes) -> str:
        self.send(packet)
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def gcc32(source: Path, out: Path) -> Path:
    return gcc_static(source, out, "-m32", "-g", "-O0")


def gcc64(source: Path, out: Path) -> Path:
    return gcc_static(source, out, "-g", "-O0")


def gdb_batch(port: int, program: Path | None, *commands: str, timeout: float = 90) -> str:
    """Run a real gdb against the stub; its stdout and stderr together."""
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed (.ci/run installs it)")
    args = ["gdb", "-batch", "-nx", "-ex", "set pagination off",
            "-ex", f"target remote 127.0.0.1:{port}"]
    for command in commands:
        args += ["-ex", command]
    if program is not None:
        args.append(str(program))
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return done.stdout + done.stderr
