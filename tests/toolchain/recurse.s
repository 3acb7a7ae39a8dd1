# recurse.s - fibonacci(24) by naive recursion on the stack, printed in decimal.
        .intel_syntax noprefix
        .section .text
        .globl _start
_start:
        mov     eax, 24
        call    fib
        lea     edi, [buf + 15]         # digits from the right
        mov     byte ptr [edi], 10
        mov     ecx, 10
digit:  dec     edi
        xor     edx, edx
        div     ecx
        add     dl, '0'
        mov     [edi], dl
        test    eax, eax
        jnz     digit
        mov     eax, 4
        mov     ebx, 1
        mov     ecx, edi
        lea     edx, [buf + 16]
        sub     edx, edi
        int     0x80
        mov     eax, 1
        xor     ebx, ebx
        int     0x80
fib:    cmp     eax, 2
        jb      small
        push    eax
        dec     eax
        call    fib
        xchg    eax, [esp]
        sub     eax, 2
        call    fib
        pop     edx
        add     eax, edx
small:  ret

        .section .bss
buf:    .space  16
