/*
 * lang/job_train_action.c — train with `loss action`: a Lagrangian learned
 * from positions alone, no velocities or accelerations.
 *
 * The residual.  At each interior sample k of a trajectory (positions
 * q_{k-1}, q_k, q_{k+1} at steps h1 = t_k - t_{k-1}, h2 = t_{k+1} - t_k)
 * the discrete Euler-Lagrange equation of the midpoint discrete
 * Lagrangian L_d(a, b, h) = h L((a + b)/2, (b - a)/h) — the variational
 * integrator's (runtime/variational.c), so a model that zeroes it
 * reproduces the data under `method variational` — is
 *     R_k = D2 L_d(q_{k-1}, q_k, h1) + D1 L_d(q_k, q_{k+1}, h2)
 *         = h1/2 L_q(m1, v1) + h2/2 L_q(m2, v2) + p(m1, v1) - p(m2, v2),
 * m1, v1 (m2, v2) the midpoint and slope of the first (second) interval,
 * p = dL/dq'.  Its trivial zeros — L = 0, L scaled, L plus a total
 * derivative — are excluded by the normalisation
 *     r_k = R_k / (hbar e^T M e / n),   hbar = (h1 + h2)/2,  e = (1, ..., 1),
 * M = d2L/dq'2 at the first interval's midpoint (where L is evaluated
 * anyway; e^T M e, not the trace, for one directional derivative instead
 * of n): r_k is
 * the residual as an acceleration, the same for c L + b + dF/dt for any c
 * and F(q, t) (M does not change with a total derivative, R and M scale
 * together), infinite for an L without kinetic term.  The loss is the mean
 * of |r_k|^2 over the data's accelerations' mean square (from the
 * positions' second differences), so 1 is "no better than zero".
 *
 * Two fits.  A system whose only unknowns are scalars (`unknown g = 5`,
 * system identification) is fitted by Gauss-Newton (GSL's
 * Levenberg-Marquardt) on the r_k, with their exact derivatives in the
 * unknowns, and each unknown gets a standard error from the covariance
 * s^2 (J^T J)^-1, s^2 the residuals' mean square per degree of freedom; the
 * fitted values are what later jobs of the run use.  A system with nets is
 * trained by runtime/train.c (Adam) on the same residual as a tape over
 * the weights, the rows (q_{k-1}, q_k, q_{k+1}, h1, h2) its fixed data set.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "lang/lower.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/simulate.h"
#include "runtime/vm.h"

/* Positions along trajectories: rows of (t, q_1 .. q_n, traj). */
typedef struct Track {
    double *y; /* nrows x (n + 2) */
    size_t n, cap;
    int width;
} Track;

static void track_push(Track *tr, const double *row)
{
    if (tr->n == tr->cap) {
        tr->cap = tr->cap ? 2 * tr->cap : 1024;
        tr->y = mem_xrealloc(tr->y, tr->cap * (size_t)tr->width * sizeof *tr->y);
    }
    memcpy(tr->y + tr->n * (size_t)tr->width, row, (size_t)tr->width * sizeof *row);
    tr->n++;
}

typedef struct Collect {
    Track *tr;
    int n;
    double *row;
} Collect;

/* A simulate row: every trajectory's positions (velocities dropped). */
static void collect(void *ctx, double t, const double *y, int samples)
{
    Collect *c = ctx;
    for (int s = 0; s < samples; s++) {
        c->row[0] = t;
        memcpy(c->row + 1, y + (size_t)s * 2 * (size_t)c->n, (size_t)c->n * sizeof *y);
        c->row[1 + c->n] = s;
        track_push(c->tr, c->row);
    }
}

/* The rows (q_{k-1}, q_k, q_{k+1}, h1, h2) of every interior sample of
 * every trajectory (rows of a trajectory consecutive, in time order, or
 * grouped by traj when they are interleaved as simulate writes them).
 * Returns the count; -1 after a message (t not increasing). */
static long triplets(const Job *J, Track *tr, int n, double **out, Loc where)
{
    const int w = tr->width;
    /* group by trajectory, keeping each one's order (a stable sort by traj) */
    size_t N = tr->n;
    size_t *idx = mem_xalloc((N + 1) * sizeof *idx);
    /* a counting sort by trajectory number (stable: each keeps its order) */
    double tmax = 0;
    for (size_t i = 0; i < N; i++)
        tmax = fmax(tmax, tr->y[i * (size_t)w + (size_t)(1 + n)]);
    size_t ntraj = (size_t)tmax + 1;
    size_t *count = mem_xalloc((ntraj + 1) * sizeof *count);
    memset(count, 0, (ntraj + 1) * sizeof *count);
    for (size_t i = 0; i < N; i++)
        count[(size_t)tr->y[i * (size_t)w + (size_t)(1 + n)] + 1]++;
    for (size_t k = 1; k <= ntraj; k++)
        count[k] += count[k - 1];
    size_t *start = mem_xalloc((ntraj + 1) * sizeof *start);
    memcpy(start, count, (ntraj + 1) * sizeof *start);
    for (size_t i = 0; i < N; i++)
        idx[count[(size_t)tr->y[i * (size_t)w + (size_t)(1 + n)]]++] = i;
    const int rw = 3 * n + 2;
    double *rows = mem_xalloc((N + 1) * (size_t)rw * sizeof *rows);
    long nr = 0;
    for (size_t k = 0; k < ntraj; k++) {
        size_t a = start[k], b = start[k + 1];
        for (size_t j = a + 1; j < b; j++) {
            double t0 = tr->y[idx[j - 1] * (size_t)w], t1 = tr->y[idx[j] * (size_t)w];
            if (!(t1 > t0)) {
                diag_error(&J->F->diag, where, "trajectory %zu: t = %.10g follows t = %.10g: the times of a "
                           "trajectory must increase (give each trajectory its own 'traj' number)", k, t1, t0);
                mem_free(rows);
                mem_free(idx);
                mem_free(count);
                mem_free(start);
                return -1;
            }
        }
        for (size_t j = a + 1; j + 1 < b; j++) {
            const double *p0 = tr->y + idx[j - 1] * (size_t)w, *p1 = tr->y + idx[j] * (size_t)w,
                         *p2 = tr->y + idx[j + 1] * (size_t)w;
            double *r = rows + (size_t)nr * (size_t)rw;
            memcpy(r, p0 + 1, (size_t)n * sizeof *r);
            memcpy(r + n, p1 + 1, (size_t)n * sizeof *r);
            memcpy(r + 2 * n, p2 + 1, (size_t)n * sizeof *r);
            r[3 * n] = p1[0] - p0[0];
            r[3 * n + 1] = p2[0] - p1[0];
            nr++;
        }
    }
    mem_free(idx);
    mem_free(count);
    mem_free(start);
    *out = rows;
    return nr;
}

/* The data: a CSV of t, the coordinates (and traj), or positions along
 * trajectories of a reference system.  Fills tr; returns 0 or an exit
 * status (after a message). */
static int gather(Job *J, const Mech *m, Track *tr, Sym *S)
{
    Front *F = J->F;
    const Setting *data_s = settings_get(J->item->settings, "data");
    const int n = m->n;
    tr->width = n + 2;
    double *row = arena_alloc(S->arena, (size_t)(n + 2) * sizeof *row);
    if (data_s->form == SET_EXPR) {
        CsvTable csv = {0};
        char err[1024];
        int io_error;
        const char *path = data_s->e1->str;
        if (csv_read(diag_beside(&F->diag, S->arena, path, data_s->e1->loc), &csv, &io_error, err, sizeof err) != 0) {
            diag_error(&F->diag, data_s->e1->loc, "%s", err);
            diag_flush(&F->diag);
            return io_error ? 4 : 1;
        }
        int tc = csv_column(&csv, "t"), trc = csv_column(&csv, "traj"), bad = tc < 0;
        int *qc = arena_alloc(S->arena, (size_t)n * sizeof *qc);
        for (int i = 0; i < n; i++) {
            qc[i] = csv_column(&csv, m->names[i]);
            bad |= qc[i] < 0;
        }
        if (bad) {
            diag_error(&F->diag, data_s->e1->loc, "'%s' needs the columns t and %s%s (positions only: 'loss action' "
                       "learns from where the system is, not its velocities; an optional 'traj' numbers the "
                       "trajectories)", path, m->names[0], n > 1 ? ", ..." : "");
            diag_flush(&F->diag);
            csv_table_free(&csv);
            return 1;
        }
        for (long r = 0; r < csv.nrows; r++) {
            const double *x = csv.data + (size_t)r * (size_t)csv.ncols;
            row[0] = x[tc];
            for (int i = 0; i < n; i++)
                row[1 + i] = x[qc[i]];
            double tj = trc >= 0 ? x[trc] : 0;
            if (tj < 0 || tj != floor(tj) || tj > 1e7) {
                diag_error(&F->diag, data_s->e1->loc, "'%s', data row %ld: traj = %g is not a trajectory number "
                           "(a whole number from 0)", path, r + 1, tj);
                diag_flush(&F->diag);
                csv_table_free(&csv);
                return 1;
            }
            row[1 + n] = tj;
            track_push(tr, row);
        }
        csv_table_free(&csv);
        return 0;
    }
    /* data from Sys { time ..., init ..., samples ... }: its positions */
    const Setting *dset = data_s->sub, *time = settings_get(dset, "time");
    if (!time) {
        diag_error(&F->diag, data_s->loc, "'loss action' learns from trajectories: give the data's 'time' (as in "
                   "'data from %s { time 0 .. 10, every 0.01 }')", data_s->target.name);
        diag_flush(&F->diag);
        return 1;
    }
    const Item *dsys = job_find_system(F, data_s->target.name);
    Sym *DS = sym_new(F->arena);
    Mech dm;
    int rc = job_data_system(J, data_s, m, DS, &dm);
    if (rc != 0) {
        sym_free(DS);
        return rc;
    }
    IrProgram *source = lower_rhs(&dm);
    const Setting *samples = settings_get(dset, "samples"), *seed = settings_get(dset, "seed"),
                  *every = settings_get(dset, "every");
    double t0 = time->v1, t1 = time->v2, dt = every ? every->v1 : (t1 - t0) / 100;
    int nt = samples ? (int)samples->v1 : 1;
    if ((double)nt * ((t1 - t0) / dt + 1) > 1e8) {
        diag_error(&F->diag, time->loc, "%d trajectories of %.3g rows is more than a run can hold (at most 1e8 "
                   "positions): raise 'every' or lower 'samples'", nt, (t1 - t0) / dt + 1);
        diag_flush(&F->diag);
        ir_free(source);
        sym_free(DS);
        return 1;
    }
    TrainDraw *draws = arena_alloc(S->arena, (size_t)(2 * n + 1) * sizeof *draws);
    job_init_draws(settings_get(dset, "init"), m, draws);
    double *y0 = mem_xalloc((size_t)nt * 2 * (size_t)n * sizeof *y0), *yend = mem_xalloc((size_t)nt * 2 * (size_t)n * sizeof *yend);
    job_draw_states(draws, 2 * n, seed ? (unsigned long)seed->v1 : (unsigned long)settings_num(J->item->settings, JOB_TRAIN, "seed"),
                    nt, y0);
    Collect c = {tr, n, row};
    SimJob sj = {
        .system = dsys->name.name,
        .rhs = source,
        .n = n,
        .columns = job_state_columns(&dm),
        .samples = nt,
        .y0 = y0,
        .params = job_params(J, DS, dset, source, dsys, &dm),
        .t0 = t0,
        .t1 = t1,
        .every = dt,
        .method = settings_word(dset, SETTINGS_DATA, "method"),
        .tol = settings_num(dset, SETTINGS_DATA, "tol"),
        .started = J->opt->started,
        .on_row = collect,
        .on_row_ctx = &c,
    };
    SimResult sres;
    sres.y = yend;
    rc = sim_run(&sj, &sres);
    if (rc != 0)
        fprintf(stderr, "lag: %s: train %s: generating the data: %s\n", J->where, J->target->name.name, sres.message);
    mem_free(y0);
    mem_free(yend);
    ir_free(source);
    sym_free(DS);
    return rc;
}

/* The normalised residual r (n expressions) of the rows' variables, and
 * its inputs (3n + 2 variables) into in. */
static void residual(Mech *m, SymId *r, int *in)
{
    Sym *S = m->S;
    const int n = m->n;
    int *a = in, *b = in + n, *c = in + 2 * n;
    for (int i = 0; i < n; i++) {
        a[i] = sym_add_var(S, arena_printf(S->arena, "%s[k-1]", m->names[i]), m->names[i], SV_COORD, i, 0, 0);
        b[i] = sym_add_var(S, arena_printf(S->arena, "%s[k]", m->names[i]), m->names[i], SV_COORD, i, 0, 0);
        c[i] = sym_add_var(S, arena_printf(S->arena, "%s[k+1]", m->names[i]), m->names[i], SV_COORD, i, 0, 0);
    }
    in[3 * n] = sym_add_var(S, "h1", "h1", SV_PARAM, 0, 0, 0);
    in[3 * n + 1] = sym_add_var(S, "h2", "h2", SV_PARAM, 0, 0, 0);
    SymId h1 = sym_var(S, in[3 * n]), h2 = sym_var(S, in[3 * n + 1]), half = sym_num(S, 0.5);
    /* replacements: (q, q') at the two midpoints and at the sample */
    SymId *w1 = arena_alloc(S->arena, (size_t)S->nvars * sizeof *w1), *w2 = arena_alloc(S->arena, (size_t)S->nvars * sizeof *w2);
    memset(w1, 0, (size_t)S->nvars * sizeof *w1);
    memset(w2, 0, (size_t)S->nvars * sizeof *w2);
    for (int i = 0; i < n; i++) {
        SymId A = sym_var(S, a[i]), B = sym_var(S, b[i]), C = sym_var(S, c[i]);
        w1[m->q[i]] = sym_mul2(S, half, sym_add2(S, A, B));
        w1[m->v[i]] = sym_div(S, sym_sub(S, B, A), h1);
        w2[m->q[i]] = sym_mul2(S, half, sym_add2(S, B, C));
        w2[m->v[i]] = sym_div(S, sym_sub(S, C, B), h2);
    }
    /* e^T M e, e = (1, ..., 1), the sum of M's entries: the directional
     * derivative of sum_i p_i along e, one forward sweep (M's trace would
     * take one per coordinate: through a network, most of the residual's
     * cost); positive for a positive definite M, and it scales with L */
    SymId psum = S->zero, *ones = arena_alloc(S->arena, (size_t)n * sizeof *ones);
    for (int i = 0; i < n; i++) {
        psum = sym_add2(S, psum, m->p[i]);
        ones[i] = S->one;
    }
    SymId eMe = sym_jvp(S, psum, m->v, ones, n);
    /* the mass at the first interval's midpoint, where L is evaluated
     * anyway (averaged with the second's, training was a fifth slower; any
     * point where L's kinetic term is positive normalises) */
    SymId mass = sym_mul2(S, sym_num(S, 1.0 / n), sym_replace(S, eMe, w1));
    SymId scale = sym_mul2(S, sym_mul2(S, half, sym_add2(S, h1, h2)), mass);
    for (int i = 0; i < n; i++) {
        SymId Lq = sym_diff(S, m->L, m->q[i]);
        SymId R = sym_add2(S, sym_add2(S, sym_mul2(S, sym_mul2(S, half, h1), sym_replace(S, Lq, w1)),
                                       sym_mul2(S, sym_mul2(S, half, h2), sym_replace(S, Lq, w2))),
                           sym_sub(S, sym_replace(S, m->p[i], w1), sym_replace(S, m->p[i], w2)));
        r[i] = sym_div(S, R, scale);
    }
}

/* ---------- the scalar unknowns: Gauss-Newton ---------- */

typedef struct GnFit {
    const IrProgram *prog; /* outputs r (n) then dr/dtheta (n x nu) */
    Vm *vm;
    double *params;
    const int *slot;       /* each unknown's index in params */
    int n, nu;
    long rows;
    const double *data;    /* rows x (3n + 2) */
    double *out;           /* rows x (n + n nu) */
    double ascale;
    int failed;
} GnFit;

static int gn_eval(GnFit *G, const gsl_vector *x)
{
    for (int t = 0; t < G->nu; t++)
        G->params[G->slot[t]] = gsl_vector_get(x, (size_t)t);
    vm_forget(G->vm);
    const int w = 3 * G->n + 2, o = G->n + G->n * G->nu;
    for (long r0 = 0; r0 < G->rows; r0 += 512) {
        int nb = G->rows - r0 < 512 ? (int)(G->rows - r0) : 512;
        if (vm_run(G->vm, G->prog, nb, G->data + (size_t)r0 * (size_t)w, w, 0, G->params, G->out + (size_t)r0 * (size_t)o,
                   o) != VM_OK)
            return -1;
    }
    for (size_t i = 0; i < (size_t)G->rows * (size_t)o; i++)
        if (!isfinite(G->out[i]))
            return -1;
    return 0;
}

static int gn_f(const gsl_vector *x, void *ctx, gsl_vector *f)
{
    GnFit *G = ctx;
    const int o = G->n + G->n * G->nu;
    if (gn_eval(G, x) != 0) {
        G->failed = 1;
        gsl_vector_set_all(f, 1e30);
        return GSL_SUCCESS;
    }
    for (long r = 0; r < G->rows; r++)
        for (int i = 0; i < G->n; i++)
            gsl_vector_set(f, (size_t)r * (size_t)G->n + (size_t)i, G->out[(size_t)r * (size_t)o + (size_t)i] / G->ascale);
    return GSL_SUCCESS;
}

static int gn_df(const gsl_vector *x, void *ctx, gsl_matrix *J)
{
    GnFit *G = ctx;
    const int o = G->n + G->n * G->nu;
    if (gn_eval(G, x) != 0)
        return GSL_EFAILED;
    for (long r = 0; r < G->rows; r++)
        for (int i = 0; i < G->n; i++)
            for (int t = 0; t < G->nu; t++)
                gsl_matrix_set(J, (size_t)r * (size_t)G->n + (size_t)i, (size_t)t,
                               G->out[(size_t)r * (size_t)o + (size_t)G->n + (size_t)i * (size_t)G->nu + (size_t)t] /
                                   G->ascale);
    return GSL_SUCCESS;
}

/* Fit the unknowns; their values (into params), standard errors and the
 * summary.  Returns an exit status. */
static int fit_unknowns(Job *J, Mech *m, const double *rows, long nrows, double ascale, double *params)
{
    Sym *S = m->S;
    const int n = m->n, nu = m->nunknowns;
    double start = sim_clock();
    SymId *r = arena_alloc(S->arena, (size_t)(n + n * nu) * sizeof *r);
    int *in = arena_alloc(S->arena, (size_t)(3 * n + 2) * sizeof *in);
    residual(m, r, in);
    const char **names = arena_alloc(S->arena, (size_t)(n + n * nu) * sizeof *names);
    int *slot = arena_alloc(S->arena, (size_t)(nu + 1) * sizeof *slot);
    for (int t = 0; t < nu; t++)
        slot[t] = m->np - nu + t;
    for (int i = 0; i < n; i++) {
        names[i] = arena_printf(S->arena, "r_%s", m->names[i]);
        for (int t = 0; t < nu; t++) {
            r[n + i * nu + t] = sym_diff(S, r[i], m->par[slot[t]]);
            names[n + i * nu + t] = arena_printf(S->arena, "dr_%s_%s", m->names[i], S->vars[m->par[slot[t]]].name);
        }
    }
    IrProgram *prog = lower_inputs(S, arena_printf(S->arena, "%s.action_residual", J->target->name.name), in, 3 * n + 2,
                                   m->par, m->np, r, names, n + n * nu);
    const IrProgram *pp = prog;
    GnFit G = {prog, vm_alloc(&pp, 1, 512), params, slot, n, nu, nrows, rows, NULL, ascale, 0};
    G.out = mem_xalloc((size_t)nrows * (size_t)(n + n * nu) * sizeof *G.out);
    const size_t nres = (size_t)nrows * (size_t)n;
    gsl_multifit_nlinear_fdf fdf = {gn_f, gn_df, NULL, nres, (size_t)nu, &G, 0, 0, 0};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, nres, (size_t)nu);
    if (!w)
        mem_out_of_memory(0);
    double *theta = arena_alloc(S->arena, (size_t)(nu + 1) * sizeof *theta);
    for (int t = 0; t < nu; t++)
        theta[t] = params[slot[t]];
    gsl_vector_view x0 = gsl_vector_view_array(theta, (size_t)nu);
    int info = 0, rc = 0;
    int status = gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
    if (status == GSL_SUCCESS)
        status = gsl_multifit_nlinear_driver(200, 1e-12, 1e-12, 0, NULL, NULL, &info, w);
    gsl_vector *xe = gsl_multifit_nlinear_position(w);
    for (int t = 0; t < nu; t++)
        params[slot[t]] = theta[t] = gsl_vector_get(xe, (size_t)t);
    double chi2 = 0;
    gsl_vector *fe = gsl_multifit_nlinear_residual(w);
    for (size_t i = 0; i < nres; i++)
        chi2 += gsl_vector_get(fe, i) * gsl_vector_get(fe, i);
    /* the covariance s^2 (J^T J)^-1 through the eigenvalues of the
     * unit-diagonal J^T J (infinite along a direction it cannot see) */
    gsl_matrix *Jm = gsl_multifit_nlinear_jac(w);
    double s2 = nres > (size_t)nu ? chi2 / (double)(nres - (size_t)nu) : NAN;
    double *se = arena_alloc(S->arena, (size_t)(nu + 1) * sizeof *se), *D = arena_alloc(S->arena, (size_t)(nu + 1) * sizeof *D);
    gsl_matrix *C = gsl_matrix_alloc((size_t)nu, (size_t)nu), *V = gsl_matrix_alloc((size_t)nu, (size_t)nu);
    gsl_vector *ev = gsl_vector_alloc((size_t)nu);
    gsl_eigen_symmv_workspace *ew = gsl_eigen_symmv_alloc((size_t)nu);
    if (!C || !V || !ev || !ew)
        mem_out_of_memory(0);
    for (int a = 0; a < nu; a++) {
        double v = 0;
        for (size_t i = 0; i < nres; i++)
            v += gsl_matrix_get(Jm, i, (size_t)a) * gsl_matrix_get(Jm, i, (size_t)a);
        D[a] = v > 0 ? 1 / sqrt(v) : 0;
    }
    for (int a = 0; a < nu; a++)
        for (int b = 0; b < nu; b++) {
            double v = 0;
            for (size_t i = 0; i < nres; i++)
                v += gsl_matrix_get(Jm, i, (size_t)a) * gsl_matrix_get(Jm, i, (size_t)b);
            gsl_matrix_set(C, (size_t)a, (size_t)b, v * D[a] * D[b]);
        }
    gsl_eigen_symmv(C, ev, V, ew);
    double lmax = 0;
    for (int k = 0; k < nu; k++)
        lmax = fmax(lmax, gsl_vector_get(ev, (size_t)k));
    int identifiable = 1;
    for (int a = 0; a < nu; a++) {
        double v = 0;
        for (int k = 0; k < nu; k++) {
            double l = gsl_vector_get(ev, (size_t)k), c = gsl_matrix_get(V, (size_t)a, (size_t)k);
            if (l > 1e-10 * lmax)
                v += c * c / l;
            else if (fabs(c) > 1e-6)
                v = INFINITY;
        }
        se[a] = D[a] > 0 ? sqrt(v * s2) * D[a] : INFINITY;
        identifiable &= isfinite(se[a]);
    }
    gsl_eigen_symmv_free(ew);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(C);
    int iterations = (int)gsl_multifit_nlinear_niter(w);
    gsl_multifit_nlinear_free(w);
    vm_free(G.vm);
    mem_free(G.out);
    ir_free(prog);
    double loss = chi2 / (double)nres, wall = sim_clock() - start;
    const char *sysname = J->target->name.name;
    if (status != GSL_SUCCESS || G.failed) {
        fprintf(stderr, "lag: %s: train %s: the fit of the unknowns %s (%s)\n", J->where, sysname,
                G.failed ? "met states where the residual cannot be evaluated" : "did not converge",
                gsl_strerror(status));
        rc = 3;
    }
    if (!identifiable)
        fprintf(stderr, "lag: warning: %s: train %s: the positions do not determine every unknown (an infinite "
                "standard error): L may be scaled or shifted by a total derivative in that direction; fix one "
                "of them\n", J->where, sysname);
    /* later jobs use the fitted values */
    RunState *R = J->run;
    Override *fitted = arena_alloc(J->F->arena, (size_t)(R->nfitted + nu) * sizeof *fitted);
    if (R->nfitted)
        memcpy(fitted, R->fitted, (size_t)R->nfitted * sizeof *fitted);
    for (int t = 0; t < nu; t++)
        fitted[R->nfitted + t] = (Override){J->target, S->vars[m->par[slot[t]]].name, theta[t], NULL};
    R->fitted = fitted;
    R->nfitted += nu;
    if (J->opt->json) {
        sim_json_begin();
        json_t *o = sim_jnew(json_object());
        sim_jset(o, "job", json_string("train"));
        sim_jset(o, "system", json_string(sysname));
        sim_jset(o, "status", json_integer(rc));
        sim_jset(o, "loss_kind", json_string("action"));
        json_t *l = sim_jnew(json_object());
        sim_jset(l, "train", sim_jreal(loss));
        sim_jset(l, "validation", json_null());
        sim_jset(o, "loss", l);
        sim_jset(o, "samples", json_integer(nrows));
        sim_jset(o, "target_rms", sim_jreal(ascale));
        json_t *u = sim_jnew(json_object());
        for (int t = 0; t < nu; t++) {
            json_t *e = sim_jnew(json_object());
            sim_jset(e, "value", sim_jreal(theta[t]));
            sim_jset(e, "stderr", sim_jreal(se[t]));
            sim_jset(u, S->vars[m->par[slot[t]]].name, e);
        }
        sim_jset(o, "unknowns", u);
        sim_jset(o, "identifiable", json_boolean(identifiable));
        sim_jset(o, "iterations", json_integer(iterations));
        sim_jset(o, "wall_s", sim_jreal(wall));
        if (sim_json_print(stdout, o) != 0 && rc == 0)
            rc = 4;
    }
    if (rc == 0) {
        char text[1024] = "";
        size_t len = 0;
        for (int t = 0; t < nu && len < 900; t++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s = %.10g ± %.2g", t ? ", " : "",
                                    S->vars[m->par[slot[t]]].name, theta[t], se[t]);
        job_summary(J, "loss action, %ld samples: %s; residual %.3g of the data's accelerations (RMS)", nrows, text,
                    sqrt(loss));
    }
    return rc;
}

int job_train_action(Job *J)
{
    Front *F = J->F;
    const Item *sys = J->target;
    Sym *S = sym_new(F->arena);
    Mech m;
    if (mech_build_trained(&m, S, &F->diag, sys, MECH_NETS, J->run->trained) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return m.io_errors ? 4 : 1;
    }
    int rc = 0, nets = S->ntensors > 0;
    const int n = m.n;
    const Setting *set = J->item->settings;
    const Setting *loss_s = settings_get(set, "loss");
    int forced = !sym_is_zero(S, m.D);
    for (int i = 0; i < n && m.Q; i++)
        forced |= !sym_is_zero(S, m.Q[i]);
    if (m.explicit_time || forced) {
        diag_error(&F->diag, loss_s->loc, "'loss action' learns a Lagrangian of a conservative, autonomous system: "
                   "'%s' has %s", sys->name.name, m.explicit_time ? "an explicit time dependence" : "forces or dissipation");
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    if (!nets && m.nunknowns == 0) {
        diag_error(&F->diag, sys->loc, "'%s' has nothing to learn: give it a net or an unknown (unknown g = 9)",
                   sys->name.name);
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    if (nets && m.nunknowns) {
        diag_error(&F->diag, sys->loc, "'%s' has both nets and unknowns: 'loss action' fits one kind at a time "
                   "(unknowns by Gauss-Newton with standard errors, nets by Adam); make the unknowns parameters",
                   sys->name.name);
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    if (settings_get(set, "penalty") || settings_get(set, "weight")) {
        diag_error(&F->diag, (settings_get(set, "penalty") ? settings_get(set, "penalty") : settings_get(set, "weight"))->loc,
                   "'loss action' takes no %s yet", settings_get(set, "penalty") ? "symmetry penalty" : "loss weight");
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    Track tr = {0};
    rc = gather(J, &m, &tr, S);
    double *rows = NULL;
    long nrows = 0;
    if (rc == 0) {
        nrows = triplets(J, &tr, n, &rows, settings_get(set, "data")->loc);
        if (nrows < 0) {
            diag_flush(&F->diag);
            rc = 1;
        } else if (nrows < 2) {
            diag_error(&F->diag, settings_get(set, "data")->loc, "%ld interior samples (a sample needs a neighbour "
                       "before and after it on its trajectory): too few to learn from", nrows);
            diag_flush(&F->diag);
            rc = 1;
        }
    }
    mem_free(tr.y);
    if (rc != 0) {
        mem_free(rows);
        sym_free(S);
        return rc;
    }
    /* the data's accelerations (second differences): the loss's scale */
    double a2 = 0;
    const int w = 3 * n + 2;
    for (long r = 0; r < nrows; r++) {
        const double *x = rows + (size_t)r * (size_t)w, h1 = x[3 * n], h2 = x[3 * n + 1];
        for (int i = 0; i < n; i++) {
            double acc = 2 * ((x[2 * n + i] - x[n + i]) / h2 - (x[n + i] - x[i]) / h1) / (h1 + h2);
            a2 += acc * acc;
        }
    }
    double ascale = sqrt(a2 / ((double)nrows * n));
    if (!(ascale > 0) || !isfinite(ascale)) {
        fprintf(stderr, "lag: %s: train %s: the positions do not accelerate (or are not finite): there is nothing "
                "to learn from\n", J->where, sys->name.name);
        mem_free(rows);
        sym_free(S);
        return 3;
    }
    if (!nets) {
        IrProgram *dummy = lower_rhs(&m); /* the parameter list, for job_params */
        double *params = job_params(J, S, set, dummy, sys, &m);
        rc = fit_unknowns(J, &m, rows, nrows, ascale, params);
        ir_free(dummy);
        mem_free(rows);
        sym_free(S);
        return rc;
    }
    /* nets: the residual as a tape over the weights, trained by Adam */
    SymId *r = arena_alloc(S->arena, (size_t)n * sizeof *r);
    int *in = arena_alloc(S->arena, (size_t)w * sizeof *in);
    residual(&m, r, in);
    const char **rn = arena_alloc(S->arena, (size_t)n * sizeof *rn);
    for (int i = 0; i < n; i++)
        rn[i] = arena_printf(S->arena, "r_%s", m.names[i]);
    IrProgram *model = lower_inputs_tape(S, arena_printf(S->arena, "%s.action_residual", sys->name.name), in, w,
                                         m.par, m.np, r, rn, n);
    double *targets = mem_xalloc(((size_t)nrows * (size_t)n + 1) * sizeof *targets);
    memset(targets, 0, ((size_t)nrows * (size_t)n + 1) * sizeof *targets);
    const char **columns = arena_alloc(S->arena, (size_t)w * sizeof *columns);
    for (int i = 0; i < w; i++)
        columns[i] = S->vars[in[i]].name;
    TrainJob tj = job_train_job(J, S, &m, model, columns);
    tj.nfixed = (int)nrows;
    tj.states = rows;
    tj.targets = targets;
    tj.target_scale = ascale;
    tj.l1 = 0; /* the mean square residual, in units of the data's accelerations */
    rc = job_train_fit(J, S, &tj, 0);
    mem_free(targets);
    mem_free(rows);
    ir_free(model);
    sym_free(S);
    return rc;
}
