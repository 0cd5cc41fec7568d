/*
 * runtime/vm.c — the batched interpreter (see vm.h).
 *
 * Registers are stored register-major (r*cap + s), so each instruction's
 * loop over the batch runs over contiguous memory the compiler can
 * vectorise.  SOLVE factors each sample's small matrix by Gaussian
 * elimination with partial pivoting.
 */
#include "runtime/vm.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/act.h"
#include "runtime/blas.h"
#include "runtime/matvec.h"
#include "runtime/mem.h"
#include "runtime/vmath.h"

/* A cached sigmoid of a span of input registers (programs that are tapes). */
struct VmSigmoid {
    int reg, n;
    unsigned gen;
    double *s; /* n x cap */
};

static float *single_buffer(Vm *vm, const IrProgram *p);

Vm *vm_alloc(const IrProgram *const *progs, int nprogs, int cap)
{
    Vm *vm = mem_xalloc(sizeof *vm);
    memset(vm, 0, sizeof *vm);
    vm->cap = cap < 1 ? 1 : cap;
    int k = 0;
    for (int i = 0; i < nprogs; i++) {
        if (progs[i]->nregs > vm->nregs)
            vm->nregs = progs[i]->nregs;
        for (int j = 0; j < progs[i]->ncode; j++)
            if (progs[i]->code[j].op == IR_SOLVE && progs[i]->code[j].k > k)
                k = progs[i]->code[j].k;
    }
    vm->regs = mem_xalloc((size_t)(vm->nregs ? vm->nregs : 1) * (size_t)vm->cap * sizeof *vm->regs);
    vm->worklen = k * k + k + 1;
    vm->work = mem_xalloc((size_t)vm->worklen * sizeof *vm->work);
    for (int i = 0; i < nprogs; i++)
        if (progs[i]->single)
            single_buffer(vm, progs[i]);
    return vm;
}

/* Room for a single program's float32 products: an input and an output
 * span of the widest layer for every sample, and a row of sums. */
static float *single_buffer(Vm *vm, const IrProgram *p)
{
    size_t dim, elems;
    ir_tensor_extent(p, &dim, &elems);
    size_t len = (2 * dim + 1) * (size_t)vm->cap;
    if (len > vm->fbuflen) {
        mem_free(vm->fbuf);
        vm->fbuf = mem_xalloc(len * sizeof *vm->fbuf);
        vm->fbuflen = len;
    }
    return vm->fbuf;
}

void vm_forget(Vm *vm)
{
    vm->prepared = NULL;
    vm->prepared_params = NULL;
}

void vm_free(Vm *vm)
{
    if (!vm)
        return;
    mem_free(vm->regs);
    mem_free(vm->work);
    mem_free(vm->fbuf);
    for (int i = 0; i < vm->nsig; i++)
        mem_free(vm->sig[i].s);
    mem_free(vm->sig);
    mem_free(vm);
}

int vm_lu_solve(double *A, double *f, int k, int *not_finite)
{
    double scale = 0;
    *not_finite = 0;
    for (int i = 0; i < k * k; i++) {
        if (!isfinite(A[i])) {
            *not_finite = 1;
            return -1;
        }
        if (fabs(A[i]) > scale)
            scale = fabs(A[i]);
    }
    for (int c = 0; c < k; c++) {
        int piv = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r * k + c]) > fabs(A[piv * k + c]))
                piv = r;
        /* a pivot at rounding level relative to the matrix: singular */
        if (!(fabs(A[piv * k + c]) > 1e-13 * scale))
            return -1;
        if (piv != c) {
            for (int j = 0; j < k; j++) {
                double t = A[c * k + j];
                A[c * k + j] = A[piv * k + j];
                A[piv * k + j] = t;
            }
            double t = f[c];
            f[c] = f[piv];
            f[piv] = t;
        }
        for (int r = c + 1; r < k; r++) {
            double m = A[r * k + c] / A[c * k + c];
            if (m == 0)
                continue;
            for (int j = c; j < k; j++)
                A[r * k + j] -= m * A[c * k + j];
            f[r] -= m * f[c];
        }
    }
    for (int i = k - 1; i >= 0; i--) {
        double v = f[i];
        for (int j = i + 1; j < k; j++)
            v -= A[i * k + j] * f[j];
        f[i] = v / A[i * k + i];
    }
    return 0;
}

/* Solve the k x k system for one sample; 0 on success. */
static int solve_one(Vm *vm, const IrProgram *p, const IrInstr *x, int s)
{
    int k = x->k;
    size_t cap = (size_t)vm->cap;
    double *A = vm->work, *f = vm->work + k * k, *R = vm->regs;
    const int32_t *mr = p->aux + x->b, *fr = p->aux + x->c, *out = p->aux + x->a;
    for (int i = 0; i < k * k; i++)
        A[i] = R[(size_t)mr[i] * cap + (size_t)s];
    for (int i = 0; i < k; i++)
        f[i] = R[(size_t)fr[i] * cap + (size_t)s];
    if (k <= 2) {
        /* 1x1 and 2x2 by Cramer's rule, with the same singularity test as
         * elimination: the determinant against the matrix's scale */
        double det = k == 1 ? A[0] : A[0] * A[3] - A[1] * A[2];
        double scale = k == 1 ? fabs(A[0]) : fmax(fmax(fabs(A[0]), fabs(A[1])), fmax(fabs(A[2]), fabs(A[3])));
        if (!isfinite(det)) {
            vm->not_finite = 1;
            return -1;
        }
        if (!(fabs(det) > 1e-13 * scale * (k == 1 ? 1 : scale))) {
            vm->not_finite = 0;
            return -1;
        }
        if (k == 1)
            R[(size_t)out[0] * cap + (size_t)s] = f[0] / det;
        else {
            double x0 = (A[3] * f[0] - A[1] * f[1]) / det, x1 = (A[0] * f[1] - A[2] * f[0]) / det;
            R[(size_t)out[0] * cap + (size_t)s] = x0;
            R[(size_t)out[1] * cap + (size_t)s] = x1;
        }
        return 0;
    }
    if (vm_lu_solve(A, f, k, &vm->not_finite) != 0)
        return -1;
    for (int i = 0; i < k; i++)
        R[(size_t)out[i] * cap + (size_t)s] = f[i];
    return 0;
}

/* The vector instructions of network layers over samples 0..B-1 of a
 * register file with stride cap (cap = B = 1 for run_one).  Register a+i
 * of sample s is R[(a+i)*cap + s]; the loops run innermost over samples, so
 * a batch is a matrix product done a row at a time. */
/* The products' inner loops are compiled twice on x86-64 with GCC: for
 * AVX2 (four doubles an instruction) and for the baseline (two), the one
 * the CPU has chosen when the program loads, both with the loop vectoriser
 * on.  No FMA: the roundings stay those of a separate multiply and add, as
 * everywhere else in the VM, so a batch still equals its samples. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VM_KERNEL                                                                  \
    __attribute__((target_clones("avx512f", "avx2", "default"),                    \
                   optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")))
#else
#define VM_KERNEL
#endif

/* y += a x over n contiguous doubles, unrolled by four so the compiler
 * pairs the independent updates into vector instructions. */
VM_KERNEL static void axpy(double *restrict y, const double *restrict x, double a, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        y[i] += x[i] * a;
        y[i + 1] += x[i + 1] * a;
        y[i + 2] += x[i + 2] * a;
        y[i + 3] += x[i + 3] * a;
    }
    for (; i < n; i++)
        y[i] += x[i] * a;
}

/* y := y + sum_c x_c a_c over the columns c < k of the row-major block x
 * (stride ld), eight columns a pass: each y[i] gets its terms in the order
 * of c, one addition after another, exactly as k calls of axpy would (so
 * the result is the same to the bit), with an eighth of the loads and
 * stores of y. */
VM_KERNEL static void axpy_block(double *restrict y, const double *restrict x, size_t ld, const double *a,
                       size_t k, size_t n)
{
    size_t c = 0;
    for (; c + 8 <= k; c += 8) {
        const double *x0 = x + c * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        const double *x4 = x3 + ld, *x5 = x4 + ld, *x6 = x5 + ld, *x7 = x6 + ld;
        const double a0 = a[c], a1 = a[c + 1], a2 = a[c + 2], a3 = a[c + 3];
        const double a4 = a[c + 4], a5 = a[c + 5], a6 = a[c + 6], a7 = a[c + 7];
        for (size_t i = 0; i < n; i++)
            y[i] = (((((((y[i] + x0[i] * a0) + x1[i] * a1) + x2[i] * a2) + x3[i] * a3) + x4[i] * a4) +
                     x5[i] * a5) + x6[i] * a6) + x7[i] * a7;
    }
    for (; c + 4 <= k; c += 4) {
        const double *x0 = x + c * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        const double a0 = a[c], a1 = a[c + 1], a2 = a[c + 2], a3 = a[c + 3];
        for (size_t i = 0; i < n; i++)
            y[i] = (((y[i] + x0[i] * a0) + x1[i] * a1) + x2[i] * a2) + x3[i] * a3;
    }
    for (; c < k; c++)
        axpy(y, x + c * ld, a[c], n);
}

/* y[i] := act^(k)(x[i]) over a row: the formulas of runtime/act.h, in a
 * loop per case so that each compiles to vector instructions. */
#define ACT_LOOP(expr)                                                             \
    for (size_t i = 0; i < n; i++) {                                               \
        const double xi = x[i], e = act_exp(-fabs(xi));                            \
        const double s = (xi >= 0 ? 1 : e) / (1 + e), d = s * (1 - s);             \
        (void)d;                                                                   \
        y[i] = (expr);                                                             \
    }                                                                              \
    return
VM_KERNEL static void act_row(int act, int k, const double *restrict x, double *restrict y, size_t n)
{
    if (act == IR_ACT_SOFTPLUS && k == 0) {
        for (size_t i = 0; i < n; i++) {
            const double xi = x[i];
            y[i] = (xi > 0 ? xi : 0) + act_log1p01(act_exp(-fabs(xi)));
        }
        return;
    }
    if (act == IR_ACT_SOFTPLUS || act == IR_ACT_SIGMOID) {
        switch (act == IR_ACT_SOFTPLUS ? k - 1 : k) {
        case 0: ACT_LOOP(s);
        case 1: ACT_LOOP(d);
        case 2: ACT_LOOP(d * (1 - 2 * s));
        case 3: ACT_LOOP(d * (1 - 6 * s + 6 * s * s));
        case 4: ACT_LOOP(d * (1 - 14 * s + 36 * s * s - 24 * s * s * s));
        default: break;
        }
    }
    for (size_t i = 0; i < n; i++)
        y[i] = act_value(act, k, x[i]);
}
#undef ACT_LOOP

void vm_act_row(IrAct act, int k, const double *x, double *y, size_t n)
{
    act_row((int)act, k, x, y, n);
}

VM_KERNEL static void sigmoid_deriv(int k, const double *restrict s, double *restrict y, size_t n)
{
#define POLY(expr)                                                                 \
    for (size_t i = 0; i < n; i++) {                                               \
        const double si = s[i], d = si * (1 - si);                                 \
        (void)d;                                                                   \
        y[i] = (expr);                                                             \
    }                                                                              \
    return
    switch (k) {
    case 0: POLY(si);
    case 1: POLY(d);
    case 2: POLY(d * (1 - 2 * si));
    case 3: POLY(d * (1 - 6 * si + 6 * si * si));
    case 4: POLY(d * (1 - 14 * si + 36 * si * si - 24 * si * si * si));
    default: POLY(NAN);
    }
#undef POLY
}

void vm_sigmoid_deriv(int k, const double *s, double *y, size_t n)
{
    sigmoid_deriv(k, s, y, n);
}

const double *vm_sigmoid_rows(Vm *vm, int reg, int n, int B)
{
    const size_t cap = (size_t)vm->cap;
    struct VmSigmoid *e = NULL;
    for (int i = 0; i < vm->nsig && !e; i++)
        if (vm->sig[i].reg == reg && vm->sig[i].n == n)
            e = &vm->sig[i];
    if (e && e->gen == vm->gen)
        return e->s;
    if (!e) {
        vm->sig = mem_xrealloc(vm->sig, (size_t)(vm->nsig + 1) * sizeof *vm->sig);
        e = &vm->sig[vm->nsig++];
        e->reg = reg;
        e->n = n;
        e->s = mem_xalloc((size_t)n * cap * sizeof *e->s);
    }
    if (cap == 1) /* one sample: the span is one contiguous row */
        act_row(IR_ACT_SIGMOID, 0, vm->regs + reg, e->s, (size_t)n);
    else
        for (int i = 0; i < n; i++)
            act_row(IR_ACT_SIGMOID, 0, vm->regs + (size_t)(reg + i) * cap, e->s + (size_t)i * cap, (size_t)B);
    e->gen = vm->gen;
    return e->s;
}

/* VSUM (runtime/ir.h): eight interleaved partial sums, each in the order
 * of its terms, then added pairwise; for one sample, the eight in one
 * vector register (no add waits for the one before). */
VM_KERNEL static double vsum_flat(const double *restrict b, size_t n)
{
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            s[l] = s[l] + b[i + (size_t)l];
    for (int l = 0; i < n; i++, l++)
        s[l] = s[l] + b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

double vm_vsum(const double *b, size_t n)
{
    return vsum_flat(b, n);
}

/* The same for every sample of a batch: a[s] := VSUM of component rows
 * b[i * cap + s], i < n, samples in chunks so the partial sums stay small. */
VM_KERNEL static void vsum_rows(double *restrict a, const double *restrict b, size_t cap, size_t n, size_t B)
{
    enum { CHUNK = 64 };
    double part[8][CHUNK];
    for (size_t s0 = 0; s0 < B; s0 += CHUNK) {
        const size_t m = B - s0 < CHUNK ? B - s0 : CHUNK;
        for (int l = 0; l < 8; l++)
            for (size_t s = 0; s < m; s++)
                part[l][s] = 0;
        for (size_t i = 0; i < n; i++) {
            const double *bi = b + i * cap + s0;
            double *pl = part[i % 8];
            for (size_t s = 0; s < m; s++)
                pl[s] = pl[s] + bi[s];
        }
        for (size_t s = 0; s < m; s++)
            a[s0 + s] = ((part[0][s] + part[1][s]) + (part[2][s] + part[3][s])) +
                        ((part[4][s] + part[5][s]) + (part[6][s] + part[7][s]));
    }
}

/* The elementwise vector instructions over one sample's contiguous span. */
VM_KERNEL static void flat_op(int op, double *restrict a, const double *b, const double *c, size_t n)
{
    switch (op) {
    case IR_VADD:
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + c[i];
        break;
    case IR_VMUL:
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] * c[i];
        break;
    case IR_VSCALE: {
        const double s = b[0];
        for (size_t i = 0; i < n; i++)
            a[i] = s * c[i];
        break;
    }
    default:
        break;
    }
}

/* The matrix A of matvec_cols for W x (tr = 0) or W^T x: W's cached
 * transpose, or W itself when a dimension is 1 (its layout is then its
 * transpose's) or for W^T x. */
static const double *product_matrix(const IrTensor *w, int tr)
{
    return tr || !w->wt ? w->data : w->wt;
}

/* The same among the float32 copies (IrProgram.single). */
static const float *product_matrix_f(const IrTensor *w, int tr)
{
    return tr || !w->ft ? w->f : w->ft;
}

/* g products of one sample with w (W^T when tr), in p's precision. */
static void product_cols(const IrProgram *p, const IrTensor *w, int tr, int g, double *const *y,
                         const double *const *in)
{
    const size_t nout = (size_t)(tr ? w->cols : w->rows), nin = (size_t)(tr ? w->rows : w->cols);
    if (p->single)
        matvec_cols_f(g, y, product_matrix_f(w, tr), nout, in, nin);
    else
        matvec_cols(g, y, product_matrix(w, tr), nout, in, nin);
}

/* acc[s] := sum over j < cols of coef[j] * (float)x[j * ld + s], s < B, in
 * float32 and in the order of j: what matvec_cols_f gives each sample. */
VM_KERNEL static void axpy_rows_f(float *restrict acc, const double *restrict x, size_t ld, const float *coef,
                                  size_t cols, size_t B)
{
    for (size_t s = 0; s < B; s++)
        acc[s] = 0;
    for (size_t j = 0; j < cols; j++) {
        const float a = coef[j];
        const double *xj = x + j * ld;
        for (size_t s = 0; s < B; s++)
            acc[s] = acc[s] + a * (float)xj[s];
    }
}

/* A layer's product for a batch in float32 (IrProgram.single): by BLAS
 * (vm->gemm) or row by row in each sample's order. */
static void product_single(Vm *vm, const IrProgram *p, const IrInstr *x, double *a, const double *b, size_t cap,
                           int B)
{
    const IrTensor *w = &p->tensors[x->c];
    const int tr = x->op == IR_VMATTVEC, rows = tr ? w->cols : w->rows, cols = tr ? w->rows : w->cols;
    float *buf = single_buffer(vm, p);
    if (vm->gemm) {
        float *X = buf, *Y = buf + (size_t)cols * (size_t)B;
        for (int j = 0; j < cols; j++)
            for (int s = 0; s < B; s++)
                X[(size_t)j * (size_t)B + (size_t)s] = (float)b[(size_t)j * cap + (size_t)s];
        blas_sgemm(tr, 0, rows, B, cols, 1, w->f, w->cols, X, B, 0, Y, B);
        for (int i = 0; i < rows; i++)
            for (int s = 0; s < B; s++)
                a[(size_t)i * cap + (size_t)s] = Y[(size_t)i * (size_t)B + (size_t)s];
        return;
    }
    float *acc = buf;
    for (int i = 0; i < rows; i++) {
        /* output i's coefficients: row i of W, or of W^T (its float copy,
         * or W itself when a dimension is 1) */
        const float *coef = !tr ? w->f + (size_t)i * (size_t)w->cols
                                : (w->ft ? w->ft : w->f) + (size_t)i * (size_t)w->rows;
        axpy_rows_f(acc, b, cap, coef, (size_t)cols, (size_t)B);
        for (int s = 0; s < B; s++)
            a[(size_t)i * cap + (size_t)s] = acc[s];
    }
}

static void vec_op(Vm *vm, const IrProgram *p, const IrInstr *x, double *R, size_t cap, int B)
{
    double *a = R + (size_t)x->a * cap;
    const double *b = R + (size_t)x->b * cap, *c = R + (size_t)x->c * cap;
    const int n = x->k;
    switch ((IrOp)x->op) {
    case IR_VLOAD: {
        const double *d = p->tensors[x->c].data;
        for (int i = 0; i < n; i++)
            for (int s = 0; s < B; s++)
                a[(size_t)i * cap + (size_t)s] = d[i];
        break;
    }
    case IR_VONES:
        for (int i = 0; i < n; i++)
            for (int s = 0; s < B; s++)
                a[(size_t)i * cap + (size_t)s] = 1;
        break;
    case IR_VMATVEC:
    case IR_VMATTVEC: {
        const IrTensor *w = &p->tensors[x->c];
        if (cap == 1) { /* one sample: runtime/matvec.h, in the batch's order of terms */
            product_cols(p, w, x->op == IR_VMATTVEC, 1, &a, &b);
            break;
        }
        if (p->single) {
            product_single(vm, p, x, a, b, cap, B);
            break;
        }
        if (vm->gemm) {
            /* Y = W X (or W^T X): the whole batch in one product (the
             * weights as they are: the cached transpose is not used) */
            const int tr = x->op == IR_VMATTVEC;
            blas_gemm(tr, 0, tr ? w->cols : w->rows, B, tr ? w->rows : w->cols, 1, w->data, w->cols, b, (int)cap,
                      0, a, (int)cap);
            break;
        }
        /* output i of every sample: sum over j of W[i][j] times input j,
         * added in the order of j (as for one sample), a row of W (of
         * W^T: the cached transpose) being the coefficients */
        const int tr = x->op == IR_VMATTVEC, rows = tr ? w->cols : w->rows, cols = tr ? w->rows : w->cols;
        for (int i = 0; i < rows; i++) {
            double *ai = a + (size_t)i * cap;
            for (int s = 0; s < B; s++)
                ai[s] = 0;
            const double *coef = !tr ? w->data + (size_t)i * (size_t)w->cols
                                 : w->wt ? w->wt + (size_t)i * (size_t)w->rows : NULL;
            if (coef)
                axpy_block(ai, b, cap, coef, (size_t)cols, (size_t)B);
            else /* W^T of a single row or column: no transpose cached */
                for (int j = 0; j < cols; j++)
                    axpy(ai, b + (size_t)j * cap, w->data[(size_t)j * (size_t)w->cols + (size_t)i], (size_t)B);
        }
        break;
    }
    case IR_VADD:
        if (cap == 1) {
            flat_op(IR_VADD, a, b, c, (size_t)n);
            break;
        }
        for (size_t i = 0; i < (size_t)n * cap; i += cap)
            for (int s = 0; s < B; s++)
                a[i + (size_t)s] = b[i + (size_t)s] + c[i + (size_t)s];
        break;
    case IR_VMUL:
        if (cap == 1) {
            flat_op(IR_VMUL, a, b, c, (size_t)n);
            break;
        }
        for (size_t i = 0; i < (size_t)n * cap; i += cap)
            for (int s = 0; s < B; s++)
                a[i + (size_t)s] = b[i + (size_t)s] * c[i + (size_t)s];
        break;
    case IR_VSCALE:
        if (cap == 1) {
            flat_op(IR_VSCALE, a, b, c, (size_t)n);
            break;
        }
        for (size_t i = 0; i < (size_t)n * cap; i += cap)
            for (int s = 0; s < B; s++)
                a[i + (size_t)s] = b[s] * c[i + (size_t)s];
        break;
    case IR_VACT: {
        const int act = x->c >> 4, k = x->c & 15;
        if (p->tape && ((act == IR_ACT_SOFTPLUS && k >= 1) || act == IR_ACT_SIGMOID)) {
            /* a polynomial in the input's sigmoid, shared by all orders */
            const double *sg = vm_sigmoid_rows(vm, x->b, n, B);
            if (cap == 1)
                sigmoid_deriv(act == IR_ACT_SOFTPLUS ? k - 1 : k, sg, a, (size_t)n);
            else
                for (size_t i = 0; i < (size_t)n * cap; i += cap)
                    sigmoid_deriv(act == IR_ACT_SOFTPLUS ? k - 1 : k, sg + i, a + i, (size_t)B);
        } else if (cap == 1)
            act_row(x->c >> 4, x->c & 15, b, a, (size_t)n);
        else
            for (size_t i = 0; i < (size_t)n * cap; i += cap)
                act_row(x->c >> 4, x->c & 15, b + i, a + i, (size_t)B);
        break;
    }
    case IR_VSUM:
        if (cap == 1)
            a[0] = vsum_flat(b, (size_t)n);
        else
            vsum_rows(a, b, cap, (size_t)n, (size_t)B);
        break;
    default:
        break;
    }
}

/* Up to four consecutive instructions of op (sines or cosines; lowering
 * puts independent ones together, lang/lower.c) as one vector, when none
 * reads what an earlier one writes; returns the last one done. */
static const IrInstr *trig_group(double *r, const IrInstr *x, const IrInstr *end, int op, VmathFn fn)
{
    double in[4] = {0, 0, 0, 0}, res[4];
    int g = 0;
    for (const IrInstr *y = x; y < end && y->op == op && g < 4; y++, g++) {
        for (int j = 0; j < g; j++)
            if (y->b == x[j].a)
                goto run;
        in[g] = r[y->b];
    }
run:
    vmath_group(fn, in, res, g);
    for (int j = 0; j < g; j++)
        r[x[j].a] = res[j];
    return x + g - 1;
}

/* Up to MATVEC_MAXCOLS consecutive products of x's kind with x's matrix
 * (lowering puts independent ones together, lang/lower.c) in one pass
 * over the matrix (ir_product_group); returns the last one done.  Each
 * output is what its product gives alone. */
static const IrInstr *products_one(const IrProgram *p, const IrInstr *x, const IrInstr *end, double *r)
{
    double *y[MATVEC_MAXCOLS];
    const double *in[MATVEC_MAXCOLS];
    const int g = ir_product_group(p, x, end, MATVEC_MAXCOLS);
    for (int j = 0; j < g; j++) {
        y[j] = r + x[j].a;
        in[j] = r + x[j].b;
    }
    product_cols(p, &p->tensors[x->c], x->op == IR_VMATTVEC, g, y, in);
    return x + g - 1;
}

/* One sample (the common case of a single trajectory): registers are plain
 * doubles, no loop per instruction.  With GCC or Clang the dispatch is a
 * jump through a table of label addresses (one indirect branch per
 * instruction, as in CPython and LuaJIT's interpreters); elsewhere a switch. */
static VmStatus run_one(Vm *vm, const IrProgram *p, int from, const double *state, double t,
                        const double *params, double *out)
{
    double *r = vm->regs;
    const IrInstr *x = p->code + from, *end = p->code + p->ncode;
#if defined(__GNUC__)
    static const void *const labels[IR_NOPS] = {
#define IR_LABEL(name, nsrc, meaning) &&op_##name,
        IR_OPS(IR_LABEL)
#undef IR_LABEL
    };
#define CASE(name) op_##name
#define NEXT                                                                       \
    do {                                                                           \
        if (++x == end)                                                            \
            return VM_OK;                                                          \
        goto *labels[x->op];                                                       \
    } while (0)
    if (x == end)
        return VM_OK;
    goto *labels[x->op];
#else
#define CASE(name) case IR_##name
#define NEXT break
    for (; x < end; x++)
        switch ((IrOp)x->op) {
#endif
    CASE(CONST): r[x->a] = p->konst[x->k]; NEXT;
    CASE(STATE): r[x->a] = state[x->k]; NEXT;
    CASE(PARAM): r[x->a] = params[x->k]; NEXT;
    CASE(TIME): r[x->a] = t; NEXT;
    CASE(MOV): r[x->a] = r[x->b]; NEXT;
    CASE(ADD): r[x->a] = r[x->b] + r[x->c]; NEXT;
    CASE(SUB): r[x->a] = r[x->b] - r[x->c]; NEXT;
    CASE(MUL): r[x->a] = r[x->b] * r[x->c]; NEXT;
    CASE(DIV): r[x->a] = r[x->b] / r[x->c]; NEXT;
    CASE(NEG): r[x->a] = -r[x->b]; NEXT;
    CASE(SQR): r[x->a] = r[x->b] * r[x->b]; NEXT;
    CASE(RECIP): r[x->a] = 1 / r[x->b]; NEXT;
    CASE(POWI): {
        int n = x->k;
        double base = n < 0 ? 1 / r[x->b] : r[x->b], v = 1;
        for (unsigned e = (unsigned)(n < 0 ? -n : n); e; e >>= 1, base *= base)
            if (e & 1)
                v *= base;
        r[x->a] = v;
        NEXT;
    }
    CASE(POW): r[x->a] = vmath_one(VMATH_POW, r[x->b], r[x->c]); NEXT;
    CASE(SIN): x = trig_group(r, x, end, IR_SIN, VMATH_SIN); NEXT;
    CASE(COS): x = trig_group(r, x, end, IR_COS, VMATH_COS); NEXT;
    CASE(TAN): r[x->a] = tan(r[x->b]); NEXT;
    CASE(ASIN): r[x->a] = asin(r[x->b]); NEXT;
    CASE(ACOS): r[x->a] = acos(r[x->b]); NEXT;
    CASE(ATAN): r[x->a] = atan(r[x->b]); NEXT;
    CASE(SINH): r[x->a] = sinh(r[x->b]); NEXT;
    CASE(COSH): r[x->a] = cosh(r[x->b]); NEXT;
    CASE(TANH): r[x->a] = tanh(r[x->b]); NEXT;
    CASE(EXP): r[x->a] = vmath_one(VMATH_EXP, r[x->b], 0); NEXT;
    CASE(LOG): r[x->a] = vmath_one(VMATH_LOG, r[x->b], 0); NEXT;
    CASE(SQRT): r[x->a] = sqrt(r[x->b]); NEXT;
    CASE(ABS): r[x->a] = fabs(r[x->b]); NEXT;
    CASE(SIGN): r[x->a] = (double)((r[x->b] > 0) - (r[x->b] < 0)); NEXT;
    CASE(ATAN2): r[x->a] = atan2(r[x->b], r[x->c]); NEXT;
    CASE(MIN): r[x->a] = fmin(r[x->b], r[x->c]); NEXT;
    CASE(MAX): r[x->a] = fmax(r[x->b], r[x->c]); NEXT;
    CASE(SOLVE):
        if (solve_one(vm, p, x, 0) != 0) {
            vm->bad_sample = 0;
            return VM_SINGULAR;
        }
        NEXT;
    CASE(CALL): {
        double args[16];
        for (int j = 0; j < x->c && j < 16; j++)
            args[j] = r[p->aux[x->b + j]];
        r[x->a] = ir_extern_eval(&p->externs[x->k], args);
        NEXT;
    }
    CASE(VMATVEC):
    CASE(VMATTVEC):
        x = products_one(p, x, end, r);
        NEXT;
    CASE(VLOAD):
    CASE(VONES):
    CASE(VADD):
    CASE(VMUL):
    CASE(VSCALE):
    CASE(VACT):
    CASE(VSUM):
        vec_op(vm, p, x, r, 1, 1);
        NEXT;
    CASE(OUT): out[x->a] = r[x->b]; NEXT;
#if !defined(__GNUC__)
        default: break;
        }
#endif
#undef CASE
#undef NEXT
    return VM_OK;
}

/* A batch: each instruction a loop over the samples.  Compiled twice, for
 * the baseline and for AVX2, and chosen when the program starts (GCC's
 * target_clones); the loops are vectorised in both.  The results are the
 * same: each operation is one IEEE operation per sample in either (the
 * project compiles as ISO C, so nothing is contracted into an FMA). */
__attribute__((target_clones("avx2", "default"), optimize("tree-vectorize", "vect-cost-model=dynamic")))
static VmStatus run_batch(Vm *vm, const IrProgram *p, int from, int B, const double *state, int state_stride,
                          double t, const double *params, double *out, int out_stride)
{
    const int B_req = B;
    const size_t cap = (size_t)vm->cap;
    double *R = vm->regs;
    for (int i = from; i < p->ncode; i++) {
        if (i < p->nprologue)
            B = vm->cap; /* shared values: fill the whole register */
        else if (i == p->nprologue && from == 0)
            B = B_req;
        const IrInstr *x = &p->code[i];
        double *a = R + (size_t)x->a * cap;
        const double *b = R + (size_t)x->b * cap, *c = R + (size_t)x->c * cap;
        int s;
#define LOOP(expr)                                                                 \
    for (s = 0; s < B; s++)                                                        \
        a[s] = (expr);                                                             \
    break
        switch ((IrOp)x->op) {
        case IR_CONST: LOOP(p->konst[x->k]);
        case IR_STATE:
            if (vm->soa) { /* component k of every sample, side by side */
                LOOP(state[(size_t)x->k * vm->soa + (size_t)s]);
            }
            LOOP(state[(size_t)s * (size_t)state_stride + (size_t)x->k]);
        case IR_PARAM: LOOP(params[x->k]);
        case IR_TIME: LOOP(vm->times ? vm->times[s] : t);
        case IR_MOV: LOOP(b[s]);
        case IR_ADD: LOOP(b[s] + c[s]);
        case IR_SUB: LOOP(b[s] - c[s]);
        case IR_MUL: LOOP(b[s] * c[s]);
        case IR_DIV: LOOP(b[s] / c[s]);
        case IR_NEG: LOOP(-b[s]);
        case IR_SQR: LOOP(b[s] * b[s]);
        case IR_RECIP: LOOP(1 / b[s]);
        case IR_POWI: {
            int n = x->k;
            for (s = 0; s < B; s++) {
                double base = n < 0 ? 1 / b[s] : b[s], r = 1;
                for (unsigned e = (unsigned)(n < 0 ? -n : n); e; e >>= 1, base *= base)
                    if (e & 1)
                        r *= base;
                a[s] = r;
            }
            break;
        }
        case IR_POW: vmath_row(VMATH_POW, b, c, a, (size_t)B); break;
        case IR_SIN: vmath_row(VMATH_SIN, b, NULL, a, (size_t)B); break;
        case IR_COS: vmath_row(VMATH_COS, b, NULL, a, (size_t)B); break;
        case IR_TAN: LOOP(tan(b[s]));
        case IR_ASIN: LOOP(asin(b[s]));
        case IR_ACOS: LOOP(acos(b[s]));
        case IR_ATAN: LOOP(atan(b[s]));
        case IR_SINH: LOOP(sinh(b[s]));
        case IR_COSH: LOOP(cosh(b[s]));
        case IR_TANH: LOOP(tanh(b[s]));
        case IR_EXP: vmath_row(VMATH_EXP, b, NULL, a, (size_t)B); break;
        case IR_LOG: vmath_row(VMATH_LOG, b, NULL, a, (size_t)B); break;
        case IR_SQRT: LOOP(sqrt(b[s]));
        case IR_ABS: LOOP(fabs(b[s]));
        case IR_SIGN: LOOP((double)((b[s] > 0) - (b[s] < 0)));
        case IR_ATAN2: LOOP(atan2(b[s], c[s]));
        case IR_MIN: LOOP(fmin(b[s], c[s]));
        case IR_MAX: LOOP(fmax(b[s], c[s]));
        case IR_SOLVE:
            if (x->k == 2) {
                /* 2x2 over the batch without a call per sample: the same
                 * formulas and singularity test as solve_one */
                const int32_t *mr = p->aux + x->b, *fr = p->aux + x->c, *o = p->aux + x->a;
                const double *m00 = R + (size_t)mr[0] * cap, *m01 = R + (size_t)mr[1] * cap;
                const double *m10 = R + (size_t)mr[2] * cap, *m11 = R + (size_t)mr[3] * cap;
                const double *f0 = R + (size_t)fr[0] * cap, *f1 = R + (size_t)fr[1] * cap;
                double *x0 = R + (size_t)o[0] * cap, *x1 = R + (size_t)o[1] * cap;
                /* all samples, then the first singular one (a loop without
                 * an exit vectorises); the scale's maximum may ignore NaN
                 * as it likes: with a NaN entry det is not finite */
                int bad = 0;
                for (s = 0; s < B; s++) {
                    double a00 = m00[s], a01 = m01[s], a10 = m10[s], a11 = m11[s];
                    double b0 = f0[s], b1 = f1[s];
                    double det = a00 * a11 - a01 * a10;
                    double u = fabs(a00) > fabs(a01) ? fabs(a00) : fabs(a01);
                    double v = fabs(a10) > fabs(a11) ? fabs(a10) : fabs(a11), scale = u > v ? u : v;
                    bad |= !(fabs(det) <= DBL_MAX) | !(fabs(det) > 1e-13 * scale * scale);
                    x0[s] = (a11 * b0 - a01 * b1) / det;
                    x1[s] = (a00 * b1 - a10 * b0) / det;
                }
                for (s = 0; bad && s < B; s++) {
                    double det = m00[s] * m11[s] - m01[s] * m10[s];
                    double u = fabs(m00[s]) > fabs(m01[s]) ? fabs(m00[s]) : fabs(m01[s]);
                    double v = fabs(m10[s]) > fabs(m11[s]) ? fabs(m10[s]) : fabs(m11[s]), scale = u > v ? u : v;
                    if (!isfinite(det) || !(fabs(det) > 1e-13 * scale * scale)) {
                        vm->not_finite = !isfinite(det);
                        vm->bad_sample = s;
                        return VM_SINGULAR;
                    }
                }
                break;
            }
            for (s = 0; s < B; s++)
                if (solve_one(vm, p, x, s) != 0) {
                    vm->bad_sample = s;
                    return VM_SINGULAR;
                }
            break;
        case IR_CALL:
            for (s = 0; s < B; s++) {
                double args[16];
                for (int j = 0; j < x->c && j < 16; j++)
                    args[j] = R[(size_t)p->aux[x->b + j] * cap + (size_t)s];
                a[s] = ir_extern_eval(&p->externs[x->k], args);
            }
            break;
        case IR_VLOAD:
        case IR_VONES:
        case IR_VMATVEC:
        case IR_VMATTVEC:
        case IR_VADD:
        case IR_VMUL:
        case IR_VSCALE:
        case IR_VACT:
        case IR_VSUM:
            vec_op(vm, p, x, R, cap, B);
            break;
        case IR_OUT:
            if (vm->soa_out) {
                for (s = 0; s < B; s++)
                    out[(size_t)x->a * vm->soa_out + (size_t)s] = b[s];
                break;
            }
            for (s = 0; s < B; s++)
                out[(size_t)s * (size_t)out_stride + (size_t)x->a] = b[s];
            break;
        case IR_NOPS:
            break;
        }
#undef LOOP
    }
    return VM_OK;
}

VmStatus vm_run(Vm *vm, const IrProgram *p, int B, const double *state, int state_stride,
                double t, const double *params, double *out, int out_stride)
{
    if (p->native) {
        /* compiled: same operations, same order (runtime/native.c); its
         * time is one number, so samples at their own times go one by one */
        typedef int (*Fn)(int, const double *, int, double, const double *, double *, int);
        int rc = 0;
        if (vm->times && p->uses_time) {
            for (int s = 0; s < B && rc == 0; s++)
                if (((Fn)p->native)(1, state + (size_t)s * (size_t)state_stride, state_stride, vm->times[s], params,
                                    out + (size_t)s * (size_t)out_stride, out_stride) != 0)
                    rc = s + 1;
        } else
            rc = ((Fn)p->native)(B, state, state_stride, t, params, out, out_stride);
        if (rc == 0)
            return VM_OK;
        vm->bad_sample = rc - 1;
        vm->not_finite = 0;
        return VM_SINGULAR;
    }
    vm->gen++;
    /* the prologue once per program and parameter set, for every sample */
    int from = 0;
    if (vm->prepared == p && vm->prepared_params == params)
        from = p->nprologue;
    else {
        vm->prepared = p;
        vm->prepared_params = params;
    }
    if (B == 1 && vm->cap == 1)
        return run_one(vm, p, from, state, vm->times ? vm->times[0] : t, params, out);
    return run_batch(vm, p, from, B, state, state_stride, t, params, out, out_stride);
}
