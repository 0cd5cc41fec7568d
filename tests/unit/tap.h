/*
 * tests/unit/tap.h — what every unit test needs: TAP lines and a
 * reproducible random source (xorshift64, Marsaglia 2003).  Define
 * TAP_SEED before including it; each test keeps its own sequence.
 */
#ifndef LAG_TAP_H
#define LAG_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int test_no;

/* "ok N - message" or "not ok N - message" */
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++test_no);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static unsigned long long rng_state = TAP_SEED;

/* A uniform draw from [a, b). */
static double uniform(double a, double b)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return a + (b - a) * (double)(rng_state >> 11) / 9007199254740992.0;
}

#endif
