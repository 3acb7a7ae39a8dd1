"""A fuzz campaign: cases spread over worker processes, each case watched.

A worker that dies while running a case is a host crash; one that does not answer within
the watchdog is a hang (it is killed). Either way the case is recorded with its family and
seed (``python bench/fuzz.py --replay family:seed`` runs it again) and a new worker takes
over.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.cases import FAMILIES, make_root

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Report:
    cases: int = 0
    guests: int = 0
    crashes: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    integrity: list = field(default_factory=list)
    unclear: list = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.guests} guests: {len(self.crashes)} host crashes, {len(self.hangs)} "
                f"hangs, {len(self.leaks)} leaks, {len(self.integrity)} integrity failures, "
                f"{len(self.unclear)} unclear errors")

    @property
    def clean(self) -> bool:
        return not (self.crashes or self.hangs or self.leaks or self.integrity or
                    self.unclear)


class _Worker:
    def __init__(self, root: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.worker", root],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=ROOT, env=env,
                                     text=True, bufsize=1)
        self.case = None
        self.started = 0.0

    def send(self, case) -> None:
        self.case, self.started = case, time.monotonic()
        self.proc.stdin.write(f"{case[0]} {case[1]}\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


def cases_for(seed: int, count: int, families=FAMILIES):
    for k in range(count):
        yield families[k % len(families)], seed * 1_000_000 + k


def campaign(cases, workers: int = 2, watchdog: float = 60.0, max_guests: int | None = None,
             progress=None) -> Report:
    report = Report()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zeros-fuzz-") as tmp:
        root = make_root(tmp)
        pending = iter(cases)
        pool = [_Worker(root) for _ in range(workers)]
        busy = []
        try:
            for worker in pool:
                case = next(pending, None)
                if case is not None:
                    worker.send(case)
                    busy.append(worker)
            while busy:
                ready, _, _ = select.select([w.proc.stdout for w in busy], [], [], 1.0)
                now = time.monotonic()
                for worker in list(busy):
                    replace = False
                    if worker.proc.stdout in ready:
                        line = worker.proc.stdout.readline()
                        if not line:  # it died
                            report.crashes.append((*worker.case,
                                                   f"worker exited {worker.proc.wait()}"))
                            replace = True
                        else:
                            _record(report, worker.case, json.loads(line))
                    elif now - worker.started > watchdog:
                        report.hangs.append((*worker.case, f"no answer in {watchdog:g} s"))
                        worker.kill()
                        replace = True
                    else:
                        continue
                    report.cases += 1
                    if progress is not None:
                        progress(report)
                    busy.remove(worker)
                    if replace:
                        worker.kill()
                        worker = _Worker(root)
                        pool.append(worker)
                    enough = max_guests is not None and report.guests >= max_guests
                    case = None if enough else next(pending, None)
                    if case is not None:
                        worker.send(case)
                        busy.append(worker)
                    else:
                        worker.kill()
        finally:
            for worker in pool + busy:
                worker.kill()
    report.seconds = time.monotonic() - start
    return report


def _record(report: Report, case, outcome: dict) -> None:
    report.guests += outcome["guests"]
    for kind in ("leaks", "integrity", "unclear"):
        for detail in outcome[kind]:
            getattr(report, kind).append((*case, detail))
