/*
 * runtime/adjoint.h — reverse-mode derivatives of a program with respect
 * to its tensors (the parameters of its networks), for a batch.
 *
 * The program must be a tape (lang/lower.h: lower_rhs_tape): every value
 * keeps its register, so after vm_run the VM's registers hold everything
 * the reverse sweep needs.  The sweep walks the instructions backwards,
 * one loop over the batch each, and the products of network layers become
 * matrix products (runtime/blas.h): a layer's weights get ybar x^T summed
 * over the whole batch in one product.
 */
#ifndef LAG_ADJOINT_H
#define LAG_ADJOINT_H

#include <stddef.h>

#include "runtime/ir.h"
#include "runtime/vm.h"

typedef struct Adjoint Adjoint;

/* Scratch for reverse sweeps of p over batches of up to cap samples; NULL
 * with a message in err when p is not a tape or uses an instruction the
 * sweep cannot differentiate. */
Adjoint *adj_alloc(const IrProgram *p, int cap, char *err, size_t errlen);
void adj_free(Adjoint *A); /* adj_free(NULL) is a no-op */

/* After vm_run(vm, p, B, ...) succeeded: add to grad[t] (tensor t's rows x
 * cols, row-major) the derivative of sum_s sum_o outbar[s*nout + o] *
 * out[s][o] with respect to tensor t, for every tensor of p. */
void adj_run(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar,
             double *const *grad);
/* The same, but grad[t] with fresh[t] set is written rather than added to
 * (its old contents ignored: no zeroing first; zeroed when nothing depends
 * on tensor t); every fresh[t] is 0 on return. */
void adj_run_fresh(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar, double *const *grad,
                   unsigned char *fresh);

#endif
