"""A picture of the address spaces: SVG, or an HTML page around it.

One column per process: its regions in address order (height grows with the logarithm of
the size, so a 4 KiB page and a 1 GiB reservation are both visible), coloured by kind,
labelled with range, size and rights; under each region a strip of its pages, dark where a
page is present (one cell per page for up to 256 pages, else the share of pages present);
free gaps marked with their size; the page directory and page tables counted at the top.
On the right, physical memory: one cell per frame (or per group of frames), coloured by
owner. Frames mapped more than once (shared memory, file pages, the zero page, copy-on-write
after fork) are drawn as lines from each mapping to the frame. Every element has a <title>,
which a browser shows on hover.
"""

from __future__ import annotations

import html
import math

from emu.mmu import PAGE_SIZE

from ..mm.frames import KERNEL
from .base import size_text
from .ptdump import leaves

COLORS = {"text": "#6a9fd8", "data": "#8fbce6", "rodata": "#8fbce6", "brk": "#e8a35c",
          "heap": "#f0c05a", "shed": "#b58ad6", "guard": "#d9d9d9", "stack": "#e57373",
          "mmap": "#7cc48f", "vm": "#9ad1a3", "vvar": "#a1887f", "vdso": "#8d6e63"}
OWNER_COLORS = ["#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac",
                "#f06292", "#aed581"]
COLUMN, GAP, TOP = 330, 40, 60
FRAME_CELL, FRAME_COLUMNS = 6, 48


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _region_height(size: int) -> int:
    return int(32 + 5 * max(0.0, math.log2(max(size, PAGE_SIZE) / PAGE_SIZE)))


def _process_column(machine, proc, x: int, positions: dict, out: list) -> int:
    space = proc.space
    layout = space.layout
    present = {leaf.va for leaf in leaves(space, 0, layout.user_top, holes=False)}
    out.append(f'<g class="process" data-pid="{proc.pid}">')
    out.append(f'<text x="{x}" y="{TOP - 30}" class="title">pid {proc.pid} '
               f'({_esc(proc.name)})</text>')
    out.append(f'<text x="{x}" y="{TOP - 14}" class="small">cr3 {space.cr3:#010x} · page '
               f'directory + {space.tables.table_count} page tables · {space.resident} '
               f'pages present</text>')
    y, previous_end = TOP, 0
    for region in space.regions:
        if region.start > previous_end:
            gap = region.start - previous_end
            out.append(f'<text x="{x + 8}" y="{y + 11}" class="gap">⋮ {size_text(gap)} free'
                       f'</text>')
            y += 16
        height = _region_height(region.size)
        pages = region.size // PAGE_SIZE
        here = [va for va in range(region.start, region.end, PAGE_SIZE) if va in present] \
            if pages <= 4096 else [va for va in present if region.start <= va < region.end]
        color = COLORS.get(region.kind, "#cccccc")
        title = (f"{region.start:#010x}-{region.end:#010x} {region.prot.letters} "
                 f"{region.kind} {region.name} · {size_text(region.size)} · "
                 f"{len(here)}/{pages} pages present")
        out.append(f'<g class="region" data-kind="{_esc(region.kind)}" '
                   f'data-start="{region.start}" data-end="{region.end}" '
                   f'data-present="{len(here)}"><title>{_esc(title)}</title>')
        out.append(f'<rect x="{x}" y="{y}" width="{COLUMN - 40}" height="{height}" rx="3" '
                   f'fill="{color}" stroke="#555"/>')
        label = region.name or region.kind
        out.append(f'<text x="{x + 6}" y="{y + 13}" class="label">{_esc(label)[:34]} '
                   f'{region.prot.letters}</text>')
        out.append(f'<text x="{x + 6}" y="{y + height - 5}" class="small">'
                   f'{region.start:#010x} {size_text(region.size)}</text>')
        strip_x, strip_w = x + COLUMN - 40 - 126, 120
        if pages <= 256:
            cell = strip_w / pages
            for k in range(pages):
                va = region.start + k * PAGE_SIZE
                fill = "#333" if va in present else "#fff"
                out.append(f'<rect class="page" x="{strip_x + k * cell:.2f}" y="{y + 4}" '
                           f'width="{max(cell, 0.5):.2f}" height="8" fill="{fill}"/>')
                positions.setdefault((proc.pid, va), (x + COLUMN - 40, y + height / 2))
        else:
            share = len(here) / pages
            out.append(f'<rect x="{strip_x}" y="{y + 4}" width="{strip_w}" height="8" '
                       f'fill="#fff" stroke="#999"/>')
            out.append(f'<rect x="{strip_x}" y="{y + 4}" width="{strip_w * share:.2f}" '
                       f'height="8" fill="#333"/>')
            for va in here[:512]:
                positions.setdefault((proc.pid, va), (x + COLUMN - 40, y + height / 2))
        out.append("</g>")
        y += height + 4
        previous_end = region.end
    out.append(f'<rect x="{x}" y="{y + 10}" width="{COLUMN - 40}" height="24" fill="#eee" '
               f'stroke="#999"><title>kernel half: the direct map of RAM, supervisor only'
               f'</title></rect>')
    top = (1 << 64) - 1 if layout.word == 8 else 0xFFFFFFFF
    out.append(f'<text x="{x + 6}" y="{y + 26}" class="label">kernel {layout.kernel_base:#010x}-'
               f'{top:#x} (supervisor)</text>')
    out.append("</g>")
    return y + 40


def address_space_svg(machine, pids: list[int] | None = None) -> str:
    procs = [p for pid, p in sorted(machine.processes.items())
             if (pids is None or pid in pids) and p.space.tables.pd]
    owners = {p.pid: OWNER_COLORS[i % len(OWNER_COLORS)] for i, p in enumerate(procs)}
    positions: dict[tuple[int, int], tuple[float, float]] = {}
    body: list[str] = []
    height = TOP
    for i, proc in enumerate(procs):
        height = max(height, _process_column(machine, proc, 20 + i * (COLUMN + GAP), positions,
                                             body))
    frames = machine.frames
    fx = 20 + len(procs) * (COLUMN + GAP)
    group = max(1, math.ceil(frames.total / 4096))  # at most 4096 cells
    cells = math.ceil(frames.total / group)
    body.append(f'<g class="physical"><text x="{fx}" y="{TOP - 30}" class="title">physical '
                f'memory: {frames.total} frames</text>')
    body.append(f'<text x="{fx}" y="{TOP - 14}" class="small">{frames.used_count} used, '
                f'{frames.free_count} free · one cell = {group} frame(s)</text>')
    frame_cells = {}
    for cell in range(cells):
        infos = [frames.info((cell * group + k) << 12) for k in range(group)
                 if cell * group + k < frames.total]
        used = [f for f in infos if f is not None]
        if not used:
            color, title = "#ffffff", "free"
        else:
            f = used[0]
            color = "#9e9e9e" if f.owner == KERNEL else owners.get(f.owner, "#cfd8dc")
            if f.kind in ("pagedir", "pagetable"):
                color = "#37474f"
            title = f"{f.kind} {f.label}".strip()
        cx = fx + (cell % FRAME_COLUMNS) * FRAME_CELL
        cy = TOP + (cell // FRAME_COLUMNS) * FRAME_CELL
        frame_cells[cell] = (cx + FRAME_CELL / 2, cy + FRAME_CELL / 2)
        body.append(f'<rect class="frame" x="{cx}" y="{cy}" width="{FRAME_CELL - 1}" '
                    f'height="{FRAME_CELL - 1}" fill="{color}"><title>'
                    f'{_esc(hex(cell * group << 12))} {_esc(title)}</title></rect>')
    body.append("</g>")
    height = max(height, TOP + (cells // FRAME_COLUMNS + 2) * FRAME_CELL)
    links = 0
    body.append('<g class="links">')
    for pa, frame in frames.used():
        mappings = [(space.pid, va) for space, va in frame.rmap]
        if len(mappings) < 2 or len({pid for pid, _ in mappings}) < 2 and links > 200:
            continue
        target = frame_cells.get((pa >> 12) // group)
        for pid, va in mappings[:8]:
            source = positions.get((pid, va))
            if source is None or target is None:
                continue
            links += 1
            body.append(f'<line class="shared" data-pa="{pa}" x1="{source[0]:.1f}" '
                        f'y1="{source[1]:.1f}" x2="{target[0]:.1f}" y2="{target[1]:.1f}" '
                        f'stroke="#c62828" stroke-width="1" stroke-opacity="0.6"><title>'
                        f'frame {pa:#010x} ({_esc(frame.kind)} {_esc(frame.label)}) mapped by '
                        f'{len(mappings)} pages</title></line>')
    body.append("</g>")
    width = fx + FRAME_COLUMNS * FRAME_CELL + 20
    style = ("<style>text{font-family:monospace}.title{font-size:13px;font-weight:bold}"
             ".label{font-size:11px}.small{font-size:9px;fill:#333}.gap{font-size:9px;"
             "fill:#777}</style>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" data-processes="{len(procs)}" '
            f'data-links="{links}">{style}<rect width="100%" height="100%" fill="#fafafa"/>'
            + "".join(body) + "</svg>\n")


def address_space_html(machine, pids: list[int] | None = None) -> str:
    legend = "".join(f'<span style="background:{c}">{k}</span> ' for k, c in COLORS.items())
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ZerOS address spaces"
            "</title><style>body{font-family:sans-serif;margin:12px}.legend span{padding:2px 6px;"
            "margin-right:4px;border-radius:3px;font-family:monospace;font-size:12px}</style>"
            "</head><body><h3>ZerOS address spaces</h3><p class=\"legend\">" + legend +
            "<span style=\"background:#333;color:#fff\">present page</span> "
            "<span style=\"background:#37474f;color:#fff\">page directory / table</span> "
            "<span style=\"color:#c62828\">— frame shared by several pages</span></p>"
            + address_space_svg(machine, pids) + "</body></html>\n")


def write_picture(machine, path: str, pids: list[int] | None = None) -> None:
    """Write the picture; the suffix chooses: .svg, or .html / .htm."""
    lower = path.lower()
    if lower.endswith(".svg"):
        text = address_space_svg(machine, pids)
    elif lower.endswith((".html", ".htm")):
        text = address_space_html(machine, pids)
    else:
        raise ValueError(f"{path}: the picture is .svg or .html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
