; heap_overflow.asm - fill a 1 KiB heap byte by byte and keep going. Its one page is mapped,
; the rest of the heap's window is not: the first byte past the page faults (error 0x6) and
; the report names the heap.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_zeros_allocate_memory
    mov ebx, 1024
    mov ecx, -1                         ; no shed
    xor edx, edx
    xor esi, esi
    mov edi, mem
    int 0x80
    test eax, eax
    js fail
    mov edi, [mem + MEM_HEAP_VA]
fill:
    mov byte [edi], 'Z'
    inc edi
    jmp fill
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

section .bss
mem:        resb MEM_STRUCT_SIZE
