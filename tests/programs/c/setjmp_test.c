/* setjmp/longjmp and sigsetjmp/siglongjmp out of a signal handler. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
static jmp_buf env;
static sigjmp_buf senv;
static void deep(int n) { if (n == 0) longjmp(env, 42); deep(n - 1); }
static void on_alarm(int s) { siglongjmp(senv, s); }
int main(void) {
    int r = setjmp(env);
    if (r == 0) deep(100);
    printf("longjmp returned %d\n", r);
    signal(SIGUSR1, on_alarm);
    int s = sigsetjmp(senv, 1);
    if (s == 0) raise(SIGUSR1);
    printf("siglongjmp from handler: %d\n", s);
    return 0;
}
