; scan.asm - survey the whole 4 GiB address space, the scan the blog's author could not
; finish: ask the kernel (VirtualQuery) about one region after another, from 0 to the
; kernel half, and print every region that is not free. About twenty questions, not a
; million page probes.
%include "syscalls.inc"

section .text
_start:
    xor esi, esi                        ; the address being asked about
next:
    mov eax, SYS_zeros_virtual_query
    mov ebx, esi
    mov ecx, info
    mov edx, 28
    int 0x80
    cmp eax, 28
    jne kernel                          ; above user space: the kernel half
    mov eax, [info + 16]                ; State
    cmp eax, MEM_FREE
    je skip
    mov eax, [info + 0]                 ; BaseAddress
    call print_hex
    mov al, '-'
    call print_char
    mov eax, [info + 0]
    add eax, [info + 12]                ; + RegionSize
    call print_hex
    mov ecx, state_label
    mov edx, 7
    call print_str
    mov eax, [info + 16]
    call print_hex
    mov ecx, protect_label
    mov edx, 9
    call print_str
    mov eax, [info + 20]                ; Protect
    call print_hex
    call print_nl
skip:
    add esi, [info + 12]
    cmp esi, 0xC0000000
    jb next
kernel:
    mov ecx, kernel_label
    mov edx, kernel_len
    call print_str
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

%include "lib/print.inc"

section .rodata
state_label:   db " state "
protect_label: db " protect "
kernel_label:  db "0xc0000000-0xffffffff kernel (supervisor only)", 10
kernel_len     equ $ - kernel_label

section .bss
info:          resb 28
