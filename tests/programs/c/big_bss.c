/* A 16 MiB .bss: demand-zero, only the pages touched are backed; deep recursion grows the
   stack page by page. */
#include <stdio.h>
static char big[16 << 20];
static int depth(int n) { volatile char pad[256]; pad[0] = (char)n; return n ? depth(n - 1) + pad[0] - (char)n + 1 : 0; }
int main(void) {
    long s = 0;
    for (int i = 0; i < (16 << 20); i += 1 << 20) { big[i] = 1; s += big[i]; }
    printf("touched %ld pages of .bss, first untouched byte %d\n", s, big[12345]);
    printf("recursion depth %d\n", depth(10000));
    return 0;
}
