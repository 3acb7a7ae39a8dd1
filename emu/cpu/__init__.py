"""The emulated CPU: Unicorn x86 in protected mode with paging (32-bit or PAE), or in long mode
with 4-level paging (``Cpu(mode=64)``). The only package that imports ``unicorn``.

``core`` (the Cpu: make, run, stop, flush), ``registers`` (ids, in-place access),
``contexts`` (templates, switching), ``hooks`` (interrupts, faults, ports), ``trap``
(vectors), ``selftest`` (the start-up calibration).

What it adds to Unicorn, and why (see docs/unicorn.md for the experiments):

* Physical RAM is the host mapping of :class:`emu.ram.PhysicalMemory`, mapped once at
  physical 0 with ``mem_map_ptr``. Unicorn's ``mem_*`` calls are physical once CR0.PG is set.
* Interrupts never go through an IDT: Unicorn calls the INTR hook instead. ``int 0x80`` (and
  in long mode ``syscall``, through an instruction hook: Unicorn never jumps to LSTAR) goes
  to :attr:`Cpu.syscall_handler`; every exception (and any other ``int n``) becomes a
  :class:`Trap` for :attr:`Cpu.trap_handler`, with the error code and CR2 the CPU computed.
  ``ud2``/invalid opcodes become vector 6, ``in``/``out`` in ring 3 vector 13.
* Unicorn 2.1.4 never clears ``env->old_exception`` on the hook path (issue 1883): the second
  #PF would arrive as #DF. The remedy rewrites that field to -1 in a saved context and
  restores it. Its offset, and those of ``error_code`` and ``exception_is_int``, are found
  at start-up by diffing two contexts around one deliberate fault, then self-tested with
  three faults in a row. A build where this does not hold is refused (UnicornBuildError).
* Hooks are raw ctypes callbacks (the binding's wrapper costs twice the time of a syscall);
  an exception raised inside one stops emulation and is re-raised by :meth:`Cpu.run`.
* Registers: a saved context is a copy of QEMU's ``CPUX86State``. When the start-up self-test
  finds the live one (``emu.selftest.locate_state``) and verifies it by round trips, the
  general registers, EIP, CR2 and the exception fields are read and written in place, with
  no call into Unicorn (a syscall costs a third as much). Otherwise every access goes
  through ``uc_reg_read``/``uc_reg_write`` and the remedy through a context save/restore.
* Hardware TLB and translated-code caches are the caller's to flush: :meth:`flush_tlb` after
  downgrading an entry, :meth:`flush_code` after the host rewrote memory holding code.
"""

from .core import UNTIL, Cpu, unicorn_build
from .registers import (
                        EIP_INDEX,
                        GENERAL_REGS,
                        GENERAL_REGS64,
                        GP_INDEX,
                        REG_NAMES,
                        SEG_NAMES,
                        SYSCALL_ARG_REGS,
                        SYSCALL_ARG_REGS64,
                        Reg,
                        Reg64,
                        Seg,
                        StateLayout,
)
from .trap import SYSCALL_VECTOR, VECTOR_NAMES, Trap, Vector, vector_name

__all__ = ["Cpu", "Reg", "Reg64", "GENERAL_REGS64", "SYSCALL_ARG_REGS64",
           "Seg", "Trap", "Vector", "StateLayout", "SYSCALL_VECTOR", "UNTIL",
           "VECTOR_NAMES", "vector_name", "unicorn_build", "REG_NAMES", "SEG_NAMES",
           "GENERAL_REGS", "SYSCALL_ARG_REGS", "GP_INDEX", "EIP_INDEX"]
