; shared_anon.asm - the blog's shared anonymous mapping, shared between two processes: map
; 4096 bytes MAP_SHARED|MAP_ANONYMOUS, fork; the child writes "Hello, Shared Memory!" into
; it and exits; the parent waits and prints what it finds there: one frame, two page
; directories.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_mmap2
    xor ebx, ebx
    mov ecx, 4096
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_ANONYMOUS | MAP_SHARED
    mov edi, -1
    xor ebp, ebp
    int 0x80
    cmp eax, -4096
    ja fail
    mov [shared], eax

    mov eax, SYS_fork
    int 0x80
    test eax, eax
    js fail
    jz child

    mov ebx, eax                        ; parent: waitpid(child, &status, 0)
    mov eax, SYS_waitpid
    mov ecx, status
    xor edx, edx
    int 0x80
    mov ecx, label                      ; printf("shared contents: %s\n", shared)
    mov edx, label_len
    call print_str
    mov ecx, [shared]
    call print_cstr
    call print_nl
    mov eax, SYS_munmap
    mov ebx, [shared]
    mov ecx, 4096
    int 0x80
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80

child:                                  ; strcpy(shared_mem, "Hello, Shared Memory!")
    mov edi, [shared]
    mov esi, message
    mov ecx, message_len
    cld
    rep movsb
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

%include "lib/print.inc"

section .rodata
label:       db "shared contents: "
label_len    equ $ - label
message:     db "Hello, Shared Memory!", 0
message_len  equ $ - message

section .bss
shared:      resd 1
status:      resd 1
