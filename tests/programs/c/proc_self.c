/* proc_self.c - a program that looks at its own memory through /proc/self, as the blog
 * does: where its code, data, bss, heap, stack, mappings and vDSO lie in /proc/self/maps,
 * how VmRSS in /proc/self/status grows as pages are touched, and what statm and cmdline
 * say. Addresses differ between kernels; what each address lies in must not. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int global_data = 5;
static char bss_buf[200000];
static const char rodata[] = "a constant string";
static char exe[4096];
static char maps[1 << 16];

static size_t slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    size_t total = 0;
    ssize_t n;
    if (fd < 0) { perror(path); exit(1); }
    while (total < size - 1 && (n = read(fd, buf + total, size - 1 - total)) > 0)
        total += n;
    buf[total] = 0;
    close(fd);
    return total;
}

static void where(const char *what, const void *addr)
{
    char *line = maps;
    slurp("/proc/self/maps", maps, sizeof maps);
    while (line && *line) {
        unsigned long start, end;
        char perms[5];
        int name_at = 0;
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (sscanf(line, "%lx-%lx %4s %*x %*s %*u %n", &start, &end, perms, &name_at) >= 3 &&
                (unsigned long)addr >= start && (unsigned long)addr < end) {
            const char *name = name_at ? line + name_at : "";
            if (!strcmp(name, exe)) name = "the program";
            else if (!*name) name = "anonymous";
            printf("%-12s %s %s\n", what, perms, name);
            return;
        }
        line = next;
    }
    printf("%-12s not mapped\n", what);
}

static long status_kb(const char *field)
{
    static char status[8192];
    char *at;
    slurp("/proc/self/status", status, sizeof status);
    at = strstr(status, field);
    return at ? atol(at + strlen(field) + 1) : -1;
}

int main(int argc, char **argv)
{
    int local = 1;
    struct stat st;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;

    char *big = malloc(4 << 20);
    char *ro = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    where("main", (void *)main);
    where("rodata", rodata);
    where("data", &global_data);
    where("bss", bss_buf + 100000);
    where("local", &local);
    where("malloc 4M", big);
    where("mmap r--", ro);
    where("vdso", (void *)getauxval(AT_SYSINFO_EHDR));
    mprotect(ro, 4096, PROT_READ | PROT_WRITE);
    where("mprotect rw", ro);
    where("its 2nd page", ro + 4096);
    munmap(ro, 8192);
    where("munmapped", ro);

    long before = status_kb("VmRSS:");
    for (volatile char *p = big; p < big + (4 << 20); p += 4096)
        *p = 1;  /* one write per page, that the compiler may not drop */
    long after = status_kb("VmRSS:");
    /* Linux counts RSS per CPU and sums lazily: allow for some slack */
    printf("VmRSS grew by 3.5 MiB or more when 4 MiB were touched: %s\n",
           after - before >= 3584 ? "yes" : "no");
    printf("VmSize >= VmRSS > 0: %s\n",
           status_kb("VmSize:") >= after && after > 0 ? "yes" : "no");
    printf("VmStk > 0: %s\n", status_kb("VmStk:") > 0 ? "yes" : "no");

    char statm[256];
    long size, resident;
    slurp("/proc/self/statm", statm, sizeof statm);
    printf("statm size >= resident: %s\n",
           sscanf(statm, "%ld %ld", &size, &resident) == 2 && size >= resident ? "yes" : "no");

    char cmdline[256];
    size_t len = slurp("/proc/self/cmdline", cmdline, sizeof cmdline);
    printf("cmdline after argv[0]:");  /* the tests start the two sides differently */
    for (size_t i = strlen(cmdline) + 1; i < len; i += strlen(cmdline + i) + 1)
        printf(" [%s]", cmdline + i);
    printf("\n");

    int stat_ok = stat("/proc/self/maps", &st) == 0;
    printf("stat maps: regular %d, size %lld\n", stat_ok && S_ISREG(st.st_mode),
           (long long)st.st_size);
    printf("no such /proc file: %s\n", open("/proc/self/nothing", O_RDONLY) < 0 ? "yes" : "no");
    return argc == 3 && argv[0] ? 0 : 1;
}
