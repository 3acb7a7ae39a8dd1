; stack_grow.asm - recurse 4000 levels deep, 16 bytes a level: the stack grows down over
; 16 pages, each one brought in by a not-present page fault (error code 0x6). Then check
; every frame on the way back and print the depth reached.
%include "syscalls.inc"

DEPTH equ 4000

section .text
_start:
    mov ecx, DEPTH
    call recurse
    ; eax = sum of the levels seen on the way back: DEPTH*(DEPTH+1)/2 = 8002000
    cmp eax, 8002000
    jne bad
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, ok_msg
    mov edx, ok_len
    int 0x80
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
bad:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

recurse:                ; ecx = level; returns eax = level + (level-1) + ... + 1
    push ecx
    push ebp
    push esi
    push edi            ; 16 bytes with the return address
    dec ecx
    jz bottom
    call recurse
    jmp up
bottom:
    xor eax, eax
up:
    pop edi
    pop esi
    pop ebp
    pop ecx
    add eax, ecx
    ret

section .rodata
ok_msg:  db "recursed 4000 levels: 64000 bytes of stack, checked on the way back", 10
ok_len   equ $ - ok_msg
