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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Layout:
    """One address-space layout: the constants above for 32-bit processes (``LAYOUT32``),
    their counterparts at 64-bit addresses for x86-64 processes (``LAYOUT64``)."""

    name: str
    kernel_base: int  # the direct map of physical RAM starts here
    user_min: int
    user_top: int  # first address user pages may not use
    program_base: int  # assembled sources
    vdso_base: int
    vvar_base: int
    stack_top: int
    mmap_top: int
    mmap_bottom: int
    heap_base: int  # ZerOS heaps ...
    heap_top: int
    shed_base: int  # ... and sheds
    shed_top: int
    brk_max: int
    stack_max: int = STACK_MAX
    stack_expand: int = STACK_EXPAND
    word: int = 4  # bytes of a pointer (8 for x86-64 processes)
    pie_brk: int = 0x00400000  # a static-pie's program break (Linux's ELF_ET_DYN_BASE)
    platform: str = "i686"  # AT_PLATFORM

    @property
    def stack_limit(self) -> int:
        return self.stack_top - self.stack_max

    def kernel_va(self, pa: int) -> int:
        return self.kernel_base + pa

    def is_user(self, va: int) -> bool:
        return self.user_min <= va < self.user_top


LAYOUT32 = Layout("32-bit", KERNEL_BASE, USER_MIN, USER_TOP, PROGRAM_BASE, VDSO_BASE,
                  VVAR_BASE, STACK_TOP, MMAP_TOP, MMAP_BOTTOM, HEAP_BASE, HEAP_TOP, SHED_BASE,
                  SHED_TOP, BRK_MAX)

# x86-64: Linux's lower half ends at 0x7ffffffff000 (TASK_SIZE), its direct map of physical
# memory starts at 0xffff888000000000 (page_offset_base without randomisation). The rest
# follows the 32-bit layout's order: [vdso] and [vvar] at the top, the stack below, mmap
# top-down below it, the ZerOS sheds and heaps under that, the program low.
LAYOUT64 = Layout("64-bit", 0xFFFF_8880_0000_0000, 0x1000, 0x7FFF_FFFF_F000, 0x400000,
                  vdso_base=0x7FFF_FFFF_E000, vvar_base=0x7FFF_FFFF_D000,
                  stack_top=0x7FFF_FF80_0000, mmap_top=0x7FFF_FF80_0000 - STACK_MAX - 0x1000,
                  mmap_bottom=0x7000_0000_0000, heap_base=0x6000_0000_0000,
                  heap_top=0x6800_0000_0000, shed_base=0x6800_0000_0000,
                  shed_top=0x7000_0000_0000, brk_max=0x6000_0000_0000, word=8,
                  platform="x86_64", pie_brk=0x5555_5555_4000)

EXPLOIT_PID = 10000  # the ZerOS KernelMemory program: never handed to a guest
EXPLOIT_NAME = "Exploit"


def is_user(va: int) -> bool:  # a 32-bit address space's user half
    return USER_MIN <= va < USER_TOP


def kernel_va(pa: int) -> int:
    """Where physical address ``pa`` appears in the kernel's direct map."""
    return KERNEL_BASE + pa
