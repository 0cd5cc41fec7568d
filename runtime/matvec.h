/*
 * runtime/matvec.h — a layer's products for one sample: up to four
 * matrix-vector products with the same matrix in one pass over it.
 *
 * y[m][o] := sum over k < nin of A[k*nout + o] * x[m][k], m < ncols,
 * the terms added one at a time in the order of k from 0 (the first is
 * 0 + A*x), a separate multiply and add each: what the VM's batch loops
 * and its one-column loop compute, bit for bit.  A is the transpose of a
 * layer's weights for W x (IrTensor.wt) or the weights themselves for
 * W^T x.  No y[m] may overlap any x[m'].
 *
 * The outputs are kept in vector registers while A streams past (a block
 * of rows, its partial sums, all of k), so the matrix is read once for
 * ncols products and each sum has no dependence on the others: the speed
 * of the CPU's multiply and add units rather than of an add's latency.
 * Compiled for AVX-512, AVX2 and the baseline on x86-64 (chosen once, by
 * what the CPU has); elsewhere for the baseline.
 */
#ifndef LAG_MATVEC_H
#define LAG_MATVEC_H

#include <stddef.h>

enum { MATVEC_MAXCOLS = 4 };

void matvec_cols(int ncols, double *const *y, const double *A, size_t nout, const double *const *x, size_t nin);

/* The float32 products of `precision single` (runtime/ir.h: ir_set_single):
 * A in float32, each x[m][k] rounded to float32, each term's product and
 * sum in float32 in the same order, y[m][o] the float32 sum widened. */
void matvec_cols_f(int ncols, double *const *y, const float *A, size_t nout, const double *const *x, size_t nin);

/* Either with one instruction set's kernels (tests): kind 0 the baseline,
 * 1 AVX2, 2 AVX-512; the float32 ones when Af is not NULL.  Returns -1
 * (nothing done) when this build or CPU has not got them. */
int matvec_cols_kind(int kind, int ncols, double *const *y, const double *A, const float *Af, size_t nout,
                     const double *const *x, size_t nin);

#endif
