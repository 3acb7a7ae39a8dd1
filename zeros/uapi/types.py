"""How values cross the syscall boundary: 32-bit registers."""


def signed32(value: int) -> int:
    """A 32-bit register as a signed int (fd -1, pid -1, a negative offset)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value
