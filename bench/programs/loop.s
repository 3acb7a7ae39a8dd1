# loop.s - a compute loop of 10^9 instructions (5*10^8 iterations of dec + jnz), then exit.
        .globl _start
        .section .text
_start:
        movl    $500000000, %ecx
1:      decl    %ecx
        jnz     1b
        movl    $1, %eax
        xorl    %ebx, %ebx
        int     $0x80
