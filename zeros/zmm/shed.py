"""A ZerOS shed: a code area and a resource-link area in a process's virtual memory.

* Code area: user read-only and executable. The host writes machine code (or assembly, which
  is assembled at its final address); a guest may call into it.
* Resource-link area: user read-only. Named constants and strings, stored in the shed as one
  NUL-terminated JSON object at the start of the area, rewritten on every change. What is in
  guest memory is the only copy: reads parse it back from there.

Layout of one shed window in the ZerOS shed area (0x60000000-0x80000000)::

    code_va                       links_va
    | code (r-x), grows up | ...  | {"name": value, ...}\\0 (r--) | ...   | guard
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from emu.errors import AssemblyError
from emu.mmu import page_up

from ..errors import MappingError, ShedError

if TYPE_CHECKING:
    from ..vm.addrspace import AddressSpace
    from ..vm.regions import Region


class Shed:
    def __init__(self, shed_id: int, space: AddressSpace, code: Region,
                 links: Region, size: int):
        self.shed_id = shed_id
        self.pid = space.pid
        self.space = space
        self.code_region, self.links_region = code, links
        self.size = size
        self.code_size = 0  # bytes of the code area written so far (high-water mark)
        self._links_length = 0
        self._code_mapped = self._links_mapped = 0
        self.freed = False  # its memory was given back (free_memory, or its process ended)
        self._store({})

    @property
    def code_va(self) -> int:
        return self.code_region.start

    @property
    def links_va(self) -> int:
        return self.links_region.start

    def code_address(self, offset: int) -> int:
        return self.code_va + offset

    # -- code ----------------------------------------------------------------------------

    def write_code(self, offset: int, code) -> int:
        """Put machine code (bytes) or assembly text (assembled at its address) at
        ``offset`` of the code area; returns that address."""
        self._check_alive()
        if not isinstance(offset, int) or offset < 0:
            raise ShedError(f"shed {self.shed_id}: bad code offset {offset!r}")
        address = self.code_va + offset
        if isinstance(code, str):
            code = self._assemble(code, address)
        elif isinstance(code, (bytes, bytearray, memoryview)):
            code = bytes(code)
        else:
            raise ShedError(f"shed {self.shed_id}: code must be bytes or assembly text, "
                            f"not {type(code).__name__}")
        if not code:
            raise ShedError(f"shed {self.shed_id}: no code to write")
        self._code_mapped = self._reserve(self.code_region, offset + len(code),
                                          self._code_mapped, "code")
        self.space.write(address, code)
        self.code_size = max(self.code_size, offset + len(code))
        return address

    def _assemble(self, text: str, address: int) -> bytes:
        from emu.asm import assemble

        from ..proc.loader import INCLUDE_DIR
        try:
            image = assemble(text, address, None, include_dirs=(INCLUDE_DIR,),
                             bits=8 * self.space.layout.word)
        except AssemblyError as error:
            raise ShedError(f"shed {self.shed_id}: {error}") from None
        if any(s.write for s in image.segments):
            raise ShedError(f"shed {self.shed_id}: shed code has no data section; keep data "
                            f"in a heap or in resource links")
        return image.segments[0].data if image.segments else b""

    def read_code(self, offset: int = 0, size: int | None = None) -> bytes:
        self._check_alive()
        size = self.code_size - offset if size is None else size
        if offset < 0 or size < 0 or offset + size > self.code_size:
            raise ShedError(f"shed {self.shed_id}: code {offset}+{size} is outside the "
                            f"{self.code_size} bytes written")
        return self.space.read(self.code_va + offset, size)

    def clear_code(self) -> None:
        self._check_alive()
        if self.code_size:
            self.space.write(self.code_va, bytes(self.code_size))
        self.code_size = 0

    # -- resource links ------------------------------------------------------------------

    def write_resource_link(self, name: str, value) -> None:
        self.write_resource_links({name: value})

    def write_resource_links(self, links: dict) -> None:
        """Set several links with one rewrite of the table."""
        table = self.resource_links()
        for name, value in links.items():
            if not isinstance(name, str) or not name:
                raise ShedError(f"shed {self.shed_id}: a link name is a non-empty string, "
                                f"not {name!r}")
            table[name] = value
        self._store(table)

    def read_resource_link(self, name: str):
        table = self.resource_links()
        if name not in table:
            raise ShedError(f"shed {self.shed_id}: no resource link {name!r}")
        return table[name]

    def delete_resource_link(self, name: str) -> None:
        table = self.resource_links()
        if name not in table:
            raise ShedError(f"shed {self.shed_id}: no resource link {name!r}")
        del table[name]
        self._store(table)

    def clear_resource_links(self) -> None:
        self._store({})

    def resource_links(self) -> dict:
        """Every link, parsed from the table in guest memory."""
        self._check_alive()
        raw = self.space.read(self.links_va, self._links_length + 1)
        end = raw.find(b"\0")
        try:
            return json.loads(raw[:end if end >= 0 else len(raw)])
        except ValueError as error:
            raise ShedError(f"shed {self.shed_id}: the link table at {self.links_va:#010x} "
                            f"is damaged: {error}") from None

    def stats(self) -> dict:
        return {"shedId": self.shed_id, "shedSize": self.size, "codeSize": self.code_size,
                "resources": len(self.resource_links()), "codeAddress": self.code_va,
                "linksAddress": self.links_va}

    # -- internals -----------------------------------------------------------------------

    def _store(self, table: dict) -> None:
        try:
            data = json.dumps(table, separators=(",", ":")).encode() + b"\0"
        except (TypeError, ValueError) as error:
            raise ShedError(f"shed {self.shed_id}: a link value must be JSON-serialisable: "
                            f"{error}") from None
        self._links_mapped = self._reserve(self.links_region, len(data), self._links_mapped,
                                           "resource links")
        self.space.write(self.links_va, data)
        self._links_length = len(data) - 1

    def _reserve(self, region: Region, size: int, mapped: int, what: str) -> int:
        """Map pages of ``region`` up to ``size`` bytes; returns the bytes mapped."""
        want = page_up(size)
        if want <= mapped:
            return mapped
        if region.start + want > region.end:
            raise ShedError(f"shed {self.shed_id}: the {what} area is full "
                            f"({region.size} bytes)")
        try:
            self.space.fill(region.start, region.start + want, region)
        except MappingError as error:
            raise ShedError(f"shed {self.shed_id}: {error}") from None
        return want

    def _check_alive(self) -> None:
        if not self.space.alive or self.freed:
            raise ShedError(f"shed {self.shed_id} of pid {self.pid} has been freed")
