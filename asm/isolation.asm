; isolation.asm - run two copies. Each stores its own pid at the same virtual address
; (slot, in .data), yields to the other, then reads the slot back and prints it. With one
; page directory per process the two slots are different frames: each reads its own pid.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_getpid
    int 0x80
    mov [slot], eax                     ; same virtual address in both processes

    mov esi, 3                          ; yield a few times to interleave the two
again:
    mov eax, SYS_sched_yield
    int 0x80
    dec esi
    jnz again

    mov eax, [slot]                     ; read it back after the other one wrote its own
    add al, '0'
    mov [digit], al
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, line
    mov edx, line_len
    int 0x80
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

section .data
slot:     dd 0
line:     db "slot at 0x08049000 holds pid "
digit:    db "?", 10
line_len  equ $ - line
