/* exec_data.c - code copied into a mapping runs when the mapping is PROT_EXEC; made
 * PROT_READ|PROT_WRITE again, a call into it is an instruction fetch from a no-execute page:
 * SIGSEGV at that address. On Linux (PAE or 4-level paging, NX) and under `zeros run
 * --paging pae`; with 32-bit paging there is no NX bit and the call runs. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char *page;

static void on_segv(int sig, siginfo_t *info, void *ctx)
{
    (void)sig, (void)ctx;
    printf("SIGSEGV for a fetch from the data page: %s\n",
           (unsigned char *)info->si_addr == page ? "yes" : "no");
    fflush(stdout);
    _exit(0);
}

int main(void)
{
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};  /* mov eax, 42; ret */
    struct sigaction sa;
    int (*function)(void);

    page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(page, code, sizeof code);
    mprotect(page, 4096, PROT_READ | PROT_EXEC);
    function = (int (*)(void))page;
    printf("ran from an executable mapping: %d\n", function());
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    fflush(stdout);
    printf("ran from a data page: %d\n", function());
    return 1;
}
