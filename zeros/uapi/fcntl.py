"""open() flags and lseek() whence values (asm-generic/fcntl.h, linux/fs.h)."""

O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR = 3, 0, 1, 2
O_CREAT, O_EXCL, O_TRUNC, O_APPEND = 0o100, 0o200, 0o1000, 0o2000
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
