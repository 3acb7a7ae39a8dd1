"""The Windows family: VirtualAlloc, VirtualFree, VirtualProtect, VirtualQuery."""
