# status.s - exit status 42 through exit_group, after a write to stderr
        .intel_syntax noprefix
        .section .text
        .globl _start
_start:
        mov     eax, 4
        mov     ebx, 2
        lea     ecx, [err]
        mov     edx, 13
        int     0x80
        mov     eax, 252
        mov     ebx, 42
        int     0x80

        .section .data
err:    .ascii  "to stderr...\n"
