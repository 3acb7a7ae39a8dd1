"""Views and traces from `zeros run`: at exit, at a fault, at a breakpoint, as JSON."""

import json
import re
import subprocess
import sys

from tests.conftest import ASM
from zeros import Machine
from zeros.views.trace import Tracer


def zeros(*args):
    return subprocess.run([sys.executable, "-m", "zeros.cli", "run", *map(str, args)],
                          capture_output=True, timeout=60)


def test_views_at_a_breakpoint_then_the_guest_goes_on():
    done = zeros("--show", "walk:0x12345678", "--at", "break", ASM / "seed_walk.asm")
    assert done.returncode == 0 and done.stdout == b""
    text = done.stderr.decode()
    assert "--- pid 1 (seed_walk) at break: walk ---" in text
    assert "PDE index 0x048, PTE index 0x345, offset 0x678" in text


def test_views_at_exit_and_at_a_fault():
    done = zeros("--show", "maps,regs", "--at", "exit,fault", "--also", ASM / "selfmod.asm",
                 ASM / "hello.asm")
    text = done.stderr.decode()
    assert "--- pid 1 (hello) at exit: maps ---" in text
    assert "--- pid 2 (selfmod) at fault: regs ---" in text
    assert re.search(r"eip=0x08048016", text)  # the faulting instruction, before it is gone


def test_views_in_json():
    done = zeros("--json", "--show", "pmap,frames", ASM / "hello.asm")
    document = json.loads(done.stdout)
    views = {v["view"]: v for v in document["views"]}
    assert views["pmap"]["moment"] == "exit" and views["pmap"]["pid"] == 1
    assert views["pmap"]["data"]["total_rss"] > 0
    assert views["frames"]["data"]["total"] == 32768  # 128 MiB


def test_bad_moment():
    done = zeros("--show", "maps", "--at", "later", ASM / "hello.asm")
    assert done.returncode == 2 and b"unknown moment 'later'" in done.stderr


def test_trace_shows_each_instruction_and_each_translation():
    lines = []
    with Machine(ram_size=16 << 20) as m:
        pid = m.spawn(ASM / "isolation.asm")
        slot_pa = m.translate(pid, 0x08049000).pa  # the walk says where the store will go
        tracer = Tracer(m, lines.append).start()
        result = m.run(timeout=10)[pid]
        tracer.stop()
    assert result.exit_code == 0
    assert lines[0] == "[1] 0x08048000: b8 14 00 00 00           mov eax, 0x14\n"
    store = lines.index("[1] 0x08048007: a3 00 90 04 08           "
                        "mov dword ptr [0x8049000], eax\n")
    access = lines[store + 1]
    assert access.split() == ["write", "4", "=", "0x1", "@", "va", "0x08049000", "->", "pa",
                              f"{slot_pa:#010x}"]
    assert tracer.count == sum(1 for line in lines if line.startswith("[1]"))


def test_trace_limit_from_the_command_line():
    done = zeros("--trace", "--trace-limit", "3", ASM / "hello.asm")
    assert done.returncode == 0 and done.stdout == b"Hello, world!\n"
    assert done.stderr.decode().count("[1] 0x0804") == 3
