/* Signals: a handler for SIGUSR1 sent with raise and kill, sigprocmask blocking and
   unblocking, SIGCHLD, SIG_IGN, siginfo, a handler that returns. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int usr1, chld, info_signo;
static void on_usr1(int s) { usr1++; }
static void on_chld(int s) { chld++; }
static void on_info(int s, siginfo_t *info, void *ctx) { info_signo = info->si_signo; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    printf("usr1 handled %d times\n", usr1);
    sigset_t set; sigemptyset(&set); sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, 0);
    raise(SIGUSR1);
    printf("while blocked: %d\n", usr1);
    sigprocmask(SIG_UNBLOCK, &set, 0);
    printf("after unblock: %d\n", usr1);
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info; sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, 0);
    raise(SIGUSR2);
    printf("siginfo signo %d\n", info_signo);
    signal(SIGCHLD, on_chld);
    if (fork() == 0) _exit(0);
    wait(0);
    printf("sigchld seen: %d\n", chld > 0);
    signal(SIGTERM, SIG_IGN);
    raise(SIGTERM);
    printf("SIGTERM ignored\n");
    return 0;
}
