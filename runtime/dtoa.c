/*
 * runtime/dtoa.c — the shortest decimal that reads back as the double
 * (see dtoa.h).
 *
 * v = m 2^e.  The reals that round to v lie between the midpoints to its
 * neighbours, (4m - 2) 2^(e-2) and (4m + 2) 2^(e-2) (the lower one
 * (4m - 1) 2^(e-2) when m = 2^52: the neighbour below is nearer), ends
 * included when m is even (round-half-even).  Scaled by 10^k = 5^k 2^k
 * these are (4m ± 2) 5^k / 2^s with s = 2 - e - k: for e in [-83, -1] and
 * k = floor(-e log10 2) + 2 <= 26 both 5^k (< 2^61) and the products
 * (< 2^116) are exact in 128 bits, and the interval is at least 10 units
 * of 10^-k wide.  Its integers [lo, hi] are the candidates; the most
 * trailing zeros any of them has, p, gives the fewest digits, and among
 * the multiples of 10^p there the one nearest v (ties to even) is the
 * answer: digits d = c / 10^p, v ~ d 10^(p - k).
 */
#include "runtime/dtoa.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t pow5[27] = {
    1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u, 1953125u, 9765625u, 48828125u, 244140625u,
    1220703125u, 6103515625u, 30517578125u, 152587890625u, 762939453125u, 3814697265625u, 19073486328125u,
    95367431640625u, 476837158203125u, 2384185791015625u, 11920928955078125u, 59604644775390625u,
    298023223876953125u, 1490116119384765625u,
};

/* digits (no trailing zeros), v = digits 10^dexp: printf's %g-like text */
static int format(int neg, uint64_t digits, int dexp, char *buf)
{
    char d[24];
    int nd = 0;
    do {
        d[nd++] = (char)('0' + digits % 10);
        digits /= 10;
    } while (digits);
    for (int i = 0; i < nd / 2; i++) { /* most significant first */
        char c = d[i];
        d[i] = d[nd - 1 - i];
        d[nd - 1 - i] = c;
    }
    int x = nd - 1 + dexp, k = 0; /* the scientific exponent */
    if (neg)
        buf[k++] = '-';
    if (x < -4 || x >= 17) {
        buf[k++] = d[0];
        if (nd > 1) {
            buf[k++] = '.';
            memcpy(buf + k, d + 1, (size_t)(nd - 1));
            k += nd - 1;
        }
        buf[k++] = 'e';
        buf[k++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            buf[k++] = (char)('0' + ax / 100);
        buf[k++] = (char)('0' + ax / 10 % 10);
        buf[k++] = (char)('0' + ax % 10);
    } else if (dexp >= 0) {
        memcpy(buf + k, d, (size_t)nd);
        k += nd;
        for (int i = 0; i < dexp; i++)
            buf[k++] = '0';
    } else if (x >= 0) {
        memcpy(buf + k, d, (size_t)(x + 1));
        k += x + 1;
        buf[k++] = '.';
        memcpy(buf + k, d + x + 1, (size_t)(nd - x - 1));
        k += nd - x - 1;
    } else {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int i = 0; i < -x - 1; i++)
            buf[k++] = '0';
        memcpy(buf + k, d, (size_t)nd);
        k += nd;
    }
    buf[k] = 0;
    return k;
}

/* Whether digits 10^dexp reads back as v. */
static int reads_back(double v, uint64_t digits, int dexp)
{
    char t[48];
    snprintf(t, sizeof t, "%llue%d", (unsigned long long)digits, dexp);
    return strtod(t, NULL) == v;
}

/* Outside the exact range: the fewest digits that read back as v, tried
 * with strtod.  For each length, printf's correctly rounded digits D are
 * the nearest of that length; when they do not read back, D + 1 or D - 1
 * may (a power of two's interval is lopsided: it reaches further up than
 * down), and then no other decimal of that length does.  A double's
 * interval is narrower than the spacing of 15-digit decimals, so lengths
 * below 15 need no trying, except for a subnormal (fewer bits, a wider
 * interval): there every length from 1 is tried. */
static int slow(double v, char *buf)
{
    char t[40];
    int neg = v < 0;
    double a = fabs(v);
    for (int prec = a < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, a);
        uint64_t d = 0;
        const char *p = t;
        for (; *p && *p != 'e'; p++)
            if (*p != '.')
                d = d * 10 + (uint64_t)(*p - '0');
        int dexp = atoi(p + 1) - (prec - 1);
        uint64_t cand[3] = {d, d + 1, d - 1}, got = 0;
        for (int c = 0; c < 3 && !got; c++)
            if (cand[c] > 0 && reads_back(a, cand[c], dexp))
                got = cand[c];
        if (!got && prec < 17)
            continue;
        if (!got)
            got = d; /* 17 correctly rounded digits always read back */
        while (got && got % 10 == 0) {
            got /= 10;
            dexp++;
        }
        return format(neg, got, dexp, buf);
    }
    return format(neg, 0, 0, buf); /* not reached */
}

int dtoa_short(double v, char *buf)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63);
    if (isnan(v))
        return (int)(memcpy(buf, "nan", 4), 3);
    if (isinf(v))
        return neg ? (memcpy(buf, "-inf", 5), 4) : (memcpy(buf, "inf", 4), 3);
    if (v == 0)
        return neg ? (memcpy(buf, "-0", 3), 2) : (memcpy(buf, "0", 2), 1);
    uint64_t mant = bits & ((UINT64_C(1) << 52) - 1);
    int be = (int)((bits >> 52) & 0x7ff);
    if (be == 0)
        return slow(v, buf);
    uint64_t m = mant | (UINT64_C(1) << 52);
    int e = be - 1075;
    if (e < -83 || e > -1)
        return slow(v, buf);
    int k = (int)(((unsigned)(-e) * 78913u) >> 18) + 2; /* floor(-e log10 2) + 2, exact for -e <= 1650 */
    int s = 2 - e - k;
    const uint64_t x5 = pow5[k];
    const u128 mask = ((u128)1 << s) - 1;
    const u128 vx = (u128)(4 * m) * x5, rx = (u128)(4 * m + 2) * x5;
    const u128 lx = (u128)(4 * m - (mant == 0 && be > 1 ? 1 : 2)) * x5;
    const int even = (m & 1) == 0;
    uint64_t lo = even ? (uint64_t)((lx + mask) >> s) : (uint64_t)(lx >> s) + 1;
    uint64_t hi = even || (rx & mask) ? (uint64_t)(rx >> s) : (uint64_t)(rx >> s) - 1;
    /* the most trailing zeros in [lo, hi] */
    uint64_t pw = 1;
    int p = 0;
    while (p < 19 && hi / (pw * 10) * (pw * 10) >= lo) {
        pw *= 10;
        p++;
    }
    /* the multiple of 10^p nearest v (ties to an even digit), inside */
    uint64_t xint = (uint64_t)(vx >> s), base = xint / pw * pw, c = base;
    u128 twice = 2 * (vx - ((u128)base << s)), pq = (u128)pw << s;
    if (twice > pq || (twice == pq && (base / pw) % 2 == 1))
        c = base + pw;
    if (c < lo)
        c += pw;
    if (c > hi)
        c -= pw;
    uint64_t digits = c / pw;
    int dexp = p - k;
    while (digits && digits % 10 == 0) { /* (none: p is the most; kept as a guard) */
        digits /= 10;
        dexp++;
    }
    return format(neg, digits, dexp, buf);
}
