"""The house rules that tools can check: the import contracts of docs/architecture.md hold
(and fail when broken), ruff is clean, and the syscall numbers have one value each."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zeros.uapi import unistd_32, unistd_64

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
        return found
    return str(path)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, env={"PYTHONPATH": str(cwd), "PATH": str(BIN)})


def test_import_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken." in done.stdout


@pytest.mark.parametrize("module,line,contract", [
    ("zeros/vm/fault.py", "import zeros.machine", "only the composer"),
    ("zeros/mm/frames.py", "import zeros.vm.regions", "zeros layers point down"),
    ("emu/walk.py", "import zeros.layout", "emu is the hardware"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, contract):
    for package in ("emu", "zeros"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # an upward import\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    broken = re.findall(r"^(.*) BROKEN$", done.stdout, re.M)
    assert any(contract in name for name in broken), done.stdout


def test_ruff_is_clean():
    done = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("header,module", [("syscalls.inc", unistd_32),
                                           ("syscalls64.inc", unistd_64)])
def test_syscall_numbers_are_the_same_for_python_and_for_assembly(header, module):
    text = (ROOT / "zeros" / "uapi" / "include" / header).read_text()
    inc = {f"NR_{name}": int(value, 0)
           for name, value in re.findall(r"^SYS_(\w+)\s+equ\s+(\w+)", text, re.M)}
    python = {name: value for name, value in vars(module).items() if name.startswith("NR_")}
    assert inc == python
