; seed_walk.asm - the VirtualAlloc article's paging example, live: map the page that holds
; 0x12345678 (PDE index 0x48, PTE index 0x345, offset 0x678), write there, and stop at int3
; so that the walk can be shown:
;   zeros run asm/seed_walk.asm --show walk:0x12345678 --at break
%include "syscalls.inc"

section .text
_start:
    mov eax, SYS_mmap2                  ; mmap(0x12345000, 4096, RW, FIXED|PRIVATE|ANON)
    mov ebx, 0x12345000
    mov ecx, 4096
    mov edx, PROT_READ | PROT_WRITE
    mov esi, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov dword ptr [0x12345678], 0x600DF00D
    int3                                ; views at a breakpoint: the guest then goes on
    mov eax, SYS_exit
    xor ebx, ebx
    int 0x80
