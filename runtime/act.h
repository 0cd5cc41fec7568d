/*
 * runtime/act.h — the activation functions and their derivatives, as
 * inline formulas shared by the scalar evaluator (ir_act_eval, which the
 * symbolic core uses too) and the VM's batch loops, so both give the same
 * bits.
 *
 * exp is computed here rather than by libm so that a loop over a batch
 * compiles to vector instructions: Cody and Waite's reduction x = k ln2 + r
 * with |r| <= ln2/2 (ln2 split in two so k ln2 is exact), e^r by its Taylor
 * polynomial to degree 13 (remainder below 1e-17 relative), and 2^k built
 * in the exponent bits.  log1p(e) for e in [0, 1] (softplus) reduces
 * 1 + e to m in [sqrt(1/2), sqrt(2)], takes log m = 2 atanh(s), s =
 * (m - 1)/(m + 1), |s| < 0.172, by its series to s^23, and corrects the
 * rounding of 1 + e by (e - (u - 1))/u.  Both are within a few units in
 * the last place of libm's.
 */
#ifndef LAG_ACT_H
#define LAG_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ACT_INLINE static inline __attribute__((always_inline))
#else
#define ACT_INLINE static inline
#endif

ACT_INLINE double act_exp(double x)
{
    x = x < -708.0 ? -708.0 : x > 709.0 ? 709.0 : x;
    const double shifter = 0x1.8p52;
    double kd = x * 0x1.71547652b82fep0 + shifter;
    uint64_t kb;
    memcpy(&kb, &kd, sizeof kb);
    kd -= shifter;
    double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* k sits in the low bits of kd's representation (kd = 1.5 2^52 + k) */
    uint64_t sb = (kb - 0x4338000000000000u + 1023u) << 52;
    double scale;
    memcpy(&scale, &sb, sizeof scale);
    return p * scale;
}

/* log(1 + e) for 0 <= e <= 1. */
ACT_INLINE double act_log1p01(double e)
{
    double u = 1 + e;
    int big = u > 1.4142135623730951;
    double m = big ? 0.5 * u : u;
    double s = (m - 1) / (m + 1), z = s * s;
    double p = 1.0 / 23;
    p = p * z + 1.0 / 21;
    p = p * z + 1.0 / 19;
    p = p * z + 1.0 / 17;
    p = p * z + 1.0 / 15;
    p = p * z + 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    p = p * z + 1;
    double lg = 2 * s * p + (big ? 0.6931471805599453 : 0);
    return lg + (e - (u - 1)) / u;
}

/* The k-th derivative (0 <= k <= 4) of activation act (IrAct's order:
 * softplus, tanh, sigmoid, relu2, relu) at x. */
ACT_INLINE double act_value(int act, int k, double x)
{
    switch (act) {
    case 0: /* softplus log(1 + e^x); its derivatives are the sigmoid's */
    case 2: { /* sigmoid */
        double e = act_exp(-fabs(x));
        if (act == 0 && k == 0)
            return (x > 0 ? x : 0) + act_log1p01(e);
        if (act == 0)
            k--;
        double s = (x >= 0 ? 1 : e) / (1 + e), d = s * (1 - s);
        switch (k) {
        case 0: return s;
        case 1: return d;
        case 2: return d * (1 - 2 * s);
        case 3: return d * (1 - 6 * s + 6 * s * s);
        case 4: return d * (1 - 14 * s + 36 * s * s - 24 * s * s * s);
        default: return NAN;
        }
    }
    case 1: { /* tanh */
        double t = tanh(x), u = 1 - t * t;
        switch (k) {
        case 0: return t;
        case 1: return u;
        case 2: return -2 * t * u;
        case 3: return u * (6 * t * t - 2);
        case 4: return 8 * t * u * (2 - 3 * t * t);
        default: return NAN;
        }
    }
    case 3: /* relu2: max(0, x)^2 */
        return x <= 0 ? 0 : k == 0 ? x * x : k == 1 ? 2 * x : k == 2 ? 2 : 0;
    case 4: /* relu */
        return x <= 0 ? 0 : k == 0 ? x : k == 1 ? 1 : 0;
    }
    return NAN;
}

#endif
