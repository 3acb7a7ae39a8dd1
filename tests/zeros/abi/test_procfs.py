"""/proc/self from a guest: the files read what the debug views show; the rest is refused
with Linux's errno."""

import pytest

from zeros.uapi import errno as linux
from zeros.views import maps_view


def _open_then(path: str, flags: int, then: str = "") -> str:
    """A guest that opens ``path`` and exits with the (negated) result, or runs ``then``
    with the descriptor in EBX."""
    return (f"mov eax, 5\nmov ebx, path\nmov ecx, {flags}\nxor edx, edx\nint 0x80\n"
            "test eax, eax\njs fail\n" + then +
            "mov ebx, 0\nmov eax, 1\nint 0x80\n"
            "fail:\nneg eax\nmov ebx, eax\nmov eax, 1\nint 0x80\n"
            f"section .data\npath: db '{path}', 0\n")


READ_ALL = ("mov ebx, eax\nagain:\nmov eax, 3\nmov ecx, buf\nmov edx, 100\nint 0x80\n"
            "test eax, eax\njle done\nmov edx, eax\nmov eax, 4\npush ebx\nmov ebx, 1\n"
            "int 0x80\npop ebx\njmp again\ndone:\n")


def test_self_maps_reads_what_the_maps_view_shows(machine):
    source = _open_then("/proc/self/maps", 0, READ_ALL) + "section .bss\nbuf: resb 100\n"
    pid = machine.spawn(source.encode())
    shown = {}
    machine.exit_handlers.append(lambda proc: shown.setdefault(
        "maps", maps_view(machine, proc.pid).text))
    result = machine.run(timeout=10)[pid]
    assert result.exit_code == 0
    text = result.stdout.decode()
    assert text == shown["maps"]  # read in chunks of 100 bytes, it is the whole listing
    assert "[stack]" in text and "[vdso]" in text


@pytest.mark.parametrize("path,flags,error", [
    ("/proc/self/maps", 1, linux.EACCES),  # O_WRONLY
    ("/proc/self/maps", 2, linux.EACCES),  # O_RDWR
    ("/proc/self/nothing", 0, linux.ENOENT),
    ("/proc/4242/maps", 0, linux.ENOENT),  # no such process
    ("/proc/abc/maps", 0, linux.ENOENT),
    ("/proc", 0, linux.ENOENT),
])
def test_what_is_not_there_or_not_writable_is_refused(run_guest, path, flags, error):
    assert run_guest(_open_then(path, flags)).exit_code == error


def test_a_proc_file_or_a_pipe_cannot_be_mapped(run_guest):
    mmap = ("mov edi, eax\nsub esp, 24\nmov dword [esp], 0\nmov dword [esp+4], 4096\n"
            "mov dword [esp+8], 1\nmov dword [esp+12], 2\nmov [esp+16], edi\n"
            "mov dword [esp+20], 0\nmov eax, 90\nmov ebx, esp\nint 0x80\n"
            "neg eax\nmov ebx, eax\nmov eax, 1\nint 0x80\n")
    assert run_guest(_open_then("/proc/self/status", 0, mmap)).exit_code == linux.ENODEV
    pipe = ("sub esp, 8\nmov eax, 42\nmov ebx, esp\nint 0x80\nmov eax, [esp]\n" + mmap)
    assert run_guest(pipe.encode()).exit_code == linux.ENODEV


def test_another_process_maps_by_pid(machine, tmp_path):
    sleeper = machine.spawn(b"l: mov eax, 29\nint 0x80\njmp l")  # pause() forever
    source = _open_then(f"/proc/{sleeper}/status", 0, READ_ALL) + \
        "section .bss\nbuf: resb 100\n"
    pid = machine.spawn(source.encode())
    machine.exit_handlers.append(lambda proc: proc.pid == pid and machine.kill(
        machine.process(sleeper), 9, "done"))
    results = machine.run(timeout=10)
    status = dict(line.split(":\t", 1) for line in results[pid].stdout.decode().splitlines())
    assert status["Pid"] == str(sleeper) and status["State"] == "S (sleeping)"
    assert int(status["VmSize"].split()[0]) >= int(status["VmRSS"].split()[0]) > 0
