/* Reading standard input: lines counted and echoed reversed. */
#include <stdio.h>
#include <string.h>
int main(void) {
    char line[256]; int n = 0;
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strcspn(line, "\n"); line[len] = 0;
        for (size_t i = 0; i < len / 2; i++) { char t = line[i]; line[i] = line[len - 1 - i]; line[len - 1 - i] = t; }
        printf("%d: %s\n", ++n, line);
    }
    printf("%d lines\n", n);
    return 0;
}
