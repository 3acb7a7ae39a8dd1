# brk.s - take 64 KiB from brk, fill it with the alphabet, print the last 27 bytes,
# then give the memory back and check brk(0) returns the first break again.
        .intel_syntax noprefix
        .section .text
        .globl _start
_start:
        mov     eax, 45
        xor     ebx, ebx
        int     0x80                    # brk(0)
        mov     esi, eax                # esi = start of the new memory
        lea     ebx, [eax + 65536]
        mov     eax, 45
        int     0x80                    # brk(start + 64K)
        lea     ecx, [esi + 65536]
        cmp     eax, ecx
        jne     fail
        xor     ecx, ecx
fill:   mov     eax, ecx
        xor     edx, edx
        mov     edi, 26
        div     edi
        add     dl, 'a'
        mov     [esi + ecx], dl
        inc     ecx
        cmp     ecx, 65536
        jne     fill
        mov     byte ptr [esi + 65535], 10
        mov     eax, 4
        mov     ebx, 1
        lea     ecx, [esi + 65536 - 27]
        mov     edx, 27
        int     0x80
        mov     eax, 45
        mov     ebx, esi
        int     0x80                    # shrink back
        mov     eax, 45
        xor     ebx, ebx
        int     0x80
        cmp     eax, esi
        jne     fail
        mov     eax, 1
        xor     ebx, ebx
        int     0x80
fail:   mov     eax, 1
        mov     ebx, 3
        int     0x80
