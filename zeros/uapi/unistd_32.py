"""i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) and ZerOS's own (1000-1099).

The same numbers are in ``include/syscalls.inc`` for assembly guests; a test keeps the two
equal. Names are Linux's ``__NR_*`` without the underscores."""

NR_exit = 1
NR_fork = 2
NR_read = 3
NR_write = 4
NR_open = 5
NR_close = 6
NR_waitpid = 7
NR_lseek = 19
NR_getpid = 20
NR_brk = 45
NR_munmap = 91
NR_mprotect = 125
NR_msync = 144
NR_sched_yield = 158
NR_mmap2 = 192
NR_mincore = 218
NR_madvise = 219
NR_exit_group = 252
NR_zeros_allocate_memory = 1000
NR_zeros_heap_allocate = 1001
NR_zeros_heap_free = 1002
NR_zeros_link_write = 1003
NR_zeros_link_read = 1004
NR_zeros_register_name = 1005
NR_zeros_check_memory = 1006
NR_zeros_free_memory = 1007
NR_zeros_ps = 1008
NR_zeros_virtual_alloc = 1010
NR_zeros_virtual_free = 1011
NR_zeros_virtual_protect = 1012
NR_zeros_virtual_query = 1013
