

def test_numbers_do_not_depend_on_keystones_radix():
    """Keystone 0.9.2's radix is uninitialised (and every KS_OPT_SYNTAX setting makes it
    16): bare numbers reach it in hex, so ``mov eax, 20`` is 20 in every process."""
    from keystone import KS_ARCH_X86, KS_MODE_32, KS_OPT_SYNTAX_INTEL, Ks

    from emu.asm import _radix_free
    hexadecimal = Ks(KS_ARCH_X86, KS_MODE_32)
    hexadecimal.syntax = KS_OPT_SYNTAX_INTEL  # the radix-16 state, on purpose
    assert bytes(hexadecimal.asm("mov eax, 20")[0]) == bytes.fromhex("b820000000")
    text = "mov eax, 20\nmov ebx, 010\nmov ecx, [esi+4*2]\n.ascii \"pid 12\"\nadd al, '0'"
    assert bytes(hexadecimal.asm(_radix_free(text))[0]) == \
        bytes(Ks(KS_ARCH_X86, KS_MODE_32).asm(text)[0])
    assert _radix_free(text).splitlines()[:2] == ["mov eax, 0x14", "mov ebx, 0x8"]
