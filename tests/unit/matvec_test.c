/*
 * tests/unit/matvec_test.c — runtime/matvec.h and the VM's use of it (TAP).
 *
 * matvec-1: every kernel this CPU has (baseline, AVX2, AVX-512), 1 to 4
 *           columns, shapes around the block sizes (1..40, 63..65,
 *           127..129, 200, 500 rows; 1, 3, 8, 128, 129 terms): each
 *           output equals the sum written out in the order of its terms,
 *           bit for bit, and a column's output does not depend on the
 *           columns beside it.
 * matvec-4: the same for the float32 kernels (precision single): each
 *           output the float32 sum of float32 terms in order, widened.
 * matvec-2: a VM program with runs of products with one matrix (W x four
 *           times, then W^T y three times), each summed by VSUM: one
 *           sample and a batch equal each other bit for bit and equal the
 *           products and sums written out (VSUM's eight interleaved
 *           partial sums, runtime/ir.h) bit for bit.
 * matvec-3: VSUM of 1..40 terms, one sample and a batch: the documented
 *           order bit for bit, and the plain sum to 1e-15.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ir.h"
#include "runtime/matvec.h"
#include "runtime/vm.h"

#define TAP_SEED 0x9E3779B97F4A7C15ull
#include "tests/unit/tap.h"

/* y = sum over k of A[k*nout + o] x[k], in the order of k */
static double ref_product(const double *A, size_t nout, const double *x, size_t nin, size_t o)
{
    double s = 0;
    for (size_t k = 0; k < nin; k++)
        s = s + A[k * nout + o] * x[k];
    return s;
}

/* the same in float32 (matvec_cols_f) */
static double ref_product_f(const float *A, size_t nout, const double *x, size_t nin, size_t o)
{
    float s = 0;
    for (size_t k = 0; k < nin; k++)
        s = s + A[k * nout + o] * (float)x[k];
    return s;
}

/* VSUM's order (runtime/ir.h) */
static double ref_vsum(const double *b, int n)
{
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++)
        s[i % 8] = s[i % 8] + b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void test_kernels(int single)
{
    static const size_t rows[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 40, 63, 64, 65,
                                  127, 128, 129, 200, 500};
    static const size_t terms[] = {1, 3, 8, 128, 129};
    static const char *kinds[] = {"baseline", "AVX2", "AVX-512"};
    const size_t maxr = 500, maxk = 129;
    double *A = malloc(maxr * maxk * sizeof *A), *x[4], *y[4], *alone = malloc(maxr * sizeof *alone);
    float *Af = malloc(maxr * maxk * sizeof *Af);
    for (int m = 0; m < 4; m++) {
        x[m] = malloc(maxk * sizeof *x[m]);
        y[m] = malloc(maxr * sizeof *y[m]);
    }
    for (size_t i = 0; i < maxr * maxk; i++) /* magnitudes over six decades, both signs */
        A[i] = uniform(-1, 1) * pow(10, uniform(-3, 3));
    for (size_t i = 0; i < maxr * maxk; i++)
        Af[i] = (float)A[i];
    for (int m = 0; m < 4; m++)
        for (size_t k = 0; k < maxk; k++)
            x[m][k] = uniform(-2, 2);
    for (int kind = 0; kind < 3; kind++) {
        int have = 1, exact = 1, independent = 1, cases = 0;
        for (size_t r = 0; r < sizeof rows / sizeof *rows && have; r++)
            for (size_t t = 0; t < sizeof terms / sizeof *terms && have; t++)
                for (int nc = 1; nc <= 4 && have; nc++) {
                    const size_t nout = rows[r], nin = terms[t];
                    for (int m = 0; m < 4; m++)
                        for (size_t o = 0; o < nout; o++)
                            y[m][o] = NAN;
                    if (matvec_cols_kind(kind, nc, y, A, single ? Af : NULL, nout, (const double *const *)x,
                                         nin) != 0) {
                        have = 0;
                        break;
                    }
                    cases++;
                    for (int m = 0; m < nc; m++)
                        for (size_t o = 0; o < nout; o++)
                            exact &= same_bits(y[m][o], single ? ref_product_f(Af, nout, x[m], nin, o)
                                                               : ref_product(A, nout, x[m], nin, o));
                    /* the last column alone */
                    double *ya = alone;
                    const double *xa = x[nc - 1];
                    matvec_cols_kind(kind, 1, &ya, A, single ? Af : NULL, nout, &xa, nin);
                    for (size_t o = 0; o < nout; o++)
                        independent &= same_bits(alone[o], y[nc - 1][o]);
                }
        if (!have && cases == 0) {
            printf("ok %d - matvec-%d.%d # SKIP this CPU or build has no %s kernels\n", ++test_no,
                   single ? 4 : 1, kind + 1, kinds[kind]);
            continue;
        }
        ok(have && exact && independent,
           "matvec-%d.%d %s%s kernels, %d cases: every output the sum in the order of its terms, bit for bit%s",
           single ? 4 : 1, kind + 1, kinds[kind], single ? " float32" : "", cases,
           independent ? "" : " (a column depends on its neighbours)");
    }
    free(A);
    free(Af);
    free(alone);
    for (int m = 0; m < 4; m++) {
        free(x[m]);
        free(y[m]);
    }
}

static const char *state3[] = {"a", "b", "c"};

static void test_vm_runs(void)
{
    enum { R = 37, C = 3, NB = 6 };
    double W[R * C];
    for (int i = 0; i < R * C; i++)
        W[i] = uniform(-1, 1);
    static const char *outs[] = {"p0", "p1", "p2", "p3", "q0", "q1", "q2"};
    IrProgram *p = ir_new("runs");
    p->nstate = C;
    p->nout = 7;
    p->state_names = state3;
    p->out_names = outs;
    int tW = ir_tensor(p, "W", R, C, W);
    /* registers: 0..2 the state, 3.. four inputs of C, then four outputs of
     * R, three inputs of R (the outputs scaled), three outputs of C, sums */
    int in0 = 3, out0 = in0 + 4 * C, tin0 = out0 + 4 * R, tout0 = tin0 + 3 * R, sums = tout0 + 3 * C;
    for (int k = 0; k < C; k++)
        ir_emit(p, IR_STATE, k, 0, 0, k);
    for (int m = 0; m < 4; m++) /* input m: the state with component m % C squared */
        for (int k = 0; k < C; k++)
            ir_emit(p, k == m % C ? IR_SQR : IR_MOV, in0 + m * C + k, k, 0, 0);
    for (int m = 0; m < 4; m++)
        ir_emit(p, IR_VMATVEC, out0 + m * R, in0 + m * C, tW, R);
    for (int m = 0; m < 3; m++)
        ir_emit(p, IR_VMUL, tin0 + m * R, out0 + m * R, out0 + (m + 1) * R, R);
    for (int m = 0; m < 3; m++)
        ir_emit(p, IR_VMATTVEC, tout0 + m * C, tin0 + m * R, tW, C);
    for (int m = 0; m < 4; m++)
        ir_emit(p, IR_VSUM, sums + m, out0 + m * R, 0, R);
    for (int m = 0; m < 3; m++)
        ir_emit(p, IR_VSUM, sums + 4 + m, tout0 + m * C, 0, C);
    for (int o = 0; o < 7; o++)
        ir_emit(p, IR_OUT, o, sums + o, 0, 0);
    p->nregs = sums + 7;
    char err[256];
    int good = ir_verify(p, err, sizeof err) == 0;
    const IrProgram *pp = p;
    Vm *one = vm_alloc(&pp, 1, 1), *batch = vm_alloc(&pp, 1, NB);
    double xs[C * NB], ob[7 * NB];
    for (int i = 0; i < C * NB; i++)
        xs[i] = uniform(-1.5, 1.5);
    int exact = good && vm_run(batch, p, NB, xs, C, 0, NULL, ob, 7) == VM_OK, formula = 1;
    double Wt[R * C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++)
            Wt[j * R + i] = W[i * C + j];
    for (int s = 0; s < NB && good; s++) {
        double o[7];
        exact &= vm_run(one, p, 1, xs + C * s, C, 0, NULL, o, 7) == VM_OK;
        for (int i = 0; i < 7; i++)
            exact &= same_bits(o[i], ob[7 * s + i]);
        double in[4][C], out[4][R], tin[3][R], tout[3][C];
        for (int m = 0; m < 4; m++)
            for (int k = 0; k < C; k++) {
                double v = xs[C * s + k];
                in[m][k] = k == m % C ? v * v : v;
            }
        for (int m = 0; m < 4; m++)
            for (int i = 0; i < R; i++)
                out[m][i] = ref_product(Wt, R, in[m], C, (size_t)i);
        for (int m = 0; m < 3; m++)
            for (int i = 0; i < R; i++)
                tin[m][i] = out[m][i] * out[m + 1][i];
        for (int m = 0; m < 3; m++)
            for (int j = 0; j < C; j++)
                tout[m][j] = ref_product(W, C, tin[m], R, (size_t)j);
        for (int m = 0; m < 4; m++)
            formula &= same_bits(o[m], ref_vsum(out[m], R));
        for (int m = 0; m < 3; m++)
            formula &= same_bits(o[4 + m], ref_vsum(tout[m], C));
    }
    ok(good && exact && formula,
       "matvec-2 runs of products with one matrix: one sample and a batch of %d agree, and equal the products "
       "and VSUM written out, bit for bit%s%s",
       NB, good ? "" : " (invalid program: ", good ? "" : err);
    vm_free(one);
    vm_free(batch);
    ir_free(p);
}

static void test_vsum(void)
{
    enum { NMAX = 40, NB = 5 };
    int exact = 1;
    double worst = 0;
    for (int n = 1; n <= NMAX; n++) {
        double v[NMAX];
        for (int i = 0; i < n; i++)
            v[i] = uniform(-1, 1) * pow(10, uniform(-2, 2));
        IrProgram *p = ir_new("vsum");
        static const char *outs[] = {"s"};
        p->nstate = 1;
        p->nout = 1;
        p->state_names = state3;
        p->out_names = outs;
        int t = ir_tensor(p, "v", n, 1, v);
        ir_emit(p, IR_VLOAD, 0, 0, t, n);
        ir_emit(p, IR_VSUM, n, 0, 0, n);
        ir_emit(p, IR_OUT, 0, n, 0, 0);
        p->nregs = n + 1;
        const IrProgram *pp = p;
        Vm *one = vm_alloc(&pp, 1, 1), *batch = vm_alloc(&pp, 1, NB);
        double st[NB] = {0}, o1, ob[NB];
        exact &= vm_run(one, p, 1, st, 1, 0, NULL, &o1, 1) == VM_OK;
        exact &= vm_run(batch, p, NB, st, 1, 0, NULL, ob, 1) == VM_OK;
        exact &= same_bits(o1, ref_vsum(v, n));
        for (int s = 0; s < NB; s++)
            exact &= same_bits(ob[s], o1);
        long double plain = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            plain += v[i];
            mag += fabs(v[i]);
        }
        worst_update(&worst, fabs((double)((long double)o1 - plain)) / (double)mag);
        vm_free(one);
        vm_free(batch);
        ir_free(p);
    }
    ok(exact && worst < 1e-15,
       "matvec-3 VSUM of 1..%d terms: the documented order, one sample and a batch, bit for bit; "
       "%.1e of the sum of magnitudes from the exact sum", NMAX, worst);
}

int main(void)
{
    ok(worst_selfcheck(), "matvec-0 the worst-error helper latches a NaN or an infinity");
    test_kernels(0);
    test_kernels(1);
    test_vm_runs();
    test_vsum();
    printf("1..%d\n", test_no);
    return 0;
}
