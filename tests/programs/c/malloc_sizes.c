/* malloc, calloc, realloc and free at many sizes, from bytes to megabytes (brk and mmap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    unsigned long sum = 0;
    size_t sizes[] = {1, 7, 16, 100, 1000, 4096, 10000, 65536, 131072, 200000, 1 << 20, 3 << 20, 8 << 20};
    for (int round = 0; round < 3; round++) {
        char *blocks[sizeof sizes / sizeof *sizes];
        for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            blocks[i] = malloc(sizes[i]);
            if (!blocks[i]) { printf("malloc %zu failed\n", sizes[i]); return 1; }
            memset(blocks[i], (int)(i + round), sizes[i]);
        }
        for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            for (size_t k = 0; k < sizes[i]; k += 997) sum += (unsigned char)blocks[i][k];
            free(blocks[i]);
        }
    }
    char *r = malloc(10);
    strcpy(r, "grow");
    for (size_t n = 16; n < (16 << 20); n *= 3) { r = realloc(r, n); r[n - 1] = 'x'; }
    printf("realloc kept: %s\n", r);
    free(r);
    int *z = calloc(1 << 18, sizeof(int));
    long zeros = 0;
    for (int i = 0; i < 1 << 18; i++) zeros += z[i] == 0;
    free(z);
    printf("sum=%lu zeros=%ld\n", sum, zeros);
    return 0;
}
