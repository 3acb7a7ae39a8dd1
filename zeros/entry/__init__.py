"""The one way into the kernel from the CPU: traps (page faults and every other exception)
and the syscall table."""
