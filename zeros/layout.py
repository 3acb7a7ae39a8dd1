"""The ZerOS virtual memory layout, the same in every process (xv6's memlayout.h).

::

    0xFFFFFFFF +--------------------------------------+
               | kernel: direct map of physical RAM   |  supervisor only, global pages,
               |   KERNEL_BASE + pa  <->  pa           |  page tables shared by every
    0xC0000000 +--------------------------------------+  page directory
               | [vdso]   0xBFFFF000 (one page)        |  user r-x   (issue 4)
               | [vvar]   0xBFFFE000 (one page)        |  user r--   (issue 4)
               | guard                                 |
    0xBF800000 | [stack]  grows down from STACK_TOP    |  user rw-: argv/envp/auxv and 128
               |          at most STACK_MAX (8 MiB)    |  KiB at exec; a fault below grows
               |                                       |  it, down to STACK_LIMIT
    0xBF000000 +--------------------------------------+
               | mmap area, allocated top-down         |  (issue 4)
    0x80000000 +--------------------------------------+
               | ZerOS sheds  (SHED_BASE ..)           |  code r-x, links r--
    0x60000000 +--------------------------------------+
               | ZerOS heaps  (HEAP_BASE ..)           |  user rw-, guard pages between
    0x40000000 +--------------------------------------+
               | [heap] brk, from the page after bss   |  user rw-, on demand
               | program: text r-x, data/bss rw-       |  ELF or assembled source
    0x08048000 +--------------------------------------+
               | unmapped: null-pointer guard          |
    0x00000000 +--------------------------------------+

Physical memory: frame 0 is never handed out; the frame allocator owns the rest. The GDT, the
kernel page tables, every page directory and page table are frames like any other, counted
by owner.
"""

KERNEL_BASE = 0xC0000000
USER_TOP = KERNEL_BASE  # first address user pages may not use
PROGRAM_BASE = 0x08048000  # where assembled sources are placed; ELF files choose their own
USER_MIN = 0x00001000  # page 0 stays unmapped

VDSO_BASE = 0xBFFFF000
VVAR_BASE = 0xBFFFE000
STACK_TOP = 0xBF800000
STACK_MAX = 8 << 20
STACK_LIMIT = STACK_TOP - STACK_MAX
STACK_EXPAND = 128 << 10  # the stack region at exec: its contents and this much below

MMAP_TOP = STACK_LIMIT - 0x1000  # mmap allocates downwards from here (a guard page below stack)
MMAP_BOTTOM = 0x80000000
SHED_BASE = 0x60000000
SHED_TOP = 0x80000000
HEAP_BASE = 0x40000000
HEAP_TOP = 0x60000000
BRK_MAX = HEAP_BASE  # the program break may not grow into the ZerOS heaps

MAX_DIRECT_MAP = 1 << 30  # the kernel half can map at most 1 GiB of RAM

EXPLOIT_PID = 10000  # the ZerOS KernelMemory program: never handed to a guest
EXPLOIT_NAME = "Exploit"


def is_user(va: int) -> bool:
    return USER_MIN <= va < USER_TOP


def kernel_va(pa: int) -> int:
    """Where physical address ``pa`` appears in the kernel's direct map."""
    return KERNEL_BASE + pa
