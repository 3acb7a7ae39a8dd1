/* A NULL dereference: killed by SIGSEGV (exit status 139 from a shell). */
#include <stdio.h>
int main(void) {
    printf("about to crash\n");
    fflush(stdout);
    volatile int *p = 0;
    return *p;
}
