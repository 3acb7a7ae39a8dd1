"""Errors of the hardware layer.

::

    EmuError
     ├── PhysicalAddressError   a physical access outside RAM
     ├── TranslationError       a host access through the page walk faulted (carries the Walk)
     ├── CpuError
     │    ├── UnicornBuildError the Unicorn build fails the start-up calibration or self-test
     │    └── EmulationError    Unicorn stopped with an error no hook could turn into a trap
     ├── AssemblyError          Keystone rejected a source line (file, line, message)
     └── ImageError             a program file is not something the loader accepts
"""

from __future__ import annotations


class EmuError(Exception):
    """Base of every error raised by the emu package."""


class PhysicalAddressError(EmuError):
    def __init__(self, pa: int, size: int, ram_size: int):
        super().__init__(f"physical access {pa:#010x}+{size:#x} is outside RAM "
                         f"(0x00000000-{ram_size - 1:#010x})")
        self.pa, self.size, self.ram_size = pa, size, ram_size


class TranslationError(EmuError):
    """A host-side virtual access hit a page fault; ``walk`` says where and why."""

    def __init__(self, walk):
        fault = walk.fault
        super().__init__(f"page fault at {walk.va:#010x}: {fault.reason} "
                         f"(error code {int(fault.error_code):#x})")
        self.walk = walk


class CpuError(EmuError):
    pass


class UnicornBuildError(CpuError):
    pass


class EmulationError(CpuError):
    def __init__(self, message: str, uc_errno: int = 0, eip: int | None = None):
        super().__init__(message)
        self.uc_errno, self.eip = uc_errno, eip


class AssemblyError(EmuError):
    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 text: str | None = None):
        where = f"{path or '<source>'}:{line}: " if line else f"{path or '<source>'}: "
        super().__init__(f"{where}{message}" + (f" (in: {text.strip()})" if text else ""))
        self.path, self.line, self.text, self.reason = path, line, text, message


class ImageError(EmuError):
    pass
