"""The ZerOS MemoryManager on real page tables: the seed's examples, the API, KernelMemory."""

import json
import logging

import pytest

from zeros import Machine
from zeros.errors import HeapError, MemoryManagerError, ShedError
from zeros.layout import HEAP_BASE, SHED_BASE
from zeros.zmm.manager import EXPLOIT_PID

PID = 1234


@pytest.fixture
def mm(machine):
    return machine.memory_manager


# -- the seed's examples, with their outputs ----------------------------------------------

def test_seed_example_1_basic_allocation(mm):
    memory = mm.allocate_memory(PID, 1024, 512)
    assert (memory.heap_id, memory.shed_id) == (1, 1)
    addr = memory.heap.allocate(100, "myData")
    memory.heap.write_data(addr, "Hello World")
    assert memory.heap.read_string(addr, 100) == "Hello World"
    memory.shed.write_code(0, "mov eax, 1\nret")  # 'function code', as machine code here
    assert memory.shed.read_code(0, 6) == bytes.fromhex("b801000000c3")


def test_seed_example_2_json_record_and_usage(mm):
    memory = mm.allocate_memory(PID, 1024, 512)
    memory.heap.allocate(100, "myData")
    addr = memory.heap.allocate(50, "userData")
    memory.heap.write_data(addr, json.dumps({"name": "John", "age": 30}))
    user = json.loads(memory.heap.read_string(addr, 50))
    assert user == {"name": "John", "age": 30}
    info = mm.check_memory(PID)
    line = f"堆使用: {info['programs'][0]['totalHeapUsed']} / " \
           f"{info['programs'][0]['totalHeapSize']}"
    assert line == "堆使用: 150 / 1024"


def test_seed_example_3_free_at_exit(machine, mm):
    before = machine.frames.used_count
    mm.allocate_memory(PID, 1024, 512)
    assert machine.frames.used_count > before
    assert mm.free_memory(PID) is True
    assert machine.frames.used_count == before  # pages, page tables, page directory
    assert mm.check_memory(PID) is None
    assert PID not in machine.processes


def test_program_names(mm):
    assert mm.get_program_name(PID) == "Program-1234"
    assert mm.register_program_name(PID, "MyApp") is True
    assert mm.get_program_name(PID) == "MyApp"
    mm.allocate_memory(PID, 64, -1)
    assert mm.check_memory(PID)["programs"][0]["programName"] == "MyApp"
    assert mm.get_program_name(EXPLOIT_PID) == "Exploit"


# -- allocate_memory ------------------------------------------------------------------------

def test_sizes_of_minus_one_make_nothing(mm):
    only_heap = mm.allocate_memory(PID, 1024, -1)
    assert only_heap.shed is None and only_heap.shed_id is None and only_heap.heap
    only_shed = mm.allocate_memory(PID, -1, 0)
    assert only_shed.heap is None and only_shed.shed is not None


def test_ids_come_from_the_counters_and_existing_ids_return_the_same(mm):
    a = mm.allocate_memory(PID, 1024, 16)
    b = mm.allocate_memory(PID, 2048, 16)
    assert (a.heap_id, b.heap_id, a.shed_id, b.shed_id) == (1, 2, 1, 2)
    again = mm.allocate_memory(PID, 99999, 16, heap_id=1, shed_id=2)
    assert again.heap is a.heap and again.shed is b.shed and again.heap.size == 1024
    assert mm.kernel_memory.load_data("NEXT_HEAP_ID") == 3


def test_heaps_are_disjoint_with_guard_pages_between(machine, mm):
    heaps = [mm.allocate_memory(PID, 5000, -1).heap for _ in range(3)]
    starts = [h.start for h in heaps]
    assert starts[0] == HEAP_BASE and starts == sorted(starts)
    for h, nxt in zip(heaps, heaps[1:], strict=False):
        assert h.region.end < nxt.start
        guard = machine.process(PID).space.find(h.region.end)
        assert guard.kind == "guard" and guard.name == f"guard heap {h.heap_id}"
        assert not machine.translate(PID, h.region.end).ok
    # 5000 bytes: two pages mapped, the rest of the window not
    assert machine.translate(PID, heaps[0].start + 0x1000, "w").ok
    assert not machine.translate(PID, heaps[0].start + 0x2000).ok


def test_heap_pages_are_user_rw_and_shed_code_is_user_rx(machine, mm):
    memory = mm.allocate_memory(PID, 100, 100)
    assert machine.translate(PID, memory.heap.start, "w").ok
    code = memory.shed.code_va
    memory.shed.write_code(0, b"\x90\xc3")
    assert machine.translate(PID, code, "x").ok
    write = machine.translate(PID, code, "w")
    assert write.fault.error_code == 0x7  # user write to a read-only page
    assert not machine.translate(PID, memory.shed.links_va, "w").ok
    assert code == SHED_BASE


@pytest.mark.parametrize("args,words", [
    ((EXPLOIT_PID, 100, -1), "cannot allocate the memory of PID 10000"),
    ((-5, 100, -1), "non-negative integer"),
    ((PID, "big", -1), "heap_size must be an integer"),
    ((PID, 100, -1, 0), "heap_id must be a positive integer"),
])
def test_bad_allocation_requests(mm, args, words):
    with pytest.raises(MemoryManagerError, match=words):
        mm.allocate_memory(*args)


def test_pid_10000_cannot_be_freed(mm):
    with pytest.raises(MemoryManagerError, match="cannot free the memory of PID 10000"):
        mm.free_memory(EXPLOIT_PID)
    assert mm.free_memory(4321) is False


def test_log_level(mm, caplog):
    caplog.set_level(logging.DEBUG)
    mm.set_log_level(2)
    mm.allocate_memory(PID, 10, -1)
    assert "allocate_memory(1234, 10, -1)" in caplog.text
    mm.set_log_level(0)
    caplog.clear()
    mm.allocate_memory(PID + 1, 10, -1)
    assert caplog.text == ""
    with pytest.raises(MemoryManagerError, match="0, 1, 2 or 3"):
        mm.set_log_level(7)


# -- check_memory ---------------------------------------------------------------------------

def test_check_memory_shape(machine, mm):
    memory = mm.allocate_memory(PID, 1024, 512)
    memory.heap.allocate(24)
    everything = mm.check_memory(-1)
    assert everything["totalPrograms"] == 2  # this program and Exploit
    program = next(p for p in everything["programs"] if p["pid"] == PID)
    assert program["heaps"] == [{"heapId": 1, "heapSize": 1024, "heapUsed": 24,
                                 "heapFree": 1000}]
    assert program["sheds"] == [{"shedId": 1, "shedSize": 512}]
    assert (program["totalHeapSize"], program["totalHeapUsed"], program["totalHeapFree"],
            program["totalShedSize"]) == (1024, 24, 1000, 512)
    assert program["cr3"] == machine.cr3(PID)
    assert program["residentPages"] == 2  # a heap page, the link table (no code written)
    assert program["pageTableFrames"] == 3  # the page directory and two page tables
    assert mm.check_memory(99) is None
    json.dumps(everything)  # JSON-ready


# -- heaps ----------------------------------------------------------------------------------

@pytest.fixture
def heap(mm):
    return mm.allocate_memory(PID, 256, -1).heap


def test_heap_allocate_free_reuse(heap):
    a = heap.allocate(100)
    b = heap.allocate(100)
    assert b - a == 104  # 8-byte aligned blocks
    heap.free(a)
    assert heap.allocate(50) == a  # first fit
    assert heap.used == 150 and heap.available == 256 - 150


def test_heap_keys(heap):
    address = heap.allocate(10, "k")
    assert heap.address_of("k") == address and "k" in heap
    with pytest.raises(HeapError, match="already in use"):
        heap.allocate(10, "k")
    heap.free(address)
    with pytest.raises(HeapError, match="no block with key"):
        heap.address_of("k")


def test_heap_errors_change_nothing(machine, heap):
    address = heap.allocate(16)
    heap.write_data(address, b"0123456789abcdef")
    snapshot = machine.read_virt(PID, heap.start, 64)
    with pytest.raises(HeapError, match="runs past the block"):
        heap.write_data(address, b"x" * 17)
    with pytest.raises(HeapError, match="runs past the block"):
        heap.write_data(address + 10, "too long")
    with pytest.raises(HeapError, match="no allocated block"):
        heap.write_data(heap.start + 200, b"x")
    with pytest.raises(HeapError, match="not the start of a block"):
        heap.free(address + 200)
    with pytest.raises(HeapError, match="inside the block"):
        heap.free(address + 4)
    assert machine.read_virt(PID, heap.start, 64) == snapshot
    heap.free(address)
    with pytest.raises(HeapError, match="already freed"):
        heap.free(address)
    with pytest.raises(HeapError, match="cannot allocate 0 bytes"):
        heap.allocate(0)


def test_write_data_kinds_and_read_string(heap):
    address = heap.allocate(64)
    heap.write_data(address, {"a": [1, 2]})
    assert heap.read_string(address, 64) == '{"a":[1,2]}'
    heap.write_data(address, "hi")  # text gets a NUL: the old tail does not show
    assert heap.read_string(address, 64) == "hi"
    heap.write_data(address, b"\x00\x01")
    assert heap.read_data(address, 2) == b"\x00\x01"
    assert heap.read_string(address + 1, 1000) == "\x01"  # never past the block
    with pytest.raises(HeapError, match="cannot store"):
        heap.write_data(address, object())


def test_heap_grows_by_mapping_pages(machine, heap):
    assert heap.mapped == 4096
    big = heap.allocate(10000)  # does not fit in 256 bytes: the heap grows
    assert heap.size >= 10256 and heap.mapped >= 12288
    heap.write_data(big + 9990, b"end")
    assert machine.translate(PID, big + 9992, "w").ok
    apps = machine.memory_manager.kernel_memory.load_data("APPLICATION_SOP")
    assert apps[str(PID)]["heaps"][0]["size"] == heap.size  # KernelMemory knows


def test_heap_grows_past_its_window_by_moving_its_guard(machine, mm):
    heap = mm.allocate_memory(PID, 4096, -1).heap
    window = heap.region.size
    heap.expand(window)  # more than the window: the guard page moves up
    assert heap.region.size > window
    assert machine.process(PID).space.find(heap.region.end).kind == "guard"
    next_heap = mm.allocate_memory(PID, 4096, -1).heap
    assert next_heap.start > heap.guard.end - 1


def test_host_writes_guest_reads_the_same_heap_address(machine, mm):
    seen = {}

    def at_breakpoint(proc):
        heap = mm.heaps(proc.pid)[1]
        if "address" not in seen:  # first int3: the host writes, the guest will print it
            seen["address"] = heap.allocate(16)
            heap.write_data(seen["address"], "from the host\n")
            machine.write_virt(proc.pid, 0x08049000, seen["address"].to_bytes(4, "little"))
        else:  # second int3: the guest wrote, the host reads
            seen["read"] = heap.read_string(seen["address"], 16)

    machine.breakpoint_handlers.append(at_breakpoint)
    pid = machine.spawn(b"""
        mov eax, 1000
        mov ebx, 4096
        mov ecx, -1
        xor edx, edx
        xor esi, esi
        xor edi, edi
        int 0x80
        int3
        mov eax, 4
        mov ebx, 1
        mov ecx, [0x08049000]
        mov edx, 14
        int 0x80
        mov ecx, [0x08049000]
        mov dword ptr [ecx], 0x54534547      ; "GEST"
        int3
        mov eax, 1
        xor ebx, ebx
        int 0x80
        section .data
        slot: .long 0
    """)
    result = machine.run(timeout=10)[pid]
    assert result.stdout == b"from the host\n"
    assert seen["read"] == "GEST the host\n"  # the guest overwrote "from"


def test_isolation_same_heap_id_and_address_in_two_pids(machine, mm):
    a = mm.allocate_memory(100, 64, -1, heap_id=7).heap
    b = mm.allocate_memory(200, 64, -1, heap_id=7).heap
    assert a.heap_id == b.heap_id == 7 and a.start == b.start
    a.write_data(a.allocate(8), "AAAA")
    b.write_data(b.allocate(8), "BBBB")
    assert a.read_string(a.start, 8) == "AAAA" and b.read_string(b.start, 8) == "BBBB"
    assert machine.translate(100, a.start).pa != machine.translate(200, b.start).pa


# -- sheds ----------------------------------------------------------------------------------

def test_shed_code_and_links(machine, mm):
    shed = mm.allocate_memory(PID, -1, 64).shed
    address = shed.write_code(16, "call next\nnext: pop eax\nret")
    assert address == shed.code_va + 16
    assert shed.read_code(16, 5) == bytes.fromhex("e800000000")  # call to the next line
    shed.write_resource_link("greeting", "Hello, shed")
    shed.write_resource_link("answer", 42)
    assert shed.read_resource_link("answer") == 42
    assert shed.resource_links() == {"greeting": "Hello, shed", "answer": 42}
    shed.delete_resource_link("answer")
    with pytest.raises(ShedError, match="no resource link 'answer'"):
        shed.read_resource_link("answer")
    # the table is in guest memory, readable by the guest at links_va
    raw = machine.read_virt(PID, shed.links_va, 64).split(b"\0")[0]
    assert json.loads(raw) == {"greeting": "Hello, shed"}
    with pytest.raises(ShedError, match="bad code offset"):
        shed.write_code(-1, b"\x90")
    with pytest.raises(ShedError, match="invalid mnemonic"):
        shed.write_code(0, "bogus")
    with pytest.raises(ShedError, match="JSON-serialisable"):
        shed.write_resource_link("x", object())


def test_guest_calls_code_the_host_wrote_into_its_shed(machine, mm):
    def at_breakpoint(proc):
        shed = mm.sheds(proc.pid)[1]
        shed.write_code(0, "mov eax, 42\nret")

    machine.breakpoint_handlers.append(at_breakpoint)
    pid = machine.spawn(b"""
        mov eax, 1000
        mov ebx, -1
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        mov edi, 0x08049000
        int 0x80
        int3
        call dword ptr [0x08049010]    ; the shed's code address
        mov ebx, eax
        mov eax, 1
        int 0x80
        section .data
        mem: .space 24
    """)
    assert machine.run(timeout=10)[pid].exit_code == 42


# -- KernelMemory ---------------------------------------------------------------------------

def _read_table_from_ram(machine, pid, va):
    """Follow pid's page tables in emulated physical RAM with no help from Python state."""
    raw = b""
    while b"\0" not in raw:
        walk = machine.translate(pid, va + len(raw))
        assert walk.ok
        raw += machine.read_phys(walk.pa, 0x1000 - (walk.pa & 0xFFF))
    return raw.split(b"\0")[0]


def _read_back(machine, key):
    links_va = machine.memory_manager.kernel_memory.shed.links_va
    links = json.loads(_read_table_from_ram(machine, EXPLOIT_PID, links_va))
    address, size = links[f"{key}_ADDR"], links[f"{key}_SIZE"]
    return json.loads(_read_table_from_ram(machine, EXPLOIT_PID, address)[:size])


def test_kernel_memory_tables_read_back_from_physical_ram(machine, mm):
    mm.register_program_name(PID, "MyApp")
    memory = mm.allocate_memory(PID, 1024, 512)
    mm.allocate_memory(PID, 2048, -1)
    sop = _read_back(machine, "APPLICATION_SOP")
    assert sop[str(PID)]["heaps"] == [
        {"heapId": 1, "address": memory.heap.start, "size": 1024},
        {"heapId": 2, "address": mm.heaps(PID)[2].start, "size": 2048}]
    assert sop[str(PID)]["sheds"][0]["shedId"] == 1
    assert str(EXPLOIT_PID) in sop
    assert _read_back(machine, "PROGRAM_NAMES") == {"1234": "MyApp", "10000": "Exploit"}
    assert _read_back(machine, "NEXT_HEAP_ID") == 3
    assert _read_back(machine, "NEXT_SHED_ID") == 2
    mm.free_memory(PID)  # rewritten on every change
    assert str(PID) not in _read_back(machine, "APPLICATION_SOP")


def test_kernel_memory_api(mm):
    km = mm.kernel_memory
    km.save_data("MY_KEY", {"x": 1})
    assert km.has_data("MY_KEY") and km.load_data("MY_KEY") == {"x": 1}
    km.delete_data("MY_KEY")
    assert not km.has_data("MY_KEY")
    with pytest.raises(MemoryManagerError, match="no 'MY_KEY'"):
        km.load_data("MY_KEY")
    assert set(km.get_memory_usage()["keys"]) == {"APPLICATION_SOP", "PROGRAM_NAMES",
                                                  "NEXT_HEAP_ID", "NEXT_SHED_ID"}


def test_exploit_heap_is_its_own_address_space(machine, mm):
    assert machine.cr3(EXPLOIT_PID) not in (0, None)
    assert mm.kernel_memory.heap.size == 1 << 20
    assert machine.process(EXPLOIT_PID).name == "Exploit"


# -- processes and memory -------------------------------------------------------------------

def test_guest_exit_frees_its_heaps(machine):
    from tests.conftest import ASM
    pid = machine.spawn(ASM / "zeros_hello.asm")
    mm = machine.memory_manager
    baseline = machine.frames.used_count - machine.process(pid).space.resident - 2
    result = machine.run(timeout=10)[pid]
    assert result.stdout == b"Hello World\n"
    assert mm.check_memory(pid) is None
    assert str(pid) not in mm.kernel_memory.load_data("APPLICATION_SOP")
    assert machine.frames.used_count <= baseline


def test_ps(machine, mm):
    mm.register_program_name(PID, "MyApp")
    mm.allocate_memory(PID, 1024, 512).heap.allocate(24)
    text = machine.ps(long=True)
    lines = text.splitlines()
    assert lines[0].split() == ["PID", "NAME", "STATUS", "HEAPS", "SHEDS", "TOTAL_HEAP",
                                "TOTAL_SHED"]
    assert lines[1].split() == ["1234", "MyApp", "memory", "1", "1", "1024", "512"]
    assert lines[2].strip() == "heap 1: size=1024 used=24 free=1000 at 0x40000000"
    assert lines[3].strip() == "shed 1: size=512 code=0 resources=0 at 0x60000000"
    assert lines[-1].split()[0] == "TOTAL"


def test_memory_manager_starts_on_first_use_only():
    with Machine(ram_size=2 << 20) as m:
        assert m.memory_manager_if_started is None
        assert EXPLOIT_PID not in m.processes
