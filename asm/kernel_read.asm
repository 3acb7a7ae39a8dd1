; kernel_read.asm - read the kernel half of the address space. It is mapped, but
; supervisor-only (U/S=0), so the read faults with error code 0x5: present, user, read.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, msg
    mov edx, msg_len
    int 0x80
    mov eax, [0xC0001000]               ; the GDT, through the kernel's direct map
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

section .rodata
msg:     db "reading kernel memory at 0xC0001000...", 10
msg_len  equ $ - msg
