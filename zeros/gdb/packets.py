"""gdb's remote serial protocol on a socket: ``$data#cs`` packets, acknowledgements, the
binary escape, and the Ctrl-C byte (0x03) that arrives outside any packet."""

from __future__ import annotations

import select
import socket

INTERRUPT = 0x03
_ESCAPED = {ord("#"), ord("$"), ord("}"), ord("*")}


class Disconnected(Exception):
    """gdb went away."""


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(data: bytes) -> bytes:
    return b"$" + data + b"#" + b"%02x" % checksum(data)


def escape(data: bytes) -> bytes:
    """Binary data as packets carry it (``}`` then the byte xor 0x20)."""
    out = bytearray()
    for b in data:
        if b in _ESCAPED:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        out.append(next(it, 0) ^ 0x20 if b == 0x7D else b)
    return bytes(out)


class Connection:
    """One gdb on one socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()
        self.ack = True  # until QStartNoAckMode
        self.interrupted = False  # a Ctrl-C arrived

    def _fill(self, timeout: float | None) -> bool:
        if timeout is not None:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise Disconnected()
        self.buffer += data
        return True

    def poll_interrupt(self) -> bool:
        """While the guest runs: has gdb sent Ctrl-C? (Packets wait in the buffer.)"""
        if not self.interrupted and self._fill(0):
            self._take_interrupts()
        return self.interrupted

    def _take_interrupts(self) -> None:
        while self.buffer[:1] in (b"\x03", b"+", b"-"):
            if self.buffer[0] == INTERRUPT:
                self.interrupted = True
            del self.buffer[0]

    def receive(self) -> bytes | None:
        """The next packet's data; None for a Ctrl-C that arrived while stopped."""
        while True:
            self._take_interrupts()
            if self.interrupted:
                self.interrupted = False
                return None
            start = self.buffer.find(b"$")
            if start >= 0:
                end = self.buffer.find(b"#", start)
                if end >= 0 and len(self.buffer) >= end + 3:
                    data = bytes(self.buffer[start + 1:end])
                    sent = bytes(self.buffer[end + 1:end + 3])
                    del self.buffer[:end + 3]
                    if self.ack:
                        good = sent.lower() == b"%02x" % checksum(data)
                        self.sock.sendall(b"+" if good else b"-")
                        if not good:
                            continue
                    return data
            elif self.buffer and self.buffer[0] != ord("$"):
                del self.buffer[0]  # noise between packets
                continue
            self._fill(None)

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        packet = frame(data)
        self.sock.sendall(packet)
        while self.ack:  # wait for gdb's '+' (a '-' asks for the packet again)
            if not self.buffer:
                self._fill(None)
            b = self.buffer[0]
            if b == ord("+"):
                del self.buffer[0]
                return
            if b == ord("-"):
                del self.buffer[0]
                self.sock.sendall(packet)
                continue
            if b == INTERRUPT:
                del self.buffer[0]
                self.interrupted = True
                continue
            return  # a packet came instead: take it as the acknowledgement

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
