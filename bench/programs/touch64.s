# touch64.s - map 64 MiB of fresh anonymous memory with mmap2 and write one byte in each of
# its 16384 pages: 16384 demand-zero page faults. Exit status 0.
        .globl _start
        .section .text
_start:
        movl    $192, %eax              # mmap2(NULL, 64 MiB, PROT_READ|PROT_WRITE,
        xorl    %ebx, %ebx              #       MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
        movl    $0x4000000, %ecx
        movl    $3, %edx
        movl    $0x22, %esi
        movl    $-1, %edi
        xorl    %ebp, %ebp
        int     $0x80
        cmpl    $-4096, %eax
        ja      fail
        movl    $16384, %ecx
1:      movb    $1, (%eax)
        addl    $4096, %eax
        decl    %ecx
        jnz     1b
        movl    $1, %eax
        xorl    %ebx, %ebx
        int     $0x80
fail:   movl    $1, %eax
        movl    $1, %ebx
        int     $0x80
