"""The hardware: an x86-32 CPU with two-level paging over physical RAM.

``mmu`` (bit definitions), ``walk`` (the reference page walk), ``ram`` (physical memory),
``vmem`` (host access to virtual memory through the walk), ``cpu`` (Unicorn), ``gdt``,
``asm`` (Keystone), ``elf`` (pyelftools), ``image`` (what a loader maps), ``disasm``
(Capstone). Nothing here knows about processes or the OS: ``emu`` never imports ``zeros``.
"""
