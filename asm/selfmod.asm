; selfmod.asm - write into our own code. Text pages are mapped user read-only
; (PTE U=1 W=0), so the store faults with error code 0x7 and the process is killed.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, msg
    mov edx, msg_len
    int 0x80
patch_me:
    mov dword [patch_me], 0x90909090   ; user write to a read-only page: #PF
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

section .rodata
msg:     db "patching my own code...", 10
msg_len  equ $ - msg
