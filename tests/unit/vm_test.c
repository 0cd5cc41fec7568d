/*
 * tests/unit/vm_test.c — the IR verifier and the VM (TAP).
 *
 * vm-1: every arithmetic and math instruction, on one sample and on a
 *       batch, against the C library on the same inputs (exactly), and
 *       sin, cos, exp, log and pow against runtime/vmath.h's functions
 *       (exactly).
 * vm-2: SOLVE: random 1x1..5x5 systems (residual), a singular matrix
 *       (status, sample), a non-finite one.
 * vm-3: the verifier refuses broken programs: a register read before it is
 *       written, an operand out of range, an output written twice or never.
 * vm-4: the prologue runs again when the parameter array changes.
 * vm-5: the vector (network) instructions: a softplus layer and its
 *       gradient against the same sums written out here and against
 *       central differences; a batch equals one sample at a time; every
 *       activation's derivatives 1..3 against differences of the one
 *       below; the verifier refuses a product writing over its operand.
 * vm-7: runtime/vmath.h: over a sweep of arguments (random over wide
 *       ranges, integers and half-integers of pi, 0, -0, subnormals,
 *       huge values, infinities, NaN) a batch of any length equals its
 *       values one at a time bit for bit, and every finite value is within
 *       2 ulp of libm's (SLEEF's bound is 1 ulp of the exact value, libm's
 *       about as much); non-finite results where libm's are.
 * vm-6: weights files: a write/read round trip keeps every bit (NaN,
 *       infinities, -0 and subnormals included); a flipped byte and a
 *       truncated file are refused with the reason; a float32 file
 *       (version 2) records its 32 bits and keeps its values, a double
 *       that is not a float32 value is refused when writing one, and a
 *       version-2 file of other bits (checksum made right) is refused.
 *
 * Every vm_run's status is checked; worst errors go through worst_update
 * (tests/unit/tap.h), which latches a NaN.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, truncate */
#define _DEFAULT_SOURCE /* M_PI */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/ir.h"
#include "runtime/vm.h"
#include "runtime/vmath.h"
#include "runtime/weights.h"

#include <stdlib.h>
#include <unistd.h>

#define TAP_SEED 0x9E3779B97F4A7C15ull
#include "tests/unit/tap.h"

static const char *names2[] = {"x", "y"};

/* r0 = x, r1 = y, r2 = op(r0 [, r1]), out r2 */
static IrProgram *one_op(IrOp op, int k)
{
    IrProgram *p = ir_new(ir_op_name(op));
    p->nstate = 2;
    p->nout = 1;
    p->nregs = 3;
    p->state_names = names2;
    p->out_names = names2;
    ir_emit(p, IR_STATE, 0, 0, 0, 0);
    ir_emit(p, IR_STATE, 1, 0, 0, 1);
    ir_emit(p, op, 2, 0, 1, k);
    ir_emit(p, IR_OUT, 0, 2, 0, 0);
    return p;
}

/* Distance in units in the last place (0 when equal; huge across signs). */
static double ulps(double a, double b)
{
    if (a == b)
        return 0;
    long long ia, ib;
    memcpy(&ia, &a, sizeof a);
    memcpy(&ib, &b, sizeof b);
    /* the bits as integers in the order of the values */
    if (ia < 0)
        ia = (long long)(0x8000000000000000ull - (unsigned long long)ia);
    if (ib < 0)
        ib = (long long)(0x8000000000000000ull - (unsigned long long)ib);
    return ia > ib ? (double)(ia - ib) : (double)(ib - ia);
}

static double libm_fn(VmathFn f, double x, double y)
{
    switch (f) {
    case VMATH_SIN: return sin(x);
    case VMATH_COS: return cos(x);
    case VMATH_EXP: return exp(x);
    case VMATH_LOG: return log(x);
    default: return pow(x, y);
    }
}

/* vm-7 */
static void test_vmath(void)
{
    enum { N = 200003 };
    static double x[N], x2[N], yb[N];
    static const char *const fname[] = {"sin", "cos", "exp", "log", "pow"};
    const double edge[] = {0.0, -0.0, 4.9e-324, -4.9e-324, 2.2e-308, 1e-300, 1.0, -1.0, 0.5, 2.0, 1e22, -1e22,
                           1e300, 709.78, 709.79, -745.1, -746, INFINITY, -INFINITY, NAN, M_PI, M_PI / 2,
                           3 * M_PI / 2, 1e6 * M_PI, 6381956970095103.0 * 1073741824.0 * 1073741824.0};
    const int nedge = (int)(sizeof edge / sizeof edge[0]);
    for (int f = 0; f < VMATH_NFNS; f++) {
        for (int i = 0; i < N; i++) {
            double u = uniform(0, 1);
            if (i < nedge)
                x[i] = edge[i];
            else if (i < nedge + 2000)
                x[i] = (i - nedge - 1000) * (M_PI / 2); /* multiples of pi/2 */
            else if (f == VMATH_SIN || f == VMATH_COS)
                x[i] = i % 3 == 0 ? uniform(-10, 10) : i % 3 == 1 ? uniform(-1e5, 1e5) : ldexp(u, (int)uniform(-60, 60));
            else if (f == VMATH_EXP)
                x[i] = uniform(-745, 710);
            else if (f == VMATH_LOG)
                x[i] = ldexp(u, (int)uniform(-1070, 1020));
            else
                x[i] = i % 2 ? uniform(0, 10) : ldexp(u, (int)uniform(-40, 40));
            x2[i] = i % 4 == 0 ? uniform(-5, 5) : i % 4 == 1 ? (double)(int)uniform(-12, 12) : uniform(-300, 300);
        }
        const double *yy = f == VMATH_POW ? x2 : NULL;
        vmath_row((VmathFn)f, x, yy, yb, N);
        long differ = 0, mismatch = 0;
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double one = vmath_one((VmathFn)f, x[i], x2[i]), ref = libm_fn((VmathFn)f, x[i], x2[i]);
            if (memcmp(&one, &yb[i], sizeof one) != 0 && !(isnan(one) && isnan(yb[i])))
                differ++;
            if (isfinite(ref) != isfinite(one) || isnan(ref) != isnan(one))
                mismatch++;
            else if (isfinite(ref))
                worst_update(&worst, ulps(one, ref));
        }
        /* groups (one sample's independent sines or cosines, runtime/vm.c):
         * 2 to 4 values drawn across the argument classes, mixed or not */
        for (int gi = 0; gi < 20000 && f != VMATH_POW; gi++) {
            double in[4], out[4];
            int g = 2 + gi % 3;
            for (int j = 0; j < g; j++)
                in[j] = x[(size_t)(uniform(0, 1) * (N - 1))];
            vmath_group((VmathFn)f, in, out, g);
            for (int j = 0; j < g; j++) {
                double one = vmath_one((VmathFn)f, in[j], 0);
                if (memcmp(&one, &out[j], sizeof one) != 0 && !(isnan(one) && isnan(out[j])))
                    differ++;
            }
        }
        /* the tails: every length 1 .. 9 of a row */
        for (int len = 1; len <= 9; len++) {
            double out[9];
            vmath_row((VmathFn)f, x + 100, yy ? x2 + 100 : NULL, out, (size_t)len);
            for (int i = 0; i < len; i++)
                if (memcmp(&out[i], &yb[100 + i], sizeof out[i]) != 0)
                    differ++;
        }
        ok(differ == 0 && mismatch == 0 && worst <= 2,
           "vm-7.%d %s (%s): a batch and groups of 2-4 equal their values one at a time (%ld differ); within %.0f ulp of libm "
           "(bound 2) over %d arguments; %ld non-finite results where libm's are finite or the reverse",
           f + 1, fname[f], vmath_kind(), differ, worst, N, mismatch);
    }
}

static double reference(IrOp op, double x, double y, int k)
{
    switch (op) {
    case IR_MOV: return x;
    case IR_ADD: return x + y;
    case IR_SUB: return x - y;
    case IR_MUL: return x * y;
    case IR_DIV: return x / y;
    case IR_NEG: return -x;
    case IR_SQR: return x * x;
    case IR_RECIP: return 1 / x;
    case IR_POWI: {
        double b = k < 0 ? 1 / x : x, v = 1;
        for (unsigned e = (unsigned)(k < 0 ? -k : k); e; e >>= 1, b *= b)
            if (e & 1)
                v *= b;
        return v;
    }
    case IR_POW: return vmath_one(VMATH_POW, x, y);
    case IR_SIN: return vmath_one(VMATH_SIN, x, 0);
    case IR_COS: return vmath_one(VMATH_COS, x, 0);
    case IR_TAN: return tan(x);
    case IR_ASIN: return asin(x);
    case IR_ACOS: return acos(x);
    case IR_ATAN: return atan(x);
    case IR_SINH: return sinh(x);
    case IR_COSH: return cosh(x);
    case IR_TANH: return tanh(x);
    case IR_EXP: return vmath_one(VMATH_EXP, x, 0);
    case IR_LOG: return vmath_one(VMATH_LOG, x, 0);
    case IR_SQRT: return sqrt(x);
    case IR_ABS: return fabs(x);
    case IR_SIGN: return (x > 0) - (x < 0);
    case IR_ATAN2: return atan2(x, y);
    case IR_MIN: return fmin(x, y);
    case IR_MAX: return fmax(x, y);
    default: return NAN;
    }
}

int main(void)
{
    char err[256];
    ok(worst_selfcheck(), "vm-0 the worst-error helper latches a NaN or an infinity");
    /* vm-1 */
    IrOp ops[] = {IR_MOV, IR_ADD, IR_SUB, IR_MUL, IR_DIV, IR_NEG, IR_SQR, IR_RECIP, IR_POWI,
                  IR_POW, IR_SIN, IR_COS, IR_TAN, IR_ASIN, IR_ACOS, IR_ATAN, IR_SINH, IR_COSH,
                  IR_TANH, IR_EXP, IR_LOG, IR_SQRT, IR_ABS, IR_SIGN, IR_ATAN2, IR_MIN, IR_MAX};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        int k = ops[o] == IR_POWI ? -3 : 0;
        IrProgram *p = one_op(ops[o], k);
        int good = ir_verify(p, err, sizeof err) == 0;
        enum { B = 7 };
        const IrProgram *pp = p;
        Vm *one = vm_alloc(&pp, 1, 1), *batch = vm_alloc(&pp, 1, B);
        double st[2 * B], out1, outB[B];
        for (int s = 0; s < B; s++) {
            st[2 * s] = uniform(0.1, 0.9); /* inside every function's domain */
            st[2 * s + 1] = uniform(-2, 2);
        }
        good &= vm_run(batch, p, B, st, 2, 0, NULL, outB, 1) == VM_OK;
        for (int s = 0; s < B; s++) {
            good &= vm_run(one, p, 1, st + 2 * s, 2, 0, NULL, &out1, 1) == VM_OK;
            double want = reference(ops[o], st[2 * s], st[2 * s + 1], k);
            good &= out1 == want && outB[s] == want;
        }
        ok(good, "vm-1.%zu %s: one sample and a batch of %d equal the %s", o + 1, ir_op_name(ops[o]), B,
           ops[o] == IR_POW || ops[o] == IR_SIN || ops[o] == IR_COS || ops[o] == IR_EXP || ops[o] == IR_LOG
               ? "functions of runtime/vmath.h" : "C library");
        vm_free(one);
        vm_free(batch);
        ir_free(p);
    }

    test_vmath();

    /* vm-2: SOLVE */
    for (int k = 1; k <= 5; k++) {
        IrProgram *p = ir_new("solve");
        p->nstate = k * k + k;
        p->nout = k;
        int regs[40], outs[5];
        for (int i = 0; i < k * k + k; i++) {
            ir_emit(p, IR_STATE, i, 0, 0, i);
            regs[i] = i;
        }
        for (int i = 0; i < k; i++)
            outs[i] = k * k + k + i;
        p->nregs = k * k + 2 * k;
        int b = ir_aux(p, regs, k * k), c = ir_aux(p, regs + k * k, k), a = ir_aux(p, outs, k);
        ir_emit(p, IR_SOLVE, a, b, c, k);
        for (int i = 0; i < k; i++)
            ir_emit(p, IR_OUT, i, outs[i], 0, 0);
        int good = ir_verify(p, err, sizeof err) == 0;
        const IrProgram *pp = p;
        Vm *vm = vm_alloc(&pp, 1, 1);
        double in[30], x[5], worst = 0;
        for (int trial = 0; trial < 20; trial++) {
            for (int i = 0; i < k * k + k; i++)
                in[i] = uniform(-1, 1) + (i < k * k && i % (k + 1) == 0 ? 3 : 0);
            good &= vm_run(vm, p, 1, in, 0, 0, NULL, x, 0) == VM_OK;
            for (int i = 0; i < k; i++) {
                double r = -in[k * k + i];
                for (int j = 0; j < k; j++)
                    r += in[i * k + j] * x[j];
                worst_update(&worst, fabs(r));
            }
        }
        ok(good && worst < 1e-13, "vm-2.%d SOLVE %dx%d: residual below 1e-13 on 20 random systems (%.1e)",
           k, k, k, worst);
        if (k == 3) {
            double sing[12] = {1, 2, 3, 2, 4, 6, 1, 0, 1, 1, 1, 1}; /* row 2 = 2 row 1 */
            VmStatus st = vm_run(vm, p, 1, sing, 0, 0, NULL, x, 0);
            ok(st == VM_SINGULAR && vm->bad_sample == 0 && !vm->not_finite,
               "vm-2.6 a singular 3x3 matrix gives VM_SINGULAR");
            sing[4] = NAN;
            st = vm_run(vm, p, 1, sing, 0, 0, NULL, x, 0);
            ok(st == VM_SINGULAR && vm->not_finite, "vm-2.7 a matrix with a NaN is reported as not finite");
        }
        vm_free(vm);
        ir_free(p);
    }

    /* vm-3: the verifier */
    {
        IrProgram *p = ir_new("bad");
        p->nstate = 1;
        p->nout = 1;
        p->nregs = 2;
        ir_emit(p, IR_ADD, 1, 0, 0, 0); /* r0 read before it is written */
        ir_emit(p, IR_OUT, 0, 1, 0, 0);
        ok(ir_verify(p, err, sizeof err) != 0 && strstr(err, "unwritten"),
           "vm-3.1 a register read before it is written is refused (%s)", err);
        ir_free(p);
        p = ir_new("bad");
        p->nstate = 1;
        p->nout = 1;
        p->nregs = 1;
        ir_emit(p, IR_STATE, 0, 0, 0, 3); /* state 3 of 1 */
        ir_emit(p, IR_OUT, 0, 0, 0, 0);
        ok(ir_verify(p, err, sizeof err) != 0 && strstr(err, "out of range"),
           "vm-3.2 an input out of range is refused (%s)", err);
        ir_free(p);
        p = ir_new("bad");
        p->nstate = 1;
        p->nout = 2;
        p->nregs = 1;
        ir_emit(p, IR_STATE, 0, 0, 0, 0);
        ir_emit(p, IR_OUT, 0, 0, 0, 0);
        ir_emit(p, IR_OUT, 0, 0, 0, 0);
        ok(ir_verify(p, err, sizeof err) != 0 && strstr(err, "twice"),
           "vm-3.3 an output written twice is refused (%s)", err);
        ir_free(p);
        p = ir_new("bad");
        p->nstate = 1;
        p->nout = 2;
        p->nregs = 1;
        ir_emit(p, IR_STATE, 0, 0, 0, 0);
        ir_emit(p, IR_OUT, 0, 0, 0, 0);
        ok(ir_verify(p, err, sizeof err) != 0 && strstr(err, "never written"),
           "vm-3.4 an output never written is refused (%s)", err);
        ir_free(p);
    }

    /* vm-4: the prologue follows the parameters */
    {
        IrProgram *p = ir_new("prologue");
        p->nstate = 1;
        p->nparams = 1;
        p->nout = 1;
        p->nregs = 3;
        ir_emit(p, IR_PARAM, 0, 0, 0, 0);
        ir_emit(p, IR_SQR, 1, 0, 0, 0); /* depends only on the parameter */
        p->nprologue = 2;
        ir_emit(p, IR_STATE, 2, 0, 0, 0);
        ir_emit(p, IR_MUL, 2, 1, 2, 0);
        ir_emit(p, IR_OUT, 0, 2, 0, 0);
        const IrProgram *pp = p;
        Vm *vm = vm_alloc(&pp, 1, 1);
        double x = 3, out = 0, pa[1] = {2}, pb[1] = {5};
        int good = vm_run(vm, p, 1, &x, 1, 0, pa, &out, 1) == VM_OK && out == 12;
        good &= vm_run(vm, p, 1, &x, 1, 0, pa, &out, 1) == VM_OK && out == 12;
        good &= vm_run(vm, p, 1, &x, 1, 0, pb, &out, 1) == VM_OK && out == 75;
        ok(good && ir_verify(p, err, sizeof err) == 0,
           "vm-4 the prologue is kept for the same parameters and rerun for others");
        vm_free(vm);
        ir_free(p);
    }
    /* vm-5: vector instructions */
    {
        static const double W1[6] = {0.7, -1.2, 0.3, 0.9, -0.5, 0.4}, b1[3] = {0.1, -0.2, 0.3},
                            w2[3] = {1.5, -0.8, 0.6};
        static const char *outs5[] = {"L", "dLdx0", "dLdx1", "x0sig", "three"};
        IrProgram *p = ir_new("net");
        p->nstate = 2;
        p->nout = 5;
        p->nregs = 37;
        p->state_names = names2;
        p->out_names = outs5;
        int tW = ir_tensor(p, "W1", 3, 2, W1), tb = ir_tensor(p, "b1", 3, 1, b1),
            tw = ir_tensor(p, "w2", 3, 1, w2);
        ir_emit(p, IR_STATE, 0, 0, 0, 0);
        ir_emit(p, IR_STATE, 1, 0, 0, 1);
        ir_emit(p, IR_VLOAD, 2, 0, tb, 3);
        ir_emit(p, IR_VMATVEC, 5, 0, tW, 3);
        ir_emit(p, IR_VADD, 8, 5, 2, 3);                               /* z */
        ir_emit(p, IR_VACT, 11, 8, IR_ACT_SOFTPLUS << 4, 3);           /* softplus z */
        ir_emit(p, IR_VLOAD, 14, 0, tw, 3);
        ir_emit(p, IR_VMUL, 17, 14, 11, 3);
        ir_emit(p, IR_VSUM, 20, 17, 0, 3);                             /* L */
        ir_emit(p, IR_VACT, 21, 8, IR_ACT_SOFTPLUS << 4 | 1, 3);       /* sigmoid z */
        ir_emit(p, IR_VMUL, 24, 14, 21, 3);
        ir_emit(p, IR_VMATTVEC, 27, 24, tW, 2);                        /* W1^T (w2 sigma) */
        ir_emit(p, IR_VSCALE, 29, 0, 21, 3);
        ir_emit(p, IR_VSUM, 32, 29, 0, 3);
        ir_emit(p, IR_VONES, 33, 0, 0, 3);
        ir_emit(p, IR_VSUM, 36, 33, 0, 3);
        ir_emit(p, IR_OUT, 0, 20, 0, 0);
        ir_emit(p, IR_OUT, 1, 27, 0, 0);
        ir_emit(p, IR_OUT, 2, 28, 0, 0);
        ir_emit(p, IR_OUT, 3, 32, 0, 0);
        ir_emit(p, IR_OUT, 4, 36, 0, 0);
        int good = ir_verify(p, err, sizeof err) == 0;
        ok(good, "vm-5.1 a network program verifies (%s)", good ? "" : err);
        const IrProgram *pp = p;
        enum { NB = 5 };
        Vm *one = vm_alloc(&pp, 1, 1), *batch = vm_alloc(&pp, 1, NB);
        double xs[2 * NB], ob[5 * NB];
        int exact = 1, formula = 1, diff = 1;
        double worst_fd = 0;
        for (int s = 0; s < NB; s++) {
            xs[2 * s] = uniform(-2, 2);
            xs[2 * s + 1] = uniform(-2, 2);
        }
        exact &= vm_run(batch, p, NB, xs, 2, 0, NULL, ob, 5) == VM_OK;
        for (int s = 0; s < NB; s++) {
            double o[5], x0 = xs[2 * s], x1 = xs[2 * s + 1];
            exact &= vm_run(one, p, 1, xs + 2 * s, 2, 0, NULL, o, 5) == VM_OK;
            for (int i = 0; i < 5; i++)
                exact &= o[i] == ob[5 * s + i];
            double L = 0, g0 = 0, g1 = 0, xsig = 0;
            for (int i = 0; i < 3; i++) {
                double z = W1[2 * i] * x0 + W1[2 * i + 1] * x1 + b1[i];
                double sig = 1 / (1 + exp(-z));
                L += w2[i] * log(1 + exp(z));
                g0 += w2[i] * sig * W1[2 * i];
                g1 += w2[i] * sig * W1[2 * i + 1];
                xsig += x0 * sig;
            }
            formula &= fabs(o[0] - L) < 1e-14 * (1 + fabs(L)) && fabs(o[1] - g0) < 1e-14 &&
                       fabs(o[2] - g1) < 1e-14 && fabs(o[3] - xsig) < 1e-13 && o[4] == 3;
            for (int d = 0; d < 2; d++) {
                const double h = 1e-5;
                double xp[2] = {x0, x1}, xm[2] = {x0, x1}, op[5], om[5];
                xp[d] += h;
                xm[d] -= h;
                diff &= vm_run(one, p, 1, xp, 2, 0, NULL, op, 5) == VM_OK;
                diff &= vm_run(one, p, 1, xm, 2, 0, NULL, om, 5) == VM_OK;
                worst_update(&worst_fd, fabs((op[0] - om[0]) / (2 * h) - o[1 + d]));
            }
        }
        ok(exact, "vm-5.2 a batch of %d equals the samples one at a time, bit for bit", NB);
        ok(formula, "vm-5.3 the layer, its gradient and the scaled sum equal the sums written out");
        ok(diff && worst_fd < 1e-8, "vm-5.4 the gradient program agrees with central differences of "
           "the value (%.1e < 1e-8)", worst_fd);
        vm_free(one);
        vm_free(batch);
        /* activation derivatives: order k+1 against a difference of order k */
        static const char *act_names[] = {"softplus", "tanh", "sigmoid", "relu2", "relu"};
        for (int a = IR_ACT_SOFTPLUS; a <= IR_ACT_RELU; a++) {
            double worst_act = 0;
            for (int k = 0; k < 3; k++)
                for (int t = 0; t < 8; t++) {
                    double x = uniform(-3, 3);
                    if (fabs(x) < 0.01)
                        continue; /* relu and relu2 have a kink at 0 */
                    const double h = 1e-5;
                    double d = (ir_act_eval(a, k, x + h) - ir_act_eval(a, k, x - h)) / (2 * h);
                    worst_update(&worst_act, fabs(d - ir_act_eval(a, k + 1, x)) / (1 + fabs(d)));
                }
            ok(worst_act < 1e-7, "vm-5.%d %s: derivatives 1..3 agree with differences of the order below",
               5 + a, act_names[a]);
        }
        ir_emit(p, IR_VMATVEC, 1, 0, tW, 3); /* writes r1..r3 while reading r0..r1 */
        ok(ir_verify(p, err, sizeof err) != 0 && strstr(err, "overlaps"),
           "vm-5.10 a product writing over its own operand is refused (%s)", err);
        ir_free(p);
    }
    /* vm-6: weights files */
    {
        char path[] = "/tmp/lag_vm_test_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0)
            close(fd);
        double w[6] = {1.5, -0.0, NAN, INFINITY, 4.9e-324, -1e308}, b[2] = {0.25, -3};
        WeightsTensor t[2] = {{"W1", 2, 3, w}, {"b1", 2, 1, b}};
        WeightsTensor *back = NULL;
        int n = 0;
        int good = fd >= 0 && weights_write(path, t, 2, err, sizeof err) == 0 &&
                   weights_read(path, &back, &n, err, sizeof err) == 0 && n == 2;
        for (int k = 0; good && k < 2; k++) {
            good &= strcmp(back[k].name, t[k].name) == 0 && back[k].rows == t[k].rows &&
                    back[k].cols == t[k].cols &&
                    memcmp(back[k].data, t[k].data, (size_t)(t[k].rows * t[k].cols) * sizeof(double)) == 0;
        }
        weights_free(back, n);
        ok(good, "vm-6.1 a weights file round trip keeps every bit (%s)", good ? "" : err);
        FILE *f = fopen(path, "r+b");
        int c = f ? (fseek(f, 30, SEEK_SET), fgetc(f)) : 0;
        if (f) {
            fseek(f, 30, SEEK_SET);
            fputc(c ^ 4, f);
            fclose(f);
        }
        ok(weights_read(path, &back, &n, err, sizeof err) != 0 && strstr(err, "checksum") && !back,
           "vm-6.2 a flipped byte is refused (%s)", err);
        if (truncate(path, 20) != 0)
            err[0] = 0;
        ok(weights_read(path, &back, &n, err, sizeof err) != 0 && (strstr(err, "truncated") || strstr(err, "checksum")),
           "vm-6.3 a truncated file is refused (%s)", err);
        double wf[4] = {0.5, -1.25f, (float)0.1, NAN};
        WeightsTensor tf[1] = {{"W1", 2, 2, wf}};
        int bits = 0;
        good = weights_write_bits(path, tf, 1, 32, err, sizeof err) == 0 &&
               weights_read_bits(path, &back, &n, &bits, err, sizeof err) == 0 && n == 1 && bits == 32 &&
               memcmp(back[0].data, wf, sizeof wf) == 0;
        weights_free(back, n);
        ok(good, "vm-6.4 a float32 weights file records 32 bits and keeps its values (%s)", good ? "" : err);
        wf[2] = 0.1;
        ok(weights_write_bits(path, tf, 1, 32, err, sizeof err) != 0 && strstr(err, "float32"),
           "vm-6.5 a double that is not a float32 value is refused in a float32 file (%s)", err);
        /* bits 48 with the checksum made right: refused for the precision */
        wf[2] = (float)0.1;
        weights_write_bits(path, tf, 1, 32, err, sizeof err);
        f = fopen(path, "r+b");
        unsigned char buf[256];
        size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f && len > 28) {
            buf[16] = 48;
            uint64_t h = 1469598103934665603ull;
            for (size_t i = 0; i < len - 8; i++)
                h = (h ^ buf[i]) * 1099511628211ull;
            for (int i = 0; i < 8; i++)
                buf[len - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
            fseek(f, 0, SEEK_SET);
            fwrite(buf, 1, len, f);
        }
        if (f)
            fclose(f);
        ok(weights_read_bits(path, &back, &n, &bits, err, sizeof err) != 0 && strstr(err, "precision") && !back,
           "vm-6.6 a version-2 file of 48 bits is refused (%s)", err);
        remove(path);
    }
    printf("1..%d\n", test_no);
    return 0;
}
