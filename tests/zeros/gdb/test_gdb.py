"""A real gdb (``gdb -batch``) against the stub: breakpoints by symbol, stepping, registers,
memory reads and writes, a watchpoint, the monitor views, two processes as two threads, a
fault held as SIGSEGV, detach, kill, and an x86-64 program."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from zeros import Machine

from .conftest import HERE, Served, gcc32, gcc64, gdb_batch


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    return gcc32(HERE / "watched.c", tmp_path_factory.mktemp("gdb") / "watched")


@pytest.fixture(scope="module")
def forked(tmp_path_factory):
    return gcc32(HERE / "forked.c", tmp_path_factory.mktemp("gdb") / "forked")


def test_breakpoint_step_registers_memory_watchpoint_monitor(watched):
    with Machine(ram_size=32 << 20) as m:
        pid = m.spawn(str(watched))
        served = Served(m, pid)
        out = gdb_batch(served.port, watched,
                        "break square", "continue", "info registers eip", "print x",
                        "x/i $pc", "stepi", "x/i $pc",
                        "set var counter = 41", "print counter",
                        "delete", "watch counter", "continue",
                        "delete", 'eval "monitor walk %p w", &counter', "monitor maps",
                        "info proc mappings", "info threads", "continue")
        served.join()
        assert "Breakpoint 1, square (x=0)" in out, out
        assert re.search(r"eip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <square\+\d+>", out), out
        assert "$1 = 0" in out
        pcs = re.findall(r"=> (0x[0-9a-f]+) <square\+\d+>", out)
        assert len(pcs) == 2 and pcs[0] != pcs[1], out  # stepi moved one instruction
        assert "$2 = 41" in out  # gdb's write went through the walk, and reads back
        assert "Old value = 41" in out and "New value = 42" in out, out
        # the watchpoint stops after the writing instruction, on the next one (as on x86)
        assert re.search(r"New value = 42\n0x[0-9a-f]+ in main \(\)", out), out
        assert "PDE" in out and "PTE" in out and "user write" in out  # monitor walk
        assert "[stack]" in out and "[heap]" in out  # monitor maps, info proc mappings
        assert 'Thread 1.1 "watched" (pid 1)' in out
        assert "exited with code 03" in out, out
        result = m.results()[pid]
        assert result.exit_code == 3
        assert result.stdout == b"total 30\n"  # counter is not in the total
        m.check()


def test_two_processes_are_two_threads_and_a_fault_stops_as_sigsegv(forked):
    with Machine(ram_size=32 << 20) as m:
        pid = m.spawn(str(forked))
        served = Served(m, pid)
        out = gdb_batch(served.port, forked,
                        "break marker", "continue", "print who", "info threads",
                        "continue", "print who", "delete", "continue",
                        "print $_siginfo.si_signo", "print $_siginfo._sifields._sigfault.si_addr",
                        "monitor fault", "continue")
        served.join()
        assert re.search(r'Thread 2 "forked" hit Breakpoint 1, marker \(who=1\)', out), out
        assert "(pid 1)" in out and "(pid 2)" in out  # info threads: both processes
        assert re.search(r'Thread 1 "forked" hit Breakpoint 1, marker \(who=2\)', out), out
        assert "received signal SIGSEGV" in out
        assert "$3 = 11" in out and "(void *) 0x1234" in out, out
        assert "cr2    0x00001234" in out and "stopped by SIGSEGV" in out  # monitor fault
        assert "terminated with signal SIGSEGV" in out
        results = m.results()
        assert results[pid].signal == 11 and results[pid + 1].exit_code == 7
        m.check()


def test_detach_lets_the_program_run_to_its_end(watched):
    with Machine(ram_size=32 << 20) as m:
        pid = m.spawn(str(watched))
        served = Served(m, pid)
        out = gdb_batch(served.port, watched, "break main", "continue", "detach")
        served.join()
        assert "Breakpoint 1, main ()" in out
        assert served.stub.detached
        results = m.run()  # what zeros run does after a detach
        assert results[pid].exit_code == 3 and results[pid].stdout == b"total 30\n"
        # the breakpoint was taken out before gdb left: no int3 in the text
        m.check()


def test_kill_ends_the_program(watched):
    with Machine(ram_size=32 << 20) as m:
        pid = m.spawn(str(watched))
        served = Served(m, pid)
        out = gdb_batch(served.port, watched, "break square", "continue", "kill")
        served.join()
        assert "killed" in out
        assert m.results()[pid].signal == 9
        m.check()


def test_an_x86_64_program(tmp_path):
    program = gcc64(HERE / "watched.c", tmp_path / "watched64")
    with Machine(ram_size=32 << 20, paging="4-level") as m:
        pid = m.spawn(str(program))
        served = Served(m, pid)
        out = gdb_batch(served.port, program,
                        "break square", "continue", "info registers rip", "print x",
                        "watch counter", "continue", "monitor walk 0x401000", "continue",
                        "delete", "continue")
        served.join()
        assert "Breakpoint 1, square (x=0)" in out, out
        assert re.search(r"rip\s+0x40[0-9a-f]+\s+0x40[0-9a-f]+ <square\+\d+>", out), out
        assert "Old value = 0" in out and "New value = 1" in out, out
        assert "PML4E" in out and "PDPTE" in out  # the 4-level walk
        assert "exited with code 03" in out, out
        m.check()


def test_zeros_run_gdb_waits_for_gdb_and_exits_with_the_program_status(watched, tmp_path):
    """The command line: `zeros run --gdb 127.0.0.1:0 PROGRAM` says where it listens (port 0:
    any free one), gdb attaches, and after gdb detaches the program's status is the exit's."""
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed (.ci/run installs it)")
    process = subprocess.Popen([sys.executable, "-m", "zeros.cli", "run", "--gdb",
                                "127.0.0.1:0", str(watched)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stderr.readline()
        match = re.search(r"waiting for gdb on 127\.0\.0\.1:(\d+) \(in gdb: target remote", line)
        assert match, line
        out = gdb_batch(int(match.group(1)), watched, "break square", "continue",
                        "print x", "continue", "print x")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "square (x=0)" in out and "$2 = 1" in out, out
    assert process.returncode == 3, stderr
    assert stdout == "total 30\n"


def test_zeros_run_gdb_refuses_a_bad_address():
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", "--gdb", "nowhere",
                           "asm/hello.asm"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "zeros: error: --gdb takes [HOST:]PORT, not 'nowhere'"
