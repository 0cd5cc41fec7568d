/*
 * runtime/adjoint.c — the reverse sweep over a tape (see adjoint.h).
 *
 * bar holds the adjoint of every register (same layout as the VM's:
 * register-major, a row of the batch per register).  Each instruction,
 * taken last to first, adds its adjoint times its local partials to its
 * operands' adjoints; the partials are those of the forward formulas.
 */
#include "runtime/adjoint.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/blas.h"
#include "runtime/mem.h"

struct Adjoint {
    int cap, nregs;
    double *bar;  /* nregs x cap */
    double *work; /* a SOLVE's transposed matrix and right side */
    double *row;  /* cap doubles */
    unsigned char *live; /* register -> its adjoint has been written this sweep */
    unsigned char *fresh; /* tensor -> its gradient is not written yet (adj_run_fresh), or NULL */
    float *fbuf;          /* a single program's float32 products (IrProgram.single): three spans
                           * of the widest layer and a tensor's gradient */
    size_t fspan;         /* floats in a span: widest layer x cap */
};

/* Registers whose adjoint nothing has written yet hold stale values: a
 * register is zeroed when it first receives a contribution (live), and an
 * instruction whose result is not live contributes nothing and is
 * skipped. */
static double *acc(Adjoint *A, int r, int len, int B)
{
    for (int i = 0; i < len; i++)
        if (!A->live[r + i]) {
            memset(A->bar + (size_t)(r + i) * (size_t)A->cap, 0, (size_t)B * sizeof *A->bar);
            A->live[r + i] = 1;
        }
    return A->bar + (size_t)r * (size_t)A->cap;
}

/* Register r's adjoint row, to receive a contribution: *add is 1 when it
 * holds some already (add to it), 0 when this is the first (write it: no
 * zeroing first). */
static double *row_to(Adjoint *A, int r, int *add)
{
    *add = A->live[r];
    A->live[r] = 1;
    return A->bar + (size_t)r * (size_t)A->cap;
}

/* dst := a f (a when f is NULL), or dst += the same when add: a row's
 * contribution, B samples. */
static void contribute(double *restrict dst, int add, const double *a, const double *f, int B)
{
    if (add && f)
        for (int s = 0; s < B; s++)
            dst[s] += a[s] * f[s];
    else if (add)
        for (int s = 0; s < B; s++)
            dst[s] += a[s];
    else if (f)
        for (int s = 0; s < B; s++)
            dst[s] = a[s] * f[s];
    else
        memcpy(dst, a, (size_t)B * sizeof *dst);
}

/* Tensor t's gradient is written, not added to, the first time (fresh). */
static int grad_add(Adjoint *A, int t)
{
    if (!A->fresh || !A->fresh[t])
        return 1;
    A->fresh[t] = 0;
    return 0;
}

/* For a matrix product into registers r..r+len-1: 0 when none holds a
 * contribution yet (the product overwrites them), else 1 (it adds to them,
 * the others zeroed first). */
static double beta(Adjoint *A, int r, int len, int B)
{
    int any = 0;
    for (int i = 0; i < len && !any; i++)
        any = A->live[r + i];
    if (any) {
        acc(A, r, len, B);
        return 1;
    }
    memset(A->live + r, 1, (size_t)len);
    return 0;
}

/* The registers an instruction writes: first and count (SOLVE: its list). */
static int writes(const IrProgram *p, const IrInstr *x, int *first)
{
    int alen, blen, clen;
    switch ((IrOp)x->op) {
    case IR_OUT:
        return 0;
    case IR_SOLVE:
        *first = -1;
        return x->k;
    default:
        ir_spans(p, x, &alen, &blen, &clen);
        *first = x->a;
        return alen;
    }
}

Adjoint *adj_alloc(const IrProgram *p, int cap, char *err, size_t errlen)
{
    /* a tape writes each register once */
    unsigned char *seen = mem_xalloc((size_t)(p->nregs + 1));
    memset(seen, 0, (size_t)(p->nregs + 1));
    int ok = 1, kmax = 1;
    for (int i = 0; i < p->ncode && ok; i++) {
        const IrInstr *x = &p->code[i];
        int first, n = writes(p, x, &first);
        for (int j = 0; j < n && ok; j++) {
            int r = first < 0 ? p->aux[x->a + j] : first + j;
            if (seen[r]++) {
                snprintf(err, errlen, "%s is not a tape: register %d is written twice", p->name, r);
                ok = 0;
            }
        }
        if (x->op == IR_SOLVE && x->k > kmax)
            kmax = x->k;
        if (ok && x->op == IR_VACT && (x->c & 15) >= 4) {
            snprintf(err, errlen, "%s uses a fourth derivative of an activation: training would need a fifth",
                     p->name);
            ok = 0;
        }
    }
    mem_free(seen);
    if (!ok)
        return NULL;
    Adjoint *A = mem_xalloc(sizeof *A);
    memset(A, 0, sizeof *A);
    A->cap = cap < 1 ? 1 : cap;
    A->nregs = p->nregs;
    A->bar = mem_xalloc((size_t)(p->nregs ? p->nregs : 1) * (size_t)A->cap * sizeof *A->bar);
    A->work = mem_xalloc((size_t)(kmax * kmax + 2 * kmax) * sizeof *A->work);
    A->row = mem_xalloc((size_t)A->cap * sizeof *A->row);
    A->live = mem_xalloc((size_t)(p->nregs + 1));
    if (p->single) {
        size_t dim, big;
        ir_tensor_extent(p, &dim, &big);
        A->fspan = dim * (size_t)A->cap;
        A->fbuf = mem_xalloc((3 * A->fspan + big) * sizeof *A->fbuf);
    }
    return A;
}

void adj_free(Adjoint *A)
{
    if (!A)
        return;
    mem_free(A->bar);
    mem_free(A->work);
    mem_free(A->row);
    mem_free(A->live);
    mem_free(A->fbuf);
    mem_free(A);
}

/* The derivative of a scalar instruction's result with respect to its
 * first operand (d1) and second (d2), at values b, c with result a. */
static void partials(const IrInstr *x, double a, double b, double c, double *d1, double *d2)
{
    *d2 = 0;
    switch ((IrOp)x->op) {
    case IR_MOV: *d1 = 1; break;
    case IR_ADD: *d1 = 1, *d2 = 1; break;
    case IR_SUB: *d1 = 1, *d2 = -1; break;
    case IR_MUL: *d1 = c, *d2 = b; break;
    case IR_DIV: *d1 = 1 / c, *d2 = -a / c; break;
    case IR_NEG: *d1 = -1; break;
    case IR_SQR: *d1 = 2 * b; break;
    case IR_RECIP: *d1 = -a * a; break;
    case IR_POWI: *d1 = x->k * pow(b, x->k - 1); break;
    case IR_POW: *d1 = c * pow(b, c - 1), *d2 = b > 0 ? a * log(b) : 0; break;
    case IR_SIN: *d1 = cos(b); break;
    case IR_COS: *d1 = -sin(b); break;
    case IR_TAN: *d1 = 1 + a * a; break;
    case IR_ASIN: *d1 = 1 / sqrt(1 - b * b); break;
    case IR_ACOS: *d1 = -1 / sqrt(1 - b * b); break;
    case IR_ATAN: *d1 = 1 / (1 + b * b); break;
    case IR_SINH: *d1 = cosh(b); break;
    case IR_COSH: *d1 = sinh(b); break;
    case IR_TANH: *d1 = 1 - a * a; break;
    case IR_EXP: *d1 = a; break;
    case IR_LOG: *d1 = 1 / b; break;
    case IR_SQRT: *d1 = 0.5 / a; break;
    case IR_ABS: *d1 = (double)((b > 0) - (b < 0)); break;
    case IR_ATAN2: {
        double r2 = b * b + c * c;
        *d1 = c / r2, *d2 = -b / r2;
        break;
    }
    case IR_MIN: *d1 = b <= c, *d2 = b > c; break;
    case IR_MAX: *d1 = b >= c, *d2 = b < c; break;
    default: *d1 = 0; break; /* SIGN: flat; inputs and constants: no operands */
    }
}

/* Mx = f for one sample: fbar += M^-T xbar, Mbar -= (M^-T xbar) x^T. */
static void solve_back(Adjoint *A, Vm *vm, const IrProgram *p, const IrInstr *x, int s)
{
    const int k = x->k;
    const size_t vc = (size_t)vm->cap, ac = (size_t)A->cap;
    const int32_t *mr = p->aux + x->b, *fr = p->aux + x->c, *xr = p->aux + x->a;
    double *Mt = A->work, *g = A->work + k * k;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            Mt[j * k + i] = vm->regs[(size_t)mr[i * k + j] * vc + (size_t)s];
    for (int i = 0; i < k; i++)
        g[i] = A->bar[(size_t)xr[i] * ac + (size_t)s];
    int not_finite;
    if (vm_lu_solve(Mt, g, k, &not_finite) != 0)
        return; /* the forward solve succeeded: this cannot happen but by rounding */
    for (int i = 0; i < k; i++) {
        A->bar[(size_t)fr[i] * ac + (size_t)s] += g[i];
        for (int j = 0; j < k; j++)
            A->bar[(size_t)mr[i * k + j] * ac + (size_t)s] -= g[i] * vm->regs[(size_t)xr[j] * vc + (size_t)s];
    }
}

/* Whether any result of a SOLVE has an adjoint; if so, make its results
 * and operands ready to accumulate. */
static int solve_live(Adjoint *A, const IrProgram *p, const IrInstr *x, int B)
{
    int any = 0;
    for (int i = 0; i < x->k; i++)
        any |= A->live[p->aux[x->a + i]];
    if (!any)
        return 0;
    for (int i = 0; i < x->k; i++) {
        acc(A, p->aux[x->a + i], 1, B);
        acc(A, p->aux[x->c + i], 1, B);
    }
    for (int i = 0; i < x->k * x->k; i++)
        acc(A, p->aux[x->b + i], 1, B);
    return 1;
}

/* rows x B doubles (stride ld) to floats (stride B) */
static void to_float(float *f, const double *d, size_t ld, int rows, int B)
{
    for (int i = 0; i < rows; i++)
        for (int s = 0; s < B; s++)
            f[(size_t)i * (size_t)B + (size_t)s] = (float)d[(size_t)i * ld + (size_t)s];
}

/* d := f (add 0) or d += f (add 1), rows x B */
static void from_float(double *d, size_t ld, const float *f, int rows, int B, int add)
{
    for (int i = 0; i < rows; i++) {
        double *di = d + (size_t)i * ld;
        const float *fi = f + (size_t)i * (size_t)B;
        if (add)
            for (int s = 0; s < B; s++)
                di[s] += fi[s];
        else
            for (int s = 0; s < B; s++)
                di[s] = fi[s];
    }
}

/* A layer product's reverse sweep in float32 (IrProgram.single), as the
 * forward one: the adjoint and the operand rounded to float32, both
 * products by sgemm, the results widened into the double adjoint and
 * gradient. */
static void product_back_single(Adjoint *A, Vm *vm, const IrProgram *p, const IrInstr *x, int B,
                                double *const *grad)
{
    const size_t vc = (size_t)vm->cap, ac = (size_t)A->cap;
    const IrTensor *w = &p->tensors[x->c];
    const int tr = x->op == IR_VMATTVEC, nout = tr ? w->cols : w->rows, nin = tr ? w->rows : w->cols;
    float *Yb = A->fbuf, *T = Yb + A->fspan, *Xf = T + A->fspan, *G = Xf + A->fspan;
    to_float(Yb, A->bar + (size_t)x->a * ac, ac, nout, B);
    to_float(Xf, vm->regs + (size_t)x->b * vc, vc, nin, B);
    /* xbar += W^T ybar (y = W x) or W ybar (y = W^T x) */
    int add = beta(A, x->b, nin, B) != 0;
    blas_sgemm(!tr, 0, nin, B, nout, 1, w->f, w->cols, Yb, B, 0, T, B);
    from_float(A->bar + (size_t)x->b * ac, ac, T, nin, B, add);
    /* Wbar += ybar x^T or x ybar^T, summed over the batch */
    if (!tr)
        blas_sgemm(0, 1, w->rows, w->cols, B, 1, Yb, B, Xf, B, 0, G, w->cols);
    else
        blas_sgemm(0, 1, w->rows, w->cols, B, 1, Xf, B, Yb, B, 0, G, w->cols);
    double *g = grad[x->c];
    const size_t n = (size_t)w->rows * (size_t)w->cols;
    if (grad_add(A, x->c))
        for (size_t i = 0; i < n; i++)
            g[i] += G[i];
    else
        for (size_t i = 0; i < n; i++)
            g[i] = G[i];
}

static void vec_back(Adjoint *A, Vm *vm, const IrProgram *p, const IrInstr *x, int B,
                     double *const *grad)
{
    const size_t vc = (size_t)vm->cap, ac = (size_t)A->cap;
    const double *bv = vm->regs + (size_t)x->b * vc, *cv = vm->regs + (size_t)x->c * vc;
    const double *ab = A->bar + (size_t)x->a * ac;
    const int n = x->k;
    double *bb, *cb;
    switch ((IrOp)x->op) {
    case IR_VLOAD: {
        double *g = grad[x->c];
        const int add = grad_add(A, x->c);
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int s = 0; s < B; s++)
                sum += ab[(size_t)i * ac + (size_t)s];
            g[i] = add ? g[i] + sum : sum;
        }
        break;
    }
    case IR_VMATVEC:
    case IR_VMATTVEC: {
        if (p->single) {
            product_back_single(A, vm, p, x, B, grad);
            break;
        }
        const IrTensor *w = &p->tensors[x->c];
        const int tr = x->op == IR_VMATTVEC, nin = tr ? w->rows : w->cols, nout = tr ? w->cols : w->rows;
        /* y = W x: xbar += W^T ybar, Wbar += ybar x^T; y = W^T x: xbar +=
         * W ybar, Wbar += x ybar^T (over the batch) */
        double be = beta(A, x->b, nin, B);
        blas_gemm(!tr, 0, nin, B, nout, 1, w->data, w->cols, ab, (int)ac, be, A->bar + (size_t)x->b * ac, (int)ac);
        if (!tr)
            blas_gemm(0, 1, w->rows, w->cols, B, 1, ab, (int)ac, bv, (int)vc, grad_add(A, x->c), grad[x->c],
                      w->cols);
        else
            blas_gemm(0, 1, w->rows, w->cols, B, 1, bv, (int)vc, ab, (int)ac, grad_add(A, x->c), grad[x->c],
                      w->cols);
        break;
    }
    case IR_VADD:
    case IR_VMUL:
        /* row by row: an operand row's first contribution is written, not
         * added to a zeroed row (b and c may be one register: b's row is
         * taken first, so c's then adds to it) */
        for (int i = 0; i < n; i++) {
            const double *abi = ab + (size_t)i * ac;
            const int mul = x->op == IR_VMUL;
            int add;
            double *bbi = row_to(A, x->b + i, &add);
            contribute(bbi, add, abi, mul ? cv + (size_t)i * vc : NULL, B);
            double *cbi = row_to(A, x->c + i, &add);
            contribute(cbi, add, abi, mul ? bv + (size_t)i * vc : NULL, B);
        }
        break;
    case IR_VSCALE: /* a_i = b c_i, b one value per sample */
        bb = acc(A, x->b, 1, B);
        cb = acc(A, x->c, n, B);
        for (int i = 0; i < n; i++)
            for (int s = 0; s < B; s++) {
                size_t o = (size_t)i * ac + (size_t)s, v = (size_t)i * vc + (size_t)s;
                bb[s] += ab[o] * cv[v];
                cb[o] += ab[o] * bv[s];
            }
        break;
    case IR_VACT: {
        /* the next derivative, a row of the batch at a time */
        double *d = A->row;
        const int act = x->c >> 4, k = (x->c & 15) + 1;
        const int viasig = p->tape && (act == IR_ACT_SOFTPLUS || act == IR_ACT_SIGMOID);
        const double *sg = viasig ? vm_sigmoid_rows(vm, x->b, n, B) : NULL;
        for (int i = 0; i < n; i++) {
            if (viasig)
                vm_sigmoid_deriv(act == IR_ACT_SOFTPLUS ? k - 1 : k, sg + (size_t)i * vc, d, (size_t)B);
            else
                vm_act_row((IrAct)act, k, bv + (size_t)i * vc, d, (size_t)B);
            int add;
            double *bbi = row_to(A, x->b + i, &add);
            contribute(bbi, add, ab + (size_t)i * ac, d, B);
        }
        break;
    }
    case IR_VSUM:
        for (int i = 0; i < n; i++) {
            int add;
            double *bbi = row_to(A, x->b + i, &add);
            contribute(bbi, add, ab, NULL, B);
        }
        break;
    default: /* VONES: constant */
        break;
    }
}

static void sweep(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar, double *const *grad);

void adj_run(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar,
             double *const *grad)
{
    A->fresh = NULL;
    sweep(A, vm, p, B, outbar, grad);
}

void adj_run_fresh(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar, double *const *grad,
                   unsigned char *fresh)
{
    A->fresh = fresh;
    sweep(A, vm, p, B, outbar, grad);
    for (int t = 0; t < p->ntensors; t++) /* tensors the outputs do not depend on */
        if (fresh[t]) {
            memset(grad[t], 0, (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols * sizeof *grad[t]);
            fresh[t] = 0;
        }
    A->fresh = NULL;
}

static void sweep(Adjoint *A, Vm *vm, const IrProgram *p, int B, const double *outbar, double *const *grad)
{
    const size_t vc = (size_t)vm->cap, ac = (size_t)A->cap;
    memset(A->live, 0, (size_t)p->nregs);
    for (int i = p->ncode - 1; i >= 0; i--) {
        const IrInstr *x = &p->code[i];
        IrOp op = (IrOp)x->op;
        if (op == IR_OUT) {
            double *bb = acc(A, x->b, 1, B);
            for (int s = 0; s < B; s++)
                bb[s] += outbar[(size_t)s * (size_t)p->nout + (size_t)x->a];
            continue;
        }
        if (op == IR_SOLVE) {
            if (solve_live(A, p, x, B))
                for (int s = 0; s < B; s++)
                    solve_back(A, vm, p, x, s);
            continue;
        }
        int alen, blen, clen, any = 0;
        ir_spans(p, x, &alen, &blen, &clen);
        for (int j = 0; j < alen && !any; j++)
            any = A->live[x->a + j];
        if (!any)
            continue; /* nothing depends on this result */
        if (alen > 1)
            acc(A, x->a, alen, B); /* the components no one read are zero */
        if (op == IR_CALL) {
            /* the extern's partials by its derivative functions or differences */
            const IrExtern *e = &p->externs[x->k];
            int depth = 0;
            for (uint32_t d = e->deriv; d; d >>= 4)
                depth++;
            const double *ab = A->bar + (size_t)x->a * ac;
            for (int j = 0; j < x->c; j++)
                acc(A, p->aux[x->b + j], 1, B);
            for (int s = 0; s < B; s++) {
                if (ab[s] == 0)
                    continue;
                double args[16];
                for (int j = 0; j < x->c && j < 16; j++)
                    args[j] = vm->regs[(size_t)p->aux[x->b + j] * vc + (size_t)s];
                for (int j = 0; j < x->c && j < 16; j++) {
                    IrExtern dj = *e;
                    dj.deriv = e->deriv | (uint32_t)(1 + j) << (4 * depth);
                    A->bar[(size_t)p->aux[x->b + j] * ac + (size_t)s] += ab[s] * ir_extern_eval(&dj, args);
                }
            }
            continue;
        }
        if (op >= IR_VLOAD && op <= IR_VSUM) {
            vec_back(A, vm, p, x, B, grad);
            continue;
        }
        int ns = ir_op_sources(op);
        if (ns == 0 || op == IR_SIGN)
            continue;
        const double *av = vm->regs + (size_t)x->a * vc, *bv = vm->regs + (size_t)x->b * vc,
                     *cv = vm->regs + (size_t)x->c * vc;
        const double *ab = A->bar + (size_t)x->a * ac;
        double *bb = acc(A, x->b, 1, B), *cb = ns > 1 ? acc(A, x->c, 1, B) : NULL;
        for (int s = 0; s < B; s++) {
            if (ab[s] == 0)
                continue;
            double d1, d2;
            partials(x, av[s], bv[s], ns > 1 ? cv[s] : 0, &d1, &d2);
            bb[s] += ab[s] * d1;
            if (ns > 1)
                cb[s] += ab[s] * d2;
        }
    }
}
