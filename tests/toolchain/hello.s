# hello.s - GNU as, AT&T syntax: write(1, msg, len); exit(0)
        .section .text
        .globl _start
_start:
        movl    $4, %eax
        movl    $1, %ebx
        movl    $msg, %ecx
        movl    $len, %edx
        int     $0x80
        movl    $1, %eax
        xorl    %ebx, %ebx
        int     $0x80

        .section .rodata
msg:    .ascii  "Hello from GNU as!\n"
        len = . - msg
