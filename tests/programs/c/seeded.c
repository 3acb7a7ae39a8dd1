/* seeded.c - everything that differs from run to run on Linux: the random bytes of auxv and
 * getrandom, the clocks (read through the vDSO, and waited on), addresses, and how a
 * parent's and a child's writes interleave. Under `zeros run --seed N` two runs print the
 * same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void line(const char *text)
{
    write(1, text, strlen(text));
}

int main(void)
{
    char out[256];
    unsigned char *at_random = (unsigned char *)getauxval(AT_RANDOM), bytes[8];
    struct timespec mono, real, raw;
    struct timeval tv;
    volatile unsigned long spin = 0;

    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", at_random[i]);
    printf("AT_RANDOM %s\n", out);
    if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes)
        return 1;
    printf("getrandom %02x%02x%02x%02x%02x%02x%02x%02x\n", bytes[0], bytes[1], bytes[2],
           bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
    for (int round = 0; round < 3; round++) {
        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
        gettimeofday(&tv, NULL);
        printf("clocks %lld.%09ld %lld.%09ld %lld.%09ld %lld.%06ld %lld\n",
               (long long)mono.tv_sec, mono.tv_nsec, (long long)real.tv_sec, real.tv_nsec,
               (long long)raw.tv_sec, raw.tv_nsec, (long long)tv.tv_sec, (long)tv.tv_usec,
               (long long)time(NULL));
        for (int i = 0; i < 200000; i++)
            spin += i;
    }
    clock_gettime(CLOCK_MONOTONIC, &mono);
    do  /* waiting for the clock to move: it must, with no kernel call in between */
        clock_gettime(CLOCK_MONOTONIC, &real);
    while ((real.tv_sec - mono.tv_sec) * 1000000000LL + real.tv_nsec - mono.tv_nsec < 1000000);
    printf("waited 1 ms on the clock\n");
    printf("malloc %p %p\n", malloc(100), malloc(1 << 20));
    fflush(stdout);
    pid_t child = fork();
    for (int i = 0; i < 30; i++) {
        sprintf(out, "%s %d\n", child ? "parent" : "child", i);
        line(out);
        for (int j = 0; j < 20000; j++)
            spin += j;
    }
    if (child) {
        int status;
        waitpid(child, &status, 0);
        printf("child status %d\n", status);
    }
    return 0;
}
