"""Debug views: each is data for Python (JSON-ready) and text for a terminal.

All are computed from the same side-effect-free walk the tests check against the CPU: a view
never faults a page in, never sets an Accessed bit.

=============  ===================================================  ====================
view           what                                                 as in
=============  ===================================================  ====================
walk           one address through one process's tables             Bochs ``page``
pagetables     runs of equal protection, with section markers       QEMU ``info mem``,
                                                                    Linux ptdump
tlb            every present leaf entry, with A and D               QEMU ``info tlb``
maps / pmap    regions; resident and dirty pages                    /proc/PID/maps,
                                                                    ``pmap -x``
frames         who owns each physical frame; aliases                gdb-pt-dump
x / xp         hex and ASCII dumps of virtual / physical memory     Bochs, QEMU ``x``
creg / regs    control registers bit by bit; CPU state              Bochs ``creg``
=============  ===================================================  ====================
"""

from .base import View
from .cpustate import creg_view, regs_view
from .examine import x_view, xp_view
from .frames import frames_view
from .maps import maps_view, pmap_view
from .ptdump import pagetables_view, tlb_view
from .walk import walk_view

__all__ = ["View", "walk_view", "pagetables_view", "tlb_view", "maps_view", "pmap_view",
           "frames_view", "x_view", "xp_view", "creg_view", "regs_view"]
