/* mmap: anonymous private and shared, a file shared and private, mprotect, munmap, mremap. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    char *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 1 << 20; i += 4096) p[i] = (char)(i >> 12);
    long s = 0; for (int i = 0; i < 1 << 20; i += 4096) s += p[i];
    printf("anon sum %ld\n", s);
    int *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *shared = 1;
    if (fork() == 0) { *shared = 42; _exit(0); }
    wait(0);
    printf("shared after child: %d\n", *shared);
    int fd = open("map.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "hello mapped file!", 18);
    char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(m, "HELLO", 5);
    msync(m, 4096, MS_SYNC);
    char back[19] = {0}; pread(fd, back, 18, 0);
    printf("file now: %s\n", back);
    char *priv = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    priv[0] = 'j';
    pread(fd, back, 18, 0);
    printf("private write stays private: %c %c\n", priv[0], back[0]);
    munmap(m, 4096); munmap(priv, 4096); close(fd);
    char *q = mremap(p, 1 << 20, 4 << 20, MREMAP_MAYMOVE);
    printf("mremap kept data: %d %d\n", q != MAP_FAILED, q != MAP_FAILED ? q[4096] : -1);
    q[(4 << 20) - 1] = 5;
    char *r = mremap(q, 4 << 20, 8192, 0);
    printf("shrunk in place: %d %d\n", r == q, r[4096]);
    mprotect(r, 4096, PROT_READ);
    printf("read after mprotect: %d\n", r[0]);
    printf("across two mappings: %d\n", mremap(r, 8192, 1 << 20, MREMAP_MAYMOVE) == MAP_FAILED);
    return 0;
}
