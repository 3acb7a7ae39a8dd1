"""The Linux family of system calls: processes, files, and the mmap family."""
