/* A guest for snapshots: it maps a file, forks, and both processes touch more memory than
   the machine's RAM holds (the page file takes the rest), printing checksums as they go. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 1024 /* 4 MiB each */

static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
    return s;
}

static void churn(const char *who, int seed) {
    unsigned char *big = malloc(PAGES * 4096);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < PAGES; i++) big[i * 4096 + (i % 97)] = (unsigned char)(i * seed + round);
        printf("%s round %d: %08x\n", who, round, sum(big, PAGES * 4096));
        fflush(stdout);
    }
    free(big);
}

int main(int argc, char **argv) {
    int fd = open(argv[0], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    unsigned char *file = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) { perror("mmap"); return 1; }
    printf("file %08x\n", sum(file, 8192));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        churn("child", 7);
        return 5;
    }
    churn("parent", 3);
    int status;
    waitpid(child, &status, 0);
    printf("child status %d, file again %08x\n", WEXITSTATUS(status), sum(file, 8192));
    return 0;
}
