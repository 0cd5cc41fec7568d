/*
 * runtime/vmath.h — sin, cos, exp, log and pow for the VM and compiled
 * programs: SLEEF's 1-ulp vector functions (Shibata and Petrogalli, IEEE
 * TPDS 31, 2020), four values at a time with AVX2 and FMA, loaded from
 * libsleef when first used; libm's where the CPU has no AVX2 and FMA or
 * libsleef cannot be loaded.
 *
 * A value is computed the same way alone and in a batch (one lane of the
 * same vector function), so a trajectory of an ensemble equals its single
 * run bit for bit, in the VM and in compiled code alike.  Measured on AMD
 * EPYC (docs/runtime.md): libm's sin 19.5 ns, SLEEF's 2.5 ns a value, with
 * at most 1 ulp from the correctly rounded value over the arguments tried.
 */
#ifndef LAG_VMATH_H
#define LAG_VMATH_H

#include <stddef.h>

typedef enum VmathFn { VMATH_SIN, VMATH_COS, VMATH_EXP, VMATH_LOG, VMATH_POW, VMATH_NFNS } VmathFn;

/* y[i] := fn(x[i]) (pow: fn(x[i], x2[i])), i < n; y may be x. */
void vmath_row(VmathFn fn, const double *x, const double *x2, double *y, size_t n);
/* g <= 4 values of fn (not pow) as one vector: what vmath_one gives for
 * each, at the cost of about one. */
void vmath_group(VmathFn fn, const double *x, double *y, int g);
/* One value, as vmath_row computes it. */
double vmath_one(VmathFn fn, double x, double x2);
/* "sleef-avx2" or "libm": which functions are in use (loads them). */
const char *vmath_kind(void);
/* The scalar entry points of compiled code (runtime/native.c): each fn
 * as double (*)(double, double). */
void *vmath_entry(VmathFn fn);
/* vmath_group for compiled code, as void (*)(int fn, const double *x,
 * double *y, int g): fn 0 for sin, 1 for cos. */
void *vmath_group_entry(void);

#endif
