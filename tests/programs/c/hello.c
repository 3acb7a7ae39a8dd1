/* stdio: printf of integers, strings and doubles; the exit status. */
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello, world\n");
    printf("argc=%d argv[1]=%s\n", argc, argc > 1 ? argv[1] : "(none)");
    printf("%d %u %x %o %c %s %5.2f %e %g\n", -42, 42u, 0xbeef, 8, 'z', "str", 3.14159, 1e-10, 2.5);
    fprintf(stderr, "to stderr\n");
    return 7;
}
