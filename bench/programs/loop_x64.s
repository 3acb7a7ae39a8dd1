# loop_x64.s - the compute loop in long mode: 10^8 iterations of dec + jnz, then exit(0).
        .globl _start
        .section .text
_start:
        movl    $100000000, %ecx
1:      decq    %rcx
        jnz     1b
        movl    $60, %eax
        xorl    %edi, %edi
        syscall
