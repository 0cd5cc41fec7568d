/*
 * tests/unit/tap.h — what every unit test needs: TAP lines, a worst-error
 * accumulator that cannot pass a NaN, and a reproducible random source
 * (xorshift64, Marsaglia 2003).  Define TAP_SEED before including it; each
 * test keeps its own sequence.
 */
#ifndef LAG_TAP_H
#define LAG_TAP_H

#include <math.h>
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

/*
 * worst_update(&worst, e): worst = max(worst, e), except that a NaN or an
 * infinite e sets worst to +inf for good, so that both `worst < tol` and
 * `!(worst > tol)` fail.  (`e > worst ? e : worst` and fmax drop a NaN:
 * a test accumulating with them passes on a NaN result.)  Every worst
 * error of the unit tests goes through here.
 */
static void worst_update(double *worst, double e)
{
    if (!isfinite(e) || !isfinite(*worst))
        *worst = INFINITY;
    else if (e > *worst)
        *worst = e;
}

/* The helper checks itself: a NaN or an infinity must latch. */
static int worst_selfcheck(void)
{
    double w = 0;
    worst_update(&w, 1e-3);
    worst_update(&w, NAN);
    worst_update(&w, 1e-9);
    double v = 0;
    worst_update(&v, -INFINITY);
    return w == INFINITY && v == INFINITY && !(w < 1);
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
