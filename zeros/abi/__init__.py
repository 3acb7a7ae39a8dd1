"""The system-call families guests (and Python) use: ``linux`` (processes, files, mmap) and
``windows`` (the VirtualAlloc family). Each is given the process table and the virtual
memory it works on, and offers its handlers to the syscall table."""
