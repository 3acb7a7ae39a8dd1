# touch64_x64.s - map 64 MiB of fresh anonymous memory with mmap and write one byte in each
# of its 16384 pages (16384 demand-zero page faults under 4-level paging). Exit status 0.
        .globl _start
        .section .text
_start:
        movl    $9, %eax                # mmap(NULL, 64 MiB, PROT_READ|PROT_WRITE,
        xorl    %edi, %edi              #      MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
        movl    $0x4000000, %esi
        movl    $3, %edx
        movl    $0x22, %r10d
        movq    $-1, %r8
        xorl    %r9d, %r9d
        syscall
        cmpq    $-4096, %rax
        ja      fail
        movl    $16384, %ecx
1:      movb    $1, (%rax)
        addq    $4096, %rax
        decl    %ecx
        jnz     1b
        movl    $60, %eax
        xorl    %edi, %edi
        syscall
fail:   movl    $60, %eax
        movl    $1, %edi
        syscall
