; zeros_exit.asm - the MemoryManager seed's third example: free memory at exit. Prints the
; ZerOS ps table (long form) before and after freeMemory.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_zeros_allocate_memory
    mov ebx, 4096
    mov ecx, 256
    xor edx, edx
    xor esi, esi
    xor edi, edi
    int 0x80
    test eax, eax
    js fail

    call print_ps
    mov eax, SYS_zeros_free_memory      ; __exit__: MemoryManager.freeMemory(this.pid)
    int 0x80
    test eax, eax
    jnz fail
    call print_ps

    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

print_ps:                               ; the ps table, long form, into our buffer, then out
    mov eax, SYS_zeros_ps
    mov ebx, buffer
    mov ecx, buffer_size
    mov edx, 1
    int 0x80
    mov edx, eax
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, buffer
    int 0x80
    ret

section .bss
buffer_size equ 4096
buffer:     resb buffer_size
