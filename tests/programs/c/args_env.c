/* argv and the environment as the program receives them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) printf("arg %d: [%s]\n", i, argv[i]);
    const char *v = getenv("ZEROS_TEST");
    printf("ZEROS_TEST=%s\n", v ? v : "(unset)");
    int n = 0;
    for (char **e = environ; *e; e++) if (strncmp(*e, "ZEROS_", 6) == 0) n++;
    printf("%d ZEROS_ variables\n", n);
    return 0;
}
