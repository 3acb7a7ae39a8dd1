/* The life of one page, for the history tests: zero-filled on first write, shared
   copy-on-write by fork, copied when the parent writes it again, sent to the page file by
   a big allocation, brought back by a read, freed at exit. Prints the page's address. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile char page[4096] __attribute__((aligned(4096)));

int main(void) {
    printf("%p\n", (void *)page);
    fflush(stdout);
    page[0] = 1;                       /* zero-fill */
    pid_t child = fork();              /* the entry becomes read-only: copy-on-write */
    if (child == 0) {
        return page[0];
    }
    waitpid(child, NULL, 0);
    page[0] = 2;                       /* copy-on-write (or made writable: alone now) */
    size_t n = 12 << 20;               /* three times the machine's RAM: pages go out */
    volatile char *big = malloc(n);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < n; i += 4096) big[i] = (char)(i + round);
    volatile char back = page[0];      /* swap-in */
    return back == 2 ? 0 : 1;
}
