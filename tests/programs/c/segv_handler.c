/* User-level fault handling: SIGSEGV on a PROT_NONE page, the handler makes it accessible
   with mprotect and returns, the access is retried and succeeds. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static char *page;
static volatile int faults;
static void on_segv(int s, siginfo_t *info, void *ctx) {
    faults++;
    if ((char *)info->si_addr != page + 100) { write(1, "wrong address\n", 14); _exit(3); }
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
}
int main(void) {
    page = mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv; sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    page[100] = 'x';
    printf("wrote %c after %d fault(s)\n", page[100], faults);
    return 0;
}
