/* The C library at work: qsort, bsearch, strtol, snprintf, strstr, strtok, memmove,
   rand with a seed (the same sequence natively). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
    int v[1000]; srand(12345);
    for (int i = 0; i < 1000; i++) v[i] = rand() % 100000;
    qsort(v, 1000, sizeof *v, cmp);
    printf("min %d max %d median %d\n", v[0], v[999], v[500]);
    int key = v[123];
    printf("bsearch found: %d\n", bsearch(&key, v, 1000, sizeof *v, cmp) != 0);
    printf("strtol %ld %ld %ld\n", strtol("-1234", 0, 10), strtol("0x1f", 0, 16), strtol("777", 0, 8));
    char buf[64]; snprintf(buf, sizeof buf, "%08.3f|%-6s|%+d", 3.14159, "ab", 5);
    printf("%s\n", buf);
    char text[] = "the quick brown fox jumps";
    printf("strstr: %s\n", strstr(text, "brown"));
    int words = 0; for (char *t = strtok(text, " "); t; t = strtok(0, " ")) words++;
    printf("words %d\n", words);
    char mv[] = "abcdefgh"; memmove(mv + 2, mv, 5);
    printf("memmove %s\n", mv);
    return 0;
}
