# getpid.s - 10^6 getpid system calls, then exit.
        .globl _start
        .section .text
_start:
        movl    $1000000, %esi
1:      movl    $20, %eax
        int     $0x80
        decl    %esi
        jnz     1b
        movl    $1, %eax
        xorl    %ebx, %ebx
        int     $0x80
