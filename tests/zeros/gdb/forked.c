#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int marker(int who) { return who * 2; }
int main(void) {
    pid_t child = fork();
    if (child == 0) { marker(1); printf("child\n"); return 7; }
    int status; waitpid(child, &status, 0);
    marker(2);
    printf("parent: child %d\n", WEXITSTATUS(status));
    volatile int *p = (int *)0x1234; *p = 5;
    return 0;
}
