/*
 * tests/unit/dtoa_test.c — runtime/dtoa.h against strtod and printf (TAP).
 *
 * dtoa-1: edge cases (zeros, the smallest subnormal, DBL_MIN, DBL_MAX,
 *         powers of two, whose rounding interval is lopsided, 0.1, 0.3,
 *         integers, the ends of the exact range) read back bit for bit.
 * dtoa-2: N doubles (half log-uniform over [1e-12, 1e18], around the exact
 *         range, half any finite bit pattern; N = 10^6, or the first
 *         argument): every text reads back as the double (strtod, bit for
 *         bit); no decimal with one digit fewer does (the correctly
 *         rounded one and its two neighbours, tried with strtod); and when
 *         printf's correctly rounded digits of the same length read back,
 *         they are the text's (2^-24, whose interval is lopsided, reads
 *         back with 16 digits where printf's 16 do not: the edge cases
 *         include it).
 * dtoa-3: the text's form: 0.1, 100, 1.5e-07, 1e+22, -0, inf, nan, 123456.75.
 */
#define _DEFAULT_SOURCE /* M_PI, M_E */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/dtoa.h"

#define TAP_SEED 0x2545F4914F6CDD1Dull
#include "tests/unit/tap.h"

static int (*const unused_selfcheck)(void) __attribute__((unused)) = worst_selfcheck;

/* The significant digits of a text (no sign, point, leading or trailing zeros). */
static void digits_of(const char *s, char *d)
{
    int k = 0, started = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && (started |= *s != '0'))
            d[k++] = *s;
    while (k > 0 && d[k - 1] == '0')
        k--;
    d[k] = 0;
}

/* 0 when the text of v reads back and is the shortest that does (no
 * decimal with one digit fewer reads back: the correctly rounded one of
 * that length and its neighbours, which is all an interval narrower than
 * their spacing can hold), and, when printf's correctly rounded digits of
 * that length read back, has them; else a reason. */
static const char *check(double v, char *text)
{
    dtoa_short(v, text);
    double back = strtod(text, NULL);
    if (memcmp(&back, &v, sizeof v) != 0 && !(isnan(back) && isnan(v)))
        return "does not read back";
    if (!isfinite(v) || v == 0)
        return NULL;
    char t[40], want[24], got[24];
    digits_of(text, got);
    int len = (int)strlen(got);
    if (len > 1) {
        snprintf(t, sizeof t, "%.*e", len - 2, fabs(v));
        char dd[24];
        digits_of(t, dd);
        unsigned long long d = strtoull(dd, NULL, 10);
        int zeros = (len - 1) - (int)strlen(dd); /* trailing zeros digits_of dropped */
        for (int z = 0; z < zeros; z++)
            d *= 10;
        int x = atoi(strchr(t, 'e') + 1) - (len - 2);
        for (int c = -1; c <= 1; c++) {
            char u[48];
            snprintf(u, sizeof u, "%llue%d", d + (unsigned long long)c, x);
            if (strtod(u, NULL) == fabs(v))
                return "a shorter decimal reads back";
        }
    }
    snprintf(t, sizeof t, "%.*e", len - 1, v);
    if (strtod(t, NULL) == v) {
        digits_of(t, want);
        if (strcmp(want, got) != 0)
            return "digits differ from printf's correctly rounded ones of the same length";
    }
    return NULL;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static uint64_t rand64(void)
{
    uint64_t hi = (uint64_t)(uniform(0, 1) * 4294967296.0), lo = (uint64_t)(uniform(0, 1) * 4294967296.0);
    return hi << 32 | lo;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char text[DTOA_MAX], bad[200] = "";
    /* dtoa-1 */
    double edge[] = {0.0, -0.0, 4.9406564584124654e-324, DBL_MIN, DBL_MAX, -DBL_MAX, 0.1, 0.3, 0.2 + 0.1, 1.0,
                     2.0, 0.5, 1024.0, 9007199254740992.0, 9007199254740993.0, 4503599627370496.0,
                     4503599627370497.0, 1e15, 1e16, 1e17, 1e-9, 5e-10, 4.6566128730773926e-10, 123456789012345678.0,
                     1.7976931348623157e308, 2.2250738585072009e-308, M_PI, -M_E, 1e23, 5e-324,
                     5.9604644775390625e-08};
    int fails = 0;
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        const char *why = check(edge[i], text);
        if (why && !fails++)
            snprintf(bad, sizeof bad, "%.17g -> %s: %s", edge[i], text, why);
    }
    for (int k = -1074; k <= 1023; k++) { /* every power of two, and its neighbours */
        double p = ldexp(1.0, k);
        double vs[3] = {p, nextafter(p, 0), nextafter(p, INFINITY)};
        for (int j = 0; j < 3; j++) {
            const char *why = check(vs[j], text);
            if (why && !fails++)
                snprintf(bad, sizeof bad, "%.17g -> %s: %s", vs[j], text, why);
        }
    }
    for (int i = 1; i <= 100000; i++) {
        const char *why = check((double)i, text);
        if (!why)
            why = check(i / 1000.0, text);
        if (why && !fails++)
            snprintf(bad, sizeof bad, "%d -> %s: %s", i, text, why);
    }
    ok(fails == 0, "dtoa-1 edge cases, every power of two and its neighbours, integers and thousandths: the "
       "shortest text that reads back (%d wrong%s%s)", fails, fails ? ": " : "", bad);

    /* dtoa-2 */
    fails = 0;
    long fast = 0;
    for (long i = 0; i < n; i++) {
        double v;
        if (i % 2 == 0) {
            v = pow(10, uniform(-12, 18));
            if (i % 4 == 0)
                v = -v;
        } else {
            do
                v = from_bits(rand64());
            while (!isfinite(v));
        }
        fast += fabs(v) > 4.7e-10 && fabs(v) < 4.5e15;
        const char *why = check(v, text);
        if (why && !fails++)
            snprintf(bad, sizeof bad, "%.17g -> %s: %s", v, text, why);
    }
    ok(fails == 0, "dtoa-2 %ld doubles (%ld in the exact range): each reads back bit for bit, no shorter decimal does, "
       "printf's digits where they read back (%d wrong%s%s)", n, fast, fails, fails ? ": " : "", bad);

    /* dtoa-3 */
    const struct {
        double v;
        const char *text;
    } forms[] = {{0.1, "0.1"}, {100, "100"}, {1.5e-7, "1.5e-07"}, {1e22, "1e+22"}, {-0.0, "-0"},
                 {INFINITY, "inf"}, {NAN, "nan"}, {123456.75, "123456.75"}, {-2.5e-5, "-2.5e-05"},
                 {1e16, "10000000000000000"}, {1e17, "1e+17"}, {1.25e-300, "1.25e-300"}};
    int wrong = 0;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        dtoa_short(forms[i].v, text);
        if (strcmp(text, forms[i].text) != 0 && !wrong++)
            snprintf(bad, sizeof bad, "%s where %s is wanted", text, forms[i].text);
    }
    ok(wrong == 0, "dtoa-3 the text's form (%d wrong%s%s)", wrong, wrong ? ": " : "", bad);
    printf("1..%d\n", test_no);
    return 0;
}
