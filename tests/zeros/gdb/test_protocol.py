"""The remote protocol byte by byte, for what gdb's own output cannot show: a debugger's
read makes no frame and sets no Accessed bit; an int3 goes into one process's copy only;
Ctrl-C stops a guest that never enters the kernel, at an instruction; register writes,
hardware breakpoints, the target description, host I/O for /proc/PID/maps."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.mmu import Pte
from zeros import Machine
from zeros.gdb import parse_address
from zeros.gdb.control import Control
from zeros.gdb.packets import escape, frame, unescape

from .conftest import Served

SPIN = """%include "syscalls.inc"
section .text
_start:
    xor eax, eax
spin:
    inc eax
    add ecx, eax
    jmp spin
"""

EXIT_WITH_EBX = """%include "syscalls.inc"
section .text
_start:
    nop
    nop
    mov eax, SYS_exit
    int 0x80
"""

EXIT = """%include "syscalls.inc"
section .text
_start:
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
"""

FORK_AND_YIELD = """%include "syscalls.inc"
section .text
_start:
    mov eax, SYS_fork
    int 0x80
spin:
    mov eax, SYS_sched_yield
    int 0x80
    jmp spin
"""


@given(st.binary(max_size=200))
def test_escape_round_trips(data):
    escaped = escape(data)
    assert not set(b"#$*") & set(escaped.replace(b"}", b""))
    assert unescape(escaped) == data


def test_packets_carry_their_checksum():
    assert frame(b"OK") == b"$OK#9a"


def test_addresses_for_the_command_line():
    assert parse_address("1234") == ("127.0.0.1", 1234)
    assert parse_address("0.0.0.0:99") == ("0.0.0.0", 99)
    with pytest.raises(ValueError, match="HOST:]PORT"):
        parse_address("localhost")
    with pytest.raises(ValueError, match="between 0 and 65535"):
        parse_address("70000")


@pytest.fixture
def m():
    with Machine(ram_size=16 << 20) as machine:
        yield machine


def _serve(m, program: str):
    pid = m.spawn(program.encode(), name="guest")
    served = Served(m, pid)
    return pid, served, served.connect()


def _regs(m, pid) -> dict:
    return {name: value for name, _bits, value in m.debug_registers(pid)}


def test_the_target_description_lists_every_register_in_g_order(m):
    pid, served, client = _serve(m, SPIN)
    assert "qXfer:features:read+" in client.ask("qSupported:multiprocess+;swbreak+")
    xml = client.ask("qXfer:features:read:target.xml:0,fffff")
    assert xml[0] == "l"
    root = ET.fromstring(xml[1:])
    assert root.find("architecture").text == "i386"
    regs = [r.get("name") for r in root.iter("reg")]
    assert regs[:10] == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip",
                         "eflags"]
    assert "cr3" in regs and "xmm7" in regs and "st0" in regs
    g = client.ask("g")
    assert len(g) == 2 * sum(int(r.get("bitsize")) // 8 for r in root.iter("reg"))
    eip = int.from_bytes(bytes.fromhex(g[64:72]), "little")
    assert eip == _regs(m, pid)["eip"]
    client.send("k")
    served.join()


def test_a_debugger_read_makes_no_frame_and_sets_no_accessed_bit(m):
    pid, served, client = _serve(m, EXIT)
    proc = m.process(pid)
    stack = next(r for r in proc.space.regions if r.name == "[stack]")
    text = next(r for r in proc.space.regions if r.prot.letters == "r-x")
    used = m.frames.used_count
    text_pte = proc.space.tables.entry(text.start) & ~int(Pte.A)
    proc.space.tables.set_entry(text.start, text_pte)  # as if never touched since
    assert text_pte & Pte.P
    assert client.ask(f"m{stack.start:x},10") == "00" * 16  # never touched: zeros
    assert client.ask(f"m{text.start:x},4") == m.read_phys(
        m.translate(pid, text.start).pa, 4).hex()
    assert m.frames.used_count == used  # no frame for the stack page
    assert proc.space.tables.entry(stack.start) == 0
    assert proc.space.tables.entry(text.start) == text_pte  # no A bit
    assert client.ask("m10,4") == "E14"  # unmapped: an error to gdb
    client.send("k")
    served.join()


def test_ctrl_c_stops_a_guest_that_never_enters_the_kernel(m):
    pid, served, client = _serve(m, SPIN)
    client.send("vCont;c")
    time.sleep(0.3)
    client.send_raw(b"\x03")
    assert client.reply() == "T02thread:1;"
    spin = m.process(pid).space.regions
    eip = _regs(m, pid)["eip"]
    assert any(r.start <= eip < r.end and r.prot.letters == "r-x" for r in spin)
    ecx = _regs(m, pid)["ecx"]
    assert client.ask("vCont;s:1").startswith("T05thread:1;")
    after = _regs(m, pid)
    assert after["eip"] != eip  # exactly one instruction
    assert after["ecx"] in (ecx, (ecx + after["eax"]) & 0xFFFFFFFF)
    client.send("k")
    served.join()
    assert m.results()[pid].signal == 9


def test_register_writes_and_a_hardware_breakpoint(m):
    pid, served, client = _serve(m, EXIT_WITH_EBX)
    start = _regs(m, pid)["eip"]
    assert client.ask(f"Z1,{start + 2:x},1") == "OK"
    reply = client.ask("c")
    assert reply.startswith("T05thread:1;") and "hwbreak" in reply
    assert _regs(m, pid)["eip"] == start + 2  # stopped before the instruction
    assert client.ask(f"P3={(7).to_bytes(4, 'little').hex()}") == "OK"  # ebx
    assert client.ask(f"z1,{start + 2:x},1") == "OK"
    assert client.ask("c") == "W07"
    served.join()
    assert m.results()[pid].exit_code == 7


def test_an_int3_goes_into_one_process_copy_only(m):
    pid = m.spawn(FORK_AND_YIELD.encode(), name="guest")
    m.resume(20_000)
    child = next(p for p in m.processes if p != pid)
    spin = m.process(pid).eip
    before = m.translate(pid, spin).pa
    assert m.translate(child, spin).pa == before  # shared after fork
    control = Control(m, pid)
    control._insert(child, spin)
    assert m.read_virt(child, spin, 1) == b"\xcc"
    assert m.peek(pid, spin, 1) != b"\xcc"  # the parent never sees it
    assert m.translate(child, spin).pa != m.translate(pid, spin).pa  # copied first
    assert control.shadow(child, spin, b"\xcc") == m.peek(pid, spin, 1)
    control.close()
    assert m.read_virt(child, spin, 1) == m.peek(pid, spin, 1)
    m.check()


def test_info_proc_mappings_reads_the_maps_view(m):
    pid, served, client = _serve(m, SPIN)
    fd = client.ask("vFile:open:" + b"/proc/42000/maps".hex() + ",0,0")
    assert fd.startswith("F")
    data = client.ask(f"vFile:pread:{fd[1:]},1000,0")
    assert "[stack]" in data and "[vdso]" in data
    fd2 = client.ask("vFile:open:" + b"/proc/1/task/1/maps".hex() + ",0,0")
    assert "[stack]" in client.ask(f"vFile:pread:{fd2[1:]},1000,0")
    assert client.ask("vFile:open:" + b"/etc/passwd".hex() + ",0,0") == "F-1,2"
    assert client.ask(f"vFile:close:{fd[1:]}") == "F0"
    client.send("k")
    served.join()


def test_the_monitor_answers_with_the_views(m):
    pid, served, client = _serve(m, SPIN)
    eip = _regs(m, pid)["eip"]
    client.send("qRcmd," + f"walk {eip:#x}".encode().hex())
    out = ""
    while (reply := client.reply()) != "OK":
        assert reply.startswith("O")
        out += bytes.fromhex(reply[1:]).decode()
    assert f"linear {eip:#010x}" in out and "PTE" in out
    client.send("qRcmd," + b"nonsense".hex())
    reply = client.reply()
    assert "unknown monitor command" in bytes.fromhex(reply[1:]).decode()
    assert client.reply() == "OK"
    client.send("k")
    served.join()


MALFORMED = ["", "c0", "sq", "c;zz", "C05;x", "vCont;c:zz", "m", "mzz,4", "m10", "M10,4:zz",
             "X", "Xq,1:", "p", "pzz", "P", "P3", "P3=zz", "P999=00", "Z0", "Z0,zz,1",
             "Z9,10,1", "z1,10", "Hg", "Hgzz", "Tzz", "vCont;",
             "vCont;x", "vCont;s:zz", "qXfer:features:read:target.xml:zz",
             "qXfer:threads:read::", "qThreadExtraInfo,99", "qRcmd,zz", "qRcmd," + "41" * 3,
             "vFile:open:zz", "vFile:pread:1,zz,0", "vFile:close:zz", "G00", "?x", "\x00\xff",
             "QStartNoAck", "qSupported:" + "x" * 3000, "qXfer:siginfo:read::0,80"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.one_of(st.sampled_from(MALFORMED),
                          st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                  max_size=40)), max_size=25))
def test_malformed_packets_get_an_answer_and_the_stub_goes_on(packets):
    """Whatever gdb (or anything else on the port) sends, each packet is answered (an
    error, or empty for what is not served) and the stub still works after it."""
    with Machine(ram_size=16 << 20) as m:
        pid, served, client = _serve(m, SPIN)
        for packet in packets:
            packet = packet.replace("$", "").replace("#", "")  # (framing characters)
            if re.fullmatch(r"[cs]|[CS][0-9a-fA-F]{2}", packet) or \
                    packet.startswith(("k", "D", "vKill", "QStartNoAckMode")) or \
                    packet.startswith("vCont;") and packet not in MALFORMED:
                continue  # these run, end or change the session: not what this is about
            client.send(packet.encode("latin-1"))
            reply = client.reply()
            while packet.startswith("qRcmd,") and reply.startswith("O") and reply != "OK":
                reply = client.reply()  # the monitor's output comes first, as O packets
            assert reply == "" or reply[:1] in "EOKlmF0123456789abcdefqQTW" or \
                reply.startswith(("QC", "PacketSize", "vCont")), (packet, reply)
        assert client.ask("?").startswith("T05")  # still there, still stopped
        assert client.ask("m0,4") == "E14"
        client.send("k")
        served.join()
        m.check()
