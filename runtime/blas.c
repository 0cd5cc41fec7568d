/*
 * runtime/blas.c — matrix products through OpenBLAS, loaded on first use
 * (see blas.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* cblas_dgemm's signature, with the CBLAS enumerations as ints (row-major
 * 101, no transpose 111, transpose 112). */
typedef void (*DgemmFn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                        double, double *, int);
typedef void (*SgemmFn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                        float *, int);
typedef void (*ThreadsFn)(int);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static DgemmFn dgemm;
static SgemmFn sgemm;
static ThreadsFn set_threads;
static int fallback; /* OpenBLAS could not be loaded: plain loops */

static void load_once(void)
{
    int set_coretype = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    /* OpenBLAS picks its kernels from the CPU's model number, and in a
     * virtual machine that reports a generic model it falls back to the
     * slowest (Prescott, SSE3): half the speed of its AVX-512 kernels
     * here.  Name the kernels by the instruction sets the CPU has, unless
     * the user chose.  OPENBLAS_CORETYPE is read when the library loads,
     * so it is set for the dlopen only: it must not leak into the
     * environment of what lag runs later (the C compiler of --native). */
    if (!getenv("OPENBLAS_CORETYPE")) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            set_coretype = setenv("OPENBLAS_CORETYPE", "SkylakeX", 0) == 0;
        else if (__builtin_cpu_supports("avx2"))
            set_coretype = setenv("OPENBLAS_CORETYPE", "Haswell", 0) == 0;
    }
#endif
    /* $LAG_OPENBLAS names the library to use instead of the system's */
    const char *own = getenv("LAG_OPENBLAS");
    const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
    int nnames = 2;
    if (own && *own) {
        names[0] = own;
        nnames = 1;
    }
    const char *why = NULL;
    for (int i = 0; i < nnames && !dgemm; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            if (!why)
                why = dlerror();
            continue;
        }
        dgemm = (DgemmFn)dlsym(h, "cblas_dgemm");
        sgemm = (SgemmFn)dlsym(h, "cblas_sgemm");
        set_threads = (ThreadsFn)dlsym(h, "openblas_set_num_threads");
        if (!dgemm || !sgemm) {
            why = "it has no cblas_dgemm or cblas_sgemm";
            dgemm = NULL;
            sgemm = NULL;
            set_threads = NULL;
            dlclose(h);
        }
    }
    if (set_coretype)
        unsetenv("OPENBLAS_CORETYPE");
    if (!dgemm) {
        fallback = 1;
        fprintf(stderr, "lag: warning: OpenBLAS cannot be loaded (%s): the matrix products of network "
                "layers run as plain loops, several times slower (install libopenblas0, or set "
                "LAG_OPENBLAS to the library)\n", why ? why : names[0]);
    }
}

static void load(void)
{
    pthread_once(&once, load_once);
}

int blas_fallback(void)
{
    load();
    return fallback;
}

const char *blas_backend(void)
{
    load();
    return dgemm ? "OpenBLAS" : "loops";
}

int blas_threads(int n)
{
    load();
    if (!set_threads)
        return -1;
    set_threads(n < 1 ? 1 : n);
    return 0;
}

/* The products as plain loops (when OpenBLAS cannot be loaded), in type T. */
#define GEMM_LOOPS(T)                                                                                      \
    for (int i = 0; i < m; i++) {                                                                          \
        T *c = C + (size_t)i * (size_t)ldc;                                                                \
        for (int j = 0; j < n; j++)                                                                        \
            c[j] = beta == 0 ? 0 : beta * c[j];                                                            \
        for (int p = 0; p < k; p++) {                                                                      \
            T a = alpha * (ta ? A[(size_t)p * (size_t)lda + (size_t)i] : A[(size_t)i * (size_t)lda + (size_t)p]); \
            if (a == 0)                                                                                    \
                continue;                                                                                  \
            if (tb)                                                                                        \
                for (int j = 0; j < n; j++)                                                                \
                    c[j] += a * B[(size_t)j * (size_t)ldb + (size_t)p];                                    \
            else                                                                                           \
                for (int j = 0; j < n; j++)                                                                \
                    c[j] += a * B[(size_t)p * (size_t)ldb + (size_t)j];                                    \
        }                                                                                                  \
    }

void blas_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
               const double *B, int ldb, double beta, double *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    load();
    if (dgemm) {
        dgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    GEMM_LOOPS(double);
}

void blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    load();
    if (sgemm) {
        sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    GEMM_LOOPS(float);
}
