; hello.asm - the smallest ZerOS guest: write(1, msg, len); exit(0)
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, msg
    mov edx, msg_len
    int 0x80

    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

section .rodata
msg:     db "Hello, world!", 10
msg_len  equ $ - msg
