/* Directories: mkdir, chdir, getcwd relative moves, opendir/readdir (sorted), rmdir,
   unlink. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(void) {
    mkdir("d", 0755);
    chdir("d");
    for (int i = 0; i < 5; i++) { char n[8]; sprintf(n, "f%d", i); FILE *f = fopen(n, "w"); fputs(n, f); fclose(f); }
    mkdir("sub", 0755);
    DIR *dir = opendir(".");
    char *names[16]; int n = 0; struct dirent *e;
    while ((e = readdir(dir))) names[n++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, n, sizeof *names, cmp);
    for (int i = 0; i < n; i++) printf("%s ", names[i]);
    printf("\n");
    struct stat st; stat("sub", &st);
    printf("sub is a directory: %d\n", S_ISDIR(st.st_mode));
    printf("rmdir non-empty: %d\n", rmdir(".."));
    rmdir("sub");
    for (int i = 0; i < 5; i++) { char n2[8]; sprintf(n2, "f%d", i); unlink(n2); }
    chdir("..");
    printf("rmdir d: %d\n", rmdir("d"));
    return 0;
}
