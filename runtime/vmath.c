/*
 * runtime/vmath.c — the VM's elementary functions (see vmath.h).
 *
 * libsleef is opened with dlopen on first use, as OpenBLAS is
 * (runtime/blas.c): a run that evaluates no sine pays nothing at start.
 * Its AVX2 functions take and return __m256d, so the code that calls them
 * is compiled for AVX2 and FMA (a target attribute) and is only reached
 * after the CPU has been asked.
 */
#define _GNU_SOURCE
#include "runtime/vmath.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VMATH_X86 1
#define AVX2 __attribute__((target("avx2,fma")))
typedef __m256d (*V1)(__m256d);
typedef __m256d (*V2)(__m256d, __m256d);
#endif

#ifndef LAG_SLEEF_SONAME
#define LAG_SLEEF_SONAME "libsleef.so.3"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int use_sleef;
static int loaded; /* load() has run (a fast path around pthread_once; atomic) */
/* one value: SLEEF's scalar functions with FMA, which compute what a lane
 * of the AVX2 ones computes (checked on 2*10^5 arguments of each
 * function: tests/unit/vm_test.c, vm-7); libm's when SLEEF is not in use */
static double (*s1[VMATH_NFNS])(double, double);
#ifdef VMATH_X86
static V1 v1[VMATH_NFNS];
static V2 vpow;
static double (*d1[4])(double);
static double (*d1pow)(double, double);
static double w_sin(double x, double u) { (void)u; return d1[0](x); }
static double w_cos(double x, double u) { (void)u; return d1[1](x); }
static double w_exp(double x, double u) { (void)u; return d1[2](x); }
static double w_log(double x, double u) { (void)u; return d1[3](x); }
static double w_pow(double x, double y) { return d1pow(x, y); }

static void try_sleef(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    void *h = dlopen(LAG_SLEEF_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    static const char *const names[] = {"Sleef_sind4_u10avx2", "Sleef_cosd4_u10avx2", "Sleef_expd4_u10avx2",
                                        "Sleef_logd4_u10avx2"};
    for (int i = 0; i < 4; i++) {
        void *f = dlsym(h, names[i]);
        if (!f)
            return;
        memcpy(&v1[i], &f, sizeof f);
    }
    void *f = dlsym(h, "Sleef_powd4_u10avx2");
    if (!f)
        return;
    memcpy(&vpow, &f, sizeof f);
    static const char *const scalars[] = {"Sleef_sind1_u10purecfma", "Sleef_cosd1_u10purecfma",
                                          "Sleef_expd1_u10purecfma", "Sleef_logd1_u10purecfma"};
    for (int i = 0; i < 4; i++) {
        void *g = dlsym(h, scalars[i]);
        if (!g)
            return;
        memcpy(&d1[i], &g, sizeof g);
    }
    f = dlsym(h, "Sleef_powd1_u10purecfma");
    if (!f)
        return;
    memcpy(&d1pow, &f, sizeof f);
    s1[VMATH_SIN] = w_sin;
    s1[VMATH_COS] = w_cos;
    s1[VMATH_EXP] = w_exp;
    s1[VMATH_LOG] = w_log;
    s1[VMATH_POW] = w_pow;
    use_sleef = 1;
}

/* SLEEF's sine and cosine reduce the arguments of a vector by a method
 * chosen for the largest |x| among its lanes (below 15, its
 * TRIGRANGEMAX2; below 1e9; below 1e14, TRIGRANGEMAX; beyond, or NaN), and
 * the methods differ in the last bit: a lane's value would depend on its
 * neighbours.  So the four values of a vector are of one class; a mixed
 * four goes as one vector per class (padded with a value of the class),
 * and every value is what it is alone (tests/unit/vm_test.c, vm-7). */
static int trig_class(double x)
{
    double a = fabs(x);
    return a < 15 ? 0 : a < 1e9 ? 1 : a < 1e14 ? 2 : 3;
}

AVX2 static void trig4(V1 f, const double *x, double *y)
{
    int c[4], mixed = 0;
    for (int j = 0; j < 4; j++) {
        c[j] = trig_class(x[j]);
        mixed |= c[j] != c[0];
    }
    if (!mixed) {
        _mm256_storeu_pd(y, f(_mm256_loadu_pd(x)));
        return;
    }
    static const double pad[4] = {0, 100, 1e10, 1e15};
    for (int k = 0; k < 4; k++) {
        double a[4], r[4];
        int any = 0;
        for (int j = 0; j < 4; j++) {
            a[j] = c[j] == k ? x[j] : pad[k];
            any |= c[j] == k;
        }
        if (!any)
            continue;
        _mm256_storeu_pd(r, f(_mm256_loadu_pd(a)));
        for (int j = 0; j < 4; j++)
            if (c[j] == k)
                y[j] = r[j];
    }
}

AVX2 static void row_avx2(VmathFn fn, const double *x, const double *x2, double *y, size_t n)
{
    size_t i = 0;
    if (fn == VMATH_POW) {
        for (; i + 4 <= n; i += 4)
            _mm256_storeu_pd(y + i, vpow(_mm256_loadu_pd(x + i), _mm256_loadu_pd(x2 + i)));
    } else if (fn == VMATH_SIN || fn == VMATH_COS) {
        V1 f = v1[fn];
        for (; i + 4 <= n; i += 4)
            trig4(f, x + i, y + i);
    } else {
        V1 f = v1[fn];
        for (; i + 4 <= n; i += 4)
            _mm256_storeu_pd(y + i, f(_mm256_loadu_pd(x + i)));
    }
    for (; i < n; i++) /* the last values one by one */
        y[i] = s1[fn](x[i], x2 ? x2[i] : 0);
}
#else
static void try_sleef(void)
{
}
#endif

static double m_sin(double x, double u) { (void)u; return sin(x); }
static double m_cos(double x, double u) { (void)u; return cos(x); }
static double m_exp(double x, double u) { (void)u; return exp(x); }
static double m_log(double x, double u) { (void)u; return log(x); }
static double m_pow(double x, double y) { return pow(x, y); }

static void load(void)
{
    try_sleef();
    if (!use_sleef) {
        s1[VMATH_SIN] = m_sin;
        s1[VMATH_COS] = m_cos;
        s1[VMATH_EXP] = m_exp;
        s1[VMATH_LOG] = m_log;
        s1[VMATH_POW] = m_pow;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
}

static void ready(void)
{
    if (!__atomic_load_n(&loaded, __ATOMIC_ACQUIRE))
        pthread_once(&once, load);
}

void vmath_row(VmathFn fn, const double *x, const double *x2, double *y, size_t n)
{
    ready();
#ifdef VMATH_X86
    if (use_sleef && n >= 4) {
        row_avx2(fn, x, x2, y, n);
        return;
    }
#endif
    double (*f)(double, double) = s1[fn];
    for (size_t i = 0; i < n; i++)
        y[i] = f(x[i], x2 ? x2[i] : 0);
}

#ifdef VMATH_X86
AVX2 static void group_avx2(VmathFn fn, const double *x, double *y, int g)
{
    double a[4], r[4];
    for (int j = 0; j < 4; j++)
        a[j] = x[j < g ? j : 0]; /* the padding: the first value again, of its own class */
    __m256d v = _mm256_loadu_pd(a);
    if (fn == VMATH_SIN || fn == VMATH_COS) {
        /* one class for all four (the usual case) at the cost of three
         * comparisons; else as trig4 */
        __m256d av = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
        int m0 = _mm256_movemask_pd(_mm256_cmp_pd(av, _mm256_set1_pd(15), _CMP_LT_OQ));
        int m1 = _mm256_movemask_pd(_mm256_cmp_pd(av, _mm256_set1_pd(1e9), _CMP_LT_OQ));
        int m2 = _mm256_movemask_pd(_mm256_cmp_pd(av, _mm256_set1_pd(1e14), _CMP_LT_OQ));
        if ((m0 == 0 || m0 == 15) && (m1 == 0 || m1 == 15) && (m2 == 0 || m2 == 15))
            _mm256_storeu_pd(r, v1[fn](v));
        else {
            /* mixed: the most common class as one vector (its own values
             * as padding), the others one at a time by the scalar function,
             * which gives the same values (vm-7) at a third of a second
             * vector's latency */
            int c[4], count[4] = {0, 0, 0, 0}, major = 0;
            for (int j = 0; j < g; j++)
                count[c[j] = trig_class(a[j])]++;
            for (int k = 1; k < 4; k++)
                if (count[k] > count[major])
                    major = k;
            int first = 0;
            while (c[first] != major)
                first++;
            double b[4];
            for (int j = 0; j < 4; j++)
                b[j] = j < g && c[j] == major ? a[j] : a[first];
            _mm256_storeu_pd(r, v1[fn](_mm256_loadu_pd(b)));
            for (int j = 0; j < g; j++)
                if (c[j] != major)
                    r[j] = d1[fn](a[j]);
        }
    } else
        _mm256_storeu_pd(r, v1[fn](v));
    for (int j = 0; j < g; j++)
        y[j] = r[j];
}
#endif

void vmath_group(VmathFn fn, const double *x, double *y, int g)
{
    ready();
#ifdef VMATH_X86
    if (use_sleef && g > 1 && fn != VMATH_POW) {
        group_avx2(fn, x, y, g);
        return;
    }
#endif
    for (int j = 0; j < g; j++)
        y[j] = s1[fn](x[j], 0);
}

double vmath_one(VmathFn fn, double x, double x2)
{
    ready();
    return s1[fn](x, x2);
}

const char *vmath_kind(void)
{
    ready();
    return use_sleef ? "sleef-avx2" : "libm";
}

void *vmath_entry(VmathFn fn)
{
    ready();
    void *p;
    double (*f)(double, double) = s1[fn];
    memcpy(&p, &f, sizeof p);
    return p;
}

static void group_entry(int fn, const double *x, double *y, int g)
{
    vmath_group(fn == 0 ? VMATH_SIN : VMATH_COS, x, y, g);
}

void *vmath_group_entry(void)
{
    void *p;
    void (*f)(int, const double *, double *, int) = group_entry;
    memcpy(&p, &f, sizeof p);
    return p;
}
