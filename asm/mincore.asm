; mincore.asm - map 16 pages of anonymous memory, touch pages 0, 3, 7 and 15, and ask
; mincore which pages are in RAM: only the touched ones are (demand paging); nothing is
; faulted in by asking.
%include "syscalls.inc"

PAGES equ 16

section .text
_start:
    mov eax, SYS_mmap2
    xor ebx, ebx
    mov ecx, PAGES * 4096
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_ANONYMOUS | MAP_PRIVATE
    mov edi, -1
    xor ebp, ebp
    int 0x80
    cmp eax, -4096
    ja fail
    mov [base], eax

    mov byte ptr [eax + 0 * 4096], 1
    mov byte ptr [eax + 3 * 4096], 1
    mov byte ptr [eax + 7 * 4096], 1
    mov byte ptr [eax + 15 * 4096], 1

    mov eax, SYS_mincore
    mov ebx, [base]
    mov ecx, PAGES * 4096
    mov edx, vec
    int 0x80
    test eax, eax
    jnz fail

    mov ecx, label
    mov edx, label_len
    call print_str
    xor esi, esi
show:
    mov al, byte ptr [vec + esi]
    and al, 1
    add al, '0'
    call print_char
    inc esi
    cmp esi, PAGES
    jne show
    call print_nl
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

%include "lib/print.inc"

section .rodata
label:      db "resident pages: "
label_len   equ $ - label

section .bss
base:       resd 1
vec:        resb PAGES
