/* fork, exit statuses, waitpid with options, copy-on-write. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int value = 10;
int main(void) {
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) { value += i; exit(value); }
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        int status;
        waitpid(kids[i], &status, 0);
        if (WIFEXITED(status)) total += WEXITSTATUS(status);
    }
    printf("children returned %d, parent still has %d\n", total, value);
    pid_t k = fork();
    if (k == 0) { abort(); }
    int status; wait(&status);
    printf("child killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    printf("no more children: %d\n", wait(&status));
    fflush(stdout);
    return 0;
}
