/*
 * runtime/compare.c — the compare job (see compare.h): trajectories of
 * every model from the same starts, the errors against the reference along
 * them, and maps of the acceleration error, of L up to its gauge and of
 * the reference's occupancy over a grid of states.
 *
 * Every evaluation over many states (the reference energy along a path,
 * the grid's accelerations and Lagrangians) is one batch through the VM,
 * CHUNK states at a time: a learned model's layers then run as matrix
 * products (runtime/blas.c) instead of a loop over states.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/compare.h"

#include <jansson.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "runtime/blas.h"
#include "runtime/figure.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/simulate.h"
#include "runtime/train.h"
#include "runtime/variational.h"
#include "runtime/vm.h"
#include "runtime/par.h"

enum { CHUNK = 4096 };

/* ---------- batches ---------- */

/* Whether p has network layers (run as matrix products). */
static int has_layers(const IrProgram *p)
{
    for (int i = 0; i < p->ncode; i++)
        if (p->code[i].op == IR_VMATVEC || p->code[i].op == IR_VMATTVEC)
            return 1;
    return 0;
}

/* The states eval_states takes at a time. */
static int chunk_of(const IrProgram *p)
{
    return has_layers(p) ? train_chunk_size(p, CHUNK) : CHUNK;
}

/* Program p (nout outputs) at B states (stride 2n) into out (stride nout);
 * a state where it fails gives NaN.  Returns the number of failures.
 *
 * In chunks on every core (OpenMP), one VM per thread.  A program with
 * network layers runs them as matrix products (Vm.gemm) in chunks sized as
 * train's (32 samples whose registers and adjoints fit in the caches; 128
 * for wide layers), with OpenBLAS on one thread per chunk: the same path
 * as train's, so a 201 x 201 grid of an LNN costs what its accelerations
 * cost in a training step. */
static long eval_states(const IrProgram *p, const double *params, long B, const double *states, int stride,
                        double t, double *out)
{
    const int layers = has_layers(p), chunk = chunk_of(p);
    const long nc = (B + chunk - 1) / chunk;
    int nw = 1;
#ifdef _OPENMP
    nw = omp_get_max_threads();
    if (nw > nc)
        nw = nc > 0 ? (int)nc : 1;
#endif
    if (nw > 1 && layers)
        blas_threads(1);
    Vm **vms = mem_xalloc((size_t)nw * sizeof *vms);
    for (int i = 0; i < nw; i++) {
        vms[i] = vm_alloc(&p, 1, chunk);
        vms[i]->gemm = layers;
    }
    long failed = 0;
#pragma omp parallel for schedule(static) reduction(+ : failed) num_threads(nw)
    for (long c = 0; c < nc; c++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        long at = c * chunk;
        int nb = B - at < chunk ? (int)(B - at) : chunk;
        failed += sim_run_each(vms[tid], p, nb, states + (size_t)at * (size_t)stride, stride, t, params,
                               out + (size_t)at * (size_t)p->nout, p->nout, p->nout);
    }
    for (int i = 0; i < nw; i++)
        vm_free(vms[i]);
    mem_free(vms);
    if (nw > 1 && layers)
        blas_threads(nw);
    return failed;
}

/* eval_states shared among the ranks of an MPI run (runtime/par.h): each
 * evaluates a contiguous block of the states, and every rank gets all of
 * out in state order.  A program with layers is split on eval_states'
 * own chunks: a matrix product may round a state differently in a chunk
 * of another size, and a chunk with a failing state is evaluated state
 * by state, so only whole chunks give each state the bits one process
 * gives it.  Returns the failures over all the states. */
static long eval_shared(const IrProgram *p, const double *params, long B, const double *states, int stride,
                        double t, double *out)
{
    const int P = par_size();
    if (P == 1)
        return eval_states(p, params, B, states, stride, t, out);
    const long unit = has_layers(p) ? chunk_of(p) : 1;
    long *counts = mem_xalloc((size_t)P * sizeof *counts), lo = 0, hi = 0;
    for (int r = 0; r < P; r++) {
        long a, b;
        par_block_of((B + unit - 1) / unit, r, &a, &b);
        a = a * unit < B ? a * unit : B;
        b = b * unit < B ? b * unit : B;
        counts[r] = (b - a) * p->nout;
        if (r == par_rank())
            lo = a, hi = b;
    }
    long failed = eval_states(p, params, hi - lo, states + (size_t)lo * (size_t)stride, stride, t,
                              out + (size_t)lo * (size_t)p->nout);
    par_allgatherv(out + (size_t)lo * (size_t)p->nout, counts, out);
    mem_free(counts);
    return par_sum_long(failed);
}

/* ---------- trajectories ---------- */

typedef struct Rows {
    int width;    /* samples x 2n */
    long n, cap;  /* rows (the longest start's) */
    double *t, *y;
    long *count;  /* per start: the rows its run reached (fewer when it stopped early; NaN after) */
    double *E;    /* n x samples: the reference's energy at each state, or NULL (no energy) */
} Rows;

static void keep_row(void *ctx, double t, const double *y, int samples)
{
    Rows *r = ctx;
    (void)samples;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->t = mem_xrealloc(r->t, (size_t)r->cap * sizeof *r->t);
        r->y = mem_xrealloc(r->y, (size_t)r->cap * (size_t)r->width * sizeof *r->y);
    }
    r->t[r->n] = t;
    memcpy(r->y + (size_t)r->n * (size_t)r->width, y, (size_t)r->width * sizeof *y);
    r->n++;
}

/* One start's run as it travels between the ranks: this header, then its
 * rows' times, their states (2n values each) and its message's bytes. */
typedef struct StartRun {
    int rc;         /* the run's status */
    int own_known;  /* the drift of the model's own energy is known */
    double own;     /* ...and is this */
    long rows;      /* the rows it reached */
    int msglen;     /* its message's bytes with their terminator (none when rc == 0) */
    long nev;       /* its crossings (`record when`): (t, condition) each, after the message */
} StartRun;

/* Runs of starts, one after another in a growing buffer. */
typedef struct Runs {
    char *b;
    size_t n, cap;
} Runs;

static void runs_put(Runs *k, const void *v, size_t len)
{
    if (k->n + len > k->cap) {
        k->cap = k->n + len > 2 * k->cap ? k->n + len : 2 * k->cap;
        k->b = mem_xrealloc(k->b, k->cap);
    }
    memcpy(k->b + k->n, v, len);
    k->n += len;
}

/* What integrate keeps over the starts, in start order. */
typedef struct Took {
    int first;     /* the first failing start's status */
    double own;
    int own_known;
} Took;

/* Start s's run, packed at *at, into its column of the rows (new rows
 * NaN for the other starts) and into the status and drift over the
 * starts; *at moves past it. */
static void take_start(const CmpJob *job, int s, const char **at, Rows *rows, Took *tk, CmpModelResult *mr)
{
    const int n2 = 2 * job->n, S = job->samples;
    StartRun h;
    memcpy(&h, *at, sizeof h);
    const char *t = *at + sizeof h, *y = t + (size_t)h.rows * sizeof(double);
    const char *msg = y + (size_t)h.rows * (size_t)n2 * sizeof(double);
    const char *ev = msg + h.msglen;
    *at = ev + (size_t)h.nev * 2 * sizeof(double);
    if (h.nev) {
        mr->events = mem_xrealloc(mr->events, (size_t)(mr->nevents + h.nev) * 3 * sizeof *mr->events);
        for (long e = 0; e < h.nev; e++) {
            double *r = mr->events + (size_t)mr->nevents++ * 3;
            r[0] = s;
            memcpy(r + 1, ev + (size_t)e * 2 * sizeof(double), 2 * sizeof(double));
        }
    }
    if (h.rc != 0 && !tk->first) {
        tk->first = h.rc;
        if (S > 1)
            snprintf(mr->message, sizeof mr->message, "start %d: %.900s", s + 1, msg);
        else
            snprintf(mr->message, sizeof mr->message, "%s", msg);
    }
    if (h.own_known)
        tk->own = fmax(tk->own, h.own);
    else
        tk->own_known = 0;
    if (h.rows > rows->n) {
        if (h.rows > rows->cap) {
            rows->cap = h.rows;
            rows->t = mem_xrealloc(rows->t, (size_t)rows->cap * sizeof *rows->t);
            rows->y = mem_xrealloc(rows->y, (size_t)rows->cap * (size_t)rows->width * sizeof *rows->y);
        }
        for (long r = rows->n; r < h.rows; r++) {
            memcpy(&rows->t[r], t + (size_t)r * sizeof(double), sizeof(double));
            for (int i = 0; i < rows->width; i++)
                rows->y[(size_t)r * (size_t)rows->width + (size_t)i] = NAN;
        }
        rows->n = h.rows;
    }
    for (long r = 0; r < h.rows; r++)
        memcpy(rows->y + (size_t)r * (size_t)rows->width + (size_t)s * (size_t)n2,
               y + (size_t)r * (size_t)n2 * sizeof(double), (size_t)n2 * sizeof(double));
    rows->count[s] = h.rows;
}

/* Integrate model md from every start, one run each (a start that needs
 * small steps does not hold the others back, and one that fails does not
 * stop them), into rows.  The ranks of an MPI run share the starts in
 * contiguous blocks; the runs travel to every rank and are taken in
 * start order, so every rank holds the rows, the first failure and the
 * drift one process finds. */
static int integrate(const CmpJob *job, const CmpModel *md, Rows *rows, CmpModelResult *mr, int m)
{
    const int n2 = 2 * job->n, S = job->samples, split = par_size() > 1;
    rows->width = S * n2;
    rows->count = mem_xalloc((size_t)S * sizeof *rows->count);
    Rows one = {.width = n2};
    int variational = strcmp(job->method, "variational") == 0;
    Took tk = {.first = 0, .own = 0, .own_known = 1};
    Runs runs = {0};
    SimResult sr;
    memset(&sr, 0, sizeof sr);
    sr.y = mem_xalloc((size_t)n2 * sizeof *sr.y);
    double stop_t;
    int stop_k;
    sr.stop_t = &stop_t;
    sr.stop_k = &stop_k;
    unsigned char *recorded = mem_xalloc((size_t)job->nevents + 1);
    memset(recorded, 1, (size_t)job->nevents + 1); /* every condition recorded: the trajectories go on */
    long lo, hi;
    par_block(S, &lo, &hi);
    for (int s = (int)lo; s < hi; s++) {
        if (job->progress)
            fprintf(stderr, "\rcompare: integrating %s (%d of %d), start %d of %d   ", md->name, m + 1, job->nmodels,
                    s + 1, S);
        one.n = 0;
        SimJob sj = {
            .system = md->name,
            .rhs = md->rhs,
            .jac = md->jac,
            .jac_uses_accel = md->jac_uses_accel,
            .energy_conserved = md->energy_conserved,
            .energy = md->energy,
            .n = job->n,
            .columns = job->columns,
            .samples = 1,
            .y0 = job->y0 + (size_t)s * (size_t)n2,
            .params = md->params,
            .t0 = job->t0,
            .t1 = job->t1,
            .every = job->every,
            .method = job->method,
            .tol = job->tol,
            .on_row = keep_row,
            .on_row_ctx = &one,
            .stop = job->nevents ? md->events : NULL,
            .stop_dir = job->event_dir,
            .stop_text = job->event_text,
            .stop_record = recorded,
        };
        int rc = variational ? var_run(&sj, md->del, &sr) : sim_run(&sj, &sr);
        StartRun h = {
            .rc = rc,
            .own_known = sr.has_energy && !sr.drift_unknown,
            .own = sr.max_rel_drift,
            .rows = one.n,
            .msglen = rc != 0 ? (int)strnlen(sr.message, sizeof sr.message - 1) + 1 : 0,
            .nev = sr.nevents,
        };
        runs_put(&runs, &h, sizeof h);
        runs_put(&runs, one.t, (size_t)one.n * sizeof *one.t);
        runs_put(&runs, one.y, (size_t)one.n * (size_t)n2 * sizeof *one.y);
        if (h.msglen) {
            runs_put(&runs, sr.message, (size_t)h.msglen - 1);
            runs_put(&runs, "", 1);
        }
        for (long e = 0; e < sr.nevents; e++) /* (t, condition) of each crossing */
            runs_put(&runs, sr.events + (size_t)e * (SIM_EVENT_HEAD + (size_t)n2) + 1, 2 * sizeof(double));
        mem_free(sr.events);
        sr.events = NULL;
        sr.nevents = 0;
        if (!split) { /* taken at once: only one start's rows are held twice */
            const char *at = runs.b;
            take_start(job, s, &at, rows, &tk, mr);
            runs.n = 0;
        }
    }
    if (split) {
        size_t total;
        char *all = par_allgather_bytes(runs.b, runs.n, &total);
        const char *at = all;
        for (int s = 0; s < S; s++)
            take_start(job, s, &at, rows, &tk, mr);
        mem_free(all);
    }
    mem_free(runs.b);
    mem_free(recorded);
    mem_free(sr.y);
    mem_free(one.t);
    mem_free(one.y);
    mr->status = tk.first;
    mr->own_energy_drift = tk.own_known && md->energy ? tk.own : NAN;
    return tk.first;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* The median of v (n > 0; NaN sorts last and counts as the worst). */
static double median(double *v, int n)
{
    for (int i = 0; i < n; i++)
        if (isnan(v[i]))
            v[i] = INFINITY;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The trajectory metrics of model m against the reference's rows. */
static void traj_metrics(const CmpJob *job, const Rows *ref, const Rows *rm, double scale, CmpModelResult *mr)
{
    int n2 = 2 * job->n, S = job->samples;
    double *rmse = mem_xalloc((size_t)S * sizeof *rmse), *div = mem_xalloc((size_t)S * sizeof *div),
           *drift = mem_xalloc((size_t)S * sizeof *drift), *fin = mem_xalloc((size_t)S * sizeof *fin);
    const double *E = rm->E; /* the reference's energy along the model's path */
    double first = INFINITY;
    for (int s = 0; s < S; s++) {
        double sum = 0, d = INFINITY;
        long R = ref->count[s] < rm->count[s] ? ref->count[s] : rm->count[s], Rm = rm->count[s];
        for (long r = 0; r < R; r++) {
            const double *a = ref->y + (size_t)r * (size_t)ref->width + (size_t)s * (size_t)n2;
            const double *b = rm->y + (size_t)r * (size_t)rm->width + (size_t)s * (size_t)n2;
            double e2 = 0;
            for (int i = 0; i < n2; i++)
                e2 += (a[i] - b[i]) * (a[i] - b[i]);
            sum += e2;
            if (!(sqrt(e2) <= job->diverge) && d == INFINITY) /* a NaN state has diverged */
                d = ref->t[r];
        }
        /* a model whose run stopped early has diverged where it stopped */
        if (d == INFINITY && Rm < ref->count[s])
            d = Rm > 0 ? rm->t[Rm - 1] : job->t0;
        rmse[s] = R > 0 ? sqrt(sum / (double)R) : NAN;
        div[s] = d;
        first = fmin(first, d);
        double w = E ? 0 : NAN;
        for (long r = 0; E && r < Rm; r++) {
            double v = fabs(E[(size_t)r * (size_t)S + (size_t)s] - E[(size_t)s]) / scale;
            if (!(v <= w))
                w = isnan(v) ? INFINITY : v;
        }
        drift[s] = w;
        /* at the end of the span (a run that stopped early never got there) */
        fin[s] = !E ? NAN : Rm < ref->count[s] || Rm == 0 ? INFINITY
                      : fabs(E[(size_t)(Rm - 1) * (size_t)S + (size_t)s] - E[(size_t)s]) / scale;
    }
    double fsum = 0;
    for (int s = 0; s < S; s++)
        fsum += isnan(fin[s]) ? INFINITY : fin[s];
    mr->energy_error_final_mean = E ? fsum / S : NAN;
    mr->energy_error_final = E ? median(fin, S) : NAN;
    mr->diverge_time_first = first;
    mr->diverge_time = median(div, S);
    /* the worst before the median (median sorts) */
    double wr = 0, wd = 0;
    for (int s = 0; s < S; s++) {
        wr = isnan(rmse[s]) || rmse[s] > wr ? (isnan(rmse[s]) ? INFINITY : rmse[s]) : wr;
        wd = isnan(drift[s]) || drift[s] > wd ? (isnan(drift[s]) ? INFINITY : drift[s]) : wd;
    }
    mr->traj_rmse_worst = wr;
    mr->energy_drift_worst = E ? wd : NAN;
    mr->traj_rmse = median(rmse, S);
    mr->energy_drift = E ? median(drift, S) : NAN;
    mem_free(rmse);
    mem_free(div);
    mem_free(drift);
    mem_free(fin);
}

/* ---------- the grid ---------- */

/* The first crossing of condition k on start s among events (rows of
 * start, t, condition, by start then time), or NaN. */
static double first_event(const CmpModelResult *r, int s, int k)
{
    for (long e = 0; e < r->nevents; e++)
        if (r->events[(size_t)e * 3] == s && r->events[(size_t)e * 3 + 2] == k)
            return r->events[(size_t)e * 3 + 1];
    return NAN;
}

/* Model mr's first crossings against the reference's: the median of
 * t_m - t_ref over the starts and conditions where both cross, the
 * largest |t_m - t_ref|, and how many cross in only one of the two. */
static void event_metrics(const CmpJob *job, const CmpModelResult *ref, CmpModelResult *mr)
{
    const int S = job->samples, K = job->nevents;
    double *dt = mem_xalloc(((size_t)S * (size_t)K + 1) * sizeof *dt);
    int nd = 0;
    mr->first_event_dt = mr->first_event_dt_worst = NAN;
    mr->first_event_unmatched = 0;
    for (int s = 0; s < S; s++)
        for (int k = 0; k < K; k++) {
            double a = first_event(mr, s, k), b = first_event(ref, s, k);
            if (isnan(a) != isnan(b))
                mr->first_event_unmatched++;
            else if (!isnan(a)) {
                dt[nd++] = a - b;
                double d = fabs(a - b);
                mr->first_event_dt_worst = nd == 1 || d > mr->first_event_dt_worst ? d : mr->first_event_dt_worst;
            }
        }
    if (nd)
        mr->first_event_dt = median(dt, nd);
    mem_free(dt);
}

static double axis_value(const CmpAxis *a, int i)
{
    return a->lo + (a->hi - a->lo) * i / (a->count - 1);
}

/* Average ranks (ties share the mean of their positions), 1-based. */
static void ranks(const double *v, int n, double *rk)
{
    /* (value, index) pairs sorted by value */
    double *pairs = mem_xalloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *pairs);
    for (int i = 0; i < n; i++) {
        pairs[2 * i] = v[i];
        pairs[2 * i + 1] = i;
    }
    qsort(pairs, (size_t)n, 2 * sizeof *pairs, cmp_double);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && pairs[2 * (j + 1)] == pairs[2 * i])
            j++;
        double r = 0.5 * (i + j) + 1;
        for (int k = i; k <= j; k++)
            rk[(int)pairs[2 * k + 1]] = r;
        i = j + 1;
    }
    mem_free(pairs);
}

/* Spearman's rank correlation of x and y (n >= 3, else NaN). */
static double spearman(const double *x, const double *y, int n)
{
    if (n < 3)
        return NAN;
    double *rx = mem_xalloc((size_t)n * sizeof *rx), *ry = mem_xalloc((size_t)n * sizeof *ry);
    ranks(x, n, rx);
    ranks(y, n, ry);
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += rx[i];
        my += ry[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    mem_free(rx);
    mem_free(ry);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

typedef struct Grid {
    long cells, states; /* states = cells x nb */
    int nb;
    double *s;          /* states x 2n */
    double *sbar;       /* the same with the velocities negated (for the even parts of L) */
    double *aref;       /* states x n */
    double *err;        /* per model: cells, the RMS |a_m - a_ref| */
    double *rel;        /* per model: cells */
    double *L;          /* per model: cells, the mean L over the cell's states (NaN: no L) */
    double *Lfit;       /* per model: cells, (L_m - b)/a */
    double *occ;        /* cells */
} Grid;

static long cell_of(const CmpJob *job, const double *y)
{
    long c = 0, mul = 1;
    for (int a = 0; a < job->naxes; a++) {
        const CmpAxis *ax = &job->axes[a];
        double h = (ax->hi - ax->lo) / (ax->count - 1), u = (y[ax->comp] - ax->lo) / h;
        if (!(u >= -0.5 && u < ax->count - 0.5))
            return -1;
        long i = lround(u);
        if (i >= ax->count)
            i = ax->count - 1;
        c += i * mul;
        mul *= ax->count;
    }
    return c;
}

static void grid_run(const CmpJob *job, const Rows *ref, Grid *g, CmpResult *res)
{
    int n = job->n, n2 = 2 * n, M = job->nmodels;
    g->cells = 1;
    for (int a = 0; a < job->naxes; a++)
        g->cells *= job->axes[a].count;
    g->nb = job->random_rest ? job->samples : 1;
    g->states = g->cells * g->nb;
    g->s = mem_xalloc((size_t)g->states * (size_t)n2 * sizeof *g->s);
    g->sbar = mem_xalloc((size_t)g->states * (size_t)n2 * sizeof *g->sbar);
    for (long c = 0; c < g->cells; c++)
        for (int b = 0; b < g->nb; b++) {
            double *st = g->s + ((size_t)c * (size_t)g->nb + (size_t)b) * (size_t)n2;
            memcpy(st, job->y0 + (size_t)b * (size_t)n2, (size_t)n2 * sizeof *st);
            long rem = c;
            for (int a = 0; a < job->naxes; a++) {
                const CmpAxis *ax = &job->axes[a];
                st[ax->comp] = axis_value(ax, (int)(rem % ax->count));
                rem /= ax->count;
            }
            double *sb = g->sbar + ((size_t)c * (size_t)g->nb + (size_t)b) * (size_t)n2;
            for (int i = 0; i < n2; i++)
                sb[i] = i < n ? st[i] : -st[i];
        }
    size_t C = (size_t)g->cells, G = (size_t)g->states;
    g->aref = mem_xalloc(G * (size_t)n * sizeof *g->aref);
    g->err = mem_xalloc((size_t)M * C * sizeof *g->err);
    g->rel = mem_xalloc((size_t)M * C * sizeof *g->rel);
    g->L = mem_xalloc((size_t)M * C * sizeof *g->L);
    g->Lfit = mem_xalloc((size_t)M * C * sizeof *g->Lfit);
    g->occ = mem_xalloc(C * sizeof *g->occ);
    const CmpModel *r0 = &job->models[0];
    double t0 = sim_clock();
    res->models[0].grid_failures = eval_shared(r0->rhs, r0->params, (long)G, g->s, n2, 0, g->aref);
    res->models[0].grid_accel_s = sim_clock() - t0;
    double *am = mem_xalloc(G * (size_t)n * sizeof *am);
    double *Lr = NULL, *Lrb = NULL, *Lm = mem_xalloc(G * sizeof *Lm), *Lmb = mem_xalloc(G * sizeof *Lmb);
    int even = 0;
    if (r0->lagr) {
        Lr = mem_xalloc(G * sizeof *Lr);
        Lrb = mem_xalloc(G * sizeof *Lrb);
        eval_shared(r0->lagr, r0->params, (long)G, g->s, n2, 0, Lr);
        eval_shared(r0->lagr, r0->params, (long)G, g->sbar, n2, 0, Lrb);
        /* even in the velocities: every difference at rounding level */
        double big = 0, odd = 0;
        for (size_t i = 0; i < G; i++)
            if (isfinite(Lr[i]) && isfinite(Lrb[i])) {
                big = fmax(big, fabs(Lr[i]));
                odd = fmax(odd, fabs(Lr[i] - Lrb[i]));
            }
        even = odd <= 1e-10 * (1 + big);
    }
    for (int m = 0; m < M; m++) {
        const CmpModel *md = &job->models[m];
        CmpModelResult *mr = &res->models[m];
        if (job->progress)
            fprintf(stderr, "\rcompare: the grid of %s (%ld states)   ", md->name, (long)G);
        const double *a = g->aref;
        if (m > 0) {
            double ta = sim_clock();
            mr->grid_failures = eval_shared(md->rhs, md->params, (long)G, g->s, n2, 0, am);
            mr->grid_accel_s = sim_clock() - ta;
            a = am;
        }
        double se = 0, sr = 0, peak = 0;
        long used = 0, failed = 0;
        mr->peak_cell = -1;
        for (size_t c = 0; c < C; c++) {
            double e2 = 0, r2 = 0;
            int k = 0;
            for (int b = 0; b < g->nb; b++) {
                size_t st = c * (size_t)g->nb + (size_t)b;
                double d2 = 0, q2 = 0;
                for (int i = 0; i < n; i++) {
                    double x = a[st * (size_t)n + (size_t)i], y = g->aref[st * (size_t)n + (size_t)i];
                    d2 += (x - y) * (x - y);
                    q2 += y * y;
                }
                if (isfinite(d2) && isfinite(q2)) {
                    e2 += d2;
                    r2 += q2;
                    k++;
                } else if (m > 0 && isfinite(q2)) {
                    failed++; /* the model's acceleration is not a number there (a singular mass matrix) */
                }
            }
            double e = k ? sqrt(e2 / k) : NAN, r = k ? sqrt(r2 / k) : NAN;
            g->err[(size_t)m * C + c] = e;
            /* relative to the reference's own: undefined (NaN) where that is zero and the model's is not */
            g->rel[(size_t)m * C + c] = k ? (r > 0 ? e / r : (e == 0 ? 0 : NAN)) : NAN;
            if (k) {
                se += e * e;
                sr += r * r;
                used++;
                if (e > peak) { /* none when every error is 0 */
                    peak = e;
                    mr->peak_cell = (int)c;
                }
            }
        }
        if (m > 0 && failed > mr->grid_failures)
            mr->grid_failures = failed; /* a VM failure is also a NaN state: count each once */
        mr->accel_rmse_grid = used ? sqrt(se / (double)used) : NAN;
        mr->accel_rel_grid = used ? (sr > 0 ? sqrt(se / sr) : (se == 0 ? 0 : INFINITY)) : NAN;
        /* L up to its gauge */
        mr->gauge_a = mr->gauge_b = mr->gauge_r2 = NAN;
        mr->gauge_even = even;
        for (size_t c = 0; c < C; c++)
            g->L[(size_t)m * C + c] = g->Lfit[(size_t)m * C + c] = NAN;
        if (!md->lagr || !Lr)
            continue;
        eval_shared(md->lagr, md->params, (long)G, g->s, n2, 0, Lm);
        if (even)
            eval_shared(md->lagr, md->params, (long)G, g->sbar, n2, 0, Lmb);
        double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
        long k = 0;
        for (size_t i = 0; i < G; i++) {
            double x = even ? 0.5 * (Lr[i] + Lrb[i]) : Lr[i], y = even ? 0.5 * (Lm[i] + Lmb[i]) : Lm[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            sx += x;
            sy += y;
            k++;
        }
        if (k < 2)
            continue;
        double mx = sx / (double)k, my = sy / (double)k;
        for (size_t i = 0; i < G; i++) {
            double x = even ? 0.5 * (Lr[i] + Lrb[i]) : Lr[i], y = even ? 0.5 * (Lm[i] + Lmb[i]) : Lm[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            sxx += (x - mx) * (x - mx);
            sxy += (x - mx) * (y - my);
            syy += (y - my) * (y - my);
        }
        if (!(sxx > 0))
            continue;
        double ga = sxy / sxx, gb = my - ga * mx;
        mr->gauge_a = ga;
        mr->gauge_b = gb;
        /* R^2 = 1 - SS_res / SS_tot; SS_res = syy - a sxy; a constant L_m fits exactly */
        double ssr = fmax(0, syy - ga * sxy);
        mr->gauge_r2 = syy > 0 ? 1 - ssr / syy : 1;
        for (size_t c = 0; c < C; c++) {
            double sum = 0;
            int kk = 0;
            for (int b = 0; b < g->nb; b++) {
                size_t i = c * (size_t)g->nb + (size_t)b;
                double y = even ? 0.5 * (Lm[i] + Lmb[i]) : Lm[i];
                if (isfinite(y)) {
                    sum += y;
                    kk++;
                }
            }
            g->L[(size_t)m * C + c] = kk ? sum / kk : NAN;
            g->Lfit[(size_t)m * C + c] = kk && ga != 0 ? (sum / kk - gb) / ga : NAN;
        }
    }
    if (job->progress)
        fputc('\n', stderr);
    /* occupancy of the reference's trajectories */
    for (size_t c = 0; c < C; c++)
        g->occ[c] = 0;
    for (long r = 0; r < ref->n; r++)
        for (int s = 0; s < job->samples; s++) {
            long c = cell_of(job, ref->y + (size_t)r * (size_t)ref->width + (size_t)s * (size_t)n2);
            if (c >= 0)
                g->occ[c] += 1;
        }
    double total = 0;
    for (size_t c = 0; c < C; c++)
        total += g->occ[c];
    double *ox = mem_xalloc(C * sizeof *ox), *ey = mem_xalloc(C * sizeof *ey);
    for (int m = 0; m < M; m++) {
        int k = 0;
        for (size_t c = 0; c < C; c++)
            if (g->occ[c] > 0 && isfinite(g->err[(size_t)m * C + c])) {
                ox[k] = g->occ[c];
                ey[k++] = g->err[(size_t)m * C + c];
            }
        res->models[m].occupied_cells = k;
        res->models[m].occupancy_error_corr = spearman(ox, ey, k);
    }
    for (size_t c = 0; c < C && total > 0; c++)
        g->occ[c] /= total; /* a probability per cell */
    mem_free(ox);
    mem_free(ey);
    mem_free(am);
    mem_free(Lr);
    mem_free(Lrb);
    mem_free(Lm);
    mem_free(Lmb);
}

static void grid_free(Grid *g)
{
    mem_free(g->s);
    mem_free(g->sbar);
    mem_free(g->aref);
    mem_free(g->err);
    mem_free(g->rel);
    mem_free(g->L);
    mem_free(g->Lfit);
    mem_free(g->occ);
}

/* ---------- symmetries ---------- */

/* For every model and symmetry: the invariance residual over the states
 * (the grid's, or the reference's path) and the charge's drift along the
 * model's own path. */
static void sym_metrics(const CmpJob *job, const Rows *rows, const Grid *g, CmpResult *res)
{
    int n2 = 2 * job->n, S = job->samples;
    long G = g ? g->states : rows[0].n * S;
    const double *states = g ? g->s : rows[0].y;
    double *dl = mem_xalloc((size_t)(G > 0 ? G : 1) * sizeof *dl), *L = mem_xalloc((size_t)(G > 0 ? G : 1) * sizeof *L);
    for (int m = 0; m < job->nmodels; m++) {
        const CmpModel *md = &job->models[m];
        CmpModelResult *mr = &res->models[m];
        for (int k = 0; k < job->nsyms; k++) {
            mr->sym_residual[k] = mr->sym_charge_drift[k] = NAN;
            if (md->sym_dl && md->sym_dl[k] && md->lagr && G > 0) {
                eval_shared(md->sym_dl[k], md->params, G, states, n2, 0, dl);
                eval_shared(md->lagr, md->params, G, states, n2, 0, L);
                /* states where L is not finite (a singular potential's centre) are left out */
                double a = 0, b = 0;
                long used = 0;
                for (long i = 0; i < G; i++)
                    if (isfinite(L[i])) {
                        a += isfinite(dl[i]) ? dl[i] * dl[i] : INFINITY;
                        b += L[i] * L[i];
                        used++;
                    }
                mr->sym_residual[k] = !used ? NAN : b > 0 ? sqrt(a / b) : (a == 0 ? 0 : INFINITY);
            }
            if (md->sym_q && md->sym_q[k] && rows[m].n > 0) {
                long R = rows[m].n;
                double *Q = mem_xalloc((size_t)R * (size_t)S * sizeof *Q), *drift = mem_xalloc((size_t)S * sizeof *drift);
                eval_shared(md->sym_q[k], md->params, R * S, rows[m].y, n2, 0, Q);
                for (int s0 = 0; s0 < S; s0++) {
                    double q0 = Q[s0], sc = fabs(q0) > 1e-8 ? fabs(q0) : 1, w = 0;
                    for (long r = 0; r < rows[m].count[s0]; r++) {
                        double v = fabs(Q[(size_t)r * (size_t)S + (size_t)s0] - q0) / sc;
                        if (!(v <= w))
                            w = isnan(v) ? INFINITY : v;
                    }
                    drift[s0] = w;
                }
                mr->sym_charge_drift[k] = median(drift, S);
                mem_free(Q);
                mem_free(drift);
            }
        }
    }
    mem_free(dl);
    mem_free(L);
}

/* ---------- outputs ---------- */

static char *with_suffix(const char *prefix, const char *suffix)
{
    size_t l = strlen(prefix) + strlen(suffix) + 1;
    char *p = mem_xalloc(l);
    snprintf(p, l, "%s%s", prefix, suffix);
    return p;
}

/* A failed write: status 4 with the message (a numerical failure keeps its own). */
static void io_failed(CmpResult *res, const char *err)
{
    if (res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    } else {
        fprintf(stderr, "lag: error: %s\n", err);
    }
}

/* Close a CSV (kept only when every row was written); a failure is the
 * job's I/O error. */
static void csv_finish(CsvWriter *w, int bad, char *err, size_t errlen, CmpResult *res)
{
    if (w && csv_close(w, !bad, err, errlen) != 0)
        bad = 1;
    if (bad)
        io_failed(res, err);
}

static void write_traj(const CmpJob *job, Rows *rows, CmpResult *res)
{
    int n2 = 2 * job->n, M = job->nmodels, S = job->samples;
    int nc = 2 + M * (n2 + 2);
    const char **cols = mem_xalloc((size_t)nc * sizeof *cols);
    char **names = mem_xalloc((size_t)nc * sizeof *names);
    int c = 0;
    cols[c++] = "t";
    cols[c++] = "sample";
    for (int m = 0; m < M; m++) {
        for (int i = 0; i < n2; i++) {
            size_t l = strlen(job->models[m].name) + strlen(job->columns[i]) + 2;
            names[c] = mem_xalloc(l);
            snprintf(names[c], l, "%s.%s", job->models[m].name, job->columns[i]);
            cols[c] = names[c];
            c++;
        }
        names[c] = with_suffix(job->models[m].name, ".state_error");
        cols[c] = names[c];
        c++;
        names[c] = with_suffix(job->models[m].name, ".E_ref");
        cols[c] = names[c];
        c++;
    }
    char *path = with_suffix(job->output, "_traj.csv");
    char err[512];
    CsvWriter *w = csv_open(path, cols, nc, err, sizeof err);
    int bad = !w;
    double *row = mem_xalloc((size_t)nc * sizeof *row);
    for (long r = 0; r < rows[0].n && !bad; r++)
        for (int s = 0; s < S && !bad; s++) {
            int k = 0;
            row[k++] = rows[0].t[r];
            row[k++] = s;
            const double *yr = rows[0].y + (size_t)r * (size_t)rows[0].width + (size_t)s * (size_t)n2;
            for (int m = 0; m < M; m++) {
                int have = r < rows[m].n;
                const double *y = have ? rows[m].y + (size_t)r * (size_t)rows[m].width + (size_t)s * (size_t)n2 : NULL;
                double e2 = 0;
                for (int i = 0; i < n2; i++) {
                    row[k++] = have ? y[i] : NAN;
                    e2 += have ? (y[i] - yr[i]) * (y[i] - yr[i]) : NAN;
                }
                row[k++] = sqrt(e2);
                row[k++] = have && rows[m].E ? rows[m].E[(size_t)r * (size_t)S + (size_t)s] : NAN;
            }
            if (csv_row(w, row, err, sizeof err) != 0)
                bad = 1;
        }
    csv_finish(w, bad, err, sizeof err, res);
    mem_free(row);
    mem_free(path);
    for (int i = 2; i < nc; i++)
        mem_free(names[i]);
    mem_free(names);
    mem_free(cols);
}

static int has_L(const CmpJob *job, int m)
{
    return job->models[0].lagr && job->models[m].lagr;
}

static void write_grid(const CmpJob *job, const Grid *g, CmpResult *res)
{
    int M = job->nmodels, A = job->naxes;
    int nc = A + 1 + 4 * M;
    const char **cols = mem_xalloc((size_t)nc * sizeof *cols);
    char **names = mem_xalloc((size_t)nc * sizeof *names);
    int c = 0;
    for (int a = 0; a < A; a++) {
        names[c] = NULL;
        cols[c++] = job->columns[job->axes[a].comp];
    }
    names[c] = NULL;
    cols[c++] = "occupancy";
    /* the L columns only for systems with an L (and only when the reference has one) */
    static const char *const what[4] = {".accel_error", ".accel_rel_error", ".L", ".L_gauge"};
    for (int m = 0; m < M; m++)
        for (int k = 0; k < (has_L(job, m) ? 4 : 2); k++) {
            names[c] = with_suffix(job->models[m].name, what[k]);
            cols[c] = names[c];
            c++;
        }
    nc = c;
    char *path = with_suffix(job->output, "_grid.csv");
    char err[512];
    CsvWriter *w = csv_open(path, cols, nc, err, sizeof err);
    int bad = !w;
    double *row = mem_xalloc((size_t)nc * sizeof *row);
    size_t C = (size_t)g->cells;
    for (size_t cell = 0; cell < C && !bad; cell++) {
        int k = 0;
        long rem = (long)cell;
        for (int a = 0; a < A; a++) {
            row[k++] = axis_value(&job->axes[a], (int)(rem % job->axes[a].count));
            rem /= job->axes[a].count;
        }
        row[k++] = g->occ[cell];
        for (int m = 0; m < M; m++) {
            row[k++] = g->err[(size_t)m * C + cell];
            row[k++] = g->rel[(size_t)m * C + cell];
            if (has_L(job, m)) {
                row[k++] = g->L[(size_t)m * C + cell];
                row[k++] = g->Lfit[(size_t)m * C + cell];
            }
        }
        if (csv_row(w, row, err, sizeof err) != 0)
            bad = 1;
    }
    csv_finish(w, bad, err, sizeof err, res);
    mem_free(row);
    mem_free(path);
    for (int i = 0; i < nc; i++)
        mem_free(names[i]);
    mem_free(names);
    mem_free(cols);
}

static json_t *summary_object(const CmpJob *job, const CmpResult *res)
{
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", json_string("compare"));
    sim_jset(o, "reference", json_string(job->models[0].name));
    sim_jset(o, "status", json_integer(res->status));
    sim_jset(o, "samples", json_integer(job->samples));
    sim_jset(o, "energy_scale", sim_jreal(res->energy_scale));
    sim_jset(o, "grid_cells", json_integer((json_int_t)res->grid_cells));
    json_t *ms = sim_jnew(json_object());
    for (int m = 0; m < job->nmodels; m++) {
        const CmpModelResult *r = &res->models[m];
        json_t *e = sim_jnew(json_object());
        sim_jset(e, "status", json_integer(r->status));
        if (!isnan(job->models[m].validation))
            sim_jset(e, "validation_rel_rms", sim_jreal(job->models[m].validation));
        if (r->status)
            sim_jset(e, "message", json_string(r->message));
        sim_jset(e, "energy_drift", sim_jreal(r->energy_drift));
        sim_jset(e, "energy_error_final", sim_jreal(r->energy_error_final));
        if (job->samples > 1)
            sim_jset(e, "energy_error_final_mean", sim_jreal(r->energy_error_final_mean));
        sim_jset(e, "own_energy_drift", sim_jreal(r->own_energy_drift));
        sim_jset(e, "traj_rmse", sim_jreal(r->traj_rmse));
        /* null: the error never exceeded the threshold */
        sim_jset(e, "diverge_time", sim_jreal(r->diverge_time));
        if (job->samples > 1) {
            sim_jset(e, "energy_drift_worst", sim_jreal(r->energy_drift_worst));
            sim_jset(e, "traj_rmse_worst", sim_jreal(r->traj_rmse_worst));
            sim_jset(e, "diverge_time_first", sim_jreal(r->diverge_time_first));
        }
        if (job->naxes > 0) {
            sim_jset(e, "accel_rmse_grid", sim_jreal(r->accel_rmse_grid));
            sim_jset(e, "accel_rel_grid", sim_jreal(r->accel_rel_grid));
            sim_jset(e, "grid_failures", json_integer((json_int_t)r->grid_failures));
            sim_jset(e, "grid_accel_s", sim_jreal(r->grid_accel_s));
            sim_jset(e, "occupancy_error_corr", sim_jreal(r->occupancy_error_corr));
            sim_jset(e, "occupied_cells", json_integer(r->occupied_cells));
            sim_jset(e, "gauge_a", sim_jreal(r->gauge_a));
            sim_jset(e, "gauge_b", sim_jreal(r->gauge_b));
            sim_jset(e, "gauge_r2", sim_jreal(r->gauge_r2));
            sim_jset(e, "gauge_even", json_boolean(r->gauge_even));
            if (r->peak_cell >= 0) {
                json_t *pk = sim_jnew(json_object());
                long rem = r->peak_cell;
                for (int a = 0; a < job->naxes; a++) {
                    sim_jset(pk, job->columns[job->axes[a].comp],
                             sim_jreal(axis_value(&job->axes[a], (int)(rem % job->axes[a].count))));
                    rem /= job->axes[a].count;
                }
                sim_jset(e, "peak_error_at", pk);
            }
        }
        if (job->nevents) {
            /* its crossings, listed when few enough for a line of JSON */
            sim_jset(e, "events_count", json_integer((json_int_t)r->nevents));
            sim_jset(e, "first_event_dt", sim_jreal(r->first_event_dt));
            sim_jset(e, "first_event_dt_worst", sim_jreal(r->first_event_dt_worst));
            sim_jset(e, "first_event_unmatched", json_integer((json_int_t)r->first_event_unmatched));
            if (job->samples <= SIM_EVENTS_LISTED && r->nevents <= SIM_EVENTS_LISTED_ALL) {
                json_t *ev = sim_jnew(json_array());
                for (long i = 0; i < r->nevents; i++) {
                    const double *x = r->events + (size_t)i * 3;
                    json_t *o1 = sim_jnew(json_object());
                    if (job->samples > 1)
                        sim_jset(o1, "start", json_integer((json_int_t)x[0] + 1));
                    sim_jset(o1, "t", sim_jreal(x[1]));
                    sim_jset(o1, "when", json_string(job->event_text[(int)x[2]]));
                    sim_japp(ev, o1);
                }
                sim_jset(e, "events", ev);
            }
        }
        if (job->nsyms) {
            json_t *sy = sim_jnew(json_object());
            for (int k = 0; k < job->nsyms; k++) {
                json_t *o1 = sim_jnew(json_object());
                sim_jset(o1, "residual", sim_jreal(r->sym_residual[k]));
                sim_jset(o1, "charge_drift", sim_jreal(r->sym_charge_drift[k]));
                sim_jset(sy, job->sym_names[k], o1);
            }
            sim_jset(e, "symmetries", sy);
        }
        sim_jset(ms, job->models[m].name, e);
    }
    sim_jset(o, "models", ms);
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    return o;
}

static void write_summary(const CmpJob *job, const CmpResult *res, CmpResult *wres)
{
    if (!par_root())
        return; /* rank 0 writes the run's files (runtime/par.h) */
    char *path = with_suffix(job->output, "_summary.json");
    char err[512];
    json_t *o = summary_object(job, res);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s)
        mem_out_of_memory(0);
    char *tmp = io_tmp_path(path);
    FILE *f = io_check_writable(path, err, sizeof err) == 0 ? fopen(tmp, "w") : NULL;
    int bad = !f;
    if (!f && err[0] == 0)
        snprintf(err, sizeof err, "cannot write '%s'", path);
    if (f) {
        bad = fprintf(f, "%s\n", s) < 0;
        bad |= fclose(f) != 0;
        if (!bad && rename(tmp, path) != 0)
            bad = 1;
        if (bad) {
            remove(tmp);
            snprintf(err, sizeof err, "cannot write '%s'", path);
        }
    }
    if (bad)
        io_failed(wres, err);
    free(s);
    mem_free(tmp);
    mem_free(path);
}

/* ---------- the figure ---------- */

static void draw(const CmpJob *job, Rows *rows, const Grid *g, CmpResult *res)
{
    int M = job->nmodels, n2 = 2 * job->n, S = job->samples;
    FigPanel p[17];
    int np = 0;
    memset(p, 0, sizeof p);
    int nl = M < 6 ? M : 6;
    /* 1. the first coordinate of the first start */
    FigPanel *t = &p[np++];
    t->kind = FIG_LINES;
    t->title = "trajectory (first start)";
    t->xlabel = "t";
    t->ylabel = job->columns[0];
    /* a model that runs away leaves the frame (its points beyond the
     * reference's range widened by that range on each side are not drawn)
     * instead of squashing the others into a flat line */
    double rlo = INFINITY, rhi = -INFINITY;
    for (long r = 0; r < rows[0].n; r++) {
        double v = rows[0].y[(size_t)r * (size_t)rows[0].width];
        if (isfinite(v)) {
            rlo = fmin(rlo, v);
            rhi = fmax(rhi, v);
        }
    }
    double span = rhi > rlo ? rhi - rlo : 1;
    double **q0 = mem_xalloc((size_t)M * sizeof *q0);
    for (int m = 0; m < M; m++) {
        q0[m] = mem_xalloc((size_t)(rows[m].n > 0 ? rows[m].n : 1) * sizeof **q0);
        for (long r = 0; r < rows[m].n; r++) {
            double v = rows[m].y[(size_t)r * (size_t)rows[m].width];
            q0[m][r] = v >= rlo - span && v <= rhi + span ? v : NAN;
        }
        if (m < nl)
            t->lines[t->nlines++] = (FigLine){.label = job->models[m].name, .x = rows[m].t, .y = q0[m], .n = (int)rows[m].n, .xstride = 1, .ystride = 1, .colour = m + 1};
    }
    /* 2. the state error and 3. the reference energy's drift, first start */
    double **err = mem_xalloc((size_t)M * sizeof *err), **dE = mem_xalloc((size_t)M * sizeof *dE);
    FigPanel *pe = &p[np++], *pd = &p[np++];
    *pe = (FigPanel){.kind = FIG_LINES, .title = "state error vs the reference", .xlabel = "t",
                     .ylabel = "|s - s_ref|", .logy = 1};
    *pd = (FigPanel){.kind = FIG_LINES, .title = "drift of the reference energy", .xlabel = "t",
                     .ylabel = "|E_ref - E_ref(0)| / scale", .logy = 1};
    for (int m = 0; m < M; m++) {
        long R = rows[m].n < rows[0].n ? rows[m].n : rows[0].n;
        err[m] = mem_xalloc((size_t)(R > 0 ? R : 1) * sizeof **err);
        dE[m] = mem_xalloc((size_t)(rows[m].n > 0 ? rows[m].n : 1) * sizeof **dE);
        for (long r = 0; r < R; r++) {
            double e2 = 0;
            for (int i = 0; i < n2; i++) {
                double d = rows[m].y[(size_t)r * (size_t)rows[m].width + (size_t)i] -
                           rows[0].y[(size_t)r * (size_t)rows[0].width + (size_t)i];
                e2 += d * d;
            }
            err[m][r] = sqrt(e2);
        }
        const double *E = rows[m].E;
        for (long r = 0; r < rows[m].n; r++)
            dE[m][r] = E ? fabs(E[(size_t)r * (size_t)S] - E[0]) / res->energy_scale : NAN;
        if (m > 0 && m < 6) {
            pe->lines[pe->nlines++] = (FigLine){.label = job->models[m].name, .x = rows[0].t, .y = err[m], .n = (int)R, .xstride = 1, .ystride = 1, .colour = m + 1};
        }
        if (m < 6)
            pd->lines[pd->nlines++] = (FigLine){.label = job->models[m].name, .x = rows[m].t, .y = dE[m], .n = (int)rows[m].n, .xstride = 1, .ystride = 1, .colour = m + 1};
    }
    /* 4. the first continuous symmetry's charge along each path (first start) */
    int ks = -1;
    for (int k = 0; k < job->nsyms && ks < 0; k++)
        for (int m = 0; m < M && ks < 0; m++)
            if (job->models[m].sym_q && job->models[m].sym_q[k])
                ks = k;
    double **dQ = mem_xalloc((size_t)M * sizeof *dQ);
    char qtitle[160];
    for (int m = 0; m < M; m++)
        dQ[m] = NULL;
    if (ks >= 0) {
        snprintf(qtitle, sizeof qtitle, "Noether charge of %s", job->sym_names[ks]);
        FigPanel *pq = &p[np++];
        *pq = (FigPanel){.kind = FIG_LINES, .title = qtitle, .xlabel = "t", .ylabel = "|Q - Q(0)|", .logy = 1};
        for (int m = 0; m < M; m++) {
            const IrProgram *qp = job->models[m].sym_q ? job->models[m].sym_q[ks] : NULL;
            if (!qp || rows[m].n == 0)
                continue;
            double *Q = mem_xalloc((size_t)rows[m].n * (size_t)S * sizeof *Q);
            eval_states(qp, job->models[m].params, rows[m].n * S, rows[m].y, n2, 0, Q);
            dQ[m] = mem_xalloc((size_t)rows[m].n * sizeof **dQ);
            for (long r = 0; r < rows[m].n; r++)
                dQ[m][r] = fabs(Q[(size_t)r * (size_t)S] - Q[0]);
            mem_free(Q);
            if (m < 6)
                pq->lines[pq->nlines++] = (FigLine){.label = job->models[m].name, .x = rows[m].t, .y = dQ[m], .n = (int)rows[m].n, .xstride = 1, .ystride = 1, .colour = m + 1};
        }
    }
    double *axis = NULL, *diff = NULL, *clipped = NULL; /* the 1-D grid's abscissae; the gauge's
                                                           difference map; the error maps as drawn */
    char tl[2][160], etitle[6][160];
    if (g) {
        size_t C = (size_t)g->cells;
        /* one colour scale for every model's error map */
        double lo = INFINITY, hi = 0;
        for (int m = 1; m < M; m++)
            for (size_t c = 0; c < C; c++) {
                double e = g->err[(size_t)m * C + c];
                if (isfinite(e) && e > 0) {
                    lo = fmin(lo, e);
                    hi = fmax(hi, e);
                }
            }
        int maps = M - 1 < 5 ? M - 1 : 5; /* the models after the reference, in their colours */
        /* six decades below the largest error: smaller ones (rounding, an
         * exact model's zeros) take the lowest colour instead of
         * stretching the scale over twenty decades */
        lo = hi > 0 ? fmax(lo, 1e-6 * hi) : lo;
        if (job->naxes == 2 && hi > 0) {
            clipped = mem_xalloc((size_t)maps * C * sizeof *clipped);
            for (int m = 1; m <= maps; m++)
                for (size_t c = 0; c < C; c++) {
                    double e = g->err[(size_t)m * C + c];
                    clipped[(size_t)(m - 1) * C + c] = isfinite(e) ? fmax(e, lo) : e;
                }
        }
        for (int m = 1; m <= maps && clipped; m++) {
            snprintf(etitle[m - 1], sizeof etitle[m - 1], "acceleration error of %s", job->models[m].name);
            FigPanel *h = &p[np++];
            *h = (FigPanel){.kind = FIG_HEATMAP, .title = etitle[m - 1],
                            .xlabel = job->columns[job->axes[0].comp], .ylabel = job->columns[job->axes[1].comp],
                            .z = clipped + (size_t)(m - 1) * C, .nx = job->axes[0].count, .ny = job->axes[1].count,
                            .x0 = job->axes[0].lo, .x1 = job->axes[0].hi, .y0 = job->axes[1].lo,
                            .y1 = job->axes[1].hi, .zmin = lo, .zmax = hi, .zlabel = "|a - a_ref|", .logz = 1};
        }
        if (job->naxes == 1) {
            FigPanel *h = &p[np++];
            *h = (FigPanel){.kind = FIG_LINES, .title = "acceleration error over the grid",
                            .xlabel = job->columns[job->axes[0].comp], .ylabel = "|a - a_ref|", .logy = 1};
            axis = mem_xalloc(C * sizeof *axis);
            for (size_t c = 0; c < C; c++)
                axis[c] = axis_value(&job->axes[0], (int)c);
            for (int m = 1; m <= maps; m++)
                h->lines[h->nlines++] = (FigLine){.label = job->models[m].name, .x = axis, .y = g->err + (size_t)m * C, .n = (int)C, .xstride = 1, .ystride = 1, .colour = m + 1};
        }
        /* L up to the gauge: the reference, the fitted L of the model that fits worst (lowest R^2), their difference */
        int lm = -1;
        for (int m = 1; m < M; m++)
            if (isfinite(res->models[m].gauge_a) &&
                (lm < 0 || !(res->models[m].gauge_r2 >= res->models[lm].gauge_r2)))
                lm = m;
        if (lm > 0 && job->naxes == 2) {
            diff = mem_xalloc(C * sizeof *diff);
            for (size_t c = 0; c < C; c++)
                diff[c] = g->Lfit[(size_t)lm * C + c] - g->L[c];
            snprintf(tl[0], sizeof tl[0], "L of %s (reference)", job->models[0].name);
            snprintf(tl[1], sizeof tl[1], "(L - b)/a of %s, R^2 = %.6f", job->models[lm].name, res->models[lm].gauge_r2);
            double zl = INFINITY, zh = -INFINITY;
            for (size_t c = 0; c < C; c++)
                for (int k = 0; k < 2; k++) {
                    double v = k ? g->Lfit[(size_t)lm * C + c] : g->L[c];
                    if (isfinite(v)) {
                        zl = fmin(zl, v);
                        zh = fmax(zh, v);
                    }
                }
            for (int k = 0; k < 3; k++) {
                FigPanel *h = &p[np++];
                *h = (FigPanel){.kind = FIG_HEATMAP, .title = k == 0 ? tl[0] : k == 1 ? tl[1] : "(L - b)/a - L_ref",
                                .xlabel = job->columns[job->axes[0].comp],
                                .ylabel = job->columns[job->axes[1].comp],
                                .z = k == 0 ? g->L : k == 1 ? g->Lfit + (size_t)lm * C : diff,
                                .nx = job->axes[0].count, .ny = job->axes[1].count, .x0 = job->axes[0].lo,
                                .x1 = job->axes[0].hi, .y0 = job->axes[1].lo, .y1 = job->axes[1].hi,
                                .zmin = k < 2 && zl < zh ? zl : NAN, .zmax = k < 2 && zl < zh ? zh : NAN,
                                .zlabel = k < 2 ? "L" : "difference", .diverging = k == 2};
            }
        }
        /* occupancy against the error */
        FigPanel *sc = &p[np++];
        *sc = (FigPanel){.kind = FIG_SCATTER, .title = "error against occupancy (reference trajectories)",
                         .xlabel = "occupancy (fraction of states)", .ylabel = "|a - a_ref|", .logx = 1, .logy = 1};
        for (int m = 1; m <= maps; m++)
            sc->lines[sc->nlines++] = (FigLine){.label = job->models[m].name, .x = g->occ, .y = g->err + (size_t)m * C, .n = (int)C, .xstride = 1, .ystride = 1, .colour = m + 1};
    }
    char title[256], ferr[512];
    snprintf(title, sizeof title, "compare: %s against the reference %s", M > 2 ? "models" : job->models[1].name,
             job->models[0].name);
    if (figure_draw(job->plot, title, p, np, np > 4 ? 3 : 2, ferr, sizeof ferr) != 0)
        io_failed(res, ferr);
    for (int m = 0; m < M; m++) {
        mem_free(err[m]);
        mem_free(dE[m]);
        mem_free(q0[m]);
        mem_free(dQ[m]);
    }
    mem_free(q0);
    mem_free(dQ);
    mem_free(err);
    mem_free(dE);
    mem_free(axis);
    mem_free(diff);
    mem_free(clipped);
}

/* ---------- the job ---------- */

int cmp_run(const CmpJob *job, CmpResult *res)
{
    double start = sim_clock();
    int M = job->nmodels, n2 = 2 * job->n;
    res->status = 0;
    res->message[0] = 0;
    res->grid_cells = 0;
    for (int m = 0; m < M; m++) {
        CmpModelResult *mr = &res->models[m];
        double *sr = mr->sym_residual, *sd = mr->sym_charge_drift; /* the caller's */
        memset(mr, 0, sizeof *mr);
        mr->sym_residual = sr;
        mr->sym_charge_drift = sd;
        for (int k = 0; k < job->nsyms; k++)
            sr[k] = sd[k] = NAN;
        mr->energy_drift = mr->energy_drift_worst = mr->own_energy_drift = NAN;
        mr->energy_error_final = mr->energy_error_final_mean = NAN;
        mr->traj_rmse = mr->traj_rmse_worst = NAN;
        mr->accel_rmse_grid = mr->accel_rel_grid = mr->occupancy_error_corr = NAN;
        mr->gauge_a = mr->gauge_b = mr->gauge_r2 = NAN;
        mr->peak_cell = -1;
    }
    Rows *rows = mem_xalloc((size_t)M * sizeof *rows);
    memset(rows, 0, (size_t)M * sizeof *rows);
    for (int m = 0; m < M; m++) {
        integrate(job, &job->models[m], &rows[m], &res->models[m], m);
        /* the reference's energy along the path, once for the metrics, the CSV and the figure */
        const CmpModel *r0 = &job->models[0];
        if (r0->energy && rows[m].n > 0) {
            rows[m].E = mem_xalloc((size_t)rows[m].n * (size_t)job->samples * sizeof *rows[m].E);
            eval_shared(r0->energy, r0->params, rows[m].n * job->samples, rows[m].y, n2, 0, rows[m].E);
        }
    }
    if (job->progress)
        fputc('\n', stderr);
    if (res->models[0].status != 0) {
        res->status = 3;
        snprintf(res->message, sizeof res->message, "the reference %s: %.900s", job->models[0].name,
                 res->models[0].message);
    }
    /* the energy scale: given, or |E_ref| at the first start */
    double scale = job->energy_scale;
    if (!(scale > 0)) {
        scale = NAN;
        if (job->models[0].energy) {
            double e0 = NAN;
            eval_states(job->models[0].energy, job->models[0].params, 1, job->y0, n2, job->t0, &e0);
            scale = fabs(e0) > 1e-12 ? fabs(e0) : 1;
        }
    }
    res->energy_scale = scale;
    for (int m = 0; m < M && res->status == 0; m++)
        traj_metrics(job, &rows[0], &rows[m], scale, &res->models[m]);
    for (int m = 0; m < M && job->nevents; m++)
        event_metrics(job, &res->models[0], &res->models[m]);
    Grid G, *g = NULL;
    memset(&G, 0, sizeof G);
    if (job->naxes > 0 && res->status == 0) {
        g = &G;
        grid_run(job, &rows[0], g, res);
        res->grid_cells = g->cells;
    }
    if (job->nsyms && res->status == 0)
        sym_metrics(job, rows, g, res);
    res->wall_s = sim_clock() - start;
    if (job->output && res->status == 0) {
        write_traj(job, rows, res);
        if (g && res->status == 0)
            write_grid(job, g, res);
        if (res->status == 0)
            write_summary(job, res, res);
    }
    if (job->plot && res->status == 0 && par_root()) /* rank 0 draws (runtime/par.h) */
        draw(job, rows, g, res);
    if (g)
        grid_free(g);
    for (int m = 0; m < M; m++) {
        mem_free(rows[m].t);
        mem_free(rows[m].y);
        mem_free(rows[m].count);
        mem_free(rows[m].E);
    }
    mem_free(rows);
    return res->status;
}

int cmp_json(FILE *out, const CmpJob *job, const CmpResult *res)
{
    sim_json_begin();
    return sim_json_print(out, summary_object(job, res));
}

/* A number of the table; NaN as a dash, +infinity as inf_text. */
static void cellx(FILE *out, double v, const char *inf_text)
{
    if (isnan(v))
        fprintf(out, " %11s", "—");
    else if (isinf(v))
        fprintf(out, " %11s", v > 0 ? inf_text : "-inf");
    else
        fprintf(out, " %11.4g", v);
}

static void cell(FILE *out, double v)
{
    cellx(out, v, "inf");
}

void cmp_table(FILE *out, const CmpJob *job, const CmpResult *res)
{
    fprintf(out, "compare: reference %s, %d start%s, t = %g .. %g%s\n", job->models[0].name, job->samples,
            job->samples > 1 ? "s (medians)" : "", job->t0, job->t1,
            job->naxes ? ", grid of states" : "");
    int w = 5;
    for (int m = 0; m < job->nmodels; m++)
        w = (int)strlen(job->models[m].name) > w ? (int)strlen(job->models[m].name) : w;
    int trained = 0;
    for (int m = 0; m < job->nmodels; m++)
        trained |= !isnan(job->models[m].validation);
    fprintf(out, "%-*s %11s %11s %11s %11s %11s %11s %11s %11s%s\n", w, "model", "E_drift", "own_E_drift",
            "traj_rmse", "diverge_t", "accel_rmse", "accel_rel", "occ_corr", "gauge_R2", trained ? "     val_err" : "");
    for (int m = 0; m < job->nmodels; m++) {
        const CmpModelResult *r = &res->models[m];
        fprintf(out, "%-*s", w, job->models[m].name);
        cell(out, r->energy_drift);
        cell(out, r->own_energy_drift);
        cell(out, r->traj_rmse);
        cellx(out, r->diverge_time, "never");
        cell(out, r->accel_rmse_grid);
        cell(out, r->accel_rel_grid);
        cell(out, r->occupancy_error_corr);
        cell(out, r->gauge_r2);
        if (trained)
            cell(out, job->models[m].validation);
        fputc('\n', out);
    }
    if (trained)
        fputs("(val_err: the validation error, relative RMS, of the model's train job in this run)\n", out);
    for (int k = 0; k < job->nsyms; k++) {
        fprintf(out, "symmetry %s of %s: invariance residual (RMS dL / RMS L), charge drift\n", job->sym_names[k],
                job->models[0].name);
        for (int m = 0; m < job->nmodels; m++) {
            fprintf(out, "%-*s", w, job->models[m].name);
            cell(out, res->models[m].sym_residual[k]);
            cell(out, res->models[m].sym_charge_drift[k]);
            fputc('\n', out);
        }
    }
    fflush(out);
}
