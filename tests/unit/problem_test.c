/*
 * tests/unit/problem_test.c — the interval terms of the variational
 * engine (lang/mech.c: mech_build_problem, mech_build_action; lang/job.c:
 * job_term_build) against finite differences (TAP).
 *
 * For each term the lowered program gives the value, the gradient and the
 * Hessian in the 2nf node values; both derivatives are checked against
 * central differences of the value (the gradient) and of the gradient (the
 * Hessian), at random node values, and the value against the integrand
 * written out here at the midpoint.  The shallower programs (the value
 * only; the value and gradient) give the same numbers as the first outputs
 * of the full one (problem-1.3).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/front.h"
#include "lang/job.h"
#include "lang/mech.h"
#include "runtime/solve.h"
#include "runtime/vm.h"

#define TAP_SEED 0x5eed5eedu
#include "tests/unit/tap.h"

/* Value, gradient (2nf) and Hessian of the term at in (2nf node values,
 * then x). */
static int eval(JobTerm *t, const double *in, double *out)
{
    return job_term_eval(t, SOLVE_HESSIAN, 1, in, out);
}

/* The worst relative error of the term's gradient and Hessian against
 * central differences at in. */
static double fd_check(JobTerm *t, int nf, double *in)
{
    const int n2 = 2 * nf, stride = 1 + n2 + n2 * n2;
    double *out = malloc((size_t)stride * sizeof *out), *op = malloc((size_t)stride * sizeof *op),
           *om = malloc((size_t)stride * sizeof *om);
    double worst = 0;
    if (eval(t, in, out) != 0)
        worst = INFINITY;
    for (int j = 0; j < n2 && isfinite(worst); j++) {
        double x = in[j], d = 1e-5 * (1 + fabs(x));
        in[j] = x + d;
        int a = eval(t, in, op);
        in[j] = x - d;
        int b = eval(t, in, om);
        in[j] = x;
        if (a || b) {
            worst = INFINITY;
            break;
        }
        double g = (op[0] - om[0]) / (2 * d);
        worst_update(&worst, fabs(g - out[1 + j]) / (1 + fabs(g)));
        for (int i = 0; i < n2; i++) {
            double hij = (op[1 + i] - om[1 + i]) / (2 * d);
            worst_update(&worst, fabs(hij - out[1 + n2 + i * n2 + j]) / (1 + fabs(hij)));
        }
    }
    free(out);
    free(op);
    free(om);
    return worst;
}

int main(void)
{
    printf("1..6\n");
    ok(worst_selfcheck(), "problem-0 worst_update latches NaN and infinity");

    /* 1. a problem with two fields, a let, a parameter, x explicitly */
    static const char src[] =
        "problem P {\n"
        "    param g = 2.5\n"
        "    domain x = 0 .. 2\n"
        "    field y, z\n"
        "    let rho = 1 + 0.5*x\n"
        "    fix y(0) = 0, z(2) = 1\n"
        "    subject integral(sqrt(1 + y'^2 + z'^2)) = 3\n"
        "    minimize integral(rho*g*y*sqrt(1 + y'^2) + sin(z)*z'^2 + x*y*z)\n"
        "}\n";
    Front F;
    int rc = front_load_text(&F, "p.lag", src, sizeof src - 1, stderr);
    Sym *S = rc == 0 ? sym_new(F.arena) : NULL;
    Problem P;
    int built = rc == 0 && mech_build_problem(&P, S, &F.diag, F.prog.items, NULL) == 0;
    double worst = built ? 0 : INFINITY, worst_v = built ? 0 : INFINITY, worst_d = built ? 0 : INFINITY;
    if (built) {
        const double h = 0.01;
        double *params = calloc((size_t)P.m.np, sizeof *params);
        params[0] = 2.5;
        params[P.m.np - 1] = h;
        JobTerm obj;
        job_term_build(&obj, &P, P.objective, "obj");
        JobTerm con;
        job_term_build(&con, &P, P.cons[0], "con");
        job_term_open(&obj, params, 1);
        job_term_open(&con, params, 1);
        for (int trial = 0; trial < 20; trial++) {
            double in[5];
            for (int i = 0; i < 4; i++)
                in[i] = uniform(-1, 1);
            in[4] = uniform(0, 2);
            worst_update(&worst, fd_check(&obj, 2, in));
            worst_update(&worst, fd_check(&con, 2, in));
            for (int d = SOLVE_VALUE; d < SOLVE_HESSIAN; d++)
                for (int c = 0; c < 2; c++) {
                    JobTerm *t = c ? &con : &obj;
                    double full[21], part[5];
                    int n = d == SOLVE_VALUE ? 1 : 5;
                    if (job_term_eval(t, SOLVE_HESSIAN, 1, in, full) != 0 || job_term_eval(t, d, 1, in, part) != 0)
                        worst_d = INFINITY;
                    for (int i = 0; i < n; i++)
                        worst_update(&worst_d, fabs(part[i] - full[i]) / (1 + fabs(full[i])));
                }
            /* the values: h times the integrands at the midpoint */
            double y = 0.5 * (in[0] + in[2]), z = 0.5 * (in[1] + in[3]), yp = (in[2] - in[0]) / h,
                   zp = (in[3] - in[1]) / h, x = in[4];
            double want_o = h * ((1 + 0.5 * x) * 2.5 * y * sqrt(1 + yp * yp) + sin(z) * zp * zp + x * y * z);
            double want_c = h * sqrt(1 + yp * yp + zp * zp); /* the lhs; its value 3 apart */
            double out[1 + 4 + 16];
            if (eval(&obj, in, out) != 0)
                worst_v = INFINITY;
            worst_update(&worst_v, fabs(out[0] - want_o) / (1 + fabs(want_o)));
            if (eval(&con, in, out) != 0)
                worst_v = INFINITY;
            worst_update(&worst_v, fabs(out[0] - want_c) / (1 + fabs(want_c)));
        }
        /* the constraint's value and the domain: expressions of the parameters */
        double *xv = calloc((size_t)S->nvars + 1, sizeof *xv);
        xv[P.m.par[0]] = 2.5;
        double c = sym_eval(S, P.cons_value[0], xv), lo = sym_eval(S, P.lo_e, xv), hi = sym_eval(S, P.hi_e, xv);
        if (!(c == 3 && lo == 0 && hi == 2))
            worst_v = INFINITY;
        free(xv);
        job_term_close(&obj);
        job_term_close(&con);
        free(params);
    }
    ok(worst < 1e-6, "problem-1.1 a two-field problem: gradient and Hessian of the objective and constraint "
       "terms match central differences (worst %.2g)", worst);
    ok(worst_v < 1e-13, "problem-1.2 the terms are h times the integrands at the midpoint, y' the slope; the "
       "constraint's value and the domain's ends evaluate to 3 and 0 .. 2 (worst %.2g)", worst_v);
    ok(worst_d < 1e-15, "problem-1.3 the value-only and value-and-gradient programs give the full program's "
       "first outputs (worst %.2g)", worst_d);
    if (S)
        sym_free(S);
    if (rc == 0)
        front_fini(&F);

    /* 2. the action of a double pendulum: the term h L(mid, slope, t_mid) */
    static const char dp[] =
        "system DP {\n"
        "    param m1 = 1, m2 = 2, l1 = 1, l2 = 0.5, g = 9.81\n"
        "    coord a, b\n"
        "    L = 0.5*(m1 + m2)*l1^2*a'^2 + 0.5*m2*l2^2*b'^2 + m2*l1*l2*a'*b'*cos(a - b)\n"
        "        + (m1 + m2)*g*l1*cos(a) + m2*g*l2*cos(b) + 0.1*t*a\n"
        "}\n";
    Front G;
    rc = front_load_text(&G, "dp.lag", dp, sizeof dp - 1, stderr);
    S = rc == 0 ? sym_new(G.arena) : NULL;
    built = rc == 0 && mech_build_action(&P, S, &G.diag, G.prog.items, 0, 1, NULL) == 0;
    worst = built ? 0 : INFINITY;
    worst_v = built ? 0 : INFINITY;
    if (built) {
        const double h = 0.02;
        double params[6] = {1, 2, 1, 0.5, 9.81, h};
        JobTerm act;
        job_term_build(&act, &P, P.objective, "action");
        job_term_open(&act, params, 1);
        for (int trial = 0; trial < 20; trial++) {
            double in[5];
            for (int i = 0; i < 4; i++)
                in[i] = uniform(-1.5, 1.5);
            in[4] = uniform(0, 1);
            worst_update(&worst, fd_check(&act, 2, in));
            double a = 0.5 * (in[0] + in[2]), b = 0.5 * (in[1] + in[3]), ap = (in[2] - in[0]) / h,
                   bp = (in[3] - in[1]) / h, t = in[4];
            double L = 0.5 * 3 * ap * ap + 0.5 * 2 * 0.25 * bp * bp + 2 * 0.5 * ap * bp * cos(a - b) +
                       3 * 9.81 * cos(a) + 2 * 9.81 * 0.5 * cos(b) + 0.1 * t * a;
            double out[1 + 4 + 16];
            if (eval(&act, in, out) != 0)
                worst_v = INFINITY;
            worst_update(&worst_v, fabs(out[0] - h * L) / (1 + fabs(h * L)));
        }
        job_term_close(&act);
    }
    ok(worst < 1e-6, "problem-2.1 the double pendulum's action term: gradient and Hessian match central "
       "differences (worst %.2g)", worst);
    ok(worst_v < 1e-13, "problem-2.2 the action term is h L at the midpoint, with t at the midpoint (worst %.2g)",
       worst_v);
    if (S)
        sym_free(S);
    if (rc == 0)
        front_fini(&G);
    return 0;
}
