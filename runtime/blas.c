/*
 * runtime/blas.c — matrix products through OpenBLAS, loaded on first use
 * (see blas.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/blas.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

/* cblas_dgemm's signature, with the CBLAS enumerations as ints (row-major
 * 101, no transpose 111, transpose 112). */
typedef void (*DgemmFn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                        double, double *, int);
typedef void (*ThreadsFn)(int);

static int tried;
static DgemmFn dgemm;
static ThreadsFn set_threads;

static void load(void)
{
    if (tried)
        return;
    tried = 1;
#if defined(__GNUC__) && defined(__x86_64__)
    /* OpenBLAS picks its kernels from the CPU's model number, and in a
     * virtual machine that reports a generic model it falls back to the
     * slowest (Prescott, SSE3): half the speed of its AVX-512 kernels
     * here.  Name the kernels by the instruction sets the CPU has, unless
     * the user chose (OPENBLAS_CORETYPE is read when the library loads). */
    if (!getenv("OPENBLAS_CORETYPE")) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
        else if (__builtin_cpu_supports("avx2"))
            setenv("OPENBLAS_CORETYPE", "Haswell", 0);
    }
#endif
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
    for (size_t i = 0; i < sizeof names / sizeof *names && !dgemm; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            continue;
        dgemm = (DgemmFn)dlsym(h, "cblas_dgemm");
        set_threads = (ThreadsFn)dlsym(h, "openblas_set_num_threads");
        if (!dgemm)
            dlclose(h);
    }
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
    for (int i = 0; i < m; i++) {
        double *c = C + (size_t)i * (size_t)ldc;
        for (int j = 0; j < n; j++)
            c[j] = beta == 0 ? 0 : beta * c[j];
        for (int p = 0; p < k; p++) {
            double a = alpha * (ta ? A[(size_t)p * (size_t)lda + (size_t)i] : A[(size_t)i * (size_t)lda + (size_t)p]);
            if (a == 0)
                continue;
            if (tb)
                for (int j = 0; j < n; j++)
                    c[j] += a * B[(size_t)j * (size_t)ldb + (size_t)p];
            else
                for (int j = 0; j < n; j++)
                    c[j] += a * B[(size_t)p * (size_t)ldb + (size_t)j];
        }
    }
}
