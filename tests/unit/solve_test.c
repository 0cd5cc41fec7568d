/*
 * tests/unit/solve_test.c — the variational engine runtime/solve.c (TAP).
 *
 * The engine is included whole so that its assembly can be checked
 * directly (solve-2); the terms are C callbacks with hand-derived
 * gradients and Hessians.
 *
 * solve-1: the discrete hanging chain of ../shared/anchors (section (A)):
 *          against the continuous closed form (objective, multiplier,
 *          y(0.5), max error at 400 points), second order from 200 to 400
 *          points, IPOPT's discrete values at 1000 points, a minimum with
 *          Morse index 0; from the default guess and from -0.5 x(1-x);
 *          maximize gives the arch (a maximum, the sign-flipped multiplier).
 * solve-2: the assembled gradient, band Hessian and constraint gradients
 *          against central differences of the totals, for the chain and a
 *          two-field term with mixed fixed ends.
 * solve-3: the harmonic oscillator's action from x(0) = 0 to x(T) = 1:
 *          the discrete action's closed form (1e-12) and the continuous
 *          cot(T)/2 (1e-4 at 1000 points: the discretisation's own error, ~T h^2), Morse index 0, 1, 2 for
 *          T = 1, 4, 7.
 * solve-4: failures: a chain shorter than its gap (status 3 before Newton,
 *          the message names the constraint and both lengths), max_iter 1
 *          (status 3, the iteration and residual named, the CSV written),
 *          a term that cannot be evaluated at the guess; the JSON summary.
 * solve-5: 10^5 points.  With SOLVE_BENCH=1 in the environment, the time
 *          per iteration at 10^4, 10^5 and 10^6 points is printed as TAP
 *          comments (never asserted).
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/solve.c"

#include <stdlib.h>
#include <unistd.h>

#define TAP_SEED 0x5D0E11A7C0FFEEull
#include "tests/unit/tap.h"

/* The terms below write the value, gradient and Hessian of each interval
 * (a stride of 1 + q + q^2, q = 2nf); by_depth hands the engine the part
 * its depth asks for, in that depth's stride. */
typedef int (*FullFn)(void *ctx, int B, const double *in, double *out);

static int by_depth(FullFn f, void *ctx, int depth, int B, const double *in, double *out, int q)
{
    size_t full = (size_t)(1 + q + q * q), os = depth == SOLVE_VALUE ? 1 : depth == SOLVE_GRADIENT ? (size_t)(1 + q) : full;
    if (B < 1 || B > SOLVE_CHUNK)
        return -1; /* the engine's promise (solve.h) */
    double *tmp = mem_xalloc((size_t)B * full * sizeof *tmp);
    int rc = f(ctx, B, in, tmp);
    for (int k = 0; k < B; k++)
        memcpy(out + (size_t)k * os, tmp + (size_t)k * full, os * sizeof *out);
    mem_free(tmp);
    return rc;
}

#define BY_DEPTH(name, q)                                                                  \
    static int name##_full(void *ctx, int B, const double *in, double *out);               \
    static int name(void *ctx, int depth, int B, const double *in, double *out)            \
    {                                                                                      \
        return by_depth(name##_full, ctx, depth, B, in, out, q);                           \
    }
BY_DEPTH(chain_obj, 2)
BY_DEPTH(chain_len, 2)
BY_DEPTH(two_obj, 4)
BY_DEPTH(two_cons, 4)
BY_DEPTH(osc, 2)

/* ---------- the chain: f = h y_mid sqrt(1 + s^2), g = h sqrt(1 + s^2) ---------- */

typedef struct Chain {
    double h;
    int calls;
    double fail_below; /* the term fails when y_mid < this (solve-4) */
} Chain;

static int chain_obj_full(void *ctx, int B, const double *in, double *out)
{
    Chain *c = ctx;
    double h = c->h;
    c->calls++;
    for (int k = 0; k < B; k++) {
        const double *r = in + 3 * k;
        double *o = out + 7 * k;
        double s = (r[1] - r[0]) / h, ym = 0.5 * (r[0] + r[1]), w = sqrt(1 + s * s);
        if (ym < c->fail_below)
            return -1;
        double sw = s / w, q = ym / (h * w * w * w);
        o[0] = h * ym * w;
        o[1] = 0.5 * h * w - ym * sw;
        o[2] = 0.5 * h * w + ym * sw;
        o[3] = -sw + q;
        o[4] = -q;
        o[5] = -q;
        o[6] = sw + q;
    }
    return 0;
}

static int chain_len_full(void *ctx, int B, const double *in, double *out)
{
    Chain *c = ctx;
    double h = c->h;
    for (int k = 0; k < B; k++) {
        const double *r = in + 3 * k;
        double *o = out + 7 * k;
        double s = (r[1] - r[0]) / h, w = sqrt(1 + s * s), q = 1 / (h * w * w * w);
        o[0] = h * w;
        o[1] = -s / w;
        o[2] = s / w;
        o[3] = q;
        o[4] = -q;
        o[5] = -q;
        o[6] = q;
    }
    return 0;
}

static const char *yname[] = {"y"};
static const int fix1[] = {1};
static const double zero1[] = {0};

typedef struct ChainSetup {
    Chain c;
    SolveTerm cons;
    double len;
    SolveJob job;
    SolveResult res;
    double mult;
} ChainSetup;

static void chain_setup(ChainSetup *cs, int N, double len, SolveSense sense)
{
    memset(cs, 0, sizeof *cs);
    cs->c.h = 1.0 / (N - 1);
    cs->c.fail_below = -INFINITY;
    cs->len = len;
    cs->cons = (SolveTerm){chain_len, &cs->c, "length"};
    SolveJob *j = &cs->job;
    j->problem = "Chain";
    j->nf = 1;
    j->fields = yname;
    j->xname = "x";
    j->points = N;
    j->x0 = 0;
    j->x1 = 1;
    j->sense = sense;
    j->objective = (SolveTerm){chain_obj, &cs->c, "objective"};
    j->ncons = 1;
    j->cons = &cs->cons;
    j->cons_value = &cs->len;
    j->fix_lo = fix1;
    j->fix_hi = fix1;
    j->lo = zero1;
    j->hi = zero1;
    j->tol = 1e-10;
    j->max_iter = 100;
    j->progress = getenv("SOLVE_PROGRESS") != NULL;
    cs->res.multipliers = &cs->mult;
    cs->res.y = mem_xalloc((size_t)N * sizeof(double));
    for (int k = 0; k < N; k++)
        cs->res.y[k] = NAN;
}

static const double A_CAT = 0.308236469736040;
static const double OBJ_CAT = -0.454034063670, MULT_CAT = 0.810869731384, YMID_CAT = -0.502633261648;

static double catenary(double x)
{
    return A_CAT * cosh((x - 0.5) / A_CAT) - A_CAT * cosh(0.5 / A_CAT);
}

static double chain_max_err(const ChainSetup *cs, double sign)
{
    double worst = 0;
    int N = cs->job.points;
    for (int k = 0; k < N; k++)
        worst_update(&worst, fabs(cs->res.y[k] - sign * catenary((double)k / (N - 1))));
    return worst;
}

static void test_chain(void)
{
    ChainSetup a, b;
    chain_setup(&a, 200, 1.5, SOLVE_MINIMIZE);
    chain_setup(&b, 400, 1.5, SOLVE_MINIMIZE);
    int sa = solve_run(&a.job, &a.res), sb = solve_run(&b.job, &b.res);
    ok(sa == 0 && a.res.converged && sb == 0 && b.res.converged,
       "solve-1 chain converges from the default guess (200: %d iterations, residual %.2e; 400: %d, %.2e) %s",
       a.res.iterations, a.res.residual, b.res.iterations, b.res.residual, b.res.message);
    double e1 = chain_max_err(&a, 1), e2 = chain_max_err(&b, 1);
    double order = log(e1 / e2) / log(399.0 / 199.0);
    ok(e2 <= 1e-5 && order >= 1.8 && order <= 2.2,
       "solve-1 chain max error vs the catenary: %.3e at 200, %.3e at 400 points, observed order %.3f", e1, e2,
       order);
    double eo = fabs(b.res.objective - OBJ_CAT), em = fabs(b.mult - MULT_CAT);
    double ey = fabs(b.res.y[(400 - 1) / 2] * 0.5 + b.res.y[400 / 2] * 0.5 - YMID_CAT);
    ok(eo < 2e-6 && em < 2e-6 && ey < 1e-5,
       "solve-1 chain at 400 points: objective %.12f (err %.2e), multiplier %.12f (err %.2e), y(0.5) err %.2e",
       b.res.objective, eo, b.mult, em, ey);
    ok(strcmp(b.res.kind, "minimum") == 0 && b.res.morse_index == 0, "solve-1 chain is a minimum: %s, morse %d",
       b.res.kind, b.res.morse_index);
    mem_free(a.res.y);
    mem_free(b.res.y);

    /* IPOPT's discrete solution at 1000 points (the anchor's table) */
    ChainSetup c;
    chain_setup(&c, 1000, 1.5, SOLVE_MINIMIZE);
    int sc = solve_run(&c.job, &c.res);
    ok(sc == 0 && fabs(c.res.objective - -0.454033928222) < 1e-11 && fabs(c.mult - 0.810869611590) < 1e-11,
       "solve-1 chain at 1000 points as IPOPT: objective %.12f, multiplier %.12f, %d iterations", c.res.objective,
       c.mult, c.res.iterations);
    mem_free(c.res.y);

    /* the poor guess -0.5 x (1 - x) (IPOPT diverges from it at 200, 1000, 10^4) */
    int N2[] = {200, 1000, 10000};
    for (int t = 0; t < 3; t++) {
        ChainSetup d;
        chain_setup(&d, N2[t], 1.5, SOLVE_MINIMIZE);
        for (int k = 0; k < N2[t]; k++) {
            double x = (double)k / (N2[t] - 1);
            d.res.y[k] = -0.5 * x * (1 - x);
        }
        int sd = solve_run(&d.job, &d.res);
        double err = chain_max_err(&d, 1);
        ok(sd == 0 && d.res.converged && err < 1e-4 && d.res.morse_index == 0,
           "solve-1 chain from -0.5x(1-x) at %d points: %d iterations, max error %.2e, %s %s", N2[t],
           d.res.iterations, err, d.res.kind, d.res.message);
        mem_free(d.res.y);
    }

    /* maximize: the arch, a maximum, multiplier of the other sign */
    ChainSetup m;
    chain_setup(&m, 400, 1.5, SOLVE_MAXIMIZE);
    int sm = solve_run(&m.job, &m.res);
    double eM = chain_max_err(&m, -1);
    ok(sm == 0 && m.res.converged && eM < 1e-5 && fabs(m.mult + MULT_CAT) < 2e-6 &&
           strcmp(m.res.kind, "maximum") == 0 && m.res.morse_index == 400 - 2 - 1,
       "solve-1 maximize: the arch (err %.2e), multiplier %.9f, %s morse %d", eM, m.mult, m.res.kind,
       m.res.morse_index);
    mem_free(m.res.y);
}

/* ---------- solve-2: the assembly against central differences ---------- */

/* Two fields: f = h [ 1/2 z^T Q z + (1 + x) sum_a cos(z_a) ], z the 4 node values */
static const double Q2[4][4] = {{2.0, 0.3, -1.1, 0.2}, {0.3, 1.5, 0.4, -0.9}, {-1.1, 0.4, 2.5, 0.1},
                                {0.2, -0.9, 0.1, 1.8}};

static int two_obj_full(void *ctx, int B, const double *in, double *out)
{
    double h = *(const double *)ctx;
    for (int k = 0; k < B; k++) {
        const double *z = in + 5 * k;
        double x = z[4], *o = out + 21 * k;
        double v = 0;
        for (int a = 0; a < 4; a++) {
            double qa = 0;
            for (int b = 0; b < 4; b++)
                qa += Q2[a][b] * z[b];
            v += 0.5 * z[a] * qa + (1 + x) * cos(z[a]);
            o[1 + a] = h * (qa - (1 + x) * sin(z[a]));
            for (int b = 0; b < 4; b++)
                o[5 + 4 * a + b] = h * (Q2[a][b] - (a == b ? (1 + x) * cos(z[a]) : 0));
        }
        o[0] = h * v;
    }
    return 0;
}

/* g = h (z_0 z_3 + sin(z_1 + z_2)) */
static int two_cons_full(void *ctx, int B, const double *in, double *out)
{
    double h = *(const double *)ctx;
    for (int k = 0; k < B; k++) {
        const double *z = in + 5 * k;
        double *o = out + 21 * k, c = cos(z[1] + z[2]), s = sin(z[1] + z[2]);
        memset(o, 0, 21 * sizeof *o);
        o[0] = h * (z[0] * z[3] + s);
        o[1] = h * z[3];
        o[2] = h * c;
        o[3] = h * c;
        o[4] = h * z[0];
        o[5 + 3] = o[5 + 12] = h;
        o[5 + 5] = o[5 + 6] = o[5 + 9] = o[5 + 10] = -h * s;
    }
    return 0;
}

/* The Lagrangian's total at e->yt with multipliers lam */
static double lag_total(Eng *e, const double *lam)
{
    if (evaluate(e, e->yt, SOLVE_VALUE, NULL, e->valt, -1) != 0)
        return NAN;
    double v = e->valt[0];
    for (int j = 0; j < e->m; j++)
        v += lam[j] * (e->valt[1 + j] - e->job->cons_value[j]);
    return v;
}

static void fd_check(const SolveJob *job, const double *y, const double *lam, const char *what)
{
    Eng E, *e = &E;
    eng_init(e, job);
    int n = e->n, m = e->m;
    size_t tot = (size_t)e->N * (size_t)e->nf;
    memcpy(e->y, y, tot * sizeof *e->y);
    evaluate(e, e->y, SOLVE_HESSIAN, lam, e->val, -1);
    double *g0 = mem_xalloc((size_t)n * sizeof *g0), *H0 = mem_xalloc((size_t)n * (size_t)e->bw * sizeof *H0);
    double *A0 = mem_xalloc((size_t)(m > 0 ? m : 1) * (size_t)n * sizeof *A0);
    double *gp = mem_xalloc((size_t)n * sizeof *gp);
    memcpy(g0, e->g, (size_t)n * sizeof *g0);
    memcpy(H0, e->Hraw, (size_t)n * (size_t)e->bw * sizeof *H0);
    memcpy(A0, e->A, (size_t)m * (size_t)n * sizeof *A0);
    double wg = 0, wh = 0, wa = 0, eps = 1e-5;
    for (size_t idx = 0; idx < tot; idx++) {
        int i = e->map[idx];
        if (i < 0)
            continue;
        /* the gradient and A against differences of the totals */
        memcpy(e->yt, e->y, tot * sizeof *e->yt);
        e->yt[idx] = y[idx] + eps;
        double lp = lag_total(e, lam);
        double cp[8];
        for (int j = 0; j < m; j++)
            cp[j] = e->valt[1 + j];
        e->yt[idx] = y[idx] - eps;
        double lm = lag_total(e, lam);
        double fd = (lp - lm) / (2 * eps);
        worst_update(&wg, fabs(fd - g0[i]) / fmax(1e-3, fabs(g0[i])));
        for (int j = 0; j < m; j++) {
            double fa = (cp[j] - e->valt[1 + j]) / (2 * eps);
            worst_update(&wa, fabs(fa - A0[(size_t)j * (size_t)n + (size_t)i]) /
                                  fmax(1e-3, fabs(A0[(size_t)j * (size_t)n + (size_t)i])));
        }
        /* the Hessian's column i against differences of the assembled gradient */
        e->yt[idx] = y[idx] + eps;
        evaluate(e, e->yt, SOLVE_GRADIENT, lam, e->valt, -1);
        memcpy(gp, e->g, (size_t)n * sizeof *gp);
        e->yt[idx] = y[idx] - eps;
        evaluate(e, e->yt, SOLVE_GRADIENT, lam, e->valt, -1);
        for (int r = 0; r < n; r++) {
            double fh = (gp[r] - e->g[r]) / (2 * eps);
            double an = 0;
            int lo = r < i ? r : i, d = r < i ? i - r : r - i;
            if (d <= e->p)
                an = H0[(size_t)lo * (size_t)e->bw + (size_t)d];
            else if (fabs(fh) > 1e-9)
                worst_update(&wh, INFINITY); /* outside the band */
            worst_update(&wh, fabs(fh - an) / fmax(1e-2, fabs(an)));
        }
    }
    ok(wg < 1e-6 && wh < 1e-6 && wa < 1e-6,
       "solve-2 %s: gradient, band Hessian and constraint gradients vs central differences (rel. %.1e, %.1e, %.1e)",
       what, wg, wh, wa);
    mem_free(g0);
    mem_free(H0);
    mem_free(A0);
    mem_free(gp);
    eng_free(e);
}

static void test_fd(void)
{
    ChainSetup cs;
    chain_setup(&cs, 12, 1.5, SOLVE_MINIMIZE);
    double y[12], lam = 0.7;
    for (int k = 0; k < 12; k++) {
        double x = k / 11.0;
        y[k] = (k == 0 || k == 11) ? 0 : -2 * x * (1 - x) + uniform(-0.05, 0.05);
    }
    fd_check(&cs.job, y, &lam, "chain");
    mem_free(cs.res.y);

    /* two fields: field 0 fixed at x0 only, field 1 at x1 only */
    int N = 9;
    double h = 1.0 / (N - 1), cval = 0.3, lam2 = -0.4;
    static const char *names[] = {"u", "v"};
    static const int flo[] = {1, 0}, fhi[] = {0, 1};
    static const double lo[] = {0.2, 0}, hi[] = {0, -0.1};
    SolveTerm con = {two_cons, &h, "coupling"};
    SolveJob j = {.problem = "Two", .nf = 2, .fields = names, .xname = "x", .points = N, .x0 = 0, .x1 = 1,
                  .sense = SOLVE_STATIONARY, .objective = {two_obj, &h, "objective"}, .ncons = 1, .cons = &con,
                  .cons_value = &cval, .fix_lo = flo, .fix_hi = fhi, .lo = lo, .hi = hi, .tol = 1e-10,
                  .max_iter = 50};
    double y2[18];
    for (int i = 0; i < 18; i++)
        y2[i] = uniform(-1, 1);
    y2[0] = lo[0];
    y2[17] = hi[1];
    fd_check(&j, y2, &lam2, "two fields");
}

/* ---------- solve-3: the harmonic oscillator's action ---------- */

static int osc_full(void *ctx, int B, const double *in, double *out)
{
    double h = *(const double *)ctx;
    for (int k = 0; k < B; k++) {
        const double *r = in + 3 * k;
        double *o = out + 7 * k, s = (r[1] - r[0]) / h, xm = 0.5 * (r[0] + r[1]);
        o[0] = h * (0.5 * s * s - 0.5 * xm * xm);
        o[1] = -s - 0.5 * h * xm;
        o[2] = s - 0.5 * h * xm;
        o[3] = o[6] = 1 / h - 0.25 * h;
        o[4] = o[5] = -1 / h - 0.25 * h;
    }
    return 0;
}

static void test_oscillator(void)
{
    double Ts[] = {1, 4, 7};
    int want[] = {0, 1, 2};
    static const char *xn[] = {"x"};
    static const double one[] = {1};
    for (int t = 0; t < 3; t++) {
        int N = 1000;
        double T = Ts[t], h = T / (N - 1);
        SolveJob j = {.problem = "Oscillator", .nf = 1, .fields = xn, .xname = "t", .points = N, .x0 = 0,
                      .x1 = T, .sense = SOLVE_STATIONARY, .objective = {osc, &h, "action"}, .ncons = 0,
                      .fix_lo = fix1, .fix_hi = fix1, .lo = zero1, .hi = one, .tol = 1e-10, .max_iter = 20};
        SolveResult r = {0};
        r.y = mem_xalloc((size_t)N * sizeof *r.y);
        for (int k = 0; k < N; k++)
            r.y[k] = NAN;
        int st = solve_run(&j, &r);
        /* the discrete closed form: x_k = sin(k th)/sin(n th), cos th = (1 - h^2/4)/(1 + h^2/4) */
        int n = N - 1;
        double th = 2 * atan(h / 2); /* cos th = (1 - h^2/4)/(1 + h^2/4), without acos's cancellation */
        double xp = sin((n - 1) * th) / sin(n * th), s = (1 - xp) / h;
        double Sd = 0.5 * (s - 0.5 * h * 0.5 * (xp + 1)), Sc = 0.5 / tan(T);
        double ed = fabs(r.objective - Sd) / fabs(Sd), ec = fabs(r.objective - Sc) / fabs(Sc);
        double ep = 0;
        for (int k = 0; k < N; k++)
            worst_update(&ep, fabs(r.y[k] - sin(k * th) / sin(n * th)) * fabs(sin(n * th)));
        ok(st == 0 && r.converged && ed < 1e-12 && ep < 1e-10 && ec < 1e-4 && r.morse_index == want[t] &&
               strcmp(r.kind, want[t] ? "saddle" : "minimum") == 0,
           "solve-3 oscillator T = %g: action %.12f (discrete rel. err %.1e, path %.1e; continuous %.1e), %s, morse "
           "%d, %d iterations",
           T, r.objective, ed, ep, ec, r.kind, r.morse_index, r.iterations);
        mem_free(r.y);
    }
}

/* ---------- solve-4: failures and the JSON summary ---------- */

static int contains(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

static void test_failures(void)
{
    ChainSetup a;
    chain_setup(&a, 100, 0.5, SOLVE_MINIMIZE);
    int sa = solve_run(&a.job, &a.res);
    ok(sa == 3 && a.c.calls < 500 && a.res.iterations == 0 && contains(a.res.message, "'length'") &&
           contains(a.res.message, "0.5") && contains(a.res.message, "is 1"),
       "solve-4 a chain shorter than its gap: status %d before Newton: %s", sa, a.res.message);
    mem_free(a.res.y);

    char dir[] = "/tmp/solve_testXXXXXX";
    if (!mkdtemp(dir)) {
        ok(0, "solve-4 temporary directory");
        return;
    }
    char csv[64], png[64];
    snprintf(csv, sizeof csv, "%s/chain.csv", dir);
    snprintf(png, sizeof png, "%s/chain.png", dir);
    ChainSetup b;
    chain_setup(&b, 50, 1.5, SOLVE_MINIMIZE);
    b.job.max_iter = 1;
    b.job.output = csv;
    int sb = solve_run(&b.job, &b.res);
    FILE *f = fopen(csv, "r");
    int lines = 0;
    char line[256], head[256] = "";
    if (f) {
        while (fgets(line, sizeof line, f))
            if (lines++ == 0)
                snprintf(head, sizeof head, "%s", line);
        fclose(f);
    }
    ok(sb == 3 && !b.res.converged && b.res.iterations == 1 && contains(b.res.message, "iteration 1") &&
           contains(b.res.message, "residual") && contains(b.res.message, "worst node at x = ") && lines == 51 &&
           strcmp(head, "x,y,y'\n") == 0,
       "solve-4 max_iter 1: status %d, CSV of %d lines (%s): %s", sb, lines, head, b.res.message);
    mem_free(b.res.y);

    /* a term that cannot be evaluated at the guess */
    ChainSetup c;
    chain_setup(&c, 50, 1.5, SOLVE_MINIMIZE);
    c.c.fail_below = 0.1;
    for (int k = 0; k < 50; k++)
        c.res.y[k] = 0;
    int sc = solve_run(&c.job, &c.res);
    ok(sc == 3 && contains(c.res.message, "cannot be evaluated"), "solve-4 a term that cannot be evaluated: %s",
       c.res.message);
    mem_free(c.res.y);

    /* converged, with the CSV, the figure and the JSON summary */
    ChainSetup d;
    chain_setup(&d, 400, 1.5, SOLVE_MINIMIZE);
    d.job.output = csv;
    d.job.plot = getenv("SOLVE_PLOT") ? getenv("SOLVE_PLOT") : png;
    int sd = solve_run(&d.job, &d.res);
    char js[64];
    snprintf(js, sizeof js, "%s/s.json", dir);
    FILE *jf = fopen(js, "w+");
    int jr = jf ? solve_json(jf, &d.job, &d.res) : -1;
    char buf[2048] = "";
    if (jf) {
        rewind(jf);
        size_t got = fread(buf, 1, sizeof buf - 1, jf);
        buf[got] = 0;
        fclose(jf);
    }
    ok(sd == 0 && jr == 0 && access(png, F_OK) == (getenv("SOLVE_PLOT") ? -1 : 0) &&
           contains(buf, "\"job\":\"solve\"") && contains(buf, "\"multipliers\":{\"length\":0.81086") &&
           contains(buf, "\"kind\":\"minimum\"") && contains(buf, "\"morse_index\":0") &&
           contains(buf, "\"converged\":true") && contains(buf, "\"points\":400"),
       "solve-4 JSON summary and figure: %.300s", buf);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        int rf = solve_json(full, &d.job, &d.res);
        fclose(full);
        ok(rf == 4, "solve-4 JSON to a full device: %d", rf);
    }
    mem_free(d.res.y);
    unlink(csv);
    unlink(png);
    unlink(js);
    rmdir(dir);
}

/* ---------- solve-5: many points ---------- */

/* The chain from the default guess at N points; the time per iteration is
 * the whole solve's minus that of a run stopped at max_iter = 0 (the guess,
 * one evaluation and one factorisation). */
/* The chain from the default guess at N points, the best of 3 runs; the
 * time per iteration is the whole solve's minus that of a run stopped at
 * max_iter = 0 (the default guess, one evaluation, one factorisation). */
static void bench(int N, double *per_iter, int *iters, double *err, double *whole)
{
    double tz = INFINITY, ta = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        ChainSetup a, z;
        chain_setup(&z, N, 1.5, SOLVE_MINIMIZE);
        z.job.max_iter = 0;
        solve_run(&z.job, &z.res);
        tz = fmin(tz, z.res.wall_s);
        chain_setup(&a, N, 1.5, SOLVE_MINIMIZE);
        solve_run(&a.job, &a.res);
        ta = fmin(ta, a.res.wall_s);
        *iters = a.res.iterations;
        *err = chain_max_err(&a, 1);
        if (!a.res.converged)
            *err = INFINITY;
        mem_free(a.res.y);
        mem_free(z.res.y);
        if (N <= 100000 && rep == 0 && !getenv("SOLVE_BENCH"))
            break;
    }
    *whole = ta;
    *per_iter = (ta - tz) / (*iters > 0 ? *iters : 1);
}

static void test_large(void)
{
    double t, err, whole;
    int it;
    bench(100000, &t, &it, &err, &whole);
    ok(err < 1e-9, "solve-5 chain at 10^5 points: %d iterations, %.3f s per iteration, max error %.2e", it, t,
       err);
    if (getenv("SOLVE_BENCH")) {
        int Ns[] = {10000, 100000, 1000000};
        for (int i = 0; i < 3; i++) {
            bench(Ns[i], &t, &it, &err, &whole);
            printf("# bench: %d points: %d iterations, %.4f s per iteration, %.4f s the whole solve, "
                   "max error %.2e\n",
                   Ns[i], it, t, whole, err);
        }
    }
}

int main(void)
{
    ok(worst_selfcheck(), "worst_update latches NaN");
    test_chain();
    test_fd();
    test_oscillator();
    test_failures();
    test_large();
    printf("1..%d\n", test_no);
    return 0;
}
