"""Snapshots: running on from a restored snapshot is running on from the moment it was taken
(output, registers, RAM), for guests that fork, map files and swap; from a file too; a
snapshot of another format or another machine is refused; restore keeps the observers."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from zeros import Machine, ZerosError
from zeros.errors import MachineError
from zeros.snapshot import FORMAT, MAGIC, SnapshotError

from ...conftest import ASM, gcc_static
from ..gdb.conftest import HERE as GDB_HERE
from ..gdb.conftest import Client, Served

HERE = __import__("pathlib").Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    root = tmp_path_factory.mktemp("snap")
    gcc_static(HERE / "forks_maps_swaps.c", root / "fms", "-m32", "-O1")
    return root


def _ram_hash(m) -> str:
    return hashlib.sha256(m.ram.read(0, m.frames.pristine_from * 4096)).hexdigest()


def _moment(m) -> dict:
    """What a run looks like now: every live process's registers, RAM, the frames."""
    return {"registers": {pid: m.registers(pid) for pid, p in m.processes.items()
                          if p.alive and p.context is not None},
            "ram": _ram_hash(m), "frames": m.frames.used_count,
            "swap": m.pagefile.used_slots}


def _run_on(m, out: list) -> tuple:
    out.clear()
    m.resume(300_000)
    middle = _moment(m)
    results = m.run(timeout=120)
    return (middle, b"".join(out), {pid: (r.exit_code, r.signal, r.major_faults)
                                    for pid, r in results.items()}, _moment(m))


def test_running_on_from_a_restored_snapshot_is_running_on(guest):
    with Machine(ram_size=4 << 20, root=str(guest), seed=1) as m:
        out = []
        m.on_output = lambda proc, fd, data: out.append(b"%d:" % proc.pid + data)
        pid = m.spawn(str(guest / "fms"), argv=["fms"])
        m.resume(3_000_000)  # after the fork, in the middle of the churn
        assert len([p for p in m.processes.values() if p.alive]) == 2
        assert m.pagefile.used_slots > 0  # swapping already
        snap = m.snapshot()
        first = _run_on(m, out)
        assert first[2][pid][:2] == (0, None) and first[2][pid][2] > 0  # swapped in
        assert b"child status 5" in first[1]
        m.restore(snap)
        again = _run_on(m, out)
        assert again == first
        m.restore(snap)  # a snapshot can be restored again and again
        assert _run_on(m, out) == first
        m.check()
        path = guest / "machine.zs"
        m.restore(snap)
        m.save(path)
    with Machine.load(path) as loaded:
        out = []
        loaded.on_output = lambda proc, fd, data: out.append(b"%d:" % proc.pid + data)
        assert _run_on(loaded, out) == first
        loaded.check()


def test_restore_goes_back_in_an_asm_guest_and_keeps_the_observers():
    with Machine(ram_size=16 << 20) as m:
        seen = []
        m.on_output = lambda proc, fd, data: seen.append(data)
        pid = m.spawn(str(ASM / "hello.asm"))
        snap = m.snapshot()
        assert m.run()[pid].stdout == b"Hello, world!\n"
        m.restore(snap)
        assert m.processes[pid].alive
        assert m.run()[pid].stdout == b"Hello, world!\n"
        assert seen == [b"Hello, world!\n"] * 2  # the hook is the machine's, not the snapshot's
        m.check()


def test_snapshots_of_other_machines_and_formats_are_refused(tmp_path):
    with Machine(ram_size=16 << 20) as m:
        m.spawn(str(ASM / "hello.asm"))
        snap = m.snapshot()
        m.save(tmp_path / "good.zs")
    with Machine(ram_size=32 << 20) as other:
        with pytest.raises(SnapshotError, match="another machine"):
            other.restore(snap)
        other.check()
    with pytest.raises(SnapshotError, match="not a ZerOS snapshot"):
        (tmp_path / "junk.zs").write_bytes(b"hello")
        Machine.load(tmp_path / "junk.zs")
    future = tmp_path / "future.zs"
    future.write_bytes(MAGIC + (FORMAT + 1).to_bytes(4, "little") + pickle.dumps(snap))
    with pytest.raises(SnapshotError, match=f"format {FORMAT + 1}; this ZerOS reads format "
                                            f"{FORMAT}"):
        Machine.load(future)
    with pytest.raises(SnapshotError, match="cannot read"):
        Machine.load(tmp_path / "missing.zs")
    assert issubclass(SnapshotError, ZerosError)


def test_no_snapshot_while_running():
    with Machine(ram_size=16 << 20) as m:
        pid = m.spawn(str(ASM / "hello.asm"))
        errors = []

        def at_output(proc, fd, data):
            for call in (m.snapshot, lambda: m.restore(None)):
                try:
                    call()
                except MachineError as error:
                    errors.append(str(error))
        m.on_output = at_output
        m.run()
        assert errors == ["snapshot() called while the machine is running",
                          "restore() called while the machine is running"]
        assert m.results()[pid].exit_code == 0


def test_monitor_snapshot_and_restore_from_gdb():
    with Machine(ram_size=16 << 20) as m:
        pid = m.spawn(str(ASM / "hello.asm"))
        served = Served(m, pid)
        client = served.connect()

        def monitor(text: str) -> str:
            client.send("qRcmd," + text.encode().hex())
            out = ""
            while (reply := client.reply()) != "OK":
                out += bytes.fromhex(reply[1:]).decode()
            return out
        assert monitor("snapshot start") == "snapshot 'start' taken\n"
        assert client.ask("vCont;s:1").startswith("T05")
        eip = m.registers(pid)["eip"]
        assert monitor("restore start") == "restored 'start'\n"
        assert m.registers(pid)["eip"] != eip  # back before the step
        assert monitor("snapshots") == "start\n"
        assert client.ask("c") == "W00"
        served.join()
        assert m.results()[pid].stdout == b"Hello, world!\n"
        m.check()


assert GDB_HERE and Client  # (the gdb helpers come from the gdb tests' conftest)
