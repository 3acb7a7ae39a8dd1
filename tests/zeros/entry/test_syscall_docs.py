"""docs/syscalls.md lists every syscall the kernel answers, and nothing it does not."""

import re
from pathlib import Path

from zeros import Machine

DOC = Path(__file__).resolve().parents[3] / "docs" / "syscalls.md"
DOCUMENTED_ENOSYS = {240, 311, 312, 386, 123}  # futex, robust lists, rseq, modify_ldt


def _documented() -> set[int]:
    numbers = set()
    text = DOC.read_text().split("## Errors and signals")[0]  # then a table of vectors
    for line in text.splitlines():
        cell = re.match(r"\| ([0-9][0-9, -]*) \|", line)
        if cell:
            for part in cell.group(1).split(","):
                low, _, high = part.strip().partition("-")
                numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def test_every_handled_syscall_is_in_the_table_and_only_those():
    with Machine(ram_size=4 << 20) as m:
        handled = set(m.syscalls.handlers) - DOCUMENTED_ENOSYS
    documented = _documented()
    assert handled - documented == set(), "handled but not documented"
    assert documented - handled == set(), "documented but not handled"


def test_the_x86_64_list_is_every_handled_number():
    text = DOC.read_text().split("X86-64: ")[1].split("\n\n")[0]
    listed = {int(n) for n in re.findall(r"(\d+)\s+`\w+`", text)}
    with Machine(ram_size=4 << 20, paging="4-level") as m:
        assert listed == set(m.syscalls.handlers)
