/* fork + execve of another static program (the next argument), waiting for its status. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) { printf("usage: exec_child PROGRAM\n"); return 2; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {argv[1], "from", "exec", 0};
        char *env[] = {"ZEROS_TEST=exec", 0};
        execve(argv[1], args, env);
        perror("execve");
        _exit(127);
    }
    int status; waitpid(pid, &status, 0);
    printf("exec'd child exited %d\n", WEXITSTATUS(status));
    char *missing[] = {"nope", 0};
    if (fork() == 0) { execve("./no-such-program", missing, missing); _exit(99); }
    wait(&status);
    printf("missing program: %d\n", WEXITSTATUS(status));
    return 0;
}
