; zeros_hello.asm - the MemoryManager seed's first example, from a guest:
;   memory = allocateMemory(pid, 1024, 512); addr = heap.allocate(100);
;   heap.writeData(addr, 'Hello World'), then print it back from the heap.
; The heap is in this process's own address space (0x40000000): the guest writes it itself.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_zeros_allocate_memory
    mov ebx, 1024                       ; heap size
    mov ecx, 512                        ; shed size
    xor edx, edx                        ; heap id: next free
    xor esi, esi                        ; shed id: next free
    mov edi, mem                        ; where the kernel describes what it made
    int 0x80
    test eax, eax
    js fail

    mov eax, SYS_zeros_heap_allocate
    mov ebx, [mem + MEM_HEAP_ID]
    mov ecx, 100
    int 0x80
    test eax, eax
    js fail
    mov [block], eax

    mov edi, eax                        ; copy "Hello World" into the heap block
    mov esi, hello
    mov ecx, hello_len
    cld
    rep movsb

    mov eax, SYS_write                  ; and print it from there
    mov ebx, STDOUT
    mov ecx, [block]
    mov edx, hello_len
    int 0x80
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, newline
    mov edx, 1
    int 0x80

    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov ebx, eax
    neg ebx
    mov eax, SYS_exit
    int 0x80

section .rodata
hello:      db "Hello World"
hello_len   equ $ - hello
newline:    db 10

section .bss
mem:        resb MEM_STRUCT_SIZE
block:      resd 1
