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

#if defined(__GNUC__)

#define UNROLL _Pragma("GCC unroll 16")

/* Rows o.. in blocks of NB vectors of L doubles, while a whole block fits. */
#define BLOCKS(V, L, M, NB)                                                        \
    for (; o + (size_t)(L) * (NB) <= nout; o += (size_t)(L) * (NB)) {              \
        V acc[M][NB];                                                              \
        UNROLL for (int m = 0; m < (M); m++) UNROLL for (int b = 0; b < (NB); b++) \
            acc[m][b] = (V){0};                                                    \
        const double *a = A + o;                                                   \
        for (size_t k = 0; k < nin; k++, a += nout) {                              \
            V w[NB];                                                               \
            UNROLL for (int b = 0; b < (NB); b++) memcpy(&w[b], a + (L) * b, sizeof w[b]); \
            UNROLL for (int m = 0; m < (M); m++) {                                 \
                const double xm = x[m][k];                                         \
                UNROLL for (int b = 0; b < (NB); b++) acc[m][b] = acc[m][b] + w[b] * xm; \
            }                                                                      \
        }                                                                          \
        UNROLL for (int m = 0; m < (M); m++) UNROLL for (int b = 0; b < (NB); b++) \
            memcpy(y[m] + o + (L) * b, &acc[m][b], sizeof acc[m][b]);              \
    }

#define KERNEL(NAME, ATTR, V, L, M, NB)                                            \
    ATTR static void NAME(double *const *y, const double *restrict A, size_t nout, \
                          const double *const *x, size_t nin)                      \
    {                                                                              \
        size_t o = 0;                                                              \
        BLOCKS(V, L, M, NB)                                                        \
        BLOCKS(V, L, M, 1)                                                         \
        rows_left(M, y, A, nout, x, nin, o);                                       \
    }

typedef void Kernel(double *const *, const double *restrict, size_t, const double *const *, size_t);

typedef double v2 __attribute__((vector_size(16), aligned(8)));
/* the baseline (SSE2 on x86-64): sixteen registers of two doubles */
KERNEL(base1, , v2, 2, 1, 12)
KERNEL(base2, , v2, 2, 2, 6)
KERNEL(base3, , v2, 2, 3, 4)
KERNEL(base4, , v2, 2, 4, 3)
static Kernel *const base[MATVEC_MAXCOLS] = {base1, base2, base3, base4};

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
#endif

static Kernel *const *kernels(int kind)
{
#if defined(__x86_64__) && !defined(__clang__)
    if (kind == 2)
        return __builtin_cpu_supports("avx512f") ? avx512 : NULL;
    if (kind == 1)
        return __builtin_cpu_supports("avx2") ? avx2 : NULL;
#endif
    return kind == 0 ? base : NULL;
}

void matvec_cols(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin)
{
    if (ncols < 1 || ncols > MATVEC_MAXCOLS)
        return;
    Kernel *const *k = NULL;
    for (int kind = 2; kind >= 0 && !k; kind--)
        k = kernels(kind);
    k[ncols - 1](y, A, nout, x, nin);
}

int matvec_cols_kind(int kind, int ncols, double *const *y, const double *A, size_t nout, const double *const *x,
                     size_t nin)
{
    Kernel *const *k = kernels(kind);
    if (!k || ncols < 1 || ncols > MATVEC_MAXCOLS)
        return -1;
    k[ncols - 1](y, A, nout, x, nin);
    return 0;
}

#else /* no vector extensions: the rows one at a time */

void matvec_cols(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin)
{
    if (ncols >= 1 && ncols <= MATVEC_MAXCOLS)
        rows_left(ncols, y, A, nout, x, nin, 0);
}

int matvec_cols_kind(int kind, int ncols, double *const *y, const double *A, size_t nout, const double *const *x,
                     size_t nin)
{
    if (kind != 0 || ncols < 1 || ncols > MATVEC_MAXCOLS)
        return -1;
    rows_left(ncols, y, A, nout, x, nin, 0);
    return 0;
}

#endif
