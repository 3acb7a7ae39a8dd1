# getpid_x64.s - 10^6 getpid system calls through `syscall`, then exit(0).
        .globl _start
        .section .text
_start:
        movl    $1000000, %ebx
1:      movl    $39, %eax
        syscall
        decl    %ebx
        jnz     1b
        movl    $60, %eax
        xorl    %edi, %edi
        syscall
