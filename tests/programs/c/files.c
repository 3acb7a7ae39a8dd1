/* Files: fopen modes, fwrite/fread, fseek/ftell, fprintf/fscanf, append, rename, remove,
   open/read/write/lseek/pread/pwrite, stat. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    FILE *f = fopen("out.txt", "w");
    for (int i = 0; i < 100; i++) fprintf(f, "line %d %d\n", i, i * i);
    fclose(f);
    f = fopen("out.txt", "r");
    int a, b, count = 0; long total = 0;
    while (fscanf(f, "line %d %d\n", &a, &b) == 2) { total += b; count++; }
    fseek(f, 0, SEEK_END);
    printf("read %d lines, total %ld, size %ld\n", count, total, ftell(f));
    fclose(f);
    f = fopen("out.txt", "a"); fputs("appended\n", f); fclose(f);
    struct stat st; stat("out.txt", &st);
    printf("after append: %lld bytes, regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    rename("out.txt", "moved.txt");
    printf("old name gone: %d\n", access("out.txt", F_OK) != 0);
    int fd = open("raw.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    lseek(fd, 2, SEEK_SET);
    char buf[8] = {0};
    read(fd, buf, 3);
    pwrite(fd, "AB", 2, 8);
    char tail[4] = {0};
    pread(fd, tail, 3, 7);
    printf("read '%s', pread '%s', pos %ld\n", buf, tail, (long)lseek(fd, 0, SEEK_CUR));
    close(fd);
    printf("missing: fopen=%p\n", (void *)fopen("does-not-exist", "r"));
    remove("raw.bin");
    return 0;
}
