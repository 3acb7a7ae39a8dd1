/* User-level fault handling over guard pages: 64 pages reserved PROT_NONE; the first touch
 * of each raises SIGSEGV, whose handler (si_addr is CR2) opens just that page with mprotect
 * and returns; the access runs again and succeeds. /proc/self/maps shows the reservation
 * split into accessible and guard parts, then whole again. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 64
#define PAGE 4096
static char *area;
static volatile int faults;

static void on_segv(int sig, siginfo_t *info, void *ctx)
{
    char *addr = info->si_addr;
    (void)sig, (void)ctx;
    if (addr < area || addr >= area + PAGES * PAGE) {
        write(1, "a fault outside the area\n", 25);
        _exit(3);
    }
    faults++;
    mprotect(area + (addr - area) / PAGE * PAGE, PAGE, PROT_READ | PROT_WRITE);
}

static void show_area(const char *when)
{
    char line[256];
    int parts = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    printf("%s:", when);
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 &&
                start < (unsigned long)area + PAGES * PAGE && end > (unsigned long)area) {
            printf(" %s x %lu", perms, (end - start) / PAGE);
            parts++;
        }
    }
    printf(" (%d part%s)\n", parts, parts == 1 ? "" : "s");
    if (maps)
        fclose(maps);
}

int main(void)
{
    struct sigaction sa;
    long sum = 0;
    area = mmap(0, PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    show_area("reserved");
    for (int i = 0; i < 10 * PAGE; i += 1000)  /* the first ten pages, one fault each */
        area[i] = (char)i;
    show_area("ten pages opened");
    for (int i = 0; i < PAGES * PAGE; i += 1000)
        area[i] = (char)i;
    for (int i = 0; i < PAGES * PAGE; i += 1000)
        sum += area[i];
    show_area("all opened");
    printf("wrote %d pages after %d faults, sum %ld\n", PAGES, faults, sum);
    return faults == PAGES ? 0 : 1;
}
