/* Time: the clocks move forward and agree with each other; nanosleep sleeps (checked, not
   printed: the values differ from run to run). */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
int main(void) {
    struct timespec a, b, r; struct timeval tv;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec req = {0, 20 * 1000 * 1000};
    nanosleep(&req, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    printf("slept at least 20 ms: %d\n", ms >= 20 && ms < 5000);
    clock_gettime(CLOCK_REALTIME, &r); gettimeofday(&tv, 0);
    time_t t = time(0);
    printf("realtime after 2020: %d, clocks agree: %d %d\n", r.tv_sec > 1577836800,
           tv.tv_sec - r.tv_sec <= 1, t - r.tv_sec <= 1);
    volatile long spin = 0; clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < 30000000; i++) spin += i;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("time moves without a syscall between: %d\n", b.tv_sec > a.tv_sec || b.tv_nsec > a.tv_nsec);
    return 0;
}
