/* Floating point: x87 and libm, bit for bit: division, sums, sqrt, exp, log, sin, pow,
   printf and strtod round trips, long double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    volatile double third = 1.0 / 3.0;
    printf("%a %.17g\n", third, third);
    double basel = 0; for (int i = 1; i <= 100000; i++) basel += 1.0 / ((double)i * i);
    printf("basel %.15f\n", basel);
    float f = 0; for (int i = 0; i < 1000; i++) f += 0.1f;
    printf("float sum %.9g\n", f);
    printf("sqrt %.17g exp %.17g log %.17g\n", sqrt(2.0), exp(1.0), log(10.0));
    printf("sin %.17g pow %.17g atan2 %.17g\n", sin(1.0), pow(2.0, 0.5), atan2(1.0, 2.0));
    long double ld = 1.0L / 7;
    printf("long double %.20Lg\n", ld);
    printf("strtod %.17g %a\n", strtod("0.1", 0), strtod("1e-300", 0));
    printf("inf %f nan %f\n", 1.0 / 0.0 * (third > 0), sqrt(-1.0 * (third > 0)) * 0 + NAN);
    printf("rint %.1f floor %.1f ceil %.1f\n", rint(2.5), floor(-2.5), ceil(-2.5));
    return 0;
}
