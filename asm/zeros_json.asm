; zeros_json.asm - the MemoryManager seed's second example, from a guest: store the user
; record {"name":"John","age":30} in a 50-byte heap block, read it back, then ask the kernel
; for checkMemory(pid) and print the JSON it writes into our buffer.
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_zeros_register_name
    mov ebx, app_name
    int 0x80

    mov eax, SYS_zeros_allocate_memory
    mov ebx, 1024
    mov ecx, 512
    xor edx, edx
    xor esi, esi
    mov edi, mem
    int 0x80
    test eax, eax
    js fail

    mov eax, SYS_zeros_heap_allocate
    mov ebx, [mem + MEM_HEAP_ID]
    mov ecx, 50
    int 0x80
    test eax, eax
    js fail
    mov [block], eax

    mov edi, eax                        ; writeData(addr, JSON.stringify(user))
    mov esi, record
    mov ecx, record_len
    cld
    rep movsb

    mov eax, SYS_write                  ; readString(addr, 50): print it from the heap
    mov ebx, STDOUT
    mov ecx, [block]
    mov edx, record_len
    int 0x80
    call print_newline

    mov eax, SYS_getpid
    int 0x80
    mov ebx, eax                        ; checkMemory(this.pid)
    mov eax, SYS_zeros_check_memory
    mov ecx, report
    mov edx, report_size
    int 0x80
    test eax, eax
    js fail
    cmp eax, report_size
    jae fail                            ; it did not fit
    mov edx, eax
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, report
    int 0x80
    call print_newline

    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
fail:
    mov eax, SYS_exit
    mov ebx, 1
    int 0x80

print_newline:
    mov eax, SYS_write
    mov ebx, STDOUT
    mov ecx, newline
    mov edx, 1
    int 0x80
    ret

section .rodata
app_name:   db "MyApp", 0
record:     db '{"name":"John","age":30}'
record_len  equ $ - record
newline:    db 10

section .bss
report_size equ 2048
mem:        resb MEM_STRUCT_SIZE
block:      resd 1
report:     resb report_size
