/* sumsq.c - freestanding C for gcc -m32 -nostdlib -static: sum of squares below 10^6. */
static int sys3(int n, int a, int b, int c) {
    int r;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}
void _start(void) {
    static char msg[] = "sum=0000000000\n";
    unsigned sum = 0;
    for (unsigned i = 0; i < 1000000; i++) sum += i * i;
    for (int k = 13; k >= 4; k--) { msg[k] = '0' + sum % 10; sum /= 10; }
    sys3(4, 1, (int)msg, sizeof msg - 1);
    sys3(1, 0, 0, 0);
    for (;;) {}
}
