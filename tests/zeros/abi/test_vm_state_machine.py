"""Random sequences of virtual-memory calls across two processes, against a model.

Hypothesis drives reserve, commit, protect, decommit, release (Windows), mmap of four kinds,
munmap, mprotect (Linux), and touches: real reads and writes made by the emulated CPU in a
prober guest, which stops at int3 between accesses. After every step the page tables must
agree with the model: present pages only where memory is committed or mapped, rights never
above what was asked, file pages shared by both processes on one frame, every frame's
reverse map true. When everything is freed, no frame is left behind.
"""

import struct

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from emu.mmu import FRAME_MASK, Pte
from zeros import Machine
from zeros.abi.linux.mman import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED
from zeros.abi.windows.virtual import (
    MEM_COMMIT,
    MEM_DECOMMIT,
    MEM_RELEASE,
    MEM_RESERVE,
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    Win32Error,
)
from zeros.proc.files import O_RDWR
from zeros.vm.regions import Prot

PAGE = 4096
FILE_PAGES = 8
PROBER = b"""
loop:
    int3
    test ecx, ecx
    jz read
    mov [ebx], edx
    jmp loop
read:
    mov eax, [ebx]
    jmp loop
"""
RIGHTS = {"none": Prot.NONE, "r": Prot.READ, "rw": Prot.READ | Prot.WRITE}
WINDOWS = {"none": PAGE_NOACCESS, "r": PAGE_READONLY, "rw": PAGE_READWRITE}
KINDS = ["anon-private", "anon-shared", "file-shared", "file-private"]
MODELLED = ("vm", "mmap")


def marker(index: int) -> int:
    return 0xF00D0000 + index


class VirtualMemoryMachine(RuleBasedStateMachine):
    @initialize()
    def boot(self):
        import tempfile
        self.root = tempfile.mkdtemp()
        with open(f"{self.root}/shared.bin", "wb") as f:
            for i in range(FILE_PAGES):
                f.write(struct.pack("<I", marker(i)) + bytes(PAGE - 4))
        self.m = Machine(ram_size=8 << 20, root=self.root)
        self.m.breakpoint_handlers.append(lambda proc: self.m.pause())
        self.pids = [self.m.spawn(PROBER) for _ in range(2)]
        for pid in self.pids:  # each prober runs to its first int3
            self.m.run(timeout=10, pids=[pid])
        self.fd = {pid: self.m.process(pid).files.open("shared.bin", O_RDWR)
                   for pid in self.pids}
        self.pages = {pid: {} for pid in self.pids}  # va -> dict(state)
        self.reservations = {pid: {} for pid in self.pids}  # base -> pages
        self.mappings = {pid: {} for pid in self.pids}  # base -> pages
        self.private = {}  # (pid, va) -> dword written
        self.file = {}  # file page index -> dword written through a shared mapping
        self.baseline = self.m.frames.used_count
        self.tables = {pid: self.m.process(pid).space.tables.table_count for pid in self.pids}

    def teardown(self):
        if hasattr(self, "m"):
            for pid in self.pids:
                for base in list(self.reservations[pid]):
                    self.m.windows.virtual_free(pid, base, 0, MEM_RELEASE)
                for base, pages in list(self.mappings[pid].items()):
                    self.m.linux.munmap(pid, base, pages * PAGE)
            grown = sum(self.m.process(pid).space.tables.table_count - self.tables[pid]
                        for pid in self.pids)
            assert self.m.frames.used_count == self.baseline + grown  # nothing leaked
            assert not self.m.vm.files  # the page cache let go of the file
            self.m.close()

    # -- Windows ---------------------------------------------------------------------

    @rule(pid=st.sampled_from([0, 1]), pages=st.integers(1, 6))
    def reserve(self, pid, pages):
        pid = self.pids[pid]
        base = self.m.windows.virtual_alloc(pid, 0, pages * PAGE, MEM_RESERVE, PAGE_READWRITE)
        self.reservations[pid][base] = pages
        for i in range(pages):
            self.pages[pid][base + i * PAGE] = {"kind": "vm", "on": False, "prot": Prot.NONE}

    def _range(self, data, table):
        base = data.draw(st.sampled_from(sorted(table)))
        first = data.draw(st.integers(0, table[base] - 1))
        count = data.draw(st.integers(1, table[base] - first))
        return base, base + first * PAGE, count

    def _has(self, name):
        return any(getattr(self, name, {}).get(pid) for pid in getattr(self, "pids", []))

    @precondition(lambda self: self._has("reservations"))
    @rule(data=st.data(), rights=st.sampled_from(sorted(RIGHTS)))
    def commit(self, data, rights):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.reservations[p]]))
        _, start, count = self._range(data, self.reservations[pid])
        self.m.windows.virtual_alloc(pid, start, count * PAGE, MEM_COMMIT, WINDOWS[rights])
        for va in range(start, start + count * PAGE, PAGE):
            page = self.pages[pid][va]
            if not page["on"]:  # committed pages stay as they were
                page.update(on=True, prot=RIGHTS[rights], backing="anon")
                self.private.pop((pid, va), None)

    @precondition(lambda self: self._has("reservations"))
    @rule(data=st.data(), rights=st.sampled_from(sorted(RIGHTS)))
    def protect(self, data, rights):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.reservations[p]]))
        _, start, count = self._range(data, self.reservations[pid])
        vas = range(start, start + count * PAGE, PAGE)
        if all(self.pages[pid][va]["on"] for va in vas):
            self.m.windows.virtual_protect(pid, start, count * PAGE, WINDOWS[rights])
            for va in vas:
                self.pages[pid][va]["prot"] = RIGHTS[rights]
        else:
            with pytest.raises(Win32Error):
                self.m.windows.virtual_protect(pid, start, count * PAGE, WINDOWS[rights])

    @precondition(lambda self: self._has("reservations"))
    @rule(data=st.data())
    def decommit(self, data):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.reservations[p]]))
        _, start, count = self._range(data, self.reservations[pid])
        self.m.windows.virtual_free(pid, start, count * PAGE, MEM_DECOMMIT)
        for va in range(start, start + count * PAGE, PAGE):
            self.pages[pid][va].update(on=False, prot=Prot.NONE)
            self.private.pop((pid, va), None)

    @precondition(lambda self: self._has("reservations"))
    @rule(data=st.data())
    def release(self, data):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.reservations[p]]))
        base = data.draw(st.sampled_from(sorted(self.reservations[pid])))
        self.m.windows.virtual_free(pid, base, 0, MEM_RELEASE)
        for i in range(self.reservations[pid].pop(base)):
            del self.pages[pid][base + i * PAGE]
            self.private.pop((pid, base + i * PAGE), None)

    # -- Linux -----------------------------------------------------------------------

    @rule(pid=st.sampled_from([0, 1]), pages=st.integers(1, 4),
          rights=st.sampled_from(sorted(RIGHTS)), kind=st.sampled_from(KINDS),
          first=st.integers(0, FILE_PAGES - 4))
    def mmap(self, pid, pages, rights, kind, first):
        pid = self.pids[pid]
        flags = {"anon-private": MAP_ANONYMOUS | MAP_PRIVATE,
                 "anon-shared": MAP_ANONYMOUS | MAP_SHARED,
                 "file-shared": MAP_SHARED, "file-private": MAP_PRIVATE}[kind]
        file = kind.startswith("file")
        base = self.m.linux.mmap(pid, 0, pages * PAGE, int(RIGHTS[rights]), flags,
                                 self.fd[pid] if file else -1, first * PAGE if file else 0)
        self.mappings[pid][base] = pages
        for i in range(pages):
            self.pages[pid][base + i * PAGE] = {
                "kind": "mmap", "on": True, "prot": RIGHTS[rights], "backing": kind,
                "index": first + i if file else None}

    @precondition(lambda self: self._has("mappings"))
    @rule(data=st.data())
    def munmap(self, data):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.mappings[p]]))
        base, start, count = self._range(data, self.mappings[pid])
        self.m.linux.munmap(pid, start, count * PAGE)
        pages = self.mappings[pid].pop(base)
        for i in range(pages):  # what remains: up to two mappings
            va = base + i * PAGE
            if start <= va < start + count * PAGE:
                del self.pages[pid][va]
                self.private.pop((pid, va), None)
        if start > base:
            self.mappings[pid][base] = (start - base) // PAGE
        end = start + count * PAGE
        if end < base + pages * PAGE:
            self.mappings[pid][end] = (base + pages * PAGE - end) // PAGE

    @precondition(lambda self: self._has("mappings"))
    @rule(data=st.data(), rights=st.sampled_from(sorted(RIGHTS)))
    def mprotect(self, data, rights):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.mappings[p]]))
        _, start, count = self._range(data, self.mappings[pid])
        self.m.linux.mprotect(pid, start, count * PAGE, int(RIGHTS[rights]))
        for va in range(start, start + count * PAGE, PAGE):
            self.pages[pid][va]["prot"] = RIGHTS[rights]

    # -- touches, by the CPU ---------------------------------------------------------

    def expected(self, pid, va):
        page = self.pages[pid][va]
        backing = page.get("backing")
        if backing == "file-shared":
            return self.file.get(page["index"], marker(page["index"]))
        if backing == "file-private":
            return self.private.get((pid, va), self.file.get(page["index"],
                                                             marker(page["index"])))
        return self.private.get((pid, va), 0)

    @precondition(lambda self: any(getattr(self, "pages", {}).get(p) for p in
                                   getattr(self, "pids", [])))
    @rule(data=st.data(), write=st.booleans(), value=st.integers(0, 2**32 - 1))
    def touch(self, data, write, value):
        pid = data.draw(st.sampled_from([p for p in self.pids if self.pages[p]]))
        va = data.draw(st.sampled_from(sorted(self.pages[pid])))
        page = self.pages[pid][va]
        allowed = page["on"] and page["prot"] & (Prot.WRITE if write else Prot.READ)
        if not allowed:  # the CPU would fault: the tables say so, no need to die for it
            assert not self.m.translate(pid, va, "w" if write else "r").ok
            return
        self.m.set_registers(pid, ebx=va, ecx=int(write), edx=value)
        result = self.m.run(timeout=10, pids=[pid])[pid]
        assert result.state == "ready", result.message
        if write:
            if page.get("backing") == "file-shared":
                self.file[page["index"]] = value
            else:
                self.private[(pid, va)] = value
        else:
            assert self.m.registers(pid)["eax"] == self.expected(pid, va)

    # -- what must always hold -------------------------------------------------------

    @invariant()
    def page_tables_agree_with_the_model(self):
        if not hasattr(self, "m"):
            return
        frames = self.m.frames
        file_frames = {}
        for pid in self.pids:
            space = self.m.process(pid).space
            for region in space.regions:
                if region.kind not in MODELLED:
                    continue
                for va, pte in space.tables.present_pages(region.start, region.end):
                    page = self.pages[pid].get(va)
                    assert page is not None and page["on"], (pid, hex(va))
                    if pte & Pte.RW:
                        assert page["prot"] & Prot.WRITE, (pid, hex(va))
                    if pte & Pte.US:
                        assert page["prot"] & Prot.READ, (pid, hex(va))
                    if page.get("backing") == "file-shared":
                        file_frames.setdefault(page["index"], set()).add(pte & FRAME_MASK)
        for index, pas in file_frames.items():
            assert len(pas) == 1, (index, pas)  # one frame per file page, whoever maps it
        assert frames.used_count + frames.free_count == frames.total
        for pa, frame in frames.used():
            for space, va in frame.rmap:
                assert space.tables.entry(va) & FRAME_MASK == pa
                assert space.tables.entry(va) & Pte.P
            assert frame.refs >= len(frame.rmap)


VirtualMemoryMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_virtual_memory_against_a_model = VirtualMemoryMachine.TestCase
