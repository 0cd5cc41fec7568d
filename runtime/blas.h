/*
 * runtime/blas.h — matrix products for batches of network layers.
 *
 * OpenBLAS is loaded the first time a product is asked for (dlopen), so a
 * run that never needs one (every analytic system) starts without it; when
 * it cannot be loaded, plain loops give the same products, slower, and a
 * warning says so once on stderr.  $LAG_OPENBLAS names another library to
 * load in place of libopenblas.so.0.
 */
#ifndef LAG_BLAS_H
#define LAG_BLAS_H

/* C := alpha op(A) op(B) + beta C for row-major matrices: op(A) is m x k,
 * op(B) k x n, C m x n; ta, tb: whether op transposes. */
void blas_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda,
               const double *B, int ldb, double beta, double *C, int ldc);

/* The same in float32 (cblas_sgemm). */
void blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc);

/* Limit OpenBLAS to n threads (n >= 1); 0 when applied, -1 when OpenBLAS
 * is not loaded. */
int blas_threads(int n);

/* "OpenBLAS" or "loops": what blas_gemm uses (loading it if need be). */
const char *blas_backend(void);

/* 1 when OpenBLAS could not be loaded and plain loops run (warned once on
 * stderr), else 0 (loading it if need be). */
int blas_fallback(void);

#endif
