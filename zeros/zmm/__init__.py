"""The ZerOS MemoryManager (``shared/seeds/000_*``): heaps, sheds, KernelMemory in PID 10000,
check_memory, ps, and its syscalls 1000-1008."""
