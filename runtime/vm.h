/*
 * runtime/vm.h — the batched interpreter of IR programs.
 *
 * One run evaluates a program for B samples: registers hold B doubles
 * each, every instruction is a loop over the batch, and nothing is
 * allocated while running (the scratch is sized when the VM is made).
 */
#ifndef LAG_VM_H
#define LAG_VM_H

#include "runtime/ir.h"

typedef enum VmStatus {
    VM_OK = 0,
    VM_SINGULAR = 3 /* a SOLVE met a singular or non-finite matrix */
} VmStatus;

typedef struct Vm {
    int cap;          /* largest batch */
    int nregs;
    double *regs;     /* nregs x cap, register-major */
    double *work;     /* SOLVE scratch: k*k + k */
    int worklen;
    int bad_sample;   /* after VM_SINGULAR: the sample */
    const IrProgram *prepared;      /* whose prologue the registers hold... */
    const double *prepared_params;  /* ...for these parameters */
    int not_finite;   /* after VM_SINGULAR: the matrix had a NaN or infinity */
    struct VmSigmoid *sig; /* in a tape (IrProgram.tape), the sigmoid of each layer's input,
                            * computed once a run for every derivative order (and for
                            * the reverse sweep) */
    int nsig;
    unsigned gen;     /* runs so far: a cached sigmoid is valid for its own run */
    size_t soa, soa_out; /* when not 0, the inputs (outputs) of a batch are by component: input k of
                          * sample s at state[k * soa + s] (output a at out[a * soa_out + s]); the
                          * strides of vm_run are then ignored.  Batches only (cap > 1) */
    const double *times; /* when not NULL, sample s's time is times[s] (t of vm_run is ignored):
                          * a batch of trajectories, each at its own time */
    int gemm;         /* batches of network layers as matrix products (runtime/blas.h):
                       * faster, but a sample's result then depends on the batch it is in
                       * (summation order); 0 keeps every sample equal to its own run.
                       * The products read the weights directly, never the transposes
                       * ir_tensor_refresh caches */
    float *fbuf;      /* a single program's (IrProgram.single) float32 operands and results */
    size_t fbuflen;
} Vm;

/* Solve A x = f in place (x returned in f) by Gaussian elimination with
 * partial pivoting; A is k x k row-major and is overwritten.  Returns 0, or
 * -1 when A is singular (a pivot at rounding level of its largest entry)
 * or not finite (then *not_finite is set). */
int vm_lu_solve(double *A, double *f, int k, int *not_finite);

/* y[i] := the k-th derivative of activation act at x[i], i < n: the VM's
 * vectorised loop (the same values as ir_act_eval). */
void vm_act_row(IrAct act, int k, const double *x, double *y, size_t n);
/* The rows s = sigmoid(x) of the n registers from reg for samples 0..B-1
 * (stride vm->cap), computed once per run: for tapes only, where no
 * register changes during a run. */
const double *vm_sigmoid_rows(Vm *vm, int reg, int n, int B);
/* y[i] := the k-th derivative of the sigmoid (0 <= k <= 4), from s[i]. */
void vm_sigmoid_deriv(int k, const double *s, double *y, size_t n);
/* VSUM of one sample's contiguous span, as the VM computes it. */
double vm_vsum(const double *b, size_t n);
/* A VM able to run any of the programs given with batches of up to cap. */
Vm *vm_alloc(const IrProgram *const *progs, int nprogs, int cap);
void vm_free(Vm *vm); /* vm_free(NULL) is a no-op */
void vm_forget(Vm *vm);

/* Run p for B samples: sample s reads state[s*state_stride + i] and writes
 * out[s*out_stride + o].  The program's prologue (what depends only on the
 * parameters) runs once and is kept while the same program and parameter
 * array are used; call vm_forget after changing parameter values in place.
 * A VM holds one prepared program at a time: use one VM per program. */
VmStatus vm_run(Vm *vm, const IrProgram *p, int B, const double *state, int state_stride,
                double t, const double *params, double *out, int out_stride);

#endif
