"""Processes: the process, the table of them (birth, death, waiting), the scheduler, the
loader, files under the root, and [vvar]/[vdso]."""
