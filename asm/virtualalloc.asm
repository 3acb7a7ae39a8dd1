; virtualalloc.asm - the VirtualAlloc article's example: reserve and commit 0x1b000 bytes,
; check that every byte reads as zero (each page arrives zero-filled on first touch), then
; release the reservation.
%include "syscalls.inc"

SIZE equ 0x1b000

section .text
_start:
    mov eax, SYS_zeros_virtual_alloc    ; VirtualAlloc(NULL, 0x1b000, MEM_RESERVE|MEM_COMMIT,
    xor ebx, ebx                        ;              PAGE_READWRITE)
    mov ecx, SIZE
    mov edx, MEM_RESERVE | MEM_COMMIT
    mov esi, PAGE_READWRITE
    int 0x80
    cmp eax, -4096
    ja fail
    mov [base], eax

    mov esi, eax                        ; OR every dword of the range together
    mov ecx, SIZE / 4
    xor edx, edx
scan:
    or edx, [esi]
    add esi, 4
    dec ecx
    jnz scan
    test edx, edx
    jnz fail

    mov ecx, label
    mov edx, label_len
    call print_str
    mov eax, [base]
    call print_hex
    mov ecx, range
    mov edx, range_len
    call print_str

    mov eax, SYS_zeros_virtual_free     ; VirtualFree(base, 0, MEM_RELEASE)
    mov ebx, [base]
    xor ecx, ecx
    mov edx, MEM_RELEASE
    int 0x80
    test eax, eax
    jnz fail
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

%include "lib/print.inc"

section .rodata
label:      db "VirtualAlloc: pBase = "
label_len   equ $ - label
range:      db ", 0x1b000 bytes committed, all zero", 10
range_len   equ $ - range

section .bss
base:       resd 1
