/*
 * runtime/matvec.c — a layer's products for one sample (see matvec.h).
 *
 * One kernel text, instantiated per instruction set and per number of
 * columns: rows in blocks of NB vectors, NB chosen so that the partial
 * sums of all columns (ncols * NB vectors) fill most of the registers and
 * enough independent sums are in flight to hide an add's latency; then
 * blocks of one vector; then single rows.  Measured on AMD EPYC (Zen 5),
 * 128 x 128: 1.3 us a product one at a time before (an update of y per
 * eight columns of A), 0.87 us for one column here and 0.35 us a column
 * for four.
 */
#include "runtime/matvec.h"

#include <string.h>

/* The last rows, one at a time (in the order of k, as every block). */
static void rows_left(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin,
                      size_t o)
{
    for (; o < nout; o++)
        for (int m = 0; m < ncols; m++) {
            double s = 0;
            for (size_t k = 0; k < nin; k++)
                s = s + A[k * nout + o] * x[m][k];
            y[m][o] = s;
        }
}

/* The same in float32: each term (float)A * (float)x, added in float32. */
static void rows_left_f(int ncols, double *const *y, const float *A, size_t nout, const double *const *x,
                        size_t nin, size_t o)
{
    for (; o < nout; o++)
        for (int m = 0; m < ncols; m++) {
            float s = 0;
            for (size_t k = 0; k < nin; k++)
                s = s + A[k * nout + o] * (float)x[m][k];
            y[m][o] = s;
        }
}

#if defined(__GNUC__)

#define UNROLL _Pragma("GCC unroll 16")

/* Rows o.. in blocks of NB vectors of L elements of type T (double, or
 * float for the float32 kernels), while a whole block fits. */
#define BLOCKS(T, V, L, M, NB)                                                     \
    for (; o + (size_t)(L) * (NB) <= nout; o += (size_t)(L) * (NB)) {              \
        V acc[M][NB];                                                              \
        UNROLL for (int m = 0; m < (M); m++) UNROLL for (int b = 0; b < (NB); b++) \
            acc[m][b] = (V){0};                                                    \
        const T *a = A + o;                                                        \
        for (size_t k = 0; k < nin; k++, a += nout) {                              \
            V w[NB];                                                               \
            UNROLL for (int b = 0; b < (NB); b++) memcpy(&w[b], a + (L) * b, sizeof w[b]); \
            UNROLL for (int m = 0; m < (M); m++) {                                 \
                const T xm = (T)x[m][k];                                           \
                UNROLL for (int b = 0; b < (NB); b++) acc[m][b] = acc[m][b] + w[b] * xm; \
            }                                                                      \
        }                                                                          \
        UNROLL for (int m = 0; m < (M); m++) UNROLL for (int b = 0; b < (NB); b++) { \
            if (sizeof(T) == sizeof(double)) /* (a constant: one branch is compiled) */ \
                memcpy(y[m] + o + (size_t)(L) * b, &acc[m][b], sizeof acc[m][b]);  \
            else /* float32 sums widened */                                       \
                UNROLL for (int l = 0; l < (L); l++) y[m][o + (size_t)(L) * b + (size_t)l] = acc[m][b][l]; \
        }                                                                          \
    }

/* A kernel: A of element type T (double, or float for float32 products),
 * then the rows left one at a time by TAIL. */
#define KERNEL_OF(NAME, ATTR, T, TAIL, V, L, M, NB)                                \
    ATTR static void NAME(double *const *y, const T *restrict A, size_t nout,      \
                          const double *const *x, size_t nin)                      \
    {                                                                              \
        size_t o = 0;                                                              \
        BLOCKS(T, V, L, M, NB)                                                     \
        BLOCKS(T, V, L, M, 1)                                                      \
        TAIL(M, y, A, nout, x, nin, o);                                            \
    }
#define KERNEL(NAME, ATTR, V, L, M, NB) KERNEL_OF(NAME, ATTR, double, rows_left, V, L, M, NB)
#define KERNEL_F(NAME, ATTR, V, L, M, NB) KERNEL_OF(NAME, ATTR, float, rows_left_f, V, L, M, NB)

typedef void Kernel(double *const *, const double *restrict, size_t, const double *const *, size_t);
typedef void KernelF(double *const *, const float *restrict, size_t, const double *const *, size_t);

typedef double v2 __attribute__((vector_size(16), aligned(8)));
/* the baseline (SSE2 on x86-64): sixteen registers of two doubles */
KERNEL(base1, , v2, 2, 1, 12)
KERNEL(base2, , v2, 2, 2, 6)
KERNEL(base3, , v2, 2, 3, 4)
KERNEL(base4, , v2, 2, 4, 3)
static Kernel *const base[MATVEC_MAXCOLS] = {base1, base2, base3, base4};
typedef float f4 __attribute__((vector_size(16), aligned(4)));
KERNEL_F(fbase1, , f4, 4, 1, 12)
KERNEL_F(fbase2, , f4, 4, 2, 6)
KERNEL_F(fbase3, , f4, 4, 3, 4)
KERNEL_F(fbase4, , f4, 4, 4, 3)
static KernelF *const fbase[MATVEC_MAXCOLS] = {fbase1, fbase2, fbase3, fbase4};

#if defined(__x86_64__) && !defined(__clang__)
typedef double v4 __attribute__((vector_size(32), aligned(8)));
typedef double v8 __attribute__((vector_size(64), aligned(8)));
#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f")))
/* sixteen registers of four doubles */
KERNEL(avx2_1, AVX2, v4, 4, 1, 12)
KERNEL(avx2_2, AVX2, v4, 4, 2, 6)
KERNEL(avx2_3, AVX2, v4, 4, 3, 4)
KERNEL(avx2_4, AVX2, v4, 4, 4, 3)
/* thirty-two registers of eight doubles */
KERNEL(avx512_1, AVX512, v8, 8, 1, 16)
KERNEL(avx512_2, AVX512, v8, 8, 2, 8)
KERNEL(avx512_3, AVX512, v8, 8, 3, 5)
KERNEL(avx512_4, AVX512, v8, 8, 4, 4)
static Kernel *const avx2[MATVEC_MAXCOLS] = {avx2_1, avx2_2, avx2_3, avx2_4};
static Kernel *const avx512[MATVEC_MAXCOLS] = {avx512_1, avx512_2, avx512_3, avx512_4};
typedef float f8 __attribute__((vector_size(32), aligned(4)));
typedef float f16 __attribute__((vector_size(64), aligned(4)));
KERNEL_F(favx2_1, AVX2, f8, 8, 1, 12)
KERNEL_F(favx2_2, AVX2, f8, 8, 2, 6)
KERNEL_F(favx2_3, AVX2, f8, 8, 3, 4)
KERNEL_F(favx2_4, AVX2, f8, 8, 4, 3)
KERNEL_F(favx512_1, AVX512, f16, 16, 1, 16)
KERNEL_F(favx512_2, AVX512, f16, 16, 2, 8)
KERNEL_F(favx512_3, AVX512, f16, 16, 3, 5)
KERNEL_F(favx512_4, AVX512, f16, 16, 4, 4)
static KernelF *const favx2[MATVEC_MAXCOLS] = {favx2_1, favx2_2, favx2_3, favx2_4};
static KernelF *const favx512[MATVEC_MAXCOLS] = {favx512_1, favx512_2, favx512_3, favx512_4};
#endif

static Kernel *const *kernels(int kind, KernelF *const **f)
{
#if defined(__x86_64__) && !defined(__clang__)
    if (kind == 2) {
        int have = __builtin_cpu_supports("avx512f");
        *f = have ? favx512 : NULL;
        return have ? avx512 : NULL;
    }
    if (kind == 1) {
        int have = __builtin_cpu_supports("avx2");
        *f = have ? favx2 : NULL;
        return have ? avx2 : NULL;
    }
#endif
    *f = kind == 0 ? fbase : NULL;
    return kind == 0 ? base : NULL;
}

/* The kernels of the widest instruction set this CPU has. */
static Kernel *const *best(KernelF *const **f)
{
    Kernel *const *k = NULL;
    for (int kind = 2; kind >= 0 && !k; kind--)
        k = kernels(kind, f);
    return k;
}

void matvec_cols(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin)
{
    KernelF *const *f;
    Kernel *const *k = best(&f);
    if (ncols >= 1 && ncols <= MATVEC_MAXCOLS)
        k[ncols - 1](y, A, nout, x, nin);
}

void matvec_cols_f(int ncols, double *const *y, const float *A, size_t nout, const double *const *x, size_t nin)
{
    KernelF *const *f;
    best(&f);
    if (ncols >= 1 && ncols <= MATVEC_MAXCOLS)
        f[ncols - 1](y, A, nout, x, nin);
}

int matvec_cols_kind(int kind, int ncols, double *const *y, const double *A, const float *Af, size_t nout,
                     const double *const *x, size_t nin)
{
    KernelF *const *f;
    Kernel *const *k = kernels(kind, &f);
    if (!k || ncols < 1 || ncols > MATVEC_MAXCOLS)
        return -1;
    if (Af)
        f[ncols - 1](y, Af, nout, x, nin);
    else
        k[ncols - 1](y, A, nout, x, nin);
    return 0;
}

#else /* no vector extensions: the rows one at a time */

void matvec_cols(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin)
{
    if (ncols >= 1 && ncols <= MATVEC_MAXCOLS)
        rows_left(ncols, y, A, nout, x, nin, 0);
}

void matvec_cols_f(int ncols, double *const *y, const float *A, size_t nout, const double *const *x, size_t nin)
{
    if (ncols >= 1 && ncols <= MATVEC_MAXCOLS)
        rows_left_f(ncols, y, A, nout, x, nin, 0);
}

int matvec_cols_kind(int kind, int ncols, double *const *y, const double *A, const float *Af, size_t nout,
                     const double *const *x, size_t nin)
{
    if (kind != 0 || ncols < 1 || ncols > MATVEC_MAXCOLS)
        return -1;
    if (Af)
        rows_left_f(ncols, y, Af, nout, x, nin, 0);
    else
        rows_left(ncols, y, A, nout, x, nin, 0);
    return 0;
}

#endif
