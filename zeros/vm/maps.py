"""An address space as ``/proc/PID/maps`` lists it: one line per region, with its
permissions, file offset and pathname. The debug view (``--show maps``) and the guest's own
``/proc/self/maps`` are both made here, so they always agree."""

from __future__ import annotations

from .addrspace import AddressSpace
from .objects import FileObject
from .regions import IMAGE_KINDS, Region


def pathname(region: Region) -> str:
    """The last column: the file, ``[stack]``/``[heap]``/``[vvar]``/``[vdso]``, nothing
    for anonymous memory, ``[anon:...]`` for ZerOS and Windows regions."""
    kind, name = region.kind, region.name
    if kind in ("stack", "vvar", "vdso", "brk", "text", "data", "rodata"):
        return name
    if kind == "mmap":
        return name
    if kind == "vm":
        return "[anon:VirtualAlloc]"
    return f"[anon:{name}]"


def perms(region: Region) -> str:
    return region.prot.letters + ("s" if region.shared else "p")


def maps_rows(space: AddressSpace) -> list[dict]:
    rows = []
    for region in space.regions:
        offset = region.offset if isinstance(region.backing, FileObject) or \
            region.kind in IMAGE_KINDS else 0
        rows.append({"start": region.start, "end": region.end, "perms": perms(region),
                     "offset": offset, "dev": "00:00", "inode": 0,
                     "pathname": pathname(region), "kind": region.kind})
    return rows


def maps_text(rows: list[dict], word: int = 4) -> str:
    """The lines; ``word``: the pointer size of the kernel's view (8 for x86-64)."""
    width = 25 + 6 * word - 1  # where Linux pads a name to (show_map_vma), then a space
    lines = []
    for row in rows:
        head = f"{row['start']:08x}-{row['end']:08x} {row['perms']} {row['offset']:08x} 00:00 0 "
        # an anonymous line ends in the space after the inode, as Linux's does
        lines.append(f"{head:<{width}} {row['pathname']}" if row["pathname"] else head)
    return "".join(line + "\n" for line in lines)


def note_maps(recorder, processes) -> None:
    """Recording a history: every live process's maps text (the recorder keeps those that
    changed)."""
    for proc in processes.values():
        space = proc.space
        if space is not None and space.alive:
            recorder.maps(proc.pid, maps_text(maps_rows(space), space.layout.word))
