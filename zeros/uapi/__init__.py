"""The Linux ABI as guests see it: fixed numbers, whatever the host is (Linux's uapi headers).

``errno``, ``signals`` (and the exception -> signal table), ``unistd_32`` (i386 syscall
numbers, and ZerOS's own), ``mman`` (mmap, msync, madvise), ``fcntl`` (open flags, seek),
``wait``, ``winnt`` (the Windows constants of the VirtualAlloc family), ``include/`` (the
same numbers for assembly guests). Nothing here imports anything of the project.
"""
