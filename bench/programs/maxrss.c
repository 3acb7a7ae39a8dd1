/* Runs a command and prints its own peak RSS (KiB) on stderr as "maxrss N".
   Linux folds the pre-exec address space's peak into a process's ru_maxrss at exec, so a
   child started straight from Python reports at least Python's RSS; started from this
   small program, the command's figure is its own. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) return 2;
    fprintf(stderr, "maxrss %ld\n", usage.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
