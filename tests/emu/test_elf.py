"""The ELF reader against binutils' readelf, on real programs."""

import re
import shutil
import subprocess

import pytest

from emu.elf import load_elf
from emu.errors import ImageError


def _readelf(path):
    out = subprocess.run(["readelf", "-lhW", str(path)], capture_output=True, text=True,
                         check=True).stdout
    entry = int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", out).group(1), 16)
    loads = [(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), m.group(4))
             for m in re.finditer(r"^\s+LOAD\s+0x[0-9a-f]+ (0x[0-9a-f]+) 0x[0-9a-f]+ "
                                  r"(0x[0-9a-f]+) (0x[0-9a-f]+) ([RWE ]+?)\s+0x", out, re.M)]
    return entry, [(v, f, m, p) for v, f, m, p in loads if m]


@pytest.mark.parametrize("libc", ["glibc", "glibc64", "musl64"])
@pytest.mark.parametrize("name", ["hello", "floating", "big_bss"])
def test_segments_agree_with_readelf(name, libc, built):
    if not shutil.which("readelf"):
        pytest.skip("binutils not installed")
    exe = built(name, libc)
    image = load_elf(exe.read_bytes(), str(exe))
    entry, loads = _readelf(exe)
    assert image.entry == entry
    assert [(s.va, len(s.data), s.memsz) for s in image.segments] == \
        [(v, f, m) for v, f, m, _ in loads]
    assert [s.perms for s in image.segments] == [
        ("r" if "R" in p else "-") + ("w" if "W" in p else "-") + ("x" if "E" in p else "-")
        for *_, p in loads]
    assert image.phdr is not None and image.phnum >= len(loads)


@pytest.mark.parametrize("blob,words", [
    (b"\x7fELF", "truncated"),
    (b"\x7fELF\x02\x01\x01" + bytes(9) + bytes([2, 0, 62, 0]) + bytes(60),
     "bad program header table"),
    (b"\x7fELF\x01\x02\x01" + bytes(9) + bytes([0, 2, 0, 3]) + bytes(40),
     "not an i386 or x86-64 executable .class 32, machine 768, big endian"),
    (b"\x7fELF\x02\x01\x01" + bytes(9) + bytes([2, 0, 183, 0]) + bytes(60),
     "not an i386 or x86-64 executable .class 64, machine 183"),
    (b"\x7fELF\x01\x01\x01" + bytes(9) + bytes([1, 0, 3, 0]) + bytes(40), "an object file"),
])
def test_bad_files_are_clear_errors(blob, words):
    with pytest.raises(ImageError, match=words):
        load_elf(blob, "t")
