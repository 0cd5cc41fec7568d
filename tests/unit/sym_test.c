/*
 * tests/unit/sym_test.c — the symbolic core against finite differences and
 * its own invariants (TAP).
 *
 * sym-1: every differentiation rule, forward (sym_diff) and reverse
 *        (sym_grad), against central differences at random points.
 * sym-2: second derivatives by composition against differences of the
 *        first derivative.
 * sym-3: normal-form rules (sound simplifications only).
 * sym-4: hash-consing: the double-pendulum equations built twice are the
 *        same nodes; their size is bounded.
 * sym-5: vector nodes: a two-layer network L(x, y), its gradient forward
 *        and reverse, and forward-over-reverse second derivatives, against
 *        differences, for every activation.
 * sym-6: such networks lowered to vector IR and run by the VM (one sample
 *        and a batch) agree with sym_eval: value, gradient, a second
 *        derivative and a sum of activations.
 * sym-7: learned systems written in .lag: accelerations from the lowered
 *        program against differences of L; exchange symmetry by
 *        construction.
 * sym-8: the reverse sweep over a tape: weight gradients against central
 *        differences in the weights.
 * sym-9: the learned M and f from second-order forms against forward
 *        derivatives.
 * sym-10: the Jacobian of the accelerations of a system without closed
 *        forms (lower_jacobian_solve, what the implicit steppers use)
 *        against central differences of the lowered right-hand side.
 *
 * Every worst error goes through worst_update (tests/unit/tap.h), which
 * latches a NaN or an infinity, and every vm_run's status is checked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/front.h"
#include "lang/lower.h"
#include "runtime/adjoint.h"
#include "lang/mech.h"
#include "lang/sym.h"
#include "runtime/mem.h"
#include "runtime/vm.h"

#define TAP_SEED 88172645463325252ull
#include "tests/unit/tap.h"

enum { X, Y, P, NV };

/* Central difference of e with respect to variable v at point x. */
static double fd(Sym *S, SymId e, int v, const double *x)
{
    double h = 1e-6 * (1 + fabs(x[v]));
    double xp[NV], xm[NV];
    memcpy(xp, x, sizeof xp);
    memcpy(xm, x, sizeof xm);
    xp[v] += h;
    xm[v] -= h;
    return (sym_eval(S, e, xp) - sym_eval(S, e, xm)) / (2 * h);
}

static int close_to(double got, double want, double tol)
{
    return fabs(got - want) <= tol * (1 + fabs(want));
}

typedef struct Case {
    const char *name;
    SymId e;
    double lo, hi; /* range of x and y for the random points */
} Case;

int main(void)
{
    Arena *a = arena_new();
    Sym *S = sym_new(a);
    int vx = sym_add_var(S, "x", "x", SV_COORD, 0, 0, 0);
    int vy = sym_add_var(S, "y", "y", SV_COORD, 1, 0, 0);
    int vp = sym_add_var(S, "m", "m", SV_PARAM, 0, 0, 2.0);
    SymId x = sym_var(S, vx), y = sym_var(S, vy), m = sym_var(S, vp);
    /* u = 0.3 + 0.4*x*y stays inside (-1, 1) for x, y in (-1, 1) */
    SymId u = sym_add2(S, sym_num(S, 0.3), sym_mul2(S, sym_num(S, 0.4), sym_mul2(S, x, y)));
    SymId w = sym_add2(S, sym_num(S, 2), sym_mul2(S, x, sym_fn(S, FN_SIN, y, 0))); /* > 0 */

    ok(worst_selfcheck(), "sym-0 the worst-error helper latches a NaN or an infinity (the comparisons "
       "with the tolerances then fail)");

    Case cases[64];
    int nc = 0;
    for (int fn = 0; fn < FN_COUNT; fn++) {
        if (sym_fn_arity((SymFn)fn) != 1)
            continue;
        SymId arg = fn == FN_LOG || fn == FN_SQRT ? w : u;
        cases[nc++] = (Case){sym_fn_name((SymFn)fn), sym_fn(S, (SymFn)fn, arg, 0), -1, 1};
    }
    cases[nc++] = (Case){"atan2", sym_fn(S, FN_ATAN2, u, w), -1, 1};
    cases[nc++] = (Case){"min", sym_fn(S, FN_MIN, u, sym_mul2(S, sym_num(S, 0.5), y)), -1, 1};
    cases[nc++] = (Case){"max", sym_fn(S, FN_MAX, u, sym_mul2(S, sym_num(S, 0.5), y)), -1, 1};
    cases[nc++] = (Case){"sum", sym_add2(S, sym_mul2(S, m, x), sym_powi(S, y, 3)), -2, 2};
    cases[nc++] = (Case){"product", sym_mul2(S, sym_mul2(S, x, y), sym_fn(S, FN_COS, x, 0)), -2, 2};
    cases[nc++] = (Case){"quotient", sym_div(S, sym_fn(S, FN_SIN, x, 0), w), -2, 2};
    cases[nc++] = (Case){"integer power", sym_powi(S, w, 5), -2, 2};
    cases[nc++] = (Case){"negative power", sym_powi(S, w, -3), -2, 2};
    cases[nc++] = (Case){"fractional power", sym_powi(S, w, 1.5), -1, 1};
    cases[nc++] = (Case){"symbolic power", sym_pow(S, w, u), -1, 1};
    cases[nc++] = (Case){"power of a sum", sym_powi(S, sym_add2(S, x, sym_mul2(S, m, y)), 3), -2, 2};
    cases[nc++] = (Case){"composition",
                         sym_fn(S, FN_EXP, sym_fn(S, FN_SIN, sym_mul2(S, x, w), 0), 0), -1, 1};

    /* sym-1: first derivatives, forward and reverse, against differences */
    int vars[2] = {vx, vy};
    for (int c = 0; c < nc; c++) {
        SymId dx = sym_diff(S, cases[c].e, vx), dy = sym_diff(S, cases[c].e, vy);
        SymId g[2];
        sym_grad(S, cases[c].e, vars, 2, g);
        int good = 1;
        double worst = 0;
        for (int k = 0; k < 20; k++) {
            double pt[NV] = {uniform(cases[c].lo, cases[c].hi), uniform(cases[c].lo, cases[c].hi), 2.0};
            for (int v = 0; v < 2; v++) {
                double want = fd(S, cases[c].e, v, pt);
                double fwd = sym_eval(S, v ? dy : dx, pt), rev = sym_eval(S, g[v], pt);
                worst_update(&worst, fabs(fwd - want) / (1 + fabs(want)));
                if (!close_to(fwd, want, 1e-6) || !close_to(rev, fwd, 1e-12))
                    good = 0;
            }
        }
        ok(good && worst < 1e-6, "sym-1.%d %s: forward and reverse derivatives match central differences "
                 "(worst relative error %.1e)",
           c + 1, cases[c].name, worst);
    }

    /* sym-2: mixed and repeated second derivatives by composition */
    for (int c = 0; c < nc; c++) {
        SymId dx = sym_diff(S, cases[c].e, vx);
        SymId dxy = sym_diff(S, dx, vy), dxx = sym_diff(S, dx, vx);
        int good = 1;
        for (int k = 0; k < 10; k++) {
            double pt[NV] = {uniform(cases[c].lo, cases[c].hi), uniform(cases[c].lo, cases[c].hi), 2.0};
            good &= close_to(sym_eval(S, dxy, pt), fd(S, dx, Y, pt), 1e-5);
            good &= close_to(sym_eval(S, dxx, pt), fd(S, dx, X, pt), 1e-5);
        }
        ok(good, "sym-2.%d %s: second derivatives match differences of the first", c + 1,
           cases[c].name);
    }

    /* sym-3: the normal form */
    ok(sym_add2(S, sym_mul2(S, x, y), sym_mul2(S, y, x)) == sym_mul2(S, sym_num(S, 2), sym_mul2(S, x, y)),
       "sym-3.1 x*y + y*x is 2*x*y (commutative duplicates hash equal)");
    ok(sym_sub(S, sym_add2(S, x, y), sym_add2(S, y, x)) == S->zero, "sym-3.2 (x + y) - (y + x) is 0");
    ok(sym_mul2(S, S->zero, sym_fn(S, FN_LOG, x, 0)) == S->zero, "sym-3.3 0*log(x) is 0");
    ok(sym_mul2(S, S->one, u) == u && sym_add2(S, u, S->zero) == u, "sym-3.4 1*u is u and u + 0 is u");
    ok(sym_div(S, x, x) != S->one, "sym-3.5 x/x is not simplified to 1 (x may be 0)");
    ok(sym_div(S, m, m) == S->one, "sym-3.6 m/m is 1 for a parameter m");
    ok(sym_div(S, sym_num(S, 3), sym_num(S, 3)) == S->one, "sym-3.7 3/3 is 1");
    ok(sym_mul2(S, sym_powi(S, x, 2), sym_powi(S, x, 3)) == sym_powi(S, x, 5), "sym-3.8 x^2*x^3 is x^5");
    ok(sym_div(S, x, sym_powi(S, x, 3)) == sym_powi(S, x, -2), "sym-3.9 x/x^3 is x^-2 (still singular at 0)");
    {
        SymId sq = sym_powi(S, sym_add2(S, x, y), 2);
        SymId want = sym_add(S, (SymId[]){sym_powi(S, x, 2), sym_powi(S, y, 2),
                                          sym_mul2(S, sym_num(S, 2), sym_mul2(S, x, y))}, 3);
        ok(sq == want, "sym-3.10 (x + y)^2 expands to x^2 + 2*x*y + y^2");
    }
    {
        double v;
        SymId e = sym_fn(S, FN_SIN, sym_mul2(S, sym_num(S, 0.5), sym_num(S, 3.14159265358979323846)), 0);
        ok(sym_is_num(S, e, &v) && v == 1, "sym-3.11 constants fold: sin(0.5*pi) = 1");
        ok(sym_fn(S, FN_LOG, sym_num(S, -1), 0) != S->zero && !sym_is_num(S, sym_fn(S, FN_LOG, sym_num(S, -1), 0), NULL),
           "sym-3.12 log(-1) is not folded to a number");
    }
    {
        double xs[NV] = {0.7, -1.3, 2.0};
        SymId e = sym_mul2(S, sym_add2(S, x, m), sym_sub(S, y, sym_fn(S, FN_COS, x, 0)));
        double want = (0.7 + 2.0) * (-1.3 - cos(0.7));
        ok(close_to(sym_eval(S, e, xs), want, 1e-15), "sym-3.13 an expanded product evaluates as written");
    }

    /* sym-4: hash-consing of whole equations */
    static const char dp[] =
        "system DoublePendulum {\n"
        "    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81\n"
        "    coord t1, t2\n"
        "    let T = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)\n"
        "    let V = -(m1 + m2)*g*l1*cos(t1) - m2*g*l2*cos(t2)\n"
        "    L = T - V\n"
        "}\n";
    Front F;
    int rc = front_load_text(&F, "dp.lag", dp, sizeof dp - 1, stderr);
    ok(rc == 0, "sym-4.1 the double pendulum checks");
    if (rc == 0) {
        Sym *D = sym_new(F.arena);
        Mech m1, m2;
        mech_build(&m1, D, &F.diag, F.prog.items, 0);
        uint32_t after_first = D->nnodes;
        mech_build(&m2, D, &F.diag, F.prog.items, 0);
        int same = m1.E == m2.E;
        for (int i = 0; i < 2; i++) {
            same &= m1.f[i] == m2.f[i] && m1.p[i] == m2.p[i] && m1.acc[i] == m2.acc[i];
            for (int j = 0; j < 2; j++)
                same &= m1.M[i * 2 + j] == m2.M[i * 2 + j];
        }
        ok(same, "sym-4.2 building the double-pendulum equations twice gives the same node ids");
        SymId roots[6] = {m1.M[0], m1.M[1], m1.M[3], m1.f[0], m1.f[1], m1.E};
        long ops = sym_ops_dag(D, roots, 6);
        printf("# double pendulum: %u nodes in the graph (%u after the second build), "
               "%ld operations in M, f and E after sharing\n",
               after_first - 1, D->nnodes - 1, ops);
        ok(ops <= 100, "sym-4.3 M, f and E of the double pendulum take %ld <= 100 operations (about twice what a careful human writes)", ops);
        /* the second build may only add variables' nodes, no new expressions */
        ok(D->nnodes - after_first <= 16,
           "sym-4.4 the second build adds %u nodes (only its variables)", D->nnodes - after_first);
        sym_free(D);
    }
    front_fini(&F);

    /* sym-5: a network L = w3 . act(W2 act(W1 [x, y, x*y] + b1) + b2) */
    for (int act = 0; act < ACT_COUNT; act++) {
        enum { H = 5 };
        int t1 = sym_add_tensor(S, "W1", H, 3), tb1 = sym_add_tensor(S, "b1", H, 1);
        int t2 = sym_add_tensor(S, "W2", H, H), tb2 = sym_add_tensor(S, "b2", H, 1);
        int t3 = sym_add_tensor(S, "W3", 1, H);
        int sizes[5][2] = {{H, 3}, {H, 1}, {H, H}, {H, 1}, {1, H}};
        int ids[5] = {t1, tb1, t2, tb2, t3};
        for (int k = 0; k < 5; k++) {
            double *d = arena_alloc(a, (size_t)(sizes[k][0] * sizes[k][1]) * sizeof *d);
            for (int i = 0; i < sizes[k][0] * sizes[k][1]; i++)
                d[i] = uniform(-1, 1);
            S->tensors[ids[k]].data = d;
        }
        SymId in = sym_vec(S, (SymId[]){x, y, sym_mul2(S, x, y)}, 3);
        SymId h1 = sym_act(S, (SymAct)act, 0, sym_vadd(S, sym_matvec(S, t1, in), sym_vparam(S, tb1)));
        SymId h2 = sym_act(S, (SymAct)act, 0, sym_vadd(S, sym_matvec(S, t2, h1), sym_vparam(S, tb2)));
        SymId L = sym_add2(S, sym_comp(S, sym_matvec(S, t3, h2), 0),
                           sym_mul2(S, sym_num(S, 0.5), sym_dot(S, h1, h1)));
        SymId dx = sym_diff(S, L, vx), dy = sym_diff(S, L, vy);
        SymId g[2];
        sym_grad(S, L, vars, 2, g);
        SymId gxy = sym_diff(S, g[0], vy), gyy = sym_diff(S, g[1], vy); /* forward over reverse */
        int first = 1, second = 1, agree = 1;
        for (int k = 0; k < 20; k++) {
            double pt[NV] = {uniform(-1, 1), uniform(-1, 1), 2.0};
            double wx = fd(S, L, X, pt), wy = fd(S, L, Y, pt);
            first &= close_to(sym_eval(S, dx, pt), wx, 1e-6) && close_to(sym_eval(S, dy, pt), wy, 1e-6);
            agree &= close_to(sym_eval(S, g[0], pt), sym_eval(S, dx, pt), 1e-12) &&
                     close_to(sym_eval(S, g[1], pt), sym_eval(S, dy, pt), 1e-12);
            if (act != ACT_RELU) /* relu has no second derivative */
                second &= close_to(sym_eval(S, gxy, pt), fd(S, g[0], Y, pt), 1e-5) &&
                          close_to(sym_eval(S, gyy, pt), fd(S, g[1], Y, pt), 1e-5);
        }
        ok(first, "sym-5.%d %s network: forward derivatives match differences", 3 * act + 1,
           sym_act_name((SymAct)act));
        ok(agree, "sym-5.%d %s network: reverse gradient equals forward", 3 * act + 2,
           sym_act_name((SymAct)act));
        ok(second, "sym-5.%d %s network: forward-over-reverse second derivatives match differences",
           3 * act + 3, sym_act_name((SymAct)act));
    }
    {
        /* activation derivatives against differences of the lower order */
        int good = 1;
        for (int act = 0; act < ACT_COUNT; act++)
            for (int k = 0; k < 3; k++) {
                if ((act == ACT_RELU && k >= 1) || (act == ACT_RELU2 && k >= 2))
                    continue; /* kinks at 0: checked away from it below */
                for (int i = 0; i < 20; i++) {
                    double z = uniform(-3, 3), h = 1e-5;
                    double want = (sym_act_eval((SymAct)act, k, z + h) - sym_act_eval((SymAct)act, k, z - h)) / (2 * h);
                    good &= close_to(sym_act_eval((SymAct)act, k + 1, z), want, 1e-6);
                }
            }
        ok(good, "sym-5.16 activation derivatives of orders 1-3 match differences");
    }

    /* sym-6: a network's value, gradient and a second derivative lowered to
     * vector IR and run by the VM, one sample and a batch, against sym_eval */
    {
        int vxd = sym_add_var(S, "x'", "x", SV_COORD, 0, 1, 0);
        int vyd = sym_add_var(S, "y'", "y", SV_COORD, 1, 1, 0);
        int vt = sym_add_var(S, "t", "t", SV_TIME, 0, 0, 0);
        for (int act = ACT_SOFTPLUS; act <= ACT_TANH; act++) {
            enum { H = 6, NB = 4 };
            int t1 = sym_add_tensor(S, "W1", H, 3), tb1 = sym_add_tensor(S, "b1", H, 1);
            int t2 = sym_add_tensor(S, "W2", H, H), t3 = sym_add_tensor(S, "W3", 1, H);
            int sizes[4][2] = {{H, 3}, {H, 1}, {H, H}, {1, H}}, ids[4] = {t1, tb1, t2, t3};
            for (int k = 0; k < 4; k++) {
                double *d = arena_alloc(a, (size_t)(sizes[k][0] * sizes[k][1]) * sizeof *d);
                for (int i = 0; i < sizes[k][0] * sizes[k][1]; i++)
                    d[i] = uniform(-1, 1);
                S->tensors[ids[k]].data = d;
            }
            SymId in = sym_vec(S, (SymId[]){x, y, sym_mul(S, (SymId[]){m, x, y}, 3)}, 3);
            SymId h1 = sym_act(S, (SymAct)act, 0, sym_vadd(S, sym_matvec(S, t1, in), sym_vparam(S, tb1)));
            SymId h2 = sym_act(S, (SymAct)act, 0, sym_matvec(S, t2, h1));
            SymId L = sym_add2(S, sym_comp(S, sym_matvec(S, t3, h2), 0),
                               sym_mul2(S, sym_num(S, 0.5), sym_dot(S, h1, h1)));
            SymId g[2];
            sym_grad(S, L, (int[]){vx, vy}, 2, g);
            SymId roots[5] = {L, g[0], g[1], sym_diff(S, g[0], vy), sym_sumv(S, h1)};
            /* a Jacobian-vector product against the same combination of partials */
            SymId jv = sym_jvp(S, g[0], (int[]){vx, vy}, (SymId[]){m, x}, 2);
            SymId jv_want = sym_add2(S, sym_mul2(S, m, sym_diff(S, g[0], vx)), sym_mul2(S, x, sym_diff(S, g[0], vy)));
            const char *names[5] = {"L", "Lx", "Ly", "Lxy", "sum_h1"};
            Mech mech = {0};
            mech.S = S;
            mech.n = 2;
            mech.q = (int[]){vx, vy};
            mech.v = (int[]){vxd, vyd};
            mech.np = 1;
            mech.par = (int[]){vp};
            mech.t = vt;
            IrProgram *p = lower_exprs(&mech, "net", roots, names, 5);
            int nvec = 0;
            for (int i = 0; i < p->ncode; i++)
                nvec += p->code[i].op == IR_VMATVEC || p->code[i].op == IR_VMATTVEC;
            const IrProgram *pp = p;
            Vm *one = vm_alloc(&pp, 1, 1), *batch = vm_alloc(&pp, 1, NB);
            double st[4 * NB], ob[5 * NB], par[1] = {2.0};
            for (int s = 0; s < NB; s++) {
                st[4 * s] = uniform(-1, 1);
                st[4 * s + 1] = uniform(-1, 1);
                st[4 * s + 2] = st[4 * s + 3] = 0;
            }
            int good = vm_run(batch, p, NB, st, 4, 0, par, ob, 5) == VM_OK, same = 1;
            for (int s = 0; s < NB; s++) {
                double o[5], *pt = mem_xalloc((size_t)S->nvars * sizeof *pt);
                for (int v = 0; v < S->nvars; v++)
                    pt[v] = 0;
                pt[vx] = st[4 * s];
                pt[vy] = st[4 * s + 1];
                pt[vp] = 2.0;
                good &= vm_run(one, p, 1, st + 4 * s, 4, 0, par, o, 5) == VM_OK;
                good &= close_to(sym_eval(S, jv, pt), sym_eval(S, jv_want, pt), 1e-12);
                for (int i = 0; i < 5; i++) {
                    good &= close_to(o[i], sym_eval(S, roots[i], pt), 1e-12);
                    same &= o[i] == ob[5 * s + i];
                }
                mem_free(pt);
            }
            ok(good && nvec >= 3, "sym-6.%d %s network lowered to %d instructions (%d matrix products, "
               "%d registers): value and derivatives equal sym_eval; a JVP equals its partials", 2 * act + 1,
               sym_act_name((SymAct)act), p->ncode, nvec, p->nregs);
            ok(same, "sym-6.%d %s network: a batch of %d equals one sample at a time", 2 * act + 2,
               sym_act_name((SymAct)act), NB);
            vm_free(one);
            vm_free(batch);
            ir_free(p);
        }
    }
    /* sym-7: learned systems from source: a net inside L, lowered and run,
     * against accelerations from central differences of L itself */
    {
        static const char src[] =
            "system LearnedPair {\n"
            "    coord a, b\n"
            "    net f = mlp(in = 4, hidden = [12, 12], out = 1, activation = tanh)\n"
            "    L = f(cos(a), sin(b), a', b') + 0.5*(a'^2 + b'^2)\n"
            "}\n"
            "system Exchange {\n"
            "    coord a, b\n"
            "    net g = mlp(in = 4, hidden = [8], out = 1, init = xavier)\n"
            "    L = g(a, b, a', b') + g(b, a, b', a') + 0.5*(a'^2 + b'^2)\n"
            "}\n";
        Front F7;
        int rc7 = front_load_text(&F7, "learned.lag", src, sizeof src - 1, stderr);
        ok(rc7 == 0, "sym-7.1 two learned systems check");
        if (rc7 == 0) {
            const Item *sys = F7.prog.items;
            Sym *D = sym_new(F7.arena);
            Mech lm;
            int built = mech_build(&lm, D, &F7.diag, sys, MECH_NETS) == 0 && lm.learned;
            IrProgram *p = built ? lower_rhs(&lm) : NULL;
            const IrProgram *pp = p;
            Vm *vm = p ? vm_alloc(&pp, 1, 1) : NULL;
            double worst = 0;
            int ran = 1;
            for (int trial = 0; trial < 10 && p; trial++) {
                double st[4] = {uniform(-3, 3), uniform(-3, 3), uniform(-2, 2), uniform(-2, 2)}, acc[2];
                ran &= vm_run(vm, p, 1, st, 4, 0, NULL, acc, 2) == VM_OK;
                double *pt = mem_xalloc((size_t)D->nvars * sizeof *pt);
                for (int v = 0; v < D->nvars; v++)
                    pt[v] = 0;
                int var[4] = {lm.q[0], lm.q[1], lm.v[0], lm.v[1]};
                for (int i = 0; i < 4; i++)
                    pt[var[i]] = st[i];
                /* d2L/dxi dxj by the four-point central difference */
                const double h = 1e-4;
                double d2[4][4], d1[4];
                for (int i = 0; i < 4; i++) {
                    double xi = pt[var[i]];
                    pt[var[i]] = xi + h;
                    double lp = sym_eval(D, lm.L, pt);
                    pt[var[i]] = xi - h;
                    double lmn = sym_eval(D, lm.L, pt);
                    pt[var[i]] = xi;
                    d1[i] = (lp - lmn) / (2 * h);
                    for (int j = 0; j < 4; j++) {
                        double xj = pt[var[j]], q4[4];
                        for (int c = 0; c < 4; c++) {
                            pt[var[i]] += c & 1 ? -h : h;
                            pt[var[j]] += c & 2 ? -h : h;
                            q4[c] = sym_eval(D, lm.L, pt);
                            pt[var[i]] = xi;
                            pt[var[j]] = xj;
                        }
                        d2[i][j] = (q4[0] - q4[1] - q4[2] + q4[3]) / (4 * h * h);
                    }
                }
                mem_free(pt);
                /* M a = dL/dq - (d2L/dq' dq) q' */
                double M[2][2] = {{d2[2][2], d2[2][3]}, {d2[3][2], d2[3][3]}}, fv[2];
                for (int i = 0; i < 2; i++)
                    fv[i] = d1[i] - d2[2 + i][0] * st[2] - d2[2 + i][1] * st[3];
                double det = M[0][0] * M[1][1] - M[0][1] * M[1][0];
                double want[2] = {(M[1][1] * fv[0] - M[0][1] * fv[1]) / det,
                                  (M[0][0] * fv[1] - M[1][0] * fv[0]) / det};
                for (int i = 0; i < 2; i++) {
                    worst_update(&worst, fabs(acc[i] - want[i]) / (1 + fabs(want[i])));
                }
            }
            ok(p && ran && worst < 1e-5, "sym-7.2 learned pair: lowered accelerations equal those from "
               "differences of L (worst relative error %.1e, 10 states)", worst);
            if (vm)
                vm_free(vm);
            if (p)
                ir_free(p);
            /* exchange symmetry by construction: a'' at (a, b, a', b') is b'' at (b, a, b', a') */
            Mech em;
            int ebuilt = mech_build(&em, D, &F7.diag, sys->next, MECH_NETS) == 0;
            IrProgram *q = ebuilt ? lower_rhs(&em) : NULL;
            const IrProgram *qq = q;
            Vm *vq = q ? vm_alloc(&qq, 1, 1) : NULL;
            double sym_err = q ? 0 : 1;
            int eran = 1;
            for (int trial = 0; trial < 10 && q; trial++) {
                double s1[4] = {uniform(-1, 1), uniform(-1, 1), uniform(-1, 1), uniform(-1, 1)};
                double s2[4] = {s1[1], s1[0], s1[3], s1[2]}, a1[2], a2[2];
                eran &= vm_run(vq, q, 1, s1, 4, 0, NULL, a1, 2) == VM_OK;
                eran &= vm_run(vq, q, 1, s2, 4, 0, NULL, a2, 2) == VM_OK;
                worst_update(&sym_err, fabs(a1[0] - a2[1]));
                worst_update(&sym_err, fabs(a1[1] - a2[0]));
            }
            ok(ebuilt && eran && em.nnets == 1 && sym_err < 1e-12,
               "sym-7.3 one net called twice is one set of weights, and the exchange-symmetric L "
               "gives exchange-symmetric accelerations (%.1e)", sym_err);
            if (vq)
                vm_free(vq);
            if (q)
                ir_free(q);
            /* sym-9: the learned M and (dp/dq) q' come from sym_hess_forms
             * (adjoints and forward tangents); they must equal forward
             * derivatives of the momenta (the other way to build them) */
            if (built) {
                double worst9 = 0;
                SymId dirs9[2] = {sym_var(D, lm.v[0]), sym_var(D, lm.v[1])};
                for (int trial = 0; trial < 8; trial++) {
                    double *pt = mem_xalloc((size_t)D->nvars * sizeof *pt);
                    for (int v = 0; v < D->nvars; v++)
                        pt[v] = uniform(-2, 2);
                    for (int i = 0; i < 2; i++) {
                        for (int j = 0; j < 2; j++) {
                            double want = sym_eval(D, sym_diff(D, lm.p[i], lm.v[j]), pt);
                            double got = sym_eval(D, lm.M[i * 2 + j], pt);
                            worst_update(&worst9, fabs(got - want) / (1 + fabs(want)));
                        }
                        /* f_i = dL/dq_i - (dp_i/dq) q' (no force, no t) */
                        double want = sym_eval(D, sym_diff(D, lm.L, lm.q[i]), pt) -
                                      sym_eval(D, sym_jvp(D, lm.p[i], lm.q, dirs9, 2), pt);
                        double got = sym_eval(D, lm.f[i], pt);
                        worst_update(&worst9, fabs(got - want) / (1 + fabs(want)));
                    }
                    mem_free(pt);
                }
                ok(worst9 < 1e-12, "sym-9.1 learned M and f from second-order forms equal forward "
                   "derivatives of the momenta (worst relative difference %.1e, 8 states)", worst9);
                /* scalar nodes: products, powers, functions */
                int xv = sym_add_var(D, "hx", "hx", SV_OTHER, 0, 0, 0), yv = sym_add_var(D, "hy", "hy", SV_OTHER, 1, 0, 0);
                SymId hx = sym_var(D, xv), hy = sym_var(D, yv);
                SymId e = sym_add2(D, sym_mul2(D, sym_fn(D, FN_SIN, hx, 0), sym_powi(D, hy, 3)),
                                   sym_fn(D, FN_EXP, sym_mul2(D, hx, hy), 0));
                e = sym_add2(D, e, sym_fn(D, FN_ATAN2, hy, sym_add2(D, hx, sym_num(D, 3))));
                int hv[2] = {xv, yv}, hp[6] = {0, 0, 0, 1, 1, 1};
                SymId hd[4] = {D->one, D->zero, D->zero, D->one}, hf[3];
                sym_hess_forms(D, e, hv, 2, hd, 2, hp, 3, hf);
                SymId hw[3] = {sym_diff(D, sym_diff(D, e, xv), xv), sym_diff(D, sym_diff(D, e, xv), yv),
                               sym_diff(D, sym_diff(D, e, yv), yv)};
                double worst9b = 0;
                for (int trial = 0; trial < 8; trial++) {
                    double *pt = mem_xalloc((size_t)D->nvars * sizeof *pt);
                    for (int v = 0; v < D->nvars; v++)
                        pt[v] = uniform(-1, 1);
                    for (int k = 0; k < 3; k++) {
                        double want = sym_eval(D, hw[k], pt), got = sym_eval(D, hf[k], pt);
                        worst_update(&worst9b, fabs(got - want) / (1 + fabs(want)));
                    }
                    mem_free(pt);
                }
                ok(worst9b < 1e-13, "sym-9.2 second-order forms of sin x y^3 + exp(x y) + atan2(y, x + 3) equal "
                   "its second partial derivatives (%.1e)", worst9b);
            }
            /* sym-8: the reverse sweep over a tape (runtime/adjoint.c): the
             * gradient of sum_s sum_o w[s][o] a[s][o] with respect to every
             * weight, against central differences in the weights */
            if (built) {
                enum { NB8 = 5 };
                IrProgram *t = lower_rhs_tape(&lm), *plain = lower_rhs(&lm);
                const IrProgram *tt = t, *pl = plain;
                Vm *vt = vm_alloc(&tt, 1, NB8), *vpl = vm_alloc(&pl, 1, NB8);
                char aerr[256] = "";
                Adjoint *adj = adj_alloc(t, NB8, aerr, sizeof aerr);
                ok(adj != NULL, "sym-8.1 the tape of a learned system is accepted by the reverse sweep %s", aerr);
                double st[NB8 * 4], wts[NB8 * 2], out_t[NB8 * 2], out_p[NB8 * 2];
                for (int i = 0; i < NB8 * 4; i++)
                    st[i] = uniform(-2, 2);
                for (int i = 0; i < NB8 * 2; i++)
                    wts[i] = uniform(-1, 1);
                int ran8 = vm_run(vt, t, NB8, st, 4, 0, NULL, out_t, 2) == VM_OK;
                ran8 &= vm_run(vpl, plain, NB8, st, 4, 0, NULL, out_p, 2) == VM_OK;
                int finite8 = 1;
                for (int i = 0; i < NB8 * 2; i++)
                    finite8 &= isfinite(out_t[i]);
                ok(ran8 && finite8 && memcmp(out_t, out_p, sizeof out_t) == 0,
                   "sym-8.2 the tape computes the accelerations of the ordinary program to the bit");
                double **g = mem_xalloc((size_t)t->ntensors * sizeof *g);
                for (int k = 0; k < t->ntensors; k++) {
                    size_t sz = (size_t)t->tensors[k].rows * (size_t)t->tensors[k].cols;
                    g[k] = mem_xalloc(sz * sizeof **g);
                    memset(g[k], 0, sz * sizeof **g);
                }
                if (adj)
                    adj_run(adj, vt, t, NB8, wts, g);
                double worst8 = 0;
                int checked = 0;
                for (int k = 0; k < t->ntensors && adj; k++) {
                    double *d = (double *)t->tensors[k].data;
                    int sz = t->tensors[k].rows * t->tensors[k].cols;
                    for (int rep = 0; rep < 6; rep++) {
                        int e = (int)uniform(0, sz - 1e-9);
                        double w0 = d[e], h = 1e-5 * (1 + fabs(w0)), f[2];
                        for (int side = 0; side < 2; side++) {
                            d[e] = w0 + (side ? -h : h);
                            ir_tensor_refresh(t);
                            vm_forget(vt);
                            double o[NB8 * 2];
                            ran8 &= vm_run(vt, t, NB8, st, 4, 0, NULL, o, 2) == VM_OK;
                            f[side] = 0;
                            for (int i = 0; i < NB8 * 2; i++)
                                f[side] += wts[i] * o[i];
                        }
                        d[e] = w0;
                        ir_tensor_refresh(t);
                        vm_forget(vt);
                        double fd = (f[0] - f[1]) / (2 * h);
                        worst_update(&worst8, fabs(fd - g[k][e]) / (1e-3 + fabs(fd)));
                        checked++;
                    }
                }
                ok(adj && ran8 && checked == 6 * t->ntensors && worst8 < 1e-5,
                   "sym-8.3 weight gradients through M^-1 f of a learned L equal central differences "
                   "(%d entries of %d tensors, worst relative error %.1e)", checked, t->ntensors, worst8);
                for (int k = 0; k < t->ntensors; k++)
                    mem_free(g[k]);
                mem_free(g);
                adj_free(adj);
                vm_free(vt);
                vm_free(vpl);
                ir_free(t);
                ir_free(plain);
            }
            sym_free(D);
        }
        front_fini(&F7);
    }
    /* sym-10: the Jacobian of the accelerations without closed forms
     * (lower_jacobian_solve: da/dx = M^-1 (df/dx - (dM/dx) a), inputs
     * (q, q', a), outputs da_i/dy_j row-major n x 2n, then da_i/dt) against
     * central differences of the lowered right-hand side itself.  A driven
     * triple pendulum: M depends on every angle, f on t. */
    {
        static const char src10[] =
            "system DrivenTriple {\n"
            "    param m1 = 1, m2 = 1.5, m3 = 0.7, l1 = 1, l2 = 0.8, l3 = 1.2, g = 9.81, F = 0.6\n"
            "    coord a1, a2, a3\n"
            "    let vx1 = l1*cos(a1)*a1'\n"
            "    let vy1 = l1*sin(a1)*a1'\n"
            "    let vx2 = vx1 + l2*cos(a2)*a2'\n"
            "    let vy2 = vy1 + l2*sin(a2)*a2'\n"
            "    let vx3 = vx2 + l3*cos(a3)*a3'\n"
            "    let vy3 = vy2 + l3*sin(a3)*a3'\n"
            "    let T = 0.5*m1*(vx1^2 + vy1^2) + 0.5*m2*(vx2^2 + vy2^2) + 0.5*m3*(vx3^2 + vy3^2)\n"
            "    let V = -m1*g*l1*cos(a1) - m2*g*(l1*cos(a1) + l2*cos(a2))\n"
            "          - m3*g*(l1*cos(a1) + l2*cos(a2) + l3*cos(a3))\n"
            "    L = T - V + F*sin(2*t)*a3 + 0.2*a1'*a2*cos(t)\n"
            "}\n";
        Front F10;
        int rc10 = front_load_text(&F10, "triple.lag", src10, sizeof src10 - 1, stderr);
        ok(rc10 == 0, "sym-10.1 a driven triple pendulum checks");
        if (rc10 == 0) {
            enum { N = 3, N2 = 2 * N };
            Sym *D = sym_new(F10.arena);
            Mech tm;
            int built = mech_build(&tm, D, &F10.diag, F10.prog.items, 0) == 0 && tm.n == N;
            IrProgram *rhs = built ? lower_rhs(&tm) : NULL;
            IrProgram *jac = built ? lower_jacobian_solve(&tm) : NULL;
            int shapes = rhs && jac && rhs->nout == N && jac->nout == N * N2 + N &&
                         rhs->nparams == tm.np && jac->nparams == tm.np;
            ok(built && shapes && tm.accel != MECH_ACCEL_SYMBOLIC,
               "sym-10.2 it has no closed-form accelerations; the Jacobian program has %d outputs "
               "(n x 2n + n = %d)", jac ? jac->nout : -1, N * N2 + N);
            double worst = 0, largest = 0;
            int ran = shapes, points = 0;
            if (shapes) {
                const IrProgram *progs[2] = {rhs, jac};
                Vm *vr = vm_alloc(progs, 1, 1), *vj = vm_alloc(progs + 1, 1, 1);
                const double *par = rhs->param_values;
                for (int trial = 0; trial < 12; trial++) {
                    double y10[N2], t = uniform(0, 3), acc10[N], in[3 * N], J[N * N2 + N];
                    for (int i = 0; i < N; i++) {
                        y10[i] = uniform(-1.2, 1.2);
                        y10[N + i] = uniform(-1.5, 1.5);
                    }
                    ran &= vm_run(vr, rhs, 1, y10, N2, t, par, acc10, N) == VM_OK;
                    memcpy(in, y10, sizeof y10);
                    memcpy(in + N2, acc10, sizeof acc10);
                    ran &= vm_run(vj, jac, 1, in, 3 * N, t, jac->param_values, J, N * N2 + N) == VM_OK;
                    /* column k: d a / d y_k (k < 2n) or d a / dt (k = 2n) */
                    for (int k = 0; k <= N2; k++) {
                        double yp[N2], ym[N2], ap[N], am[N];
                        double h = 1e-5 * (1 + (k < N2 ? fabs(y10[k]) : fabs(t)));
                        memcpy(yp, y10, sizeof y10);
                        memcpy(ym, y10, sizeof y10);
                        double tp = t, tm_ = t;
                        if (k < N2) {
                            yp[k] += h;
                            ym[k] -= h;
                        } else {
                            tp += h;
                            tm_ -= h;
                        }
                        ran &= vm_run(vr, rhs, 1, yp, N2, tp, par, ap, N) == VM_OK;
                        ran &= vm_run(vr, rhs, 1, ym, N2, tm_, par, am, N) == VM_OK;
                        for (int i = 0; i < N; i++) {
                            double want = (ap[i] - am[i]) / (2 * h);
                            double got = k < N2 ? J[i * N2 + k] : J[N * N2 + i];
                            worst_update(&worst, fabs(got - want) / (1 + fabs(want)));
                            worst_update(&largest, fabs(want));
                            points++;
                        }
                    }
                }
                vm_free(vr);
                vm_free(vj);
            }
            /* the derivatives are of order 1..100 here: a zero Jacobian cannot pass */
            ok(ran && points == 12 * N * (N2 + 1) && worst < 1e-6 && largest > 1,
               "sym-10.3 the exact Jacobian of the accelerations (d/dq, d/dq', d/dt) equals central "
               "differences of the right-hand side (%d entries, worst relative error %.1e, largest "
               "entry %.3g)", points, worst, largest);
            ir_free(rhs);
            ir_free(jac);
            sym_free(D);
        }
        front_fini(&F10);
    }
    sym_free(S);
    arena_free(a);
    printf("1..%d\n", test_no);
    return 0;
}
