/* maps_dump.c - grow the heap with brk, map a file and anonymous memory, then print
 * /proc/self/maps: the listing the blog reads, to compare line by line with Linux's. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    char *small = malloc(100), *big = malloc(1 << 20);
    int fd = open("maps_dump.data", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[4096];
    ssize_t n;
    if (fd < 0 || write(fd, "file bytes", 10) != 10 || !small || !big)
        return 1;
    char *file = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    char *anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (file == MAP_FAILED || anon == MAP_FAILED)
        return 2;
    small[0] = big[0] = anon[0] = file[0];
    int maps = open("/proc/self/maps", O_RDONLY);
    while ((n = read(maps, buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, stdout);
    return 0;
}
