"""The picture of the address spaces: it parses, and it renders in a headless browser."""

import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

import pytest

from tests.conftest import ASM
from zeros import Machine
from zeros.views.picture import COLORS, address_space_html, address_space_svg, write_picture

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def two_processes():
    """Parent and child of asm/shared_anon.asm, seen as the child exits."""
    m = Machine(ram_size=16 << 20)
    seen = {}

    def at_exit(proc):
        if "svg" not in seen:
            seen["svg"] = address_space_svg(m)
            seen["html"] = address_space_html(m)
            seen["pids"] = sorted(p for p, q in m.processes.items() if q.space.tables.pd)
    m.exit_handlers.append(at_exit)
    m.spawn(ASM / "shared_anon.asm")
    m.run(timeout=10)
    m.close()
    return seen


def test_svg_parses_and_shows_every_region(two_processes):
    root = ET.fromstring(two_processes["svg"])
    assert root.tag == f"{SVG}svg" and root.attrib["data-processes"] == "2"
    processes = root.findall(f".//{SVG}g[@class='process']")
    assert [int(p.attrib["data-pid"]) for p in processes] == two_processes["pids"]
    kinds = {g.attrib["data-kind"] for g in root.iter(f"{SVG}g")
             if g.attrib.get("class") == "region"}
    assert {"text", "mmap", "stack", "vvar", "vdso"} <= kinds
    # the [vdso] frame is mapped in both processes: drawn as links to one frame
    links = root.findall(f".//{SVG}line[@class='shared']")
    assert int(root.attrib["data-links"]) == len(links) >= 2
    assert len({line.attrib["data-pa"] for line in links}) >= 1
    assert all(el.find(f"{SVG}title") is not None for el in root.iter(f"{SVG}g")
               if el.attrib.get("class") == "region")


def test_html_wraps_the_svg(two_processes):
    page = two_processes["html"]
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and page.rstrip().endswith(
        "</html>")


def test_cli_map_and_bad_suffix(tmp_path):
    out = tmp_path / "map.svg"
    done = subprocess.run([sys.executable, "-m", "zeros.cli", "run", "--map", str(out),
                           str(ASM / "hello.asm")], capture_output=True, timeout=60)
    assert done.returncode == 0 and out.exists()
    assert ET.parse(out).getroot().attrib["data-processes"] == "1"
    bad = subprocess.run([sys.executable, "-m", "zeros.cli", "run", "--map",
                          str(tmp_path / "map.png"), str(ASM / "hello.asm")],
                         capture_output=True, timeout=60)
    assert bad.returncode == 2 and b"the picture is .svg or .html" in bad.stderr


def read_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else
                                      up if pb <= pc else corner)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        previous = line
    return width, height, rows


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(BROWSER is None, reason="no headless browser (Debian's chromium)")
def test_renders_in_a_headless_browser(two_processes, tmp_path):
    page = tmp_path / "map.html"
    page.write_text(two_processes["html"])
    shot = tmp_path / "map.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,800",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    width, height, rows = read_png(shot)
    assert (width, height) == (1200, 800)
    colors = {pixel for row in rows[::4] for pixel in row[::4]}
    assert len(colors) > 20  # not a blank page
    wanted = {name: tuple(int(COLORS[name][i:i + 2], 16) for i in (1, 3, 5))
              for name in ("text", "stack", "vdso", "mmap")}
    for name, rgb in wanted.items():  # each kind of region was painted
        assert any(abs(p[0] - rgb[0]) + abs(p[1] - rgb[1]) + abs(p[2] - rgb[2]) < 12
                   for p in colors), name


def test_write_picture_suffixes(tmp_path):
    with Machine(ram_size=8 << 20) as m:
        m.spawn(ASM / "hello.asm")
        write_picture(m, str(tmp_path / "a.svg"))
        write_picture(m, str(tmp_path / "a.html"))
        with pytest.raises(ValueError, match=".svg or .html"):
            write_picture(m, str(tmp_path / "a.jpg"))
    assert (tmp_path / "a.svg").read_text().startswith("<svg")
