/* pipe, dup2, fork and exec of /bin/echo-like behaviour done by hand: a producer and a
   consumer talking through a pipe; EOF when the writer closes. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    int fd[2];
    pipe(fd);
    pid_t writer = fork();
    if (writer == 0) {
        close(fd[0]);
        for (int i = 0; i < 2000; i++) { char line[32]; int n = sprintf(line, "%d\n", i); write(fd[1], line, n); }
        close(fd[1]);
        _exit(0);
    }
    close(fd[1]);
    char buf[512]; long bytes = 0, newlines = 0; ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) > 0) {
        bytes += n;
        for (ssize_t i = 0; i < n; i++) newlines += buf[i] == '\n';
    }
    waitpid(writer, 0, 0);
    printf("got %ld bytes, %ld lines\n", bytes, newlines);
    int back[2]; pipe(back);
    if (fork() == 0) { dup2(back[1], 1); close(back[0]); printf("through dup2\n"); fflush(stdout); _exit(3); }
    close(back[1]);
    char msg[64] = {0}; read(back[0], msg, sizeof msg - 1);
    int status; wait(&status);
    printf("child said: %s child status %d\n", msg, WEXITSTATUS(status));
    return 0;
}
