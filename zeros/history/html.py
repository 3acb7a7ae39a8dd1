"""The record as one self-contained web page (``zeros history FILE --html OUT.html``): a
timeline slider; at the chosen moment, each process's pages drawn as cells (present and
writable, present read-only, no-execute, in the page file) beside the events up to it;
clicking a cell shows that page's life. No network: the data and the script are inline.
``OUT.html#at=N`` opens it at event N."""

from __future__ import annotations

import json

from .reader import History

_MASK64 = (1 << 64) - 1

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ZerOS page-table history</title>
<style>
body { font: 13px monospace; margin: 12px; background: #fafafa; color: #222; }
#top { display: flex; gap: 12px; align-items: center; }
#slider { flex: 1; }
#main { display: flex; gap: 16px; margin-top: 10px; }
#spaces { flex: 3; display: flex; gap: 18px; flex-wrap: wrap; align-content: flex-start; }
.space h3 { margin: 0 0 4px 0; font-size: 13px; }
.cells { display: grid; grid-template-columns: repeat(32, 12px); gap: 1px; }
.cell { width: 12px; height: 12px; cursor: pointer; }
.rw { background: #2e9d4f; } .ro { background: #3b6fd6; } .nx { background: #8a5cc2; }
.swap { background: #e8891d; } .sel { outline: 2px solid #d22; }
#side { flex: 2; }
#events, #life { white-space: pre; overflow: auto; max-height: 40vh; border: 1px solid #ccc;
                 padding: 4px; background: #fff; }
#legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle; }
</style></head><body>
<div id="top"><b>ZerOS page-table history</b><span id="what"></span>
<input id="slider" type="range" min="0" max="0" value="0"><span id="at"></span></div>
<div id="legend">
<span class="rw"></span> present, writable <span class="ro"></span> present, read-only
<span class="nx"></span> no-execute <span class="swap"></span> in the page file</div>
<div id="main"><div id="spaces"></div>
<div id="side"><b>events up to this moment</b><div id="events"></div>
<b id="lifehead">click a page to see its life</b><div id="life"></div></div></div>
<script id="data" type="application/json">@DATA@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const E = D.events;  // [seq, kind, pid, va, old, new, cause]
const slider = document.getElementById("slider");
slider.max = E.length ? E[E.length - 1][0] : 0;
document.getElementById("what").textContent =
  ` ${D.meta.paging || "32"} paging, ${E.length} events`;
let selected = null;
const hex = (n) => "0x" + BigInt(n).toString(16).padStart(8, "0");
function state(at) {
  const spaces = new Map();
  for (const e of E) {
    if (e[0] > at) break;
    const [, kind, pid, va, , nw] = e;
    if (kind === "gone") { spaces.delete(pid); continue; }
    if (kind !== "entry") continue;
    if (!spaces.has(pid)) spaces.set(pid, new Map());
    const s = spaces.get(pid);
    if (BigInt(nw) === 0n) s.delete(va); else s.set(va, nw);
  }
  return spaces;
}
function cls(entry) {
  const v = BigInt(entry);
  if (!(v & 1n)) return "swap";
  if (v >> 63n) return "nx";
  return (v & 2n) ? "rw" : "ro";
}
function line(e) {
  const [seq, kind, pid, va, old, nw, cause] = e;
  if (kind === "entry") return `#${seq} pid ${pid} ${cause}: ${hex(va)} ${hex(old)} -> ${hex(nw)}`;
  if (kind === "fault") return `#${seq} pid ${pid} fault at ${hex(va)} (error ${old}): ${cause}`;
  if (kind === "gone") return `#${seq} pid ${pid} tables freed (${cause})`;
  return `#${seq} pid ${pid} ${kind}`;
}
function showLife(pid, va) {
  selected = [pid, va];
  document.getElementById("lifehead").textContent = `life of page ${hex(va)} of pid ${pid}`;
  const page = BigInt(va) & ~0xfffn;
  document.getElementById("life").textContent = E.filter((e) => e[2] === pid &&
    ((e[1] === "entry" && BigInt(e[3]) === page) || e[1] === "gone" ||
     (e[1] === "fault" && (BigInt(e[3]) & ~0xfffn) === page))).map(line).join("\\n");
  draw();
}
function draw() {
  const at = Number(slider.value);
  document.getElementById("at").textContent = `event #${at}`;
  const box = document.getElementById("spaces");
  box.textContent = "";
  for (const [pid, pages] of [...state(at).entries()].sort((a, b) => a[0] - b[0])) {
    const div = document.createElement("div");
    div.className = "space";
    const h = document.createElement("h3");
    h.textContent = `pid ${pid}: ${pages.size} pages`;
    div.appendChild(h);
    const grid = document.createElement("div");
    grid.className = "cells";
    for (const [va, entry] of [...pages.entries()].sort((a, b) => a[0] - b[0])) {
      const c = document.createElement("div");
      c.className = "cell " + cls(entry) +
        (selected && selected[0] === pid && selected[1] === va ? " sel" : "");
      c.title = `${hex(va)} -> ${hex(entry)}`;
      c.onclick = () => showLife(pid, va);
      grid.appendChild(c);
    }
    div.appendChild(grid);
    box.appendChild(div);
  }
  const upto = E.filter((e) => e[0] <= at);
  document.getElementById("events").textContent = upto.slice(-40).map(line).join("\\n");
}
slider.oninput = draw;
const m = /at=(\\d+)/.exec(location.hash);
slider.value = m ? m[1] : slider.max;
draw();
</script></body></html>
"""


def history_html(h: History) -> str:
    """The page for the whole record (entries, faults and the end of each process)."""
    rows = h.db.execute(
        "SELECT seq, kind, pid, va, old, new, cause FROM events WHERE kind IN "
        "('entry', 'fault', 'gone') AND (kind != 'entry' OR level NOT IN "
        "('PDE', 'PDPTE', 'PML4E')) ORDER BY seq")
    events = []
    for seq, kind, pid, va, old, new, cause in rows:
        if kind == "entry":  # as strings: JavaScript's numbers stop at 2^53
            old, new = str(old & _MASK64), str(new & _MASK64)
        events.append([seq, kind, pid, va, old, new, cause])
    data = json.dumps({"meta": h.meta, "events": events}, separators=(",", ":"))
    return PAGE.replace("@DATA@", data.replace("</", "<\\/"))
