#include <stdio.h>
#include <unistd.h>
int counter = 0;
int square(int x) { return x * x; }
int main(void) {
    int total = 0;
    for (int i = 0; i < 5; i++) { total += square(i); counter++; }
    printf("total %d\n", total);
    return 3;
}
