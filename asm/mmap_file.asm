; mmap_file.asm - the blog's mmap program: map test.txt (in the --root directory) with
; MAP_SHARED, print it, write "Hello, mmap!" over its first 12 bytes, munmap. The file then
; reads "Hello, mmap!initial sentence here.": the write went through the page cache frame
; that the mapping shares, and munmap wrote it back.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_open
    mov ebx, path
    mov ecx, O_RDWR
    int 0x80
    test eax, eax
    js fail
    mov [fd], eax

    mov eax, SYS_lseek                  ; the file size, as fstat would give it
    mov ebx, [fd]
    xor ecx, ecx
    mov edx, SEEK_END
    int 0x80
    mov [size], eax

    mov eax, SYS_mmap2                  ; mmap(NULL, size, RW, MAP_SHARED, fd, 0)
    xor ebx, ebx
    mov ecx, [size]
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_SHARED
    mov edi, [fd]
    xor ebp, ebp
    int 0x80
    cmp eax, -4096
    ja fail
    mov [map], eax

    mov ecx, label                      ; printf("file content: %s\n", map)
    mov edx, label_len
    call print_str
    mov ecx, [map]
    mov edx, [size]
    call print_str
    call print_nl

    mov edi, [map]                      ; strncpy(map, "Hello, mmap!", 12)
    mov esi, hello
    mov ecx, 12
    cld
    rep movsb

    mov eax, SYS_munmap
    mov ebx, [map]
    mov ecx, [size]
    int 0x80
    mov eax, SYS_close
    mov ebx, [fd]
    int 0x80
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    neg eax
    mov ebx, eax
    mov eax, SYS_exit
    int 0x80

%include "lib/print.inc"

section .rodata
path:       db "test.txt", 0
label:      db "file content: "
label_len   equ $ - label
hello:      db "Hello, mmap!"

section .bss
fd:         resd 1
size:       resd 1
map:        resd 1
