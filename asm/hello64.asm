; hello64.asm - an x86-64 guest: long mode, 4-level paging (`bits 64` is enough for zeros run
; to choose it). write(1, msg, len), then where its stack is, then exit(0).
bits 64
%include "syscalls64.inc"

section .text
_start:
    mov eax, SYS_write
    mov edi, 1
    mov esi, msg
    mov edx, msg_len
    syscall

    mov rax, rsp                ; the stack pointer, in 16 hex digits
    mov rdi, digits + 15
    mov ecx, 16
hex:
    mov edx, eax
    and edx, 15
    mov dl, byte ptr [hexchars + rdx]
    mov byte ptr [rdi], dl
    shr rax, 4
    dec rdi
    dec ecx
    jnz hex
    mov eax, SYS_write
    mov edi, 1
    mov esi, stack_msg
    mov edx, stack_len
    syscall

    mov eax, SYS_exit
    xor edi, edi
    syscall

section .rodata
msg:       db "Hello from long mode!", 10
msg_len    equ $ - msg
hexchars:  db "0123456789abcdef"

section .data
stack_msg: db "my stack is at 0x"
digits:    db "0000000000000000", 10
stack_len  equ $ - stack_msg
