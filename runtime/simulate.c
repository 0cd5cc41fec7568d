/*
 * runtime/simulate.c — the simulate job (see simulate.h).
 *
 * The state is y = (q, q'); dy/dt = (q', a) with a from the right-hand-side
 * program run by the VM for one sample.  Parameters drawn per trajectory
 * ride along after (q, q') with a zero derivative, so every program reads
 * them as inputs after its state and a stepper leaves them exactly as
 * drawn.  The GSL driver lands exactly on
 * each output time (t0 + k*every), so every CSV row is at a requested time.
 * GSL's abort-on-error handler is switched off: failures come back as
 * status codes and become exit status 3 with the time and the state.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/simulate.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <jansson.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/figure.h"
#include "runtime/input.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/par.h"
#include "runtime/plot.h"
#include "runtime/rkbatch.h"
#include "runtime/vm.h"

static const struct {
    const char *name;
    const gsl_odeiv2_step_type *const *type;
    int implicit;
} steppers[] = {
    {"rk2", &gsl_odeiv2_step_rk2, 0},         {"rk4", &gsl_odeiv2_step_rk4, 0},
    {"rkf45", &gsl_odeiv2_step_rkf45, 0},     {"rkck", &gsl_odeiv2_step_rkck, 0},
    {"rk8pd", &gsl_odeiv2_step_rk8pd, 0},     {"msadams", &gsl_odeiv2_step_msadams, 0},
    {"rk1imp", &gsl_odeiv2_step_rk1imp, 1},   {"rk2imp", &gsl_odeiv2_step_rk2imp, 1},
    {"rk4imp", &gsl_odeiv2_step_rk4imp, 1},   {"bsimp", &gsl_odeiv2_step_bsimp, 1},
    {"msbdf", &gsl_odeiv2_step_msbdf, 1},
};

int sim_method_known(const char *method, int *implicit)
{
    for (size_t i = 0; i < sizeof steppers / sizeof steppers[0]; i++)
        if (strcmp(steppers[i].name, method) == 0) {
            if (implicit)
                *implicit = steppers[i].implicit;
            return 1;
        }
    return 0;
}

typedef struct Ctx {
    const SimJob *job;
    Vm *vm, *vm_jac; /* one per program: each keeps its prologue */
    unsigned long evals;
    int failed;        /* the VM or a non-finite value stopped the RHS */
    char why[160];
    double *jac;       /* n x 2n + n scratch */
    double *in;        /* q, q', q'' for a Jacobian from M q'' = f */
    unsigned long outside0; /* input_outside() when the run began */
} Ctx;

int sim_width(const SimJob *job)
{
    return 2 * job->n + job->nsampled;
}

/* The output times t0 + k every, and t1 last when the span is not a
 * whole number of intervals. */
static long whole_intervals(const SimJob *job)
{
    return (long)floor((job->t1 - job->t0) / job->every + 1e-9);
}

long sim_rows_out(const SimJob *job)
{
    long nout = whole_intervals(job);
    return nout + 1 + (job->t0 + (double)nout * job->every < job->t1 - 1e-12 * fabs(job->t1));
}

double sim_time_out(const SimJob *job, long k)
{
    return k > whole_intervals(job) ? job->t1 : job->t0 + (double)k * job->every;
}

/* The name of component i of a trajectory's state (q, q', drawn parameters). */
static const char *state_name(const SimJob *job, int i)
{
    return i < 2 * job->n ? job->columns[i] : job->sampled_names[i - 2 * job->n];
}

int sim_stops(const SimJob *job)
{
    int n = 0;
    for (int k = 0; job->stop && k < job->stop->nout; k++)
        n += !(job->stop_record && job->stop_record[k]);
    return n;
}

/* Whether the job has `record when` conditions. */
static int sim_records(const SimJob *job)
{
    return job->stop && sim_stops(job) < job->stop->nout;
}

/* Condition k's number among those of its kind (stop or record), from 1. */
static int kind_number(const SimJob *job, int k)
{
    int r = job->stop_record && job->stop_record[k], n = 0;
    for (int j = 0; j <= k; j++)
        n += (job->stop_record && job->stop_record[j]) == r;
    return n;
}

/* dy/dt of one trajectory (each has its own GSL system). */
static int rhs(double t, const double y[], double dydt[], void *params)
{
    Ctx *c = params;
    const SimJob *job = c->job;
    int n = job->n, m = sim_width(job);
    c->evals++;
    for (int i = 0; i < n; i++)
        dydt[i] = y[n + i];
    for (int i = 2 * n; i < m; i++)
        dydt[i] = 0; /* drawn parameters stay */
    /* compiled code is called directly: this is the hot path */
    int failed;
    if (job->rhs->native) {
        failed = ((IrNativeFn)job->rhs->native)(1, y, m, t, job->params, dydt + n, m) != 0;
        if (failed)
            c->vm->not_finite = 0;
    } else
        failed = vm_run(c->vm, job->rhs, 1, y, m, t, job->params, dydt + n, m) != VM_OK;
    if (failed) {
        c->failed = 1;
        snprintf(c->why, sizeof c->why, "the mass matrix is %s",
                 c->vm->not_finite ? "not finite" : "singular");
        return GSL_EBADFUNC;
    }
    for (int i = 0; i < n; i++)
        if (!isfinite(dydt[n + i])) {
            c->failed = 1;
            snprintf(c->why, sizeof c->why, "the acceleration of %s is not finite", job->columns[i]);
            return GSL_EBADFUNC;
        }
    return GSL_SUCCESS;
}

/* The Jacobian of (q', a) by (q, q') from the jac program; rows and
 * columns of drawn parameters are 0 (a parameter's increment is always 0,
 * so d(a)/d(parameter) never enters a Newton step). */
static int jacobian(double t, const double y[], double *dfdy, double dfdt[], void *params)
{
    Ctx *c = params;
    const SimJob *job = c->job;
    int n = job->n, m = 2 * n, w = sim_width(job);
    c->evals++;
    const double *in = y;
    int stride = w;
    if (job->jac_uses_accel) {
        /* inputs (q, q', drawn parameters, q''): the accelerations first, from M q'' = f */
        memcpy(c->in, y, (size_t)w * sizeof *y);
        if (vm_run(c->vm, job->rhs, 1, y, w, t, job->params, c->in + w, n) != VM_OK) {
            c->failed = 1;
            snprintf(c->why, sizeof c->why, "the mass matrix is singular");
            return GSL_EBADFUNC;
        }
        in = c->in;
        stride = w + n;
    }
    if (vm_run(c->vm_jac, job->jac, 1, in, stride, t, job->params, c->jac, n * m + n) != VM_OK) {
        c->failed = 1;
        snprintf(c->why, sizeof c->why, "the mass matrix is singular");
        return GSL_EBADFUNC;
    }
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++)
            dfdy[i * w + j] = i < n ? j == n + i                    /* d(q_i')/d(y_j) */
                            : i < m && j < m ? c->jac[(i - n) * m + j] : 0;
    for (int i = 0; i < w; i++)
        dfdt[i] = i >= n && i < m ? c->jac[n * m + i - n] : 0;
    return GSL_SUCCESS;
}

double sim_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Describe the state for a failure message. */
static void state_text(const SimJob *job, const double *y, char *buf, size_t len)
{
    size_t k = 0;
    for (int i = 0; i < sim_width(job) && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s = %.6g", i ? ", " : "", state_name(job, i), y[i]);
}

/* Why a trajectory stopped, in words, and what to try: st is GSL's status
 * (GSL_EBADFUNC when the right-hand side refused), why what the
 * right-hand side met (or NULL), outside whether an input was asked for a
 * value outside its data meanwhile; y the state where it stopped. */
static void failure_text(const SimJob *job, int st, const char *why, int outside, const double *y, char *buf,
                         size_t len)
{
    int w = sim_width(job), bad = w;
    for (int i = 0; i < w && bad == w; i++)
        if (!isfinite(y[i]))
            bad = i;
    if (bad < w) {
        snprintf(buf, len, "the solution left the range of double precision (%s = %g); the model's "
                 "solution probably blows up at a finite time: check the model (a potential unbounded "
                 "below?) or integrate over a shorter time span", state_name(job, bad), y[bad]);
        return;
    }
    if (why && outside) {
        snprintf(buf, len, "an input was asked for its value outside its data (the message above): shorten "
                 "the time span, extend the data or write 'outside hold'");
        return;
    }
    if (why) {
        snprintf(buf, len, "%s; check the model near this state, or integrate over a shorter time "
                 "span", why);
        return;
    }
    switch (st) {
    case GSL_FAILURE: { /* the step cannot be made smaller and still meet tol */
        int big = 0;
        for (int i = 1; i < w; i++)
            if (fabs(y[i]) > fabs(y[big]))
                big = i;
        if (fabs(y[big]) > 1e12)
            snprintf(buf, len, "the step size fell below what double precision resolves (GSL: step-size "
                     "underflow) as %s grew to %.3g: the solution seems to blow up; check the model (a "
                     "potential unbounded below?) or integrate over a shorter time span; if it should stay "
                     "finite, try a tighter tol or another method", state_name(job, big),
                     y[big]);
        else
            snprintf(buf, len, "the step size fell below what double precision resolves without meeting "
                     "the tolerance (GSL: step-size underflow): the system may be stiff or singular here; "
                     "try another method (an implicit one such as msbdf for a stiff system), a tighter or "
                     "looser tol, a shorter time span, or check the model");
        break;
    }
    case GSL_ENOPROG:
        snprintf(buf, len, "the integration made no progress (GSL_ENOPROG: the step size became too "
                 "small to advance t); try another method, a tighter tol, a shorter time span, or check "
                 "the model");
        break;
    case GSL_EBADFUNC:
        snprintf(buf, len, "the right-hand side could not be evaluated (GSL_EBADFUNC); check the model "
                 "near this state");
        break;
    case GSL_EMAXITER:
        snprintf(buf, len, "the largest number of steps was reached (GSL_EMAXITER); allow more steps "
                 "or shorten the time span");
        break;
    case GSL_ENOMEM:
        snprintf(buf, len, "GSL ran out of memory (GSL_ENOMEM)");
        break;
    case GSL_EFAILED:
        snprintf(buf, len, "the stepper failed (GSL_EFAILED: %s); try another method, a tighter tol or "
                 "a shorter time span", gsl_strerror(st));
        break;
    default:
        snprintf(buf, len, "GSL reported '%s' (status %d); try a tighter tol, another method, a shorter "
                 "time span, or check the model", gsl_strerror(st), st);
        break;
    }
}

/* ---------- output rows ---------- */

/* Energy errors are relative to |E0|, or absolute when E0 is near zero
 * (a relative error of a vanishing energy means nothing). */
static double energy_scale(double e0)
{
    return fabs(e0) >= 1e-8 ? fabs(e0) : 1;
}

struct SimSink {
    const SimJob *job;
    SimResult *res;
    CsvWriter *csv;
    Vm *vm_energy, *vm_rhs, *vm_record;
    int B;            /* the trajectories whose rows it makes: lo, lo + 1, ... */
    int lo;
    int all;          /* the ensemble's trajectories */
    int shared;       /* a rank's block of an MPI run (share_begin): its rows formatted here,
                         gathered and written by rank 0, its counts added at the close */
    char *text;       /* this output time's rows, formatted (CSV) or as numbers (HDF5) */
    int text_rows;    /* the output is CSV text (not HDF5) */
    size_t ntext, captext;
    int ncols;        /* t, traj?, 2n state, drawn parameters, E?, records */
    double *row;      /* one row */
    double *E;        /* B energies */
    double *e0;       /* B initial energies */
    double *in;       /* B x (q, q', drawn parameters, q'') for the record program */
    double *rec;      /* B x records */
    double *kept;     /* rows kept for the figure (first trajectory per time...) */
    size_t nkept, capkept;
    int first;
    long rows;        /* output rows (times x trajectories) */
    const unsigned char *dead; /* B: trajectories that failed (no more rows), or NULL */
    CsvWriter *events; /* the events file (job->events), or NULL */
    int map;          /* the figure is the map of the times to stop over the grid of starts
                         (no rows kept for it) */
};

void sim_sink_dead(SimSink *k, const unsigned char *dead)
{
    k->dead = dead;
}

/* Run p for B samples; when the VM stops (a singular or non-finite matrix
 * in one sample), run the samples one by one so the others keep their
 * values, and set the outputs of each sample that fails to NaN.  Returns
 * how many samples failed. */
long sim_run_each(Vm *vm, const IrProgram *p, int B, const double *in, int stride, double t,
                  const double *params, double *out, int ostride, int nout)
{
    if (vm_run(vm, p, B, in, stride, t, params, out, ostride) == VM_OK)
        return 0;
    long failed = 0;
    const double *times = vm->times; /* each sample at its own time: sample s's is times[s] */
    for (int s = 0; s < B; s++) {
        vm->times = times ? times + s : NULL;
        if (vm_run(vm, p, 1, in + (size_t)s * (size_t)stride, stride, t, params,
                   out + (size_t)s * (size_t)ostride, ostride) != VM_OK) {
            failed++;
            for (int o = 0; o < nout; o++)
                out[(size_t)s * (size_t)ostride + (size_t)o] = NAN;
        }
    }
    vm->times = times;
    return failed;
}

/* Columns kept for a figure: t, then for each of the first PLOT_TRAJ
 * trajectories the coordinates, E and the first PLOT_REC records (each
 * record a panel of its own). */
enum { PLOT_TRAJ = 4, PLOT_REC = 4 };

static int plot_records(const SimSink *k)
{
    int nrec = k->job->record ? k->job->record->nout : 0;
    return nrec < PLOT_REC ? nrec : PLOT_REC;
}

/* Kept values per trajectory. */
static int kept_per(const SimSink *k)
{
    return k->job->n + 1 + plot_records(k);
}

static int kept_shown(const SimSink *k)
{
    return k->all < PLOT_TRAJ ? k->all : PLOT_TRAJ;
}

static int kept_width(const SimSink *k)
{
    return 1 + kept_shown(k) * kept_per(k);
}

/* The sink of the trajectories [lo, hi) (all of them but under MPI);
 * shared: a block of a run split over the ranks. */
static SimSink *sink_open(const SimJob *job, SimResult *res, int lo, int hi, int shared)
{
    int n = job->n, m = sim_width(job), B = hi - lo, cap = B > 0 ? B : 1;
    SimSink *k = mem_xalloc(sizeof *k);
    memset(k, 0, sizeof *k);
    k->job = job;
    k->res = res;
    k->B = B;
    k->lo = lo;
    k->all = job->samples;
    k->shared = shared;
    k->text_rows = job->output && csv_is_text(job->output);
    k->first = 1;
    res->energy_failures = res->record_failures = 0;
    res->drift_unknown = 0;
    int nrec = job->record ? job->record->nout : 0;
    k->ncols = 1 + (k->all > 1) + m + (job->energy ? 1 : 0) + nrec;
    k->row = mem_xalloc((size_t)k->ncols * sizeof *k->row);
    k->E = mem_xalloc((size_t)cap * sizeof *k->E);
    k->e0 = mem_xalloc((size_t)cap * sizeof *k->e0);
    k->in = mem_xalloc((size_t)cap * (size_t)(3 * n + job->nsampled + 1) * sizeof *k->in);
    k->rec = mem_xalloc((size_t)cap * (size_t)(nrec + 1) * sizeof *k->rec);
    if (job->energy)
        k->vm_energy = vm_alloc(&job->energy, 1, cap);
    if (job->record) {
        k->vm_record = vm_alloc(&job->record, 1, cap);
        k->vm_rhs = vm_alloc(&job->rhs, 1, cap);
    }
    if (job->output) {
        const char **cols = mem_xalloc((size_t)k->ncols * sizeof *cols);
        int c = 0;
        cols[c++] = "t";
        if (k->all > 1)
            cols[c++] = "traj";
        for (int i = 0; i < m; i++)
            cols[c++] = state_name(job, i);
        if (job->energy)
            cols[c++] = "E";
        for (int i = 0; i < nrec; i++)
            cols[c++] = job->record->out_names[i];
        char err[512];
        k->csv = csv_open_table(job->output, "simulate", cols, k->ncols, err, sizeof err);
        /* the job's settings beside the rows (an HDF5 table's attributes) */
        int bad = !k->csv || csv_attr_text(k->csv, "system", job->system, err, sizeof err) ||
                  csv_attr_text(k->csv, "method", job->method, err, sizeof err) ||
                  csv_attr_text(k->csv, "precision", job->single ? "single" : "double", err, sizeof err) ||
                  csv_attr_num(k->csv, "tol", job->tol, err, sizeof err) ||
                  csv_attr_num(k->csv, "t0", job->t0, err, sizeof err) ||
                  csv_attr_num(k->csv, "t1", job->t1, err, sizeof err) ||
                  csv_attr_num(k->csv, "every", job->every, err, sizeof err) ||
                  csv_attr_num(k->csv, "samples", job->samples, err, sizeof err);
        if (bad) {
            res->status = 4;
            snprintf(res->message, sizeof res->message, "%s", err);
        }
        mem_free(cols);
    }
    if (job->events && res->status == 0) {
        /* traj, t, the state there; which record condition (0: a stop)
         * when there are any; which stop condition (0: a record) when
         * that is not the one there is */
        int nst = sim_stops(job), rec = sim_records(job), stopc = nst > 1 || (rec && nst > 0);
        int nc = 2 + m + rec + stopc;
        const char **cols = mem_xalloc((size_t)nc * sizeof *cols);
        cols[0] = "traj";
        cols[1] = "t";
        for (int i = 0; i < m; i++)
            cols[2 + i] = state_name(job, i);
        if (rec)
            cols[2 + m] = "record";
        if (stopc)
            cols[2 + m + rec] = "stop";
        char err[512];
        k->events = csv_open_table(job->events, "events", cols, nc, err, sizeof err);
        if (!k->events) {
            res->status = 4;
            snprintf(res->message, sizeof res->message, "%s", err);
        }
        mem_free(cols);
    }
    k->map = sim_stops(job) && job->plot && (job->ngrid == 1 || job->ngrid == 2);
    char perr[300];
    if (job->plot && res->status == 0 && io_check_writable(job->plot, perr, sizeof perr) != 0) {
        res->status = 4; /* found before integrating, not after */
        snprintf(res->message, sizeof res->message, "%s", perr);
    }
    return k;
}

SimSink *sim_sink_open(const SimJob *job, SimResult *res)
{
    return sink_open(job, res, 0, job->samples, 0);
}

/* A block's rows at one output time (k->text) to rank 0, which writes
 * every block's in rank order: trajectory order, the bytes one process
 * writes.  CSV rows travel as text, formatted where they were computed;
 * HDF5 rows as numbers. */
static void sink_gather(SimSink *k)
{
    SimResult *res = k->res;
    size_t total;
    char *all = par_gather_bytes(k->text, k->ntext, &total), err[256];
    k->ntext = 0;
    if (!all || !k->csv || res->status == 4) {
        mem_free(all);
        return;
    }
    int bad = 0;
    if (k->text_rows)
        bad = csv_text(k->csv, all, total, err, sizeof err) != 0;
    else
        for (size_t at = 0; at < total && !bad; at += (size_t)k->ncols * sizeof(double)) {
            double row[k->ncols];
            memcpy(row, all + at, sizeof row);
            bad = csv_row(k->csv, row, err, sizeof err) != 0;
        }
    if (bad) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    mem_free(all);
}

/* The rows at time t of every trajectory, or where ts (when not NULL) says
 * for each: the row of a trajectory that stopped is at its event. */
static void sink_row(SimSink *k, double t, const double *ts, const double *y, const double *a)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    int n = job->n, m = sim_width(job), B = k->B, ri = m + n;
    int nrec = job->record ? job->record->nout : 0;
    if (job->energy) {
        /* an energy the VM cannot evaluate is written as NaN and counted,
         * never left as whatever the buffer held */
        k->vm_energy->times = ts;
        sim_run_each(k->vm_energy, job->energy, B, y, m, t, job->params, k->E, 1, 1);
        k->vm_energy->times = NULL;
        for (int s = 0; s < B; s++) {
            if (k->first)
                k->e0[s] = k->E[s];
            if (k->dead && k->dead[s])
                continue;
            if (!isfinite(k->E[s])) {
                res->energy_failures++;
                continue;
            }
            double drift = fabs(k->E[s] - k->e0[s]) / energy_scale(k->e0[s]);
            if (drift > res->max_rel_drift)
                res->max_rel_drift = drift;
            else if (isnan(drift))
                res->drift_unknown = 1; /* E0 itself could not be evaluated */
        }
        if (k->first && k->lo == 0 && B > 0)
            res->e0 = k->e0[0];
    }
    if (job->record) {
        /* rows (q, q', drawn parameters, q'') */
        for (int s = 0; s < B; s++)
            memcpy(k->in + (size_t)s * ri, y + (size_t)s * m, (size_t)m * sizeof *y);
        if (a)
            for (int s = 0; s < B; s++)
                memcpy(k->in + (size_t)s * ri + m, a + (size_t)s * n, (size_t)n * sizeof *a);
        else { /* accelerations that cannot be computed are NaN (and records using them) */
            k->vm_rhs->times = ts;
            sim_run_each(k->vm_rhs, job->rhs, B, y, m, t, job->params, k->in + m, ri, n);
            k->vm_rhs->times = NULL;
        }
        k->vm_record->times = ts;
        sim_run_each(k->vm_record, job->record, B, k->in, ri, t, job->params, k->rec, nrec, nrec);
        k->vm_record->times = NULL;
        /* a record value that is not finite (the VM stopped, or q'' was
         * not available) is counted: reported, not passed off as data */
        for (int s = 0; s < B; s++)
            for (int r = 0; r < nrec && !(k->dead && k->dead[s]); r++)
                if (!isfinite(k->rec[(size_t)s * nrec + r])) {
                    res->record_failures++;
                    break;
                }
    }
    for (int s = 0; s < B; s++)
        k->rows += !(k->dead && k->dead[s]);
    k->first = 0;
    if (job->on_row)
        job->on_row(job->on_row_ctx, t, y, B);
    char err[256];
    for (int s = 0; s < B; s++) {
        int c = 0;
        if (k->dead && k->dead[s])
            continue; /* a trajectory that failed: no rows after */
        k->row[c++] = ts ? ts[s] : t;
        if (k->all > 1)
            k->row[c++] = k->lo + s;
        memcpy(k->row + c, y + (size_t)s * m, (size_t)m * sizeof *y);
        c += m;
        if (job->energy)
            k->row[c++] = k->E[s];
        for (int r = 0; r < nrec; r++)
            k->row[c++] = k->rec[(size_t)s * nrec + r];
        if (k->shared && job->output) { /* for rank 0 to write (sink_gather) */
            if (k->text_rows)
                csv_format(k->row, k->ncols, &k->text, &k->ntext, &k->captext);
            else {
                size_t len = (size_t)k->ncols * sizeof *k->row;
                if (k->ntext + len > k->captext) {
                    k->captext = 2 * (k->ntext + len);
                    k->text = mem_xrealloc(k->text, k->captext);
                }
                memcpy(k->text + k->ntext, k->row, len);
                k->ntext += len;
            }
        } else if (k->csv && res->status != 4 && csv_row(k->csv, k->row, err, sizeof err) != 0) {
            res->status = 4;
            snprintf(res->message, sizeof res->message, "%s", err);
        }
    }
    if (k->shared && job->output)
        sink_gather(k);
    if (job->plot && !k->map) {
        int w = kept_width(k), shown = kept_shown(k), per = kept_per(k), nrp = plot_records(k);
        if (k->nkept == k->capkept) {
            k->capkept = k->capkept ? 2 * k->capkept : 1024;
            k->kept = mem_xrealloc(k->kept, k->capkept * (size_t)w * sizeof *k->kept);
        }
        double *r = k->kept + k->nkept++ * (size_t)w;
        r[0] = k->all == 1 && ts ? ts[0] : t;
        for (int i = 1; i < w; i++)
            r[i] = NAN; /* (under MPI, the shown trajectories of other blocks: theirs) */
        for (int g = k->lo; g < shown && g < k->lo + B; g++) {
            /* (the figure has one time a row: an ensemble's trajectory that
             * stopped since the last row ends at that row) */
            int s = g - k->lo, gone = (k->dead && k->dead[s]) || (k->all > 1 && ts && ts[s] != t);
            for (int i = 0; i < n; i++)
                r[1 + g * per + i] = gone ? NAN : y[(size_t)s * m + i];
            r[1 + g * per + n] = gone ? NAN : job->energy ? k->E[s] : 0;
            for (int j = 0; j < nrp; j++)
                r[1 + g * per + n + 1 + j] = gone ? NAN : k->rec[(size_t)s * nrec + j];
        }
    }
}

void sim_sink_row(SimSink *k, double t, const double *y, const double *a)
{
    sink_row(k, t, NULL, y, a);
}

/* One row of the events file: trajectory s at t, condition k, state ys. */
static void event_row(SimSink *k, double *row, int s, double t, int cond, const double *ys)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    int m = sim_width(job), nst = sim_stops(job), rec = sim_records(job), stopc = nst > 1 || (rec && nst > 0);
    int recorded = job->stop_record && job->stop_record[cond];
    char err[256];
    row[0] = s;
    row[1] = t;
    memcpy(row + 2, ys, (size_t)m * sizeof *ys);
    if (rec)
        row[2 + m] = recorded ? kind_number(job, cond) : 0;
    if (stopc)
        row[2 + m + rec] = recorded ? 0 : kind_number(job, cond);
    if (res->status != 4 && csv_row(k->events, row, err, sizeof err) != 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
}

/* The events file: each trajectory's recorded crossings (res->events, in
 * order of time), then its stop, with its state there (y: the final
 * states, by trajectory), in trajectory order. */
static void sink_events(SimSink *k, const double *y)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    const int m = sim_width(job), rw = SIM_EVENT_HEAD + m;
    double row[m + 4];
    long e = 0;
    for (int s = 0; s < k->all && k->events && res->status != 4; s++) {
        for (; e < res->nevents && res->events[(size_t)e * rw] == s; e++) {
            const double *r = res->events + (size_t)e * rw;
            event_row(k, row, s, r[1], (int)r[2], r + SIM_EVENT_HEAD);
        }
        if (!isnan(res->stop_t[s]))
            event_row(k, row, s, res->stop_t[s], res->stop_k[s], y + (size_t)s * (size_t)m);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The figure of a grid of starts that stop: the time each start takes to
 * stop over the grid's two axes (a heatmap; a start that does not stop
 * before the end is left white) beside the fraction of the starts stopped
 * by each time; over one axis, the time to stop along it. */
static void draw_map(SimSink *k)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    const SimGrid *gx = &job->grid[0], *gy = job->ngrid > 1 ? &job->grid[1] : NULL;
    const int nx = gx->n, ny = gy ? gy->n : 1, B = k->all;
    double *z = mem_xalloc((size_t)B * sizeof *z), *x = mem_xalloc((size_t)nx * sizeof *x);
    double *when = mem_xalloc(((size_t)B + 1) * sizeof *when);
    double *frac = mem_xalloc(((size_t)B + 1) * sizeof *frac);
    double lo = INFINITY, hi = 0;
    int nstop = 0;
    for (int ix = 0; ix < nx; ix++) {
        x[ix] = ix == nx - 1 ? gx->hi : gx->lo + (gx->hi - gx->lo) * ix / (nx - 1);
        for (int iy = 0; iy < ny; iy++) {
            /* trajectory ix ny + iy: the first axis slowest */
            double d = res->stop_t[(size_t)ix * (size_t)ny + (size_t)iy] - job->t0;
            z[(size_t)iy * (size_t)nx + (size_t)ix] = d;
            if (!isnan(d))
                when[nstop++] = d;
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
    }
    /* the fraction stopped: a step up at each stop, flat to the end */
    qsort(when, (size_t)nstop, sizeof *when, by_value);
    for (int i = 0; i < nstop; i++)
        frac[i] = (i + 1.0) / B;
    when[nstop] = job->t1 - job->t0;
    frac[nstop] = (double)nstop / B;
    char title[300], white[120], err[300];
    snprintf(title, sizeof title, "%s: the time each start takes to stop", job->system);
    snprintf(white, sizeof white, "%s: no stop by t = %g", gy ? "white" : "no point", job->t1);
    FigPanel p[2];
    memset(p, 0, sizeof p);
    p[0].xlabel = state_name(job, gx->comp);
    if (gy) {
        p[0].kind = FIG_HEATMAP;
        p[0].title = white;
        p[0].ylabel = state_name(job, gy->comp);
        p[0].z = z;
        p[0].nx = nx;
        p[0].ny = ny;
        p[0].x0 = gx->lo;
        p[0].x1 = gx->hi;
        p[0].y0 = gy->lo;
        p[0].y1 = gy->hi;
        p[0].zmin = p[0].zmax = NAN;
        /* times spread over decades (a flip map's) read better in logarithms */
        p[0].logz = lo > 0 && hi > 30 * lo;
        p[0].zlabel = p[0].logz ? "time to stop (log scale)" : "time to stop";
        p[1].kind = FIG_LINES;
        p[1].title = "the starts stopped by each time";
        p[1].xlabel = "time";
        p[1].ylabel = "fraction stopped";
        p[1].lines[0] = (FigLine){.x = when, .y = frac, .n = nstop + 1};
        p[1].nlines = 1;
    } else {
        p[0].kind = FIG_LINES;
        p[0].title = white;
        p[0].ylabel = "time to stop";
        p[0].lines[0] = (FigLine){.x = x, .y = z, .n = nx};
        p[0].nlines = 1;
    }
    if (figure_draw(job->plot, title, p, gy ? 2 : 1, 2, err, sizeof err) != 0 && res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    mem_free(z);
    mem_free(x);
    mem_free(when);
    mem_free(frac);
}

/* The figure of `record when` (with crossings recorded): the Poincaré
 * section, for each coordinate q a panel of (q, q') at every recorded
 * crossing of every trajectory: a colour for each trajectory of an
 * ensemble of at most six with one condition (each on its own energy
 * surface), else for each condition (the first six); a coordinate that
 * is the same at every crossing (the section's own, q = 0) is left out,
 * unless all are. */
static void draw_section(SimSink *k)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    const int n = job->n, m = sim_width(job), K = job->stop->nout;
    const size_t rw = SIM_EVENT_HEAD + (size_t)m;
    enum { MAX_SHOWN = 6 };
    /* the groups of points: conditions, or trajectories */
    int group[MAX_SHOWN], ng = 0, nrec = K - sim_stops(job);
    const int by_traj = nrec == 1 && k->all > 1 && k->all <= MAX_SHOWN;
    for (int c = 0; c < (by_traj ? k->all : K) && ng < MAX_SHOWN; c++)
        if (by_traj || job->stop_record[c])
            group[ng++] = c;
    double *pts = mem_xalloc(((size_t)res->nevents * (size_t)m + 1) * sizeof *pts);
    long at[MAX_SHOWN + 1];
    at[0] = 0;
    for (int j = 0; j < ng; j++) {
        at[j + 1] = at[j];
        for (long e = 0; e < res->nevents; e++)
            if ((int)res->events[(size_t)e * rw + (by_traj ? 0 : 2)] == group[j])
                memcpy(pts + (size_t)at[j + 1]++ * (size_t)m, res->events + (size_t)e * rw + SIM_EVENT_HEAD,
                       (size_t)m * sizeof *pts);
    }
    char (*labels)[160] = mem_xalloc(((size_t)ng + 1) * sizeof *labels);
    for (int j = 0; j < ng; j++) {
        int c = group[j], d = job->stop_dir[c];
        if (by_traj && job->ngrid == 1)
            snprintf(labels[j], sizeof labels[j], "from %s = %.4g", state_name(job, job->grid[0].comp),
                     job->y0[(size_t)c * (size_t)m + (size_t)job->grid[0].comp]);
        else if (by_traj)
            snprintf(labels[j], sizeof labels[j], "trajectory %d", c);
        else
            snprintf(labels[j], sizeof labels[j], "%.120s crosses 0%s", job->stop_text[c],
                     d == RK_RISING ? " rising" : d == RK_FALLING ? " falling" : "");
    }
    /* the panels' title: where the section is */
    char where[200] = "at the crossings";
    for (int c = 0; c < K && nrec == 1; c++)
        if (job->stop_record[c])
            snprintf(where, sizeof where, "where %.120s crosses 0%s", job->stop_text[c],
                     job->stop_dir[c] == RK_RISING ? " rising" : job->stop_dir[c] == RK_FALLING ? " falling" : "");
    FigPanel *p = mem_xalloc((size_t)n * sizeof *p);
    memset(p, 0, (size_t)n * sizeof *p);
    int np = 0;
    for (int pass = 0; pass < 2 && np == 0; pass++)
        for (int i = 0; i < n && np < MAX_SHOWN; i++) {
            double lo = INFINITY, hi = -INFINITY;
            for (long e = 0; e < at[ng]; e++) {
                double q = pts[(size_t)e * (size_t)m + (size_t)i];
                lo = q < lo ? q : lo;
                hi = q > hi ? q : hi;
            }
            if (pass == 0 && !(hi - lo > 1e-9 * (1 + fmax(fabs(lo), fabs(hi)))))
                continue; /* the same at every crossing: the section's own coordinate */
            FigPanel *pn = &p[np++];
            pn->kind = FIG_SCATTER;
            pn->title = where;
            pn->xlabel = job->columns[i];
            pn->ylabel = job->columns[n + i];
            for (int j = 0; j < ng; j++)
                pn->lines[pn->nlines++] = (FigLine){.label = ng > 1 ? labels[j] : NULL,
                                                    .x = pts + (size_t)at[j] * (size_t)m + i,
                                                    .y = pts + (size_t)at[j] * (size_t)m + n + i,
                                                    .n = (int)(at[j + 1] - at[j]), .xstride = m, .ystride = m,
                                                    .marker_mm = at[ng] > 300 ? 1.0 : 0}; /* dots for a cloud */
        }
    char title[300], err[300];
    snprintf(title, sizeof title, "%s: Poincaré section (%ld points)", job->system, at[ng]);
    if (figure_draw(job->plot, title, p, np, np < 2 ? 1 : 2, err, sizeof err) != 0 && res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    mem_free(labels);
    mem_free(p);
    mem_free(pts);
}

/* The figure: one panel per coordinate, then the relative energy error;
 * an ensemble shows its first trajectories. */
static void draw(SimSink *k)
{
    const SimJob *job = k->job;
    SimResult *res = k->res;
    int n = job->n, w = kept_width(k), shown = kept_shown(k), per = kept_per(k), nrp = plot_records(k);
    int npanels = n + (job->energy ? 1 : 0) + nrp;
    PlotPanel *panels = mem_xalloc((size_t)npanels * sizeof *panels);
    memset(panels, 0, (size_t)npanels * sizeof *panels);
    char (*labels)[64] = mem_xalloc((size_t)(npanels * PLOT_TRAJ) * sizeof *labels);
    double *rel = NULL;
    if (job->energy)
        rel = mem_xalloc(k->nkept * (size_t)shown * sizeof *rel);
    for (int s = 0; s < shown; s++) {
        for (int i = 0; i < n; i++) {
            char *l = labels[i * PLOT_TRAJ + s];
            if (k->all > 1)
                snprintf(l, 64, "%s, trajectory %d", job->columns[i], s);
            else
                snprintf(l, 64, "%s", job->columns[i]);
            panels[i].ylabel = job->columns[i];
            panels[i].series[s] = (PlotSeries){l, k->kept + 1 + s * per + i, w};
            panels[i].nseries = shown;
        }
        if (job->energy) {
            double e0 = k->kept[1 + s * per + n], scale = energy_scale(e0);
            for (size_t r = 0; r < k->nkept; r++)
                rel[(size_t)s * k->nkept + r] = (k->kept[r * (size_t)w + 1 + s * per + n] - e0) / scale;
            char *l = labels[n * PLOT_TRAJ + s];
            if (k->all > 1)
                snprintf(l, 64, "trajectory %d", s);
            else
                snprintf(l, 64, job->energy_conserved ? "energy error" : "energy change (not conserved)");
            panels[n].ylabel = fabs(e0) >= 1e-8 ? "(E - E0)/|E0|" : "E - E0";
            panels[n].series[s] = (PlotSeries){l, rel + (size_t)s * k->nkept, 1};
            panels[n].nseries = shown;
        }
        /* each record (the first PLOT_REC) in a panel of its own */
        for (int j = 0; j < nrp; j++) {
            int pi = n + (job->energy ? 1 : 0) + j;
            char *l = labels[pi * PLOT_TRAJ + s];
            if (k->all > 1)
                snprintf(l, 64, "trajectory %d", s);
            else
                snprintf(l, 64, "%s", job->record->out_names[j]);
            panels[pi].ylabel = job->record->out_names[j];
            panels[pi].series[s] = (PlotSeries){l, k->kept + 1 + s * per + n + 1 + j, w};
            panels[pi].nseries = shown;
        }
    }
    char title[300], err[300];
    if (k->all > 1)
        snprintf(title, sizeof title, "%s, %s, %d of %d trajectories", job->system, job->method,
                 shown, k->all);
    else
        snprintf(title, sizeof title, "%s, %s", job->system, job->method);
    if (plot_panels(job->plot, title, "t", k->kept, w, (int)k->nkept, panels, npanels, err,
                    sizeof err) != 0 && res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    mem_free(rel);
    mem_free(labels);
    mem_free(panels);
}

/* A block's counts added to the others' and the rows kept for the figure
 * merged, on rank 0 (each shown trajectory's columns from its block). */
static void sink_combine(SimSink *k)
{
    SimResult *res = k->res;
    res->energy_failures = par_sum_long(res->energy_failures);
    res->record_failures = par_sum_long(res->record_failures);
    k->rows = par_sum_long(k->rows);
    res->max_rel_drift = par_max_double(res->max_rel_drift);
    res->drift_unknown = par_max_int(res->drift_unknown);
    if (!k->job->plot || k->map)
        return;
    size_t w = (size_t)kept_width(k), total;
    double *all = par_gather_bytes(k->kept, k->nkept * w * sizeof *k->kept, &total);
    if (!all)
        return;
    int per = kept_per(k);
    for (int g = 0; g < kept_shown(k); g++) {
        int r = 0; /* the rank whose block holds trajectory g */
        long lo, hi;
        par_block_of(k->all, r, &lo, &hi);
        while (g >= hi)
            par_block_of(k->all, ++r, &lo, &hi);
        const double *from = all + (size_t)r * k->nkept * w;
        for (size_t i = 0; i < k->nkept; i++)
            memcpy(k->kept + i * w + 1 + (size_t)g * per, from + i * w + 1 + (size_t)g * per,
                   (size_t)per * sizeof *all);
    }
    mem_free(all);
}

void sim_sink_close(SimSink *k)
{
    SimResult *res = k->res;
    char err[256];
    if (k->shared)
        sink_combine(k);
    if (res->energy_failures > 0)
        fprintf(stderr, "lag: warning: simulate %s: the energy E could not be evaluated (a singular or "
                "non-finite value) in %ld of %ld rows; they hold NaN, and max_rel_drift covers only the "
                "others\n", k->job->system, res->energy_failures, k->rows);
    if (res->record_failures > 0)
        fprintf(stderr, "lag: warning: simulate %s: record values are not finite (or could not be "
                "evaluated) in %ld of %ld rows; they hold NaN\n", k->job->system, res->record_failures,
                k->rows);
    /* rows written before a numerical failure stay valid and are kept */
    if (k->csv && csv_close(k->csv, res->status != 4, err, sizeof err) != 0 && res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    if (k->events && csv_close(k->events, res->status != 4, err, sizeof err) != 0 && res->status == 0) {
        res->status = 4;
        snprintf(res->message, sizeof res->message, "%s", err);
    }
    res->rows = k->rows;
    if (k->map && res->status != 4)
        draw_map(k);
    else if (k->job->plot && sim_records(k->job) && res->nevents > 0 && res->status != 4)
        draw_section(k);
    else if (k->job->plot && k->nkept > 0 && res->status != 4)
        draw(k);
    vm_free(k->vm_energy);
    vm_free(k->vm_rhs);
    vm_free(k->vm_record);
    mem_free(k->row);
    mem_free(k->E);
    mem_free(k->e0);
    mem_free(k->in);
    mem_free(k->rec);
    mem_free(k->kept);
    mem_free(k->text);
    mem_free(k);
}

/* ---------- failures of trajectories ---------- */

enum { FAIL_SHOWN = 10 }; /* failed trajectories of an ensemble named one by one */

typedef struct Fails {
    const SimJob *job;
    long count;
    int first;          /* the first failed trajectory */
    double first_t;
    char first_what[400], first_state[200];
} Fails;

/* Trajectory s failed at t (what, in words) in the state described. */
static void fail_note(Fails *f, int s, double t, const char *what, const char *state)
{
    const SimJob *job = f->job;
    if (f->count == 0) {
        f->first = s;
        f->first_t = t;
        snprintf(f->first_what, sizeof f->first_what, "%s", what);
        snprintf(f->first_state, sizeof f->first_state, "%s", state);
    }
    if (job->samples > 1 && f->count < FAIL_SHOWN)
        fprintf(stderr, "lag: warning: simulate %s: trajectory %d failed at t = %.10g: %s (state: %s)%s\n",
                job->system, s, t, what, state,
                f->count == FAIL_SHOWN - 1 ? "; further failures are counted, not shown" : "");
    f->count++;
}

/* ---------- an ensemble shared among the ranks of an MPI run ---------- */

/* A failure as it travels to rank 0: the trajectory, when, why, where. */
typedef struct FailMsg {
    int s;
    double t;
    char what[400], state[200];
} FailMsg;

/* An event as it travels to rank 0: the trajectory, when, which
 * condition (its state travels with the others'). */
typedef struct EventMsg {
    int s, k;
    double t;
} EventMsg;

/* Each rank integrates the block [lo, hi) of the trajectories (all of
 * them when the job is not split, or in one process) and makes its rows
 * (sink_open: energies, records, the text); at every output time the
 * blocks' rows, new failures and new events travel to rank 0 in rank
 * order, which is trajectory order, so rank 0 writes what one process
 * writes; the final states travel once, at the end. */
typedef struct Share {
    const SimJob *job;
    int on;             /* split over several ranks */
    long lo, hi;        /* this rank's block */
    FailMsg *msg;       /* this row's failures in the block */
    int nmsg, capmsg;
    EventMsg *ev;       /* this row's events in the block */
    int nev, capev;
    int *ended;         /* the block's trajectories that stopped since the last row: their
                           last row is at their event, then none */
    int nended;
    double *rec;        /* the block's recorded crossings (rows of SIM_EVENT_HEAD + width) */
    size_t nrec, caprec;
} Share;

static void share_begin(Share *sh, const SimJob *job)
{
    memset(sh, 0, sizeof *sh);
    sh->job = job;
    sh->on = job->split && par_size() > 1;
    if (sh->on)
        par_block(job->samples, &sh->lo, &sh->hi);
    else
        sh->hi = job->samples;
    if (job->stop)
        sh->ended = mem_xalloc(((size_t)(sh->hi - sh->lo) + 1) * sizeof *sh->ended);
}

/* The sink of this rank's block. */
static SimSink *share_sink(const Share *sh, SimResult *res)
{
    return sink_open(sh->job, res, (int)sh->lo, (int)sh->hi, sh->on);
}

/* Whether this process keeps the rows (writes them, counts failures). */
static int share_writes(const Share *sh)
{
    return !sh->on || par_root();
}

/* Trajectory s (of the whole ensemble) failed at t in state y. */
static void share_fail(Share *sh, int s, double t, const char *what, const double *y)
{
    if (sh->nmsg == sh->capmsg) {
        sh->capmsg = sh->capmsg ? 2 * sh->capmsg : 8;
        sh->msg = mem_xrealloc(sh->msg, (size_t)sh->capmsg * sizeof *sh->msg);
    }
    FailMsg *m = &sh->msg[sh->nmsg++];
    memset(m, 0, sizeof *m);
    m->s = s;
    m->t = t;
    snprintf(m->what, sizeof m->what, "%s", what);
    state_text(sh->job, y, m->state, sizeof m->state);
}

/* Trajectory s (of the whole ensemble) stopped at t, condition k. */
static void share_event(Share *sh, int s, double t, int k)
{
    if (sh->nev == sh->capev) {
        sh->capev = sh->capev ? 2 * sh->capev : 8;
        sh->ev = mem_xrealloc(sh->ev, (size_t)sh->capev * sizeof *sh->ev);
    }
    sh->ev[sh->nev++] = (EventMsg){s, k, t};
    sh->ended[sh->nended++] = s;
}

/* Trajectory s (of the whole ensemble) crossed 0 with the recorded
 * condition k at t, in state y. */
static void share_record(Share *sh, int s, double t, int k, const double *y)
{
    const size_t m = (size_t)sim_width(sh->job), rw = SIM_EVENT_HEAD + m;
    if (sh->nrec == sh->caprec) {
        sh->caprec = sh->caprec ? 2 * sh->caprec : 64;
        sh->rec = mem_xrealloc(sh->rec, sh->caprec * rw * sizeof *sh->rec);
    }
    double *r = sh->rec + sh->nrec++ * rw;
    r[0] = s;
    r[1] = t;
    r[2] = k;
    memcpy(r + SIM_EVENT_HEAD, y, m * sizeof *y);
}

/* Recorded events by trajectory, then time, then condition. */
static int by_event(const void *a, const void *b)
{
    const double *x = a, *y = b;
    for (int i = 0; i < SIM_EVENT_HEAD; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* The recorded events after their trajectory's stop (found on the step
 * it stopped on) left out of res->events. */
static void records_after_stops(const SimJob *job, SimResult *res)
{
    const size_t rw = SIM_EVENT_HEAD + (size_t)sim_width(job);
    long kept = 0;
    for (long i = 0; i < res->nevents; i++) {
        const double *r = res->events + (size_t)i * rw;
        if (!(r[1] > res->stop_t[(size_t)r[0]]))
            memmove(res->events + (size_t)kept++ * rw, r, rw * sizeof *r);
    }
    res->nevents = kept;
    if (!kept) {
        mem_free(res->events);
        res->events = NULL;
    }
}

/* At the end: every block's recorded events in res->events, on every
 * process, in order (trajectory, time, condition), those after a
 * trajectory's stop (on the step it stopped on) left out. */
static void share_records(Share *sh, SimResult *res)
{
    const size_t m = (size_t)sim_width(sh->job), rw = SIM_EVENT_HEAD + m, size = rw * sizeof(double);
    double *all = sh->rec;
    size_t n = sh->nrec;
    sh->rec = NULL;
    if (sh->on) {
        size_t bytes;
        double *got = par_gather_bytes(all, n * size, &bytes); /* (rank 0's; NULL elsewhere) */
        mem_free(all);
        all = got;
        long nb = par_root() ? (long)(bytes / size) : 0;
        par_bcast(&nb, sizeof nb);
        if (!par_root())
            all = mem_xalloc((size_t)nb * size + 1);
        par_bcast(all, (size_t)nb * size);
        n = (size_t)nb;
    }
    if (n)
        qsort(all, n, size, by_event);
    res->events = all;
    res->nevents = (long)n;
    records_after_stops(sh->job, res);
}

/* This row's messages of the block (n of size bytes at mine): as they
 * are, or under MPI every block's in rank order on rank 0 (*got to
 * mem_free); *count how many. */
static const void *share_msgs(const Share *sh, const void *mine, size_t n, size_t size, void **got, size_t *count)
{
    *got = NULL;
    *count = n;
    if (!sh->on)
        return mine;
    size_t bytes;
    *got = par_gather_bytes(mine, n * size, &bytes);
    *count = bytes / size;
    return *got;
}

/* The row's events noted on the process that writes, in trajectory order
 * (res: when each stopped, and which condition). */
static void share_events(Share *sh, SimResult *res)
{
    void *got;
    size_t ne;
    const EventMsg *e = share_msgs(sh, sh->ev, (size_t)sh->nev, sizeof(EventMsg), &got, &ne);
    if (share_writes(sh))
        for (size_t i = 0; i < ne; i++) {
            res->stop_t[e[i].s] = e[i].t;
            res->stop_k[e[i].s] = e[i].k;
            res->stopped++;
        }
    sh->nev = 0;
    mem_free(got);
}

/* The row's failures noted on the process that writes (in trajectory
 * order) and marked dead there, and its events noted. */
static void share_row(Share *sh, Fails *f, unsigned char *dead, SimResult *res)
{
    void *got;
    size_t nm;
    const FailMsg *m = share_msgs(sh, sh->msg, (size_t)sh->nmsg, sizeof(FailMsg), &got, &nm);
    if (share_writes(sh))
        for (size_t i = 0; i < nm; i++) {
            dead[m[i].s] = 1;
            fail_note(f, m[i].s, m[i].t, m[i].what, m[i].state);
        }
    sh->nmsg = 0;
    mem_free(got);
    if (sh->job->stop)
        share_events(sh, res);
}

/* The blocks' final states (w values each) gathered into all on rank 0. */
static void share_states(const Share *sh, const double *mine, double *all)
{
    if (sh->on)
        par_gather(mine, sh->job->samples, sim_width(sh->job), all);
}

/* The times of the block's rows at output time t (into ts, by the block's
 * trajectories): NULL when all are at t, else t or, for those that
 * stopped since the last row, their event's time (at, by trajectory of
 * the ensemble). */
static const double *share_times(const Share *sh, double t, const double *at, double *ts)
{
    if (!sh->nended)
        return NULL;
    for (long s = sh->lo; s < sh->hi; s++)
        ts[s - sh->lo] = t;
    for (int i = 0; i < sh->nended; i++)
        ts[sh->ended[i] - sh->lo] = at[sh->ended[i]];
    return ts;
}

/* What rank 0 decided after the row: whether to stop (every trajectory
 * failed) and its status (an output it could not write); the same on
 * every rank. */
static int share_stop(const Share *sh, SimResult *res, int stop)
{
    if (!sh->on)
        return stop;
    int v[2] = {stop, res->status};
    par_bcast(v, sizeof v);
    res->status = v[1];
    return v[0];
}

/* After the row written: the trajectories that stopped get no more rows;
 * whether none is left to integrate (rank 0's word, on every rank). */
static int share_ended(Share *sh, unsigned char *dead, SimResult *res, long failed)
{
    if (!sh->job->stop)
        return 0;
    for (int i = 0; i < sh->nended; i++)
        dead[sh->ended[i]] = 1; /* (the block's own) */
    sh->nended = 0;
    return share_stop(sh, res, failed + res->stopped == sh->job->samples);
}

/* The end: rank 0's final states, steps and evaluations summed, the
 * status agreed. */
static void share_end(Share *sh, SimResult *res, double *y)
{
    const SimJob *job = sh->job;
    if (sh->on) {
        par_bcast(y, (size_t)job->samples * (size_t)sim_width(job) * sizeof *y);
        res->steps = (unsigned long)par_sum_long((long)res->steps);
        res->rhs_evals = (unsigned long)par_sum_long((long)res->rhs_evals);
        par_bcast(&res->status, sizeof res->status);
        par_bcast(&res->t, sizeof res->t);
        if (job->stop) {
            par_bcast(res->stop_t, (size_t)job->samples * sizeof *res->stop_t);
            par_bcast(res->stop_k, (size_t)job->samples * sizeof *res->stop_k);
            par_bcast(&res->stopped, sizeof res->stopped);
            par_bcast(&res->rows, sizeof res->rows);
            records_after_stops(job, res); /* (the stops known everywhere now) */
        }
    }
    mem_free(sh->msg);
    mem_free(sh->ev);
    mem_free(sh->ended);
    mem_free(sh->rec);
}

/* The job's status and message from its failures. */
static void fail_result(const Fails *f, SimResult *res)
{
    if (f->count == 0 || res->status != 0)
        return;
    res->status = 3;
    if (f->job->samples == 1)
        snprintf(res->message, sizeof res->message, "integration failed at t = %.10g: %s (state: %s)", f->first_t,
                 f->first_what, f->first_state);
    else
        snprintf(res->message, sizeof res->message,
                 "%ld of %d trajectories failed (each named above); the first, trajectory %d, at t = %.10g: %s "
                 "(state: %s); the others ran to the end and their rows are written", f->count, f->job->samples,
                 f->first, f->first_t, f->first_what, f->first_state);
}

/* ---------- the batched explicit Runge–Kutta (runtime/rkbatch.h) ---------- */

enum { RHS_CHUNK = 256 }; /* lanes per VM run: registers stay in cache */

/* A program of the lanes' states: the right-hand side (its n
 * accelerations), or the stop conditions. */
typedef struct BatchCtx {
    const SimJob *job;
    Vm *vm;
    const IrProgram *p;
    int n; /* its outputs */
} BatchCtx;

static int batch_eval(void *ctx, int nb, const double *x, size_t ld, const double *ts, double *acc, size_t ald,
                      unsigned char *why)
{
    BatchCtx *c = ctx;
    const SimJob *job = c->job;
    const IrProgram *p = c->p;
    const int n = c->n, w = sim_width(job);
    int failed = 0;
    memset(why, 0, (size_t)nb);
    if (p->native || nb == 1 || c->vm->cap == 1) {
        /* compiled code (or one state) takes a row: one state at a time */
        double row[w + 1], a[n + 1];
        for (int r = 0; r < nb; r++) {
            for (int i = 0; i < w; i++)
                row[i] = x[(size_t)i * ld + (size_t)r];
            c->vm->times = ts + r;
            if (vm_run(c->vm, p, 1, row, w, ts[r], job->params, a, n) != VM_OK) {
                why[r] = c->vm->not_finite ? 2 : 1;
                for (int i = 0; i < n; i++)
                    a[i] = NAN;
                failed++;
            }
            for (int i = 0; i < n; i++)
                acc[(size_t)i * ald + (size_t)r] = a[i];
        }
        c->vm->times = NULL;
        return failed;
    }
    /* the VM over the batch, by component (Vm.soa), in chunks */
    c->vm->soa = ld;
    c->vm->soa_out = ald;
    for (int at = 0; at < nb; at += RHS_CHUNK) {
        int m = nb - at < RHS_CHUNK ? nb - at : RHS_CHUNK;
        c->vm->times = ts + at;
        if (vm_run(c->vm, p, m, x + at, w, ts[at], job->params, acc + at, n) == VM_OK)
            continue;
        /* which states cannot be evaluated: one by one */
        for (int r = at; r < at + m; r++) {
            c->vm->times = ts + r;
            if (vm_run(c->vm, p, 1, x + r, w, ts[r], job->params, acc + r, n) != VM_OK) {
                why[r] = c->vm->not_finite ? 2 : 1;
                for (int i = 0; i < n; i++)
                    acc[(size_t)i * ald + (size_t)r] = NAN;
                failed++;
            }
        }
    }
    c->vm->soa = c->vm->soa_out = 0;
    c->vm->times = NULL;
    return failed;
}

static int run_batched(const SimJob *job, SimResult *res, const RkTableau *tab)
{
    const int n = job->n, w = sim_width(job), B = job->samples;
    Share sh;
    share_begin(&sh, job);
    const int lo = (int)sh.lo, Bl = (int)(sh.hi - sh.lo); /* this rank's block */
    const int cap = Bl < 1 ? 1 : Bl < RHS_CHUNK ? Bl : RHS_CHUNK;
    BatchCtx c = {job, vm_alloc(&job->rhs, 1, cap), job->rhs, n};
    BatchCtx gc = {job, job->stop ? vm_alloc(&job->stop, 1, cap) : NULL, job->stop, job->stop ? job->stop->nout : 0};
    double h0 = job->every < 1e-3 ? job->every : 1e-3;
    RkBatch *b = Bl > 0 ? rk_new(tab, Bl, n, w, job->y0 + (size_t)lo * (size_t)w, job->t0, h0, job->tol,
                                 batch_eval, &c) : NULL;
    if (b && job->stop)
        rk_events(b, gc.n, job->stop_dir, batch_eval, &gc);
    if (b && sim_records(job))
        rk_events_record(b, job->stop_record);
    /* the block's lanes that stopped, and the time of each lane's row (at
     * its event for one that stopped since the last row) */
    unsigned char *over = job->stop ? mem_xalloc((size_t)Bl + 1) : NULL;
    double *tl = job->stop ? mem_xalloc(((size_t)Bl + 1) * sizeof *tl) : NULL;
    if (over)
        memset(over, 0, (size_t)Bl + 1);
    Fails fails = {job, 0, 0, 0, "", ""};
    unsigned long outside0 = input_outside();
    SimSink *sink = share_sink(&sh, res);
    unsigned char *dead = mem_xalloc((size_t)B);
    memset(dead, 0, (size_t)B);
    sim_sink_dead(sink, dead + lo);
    share_stop(&sh, res, 0); /* an output rank 0 cannot write: nobody starts */
    double *accl = job->record ? mem_xalloc(((size_t)Bl * (size_t)n + 1) * sizeof *accl) : NULL;
    double *y = mem_xalloc(((size_t)B * (size_t)w + 1) * sizeof *y); /* by trajectory */
    /* the block's states: in place, or gathered into y at the end */
    double *yl = sh.on ? mem_xalloc(((size_t)Bl * (size_t)w + 1) * sizeof *yl) : y;
    if (b)
        rk_states(b, yl);
    long nrows = sim_rows_out(job);
    double t = job->t0;
    for (long k = 0; res->status == 0 && k < nrows; k++) {
        double tk = sim_time_out(job, k);
        int nover = 0; /* lanes that stopped on the way to tk */
        if (k > 0 && b) {
            long before = b->failed, stopped = b->stopped;
            rk_advance(b, tk);
            rk_states(b, yl);
            for (long i = 0; i < b->nrec; i++) { /* the crossings recorded on the way */
                const double *r = b->rec + (size_t)i * (size_t)(SIM_EVENT_HEAD + w);
                share_record(&sh, lo + (int)r[0], r[1], (int)r[2], r + SIM_EVENT_HEAD);
            }
            b->nrec = 0;
            for (int s = 0; s < Bl && b->stopped > stopped; s++) {
                tl[s] = tk;
                if (b->status[s] == RK_EVENT && !over[s]) {
                    over[s] = 1;
                    tl[s] = b->event_t[s];
                    nover++;
                    share_event(&sh, lo + s, b->event_t[s], b->event_k[s]);
                }
            }
            if (b->failed > before)
                for (int s = 0; s < Bl; s++)
                    if (b->status[s] != RK_OK && b->status[s] != RK_EVENT && !dead[lo + s]) {
                        char what[400], why[160];
                        const double *ys = yl + (size_t)s * (size_t)w;
                        dead[lo + s] = 1;
                        if (b->status[s] == RK_NOT_FINITE)
                            snprintf(why, sizeof why, "the acceleration of %s is not finite",
                                     job->columns[b->which[s]]);
                        else
                            snprintf(why, sizeof why, "the mass matrix is %s",
                                     b->status[s] == RK_SINGULAR ? "singular" : "not finite");
                        int underflow = b->status[s] == RK_UNDERFLOW;
                        failure_text(job, underflow ? GSL_FAILURE : GSL_EBADFUNC, underflow ? NULL : why,
                                     input_outside() > outside0, ys, what, sizeof what);
                        share_fail(&sh, lo + s, b->fail_t[s], what, ys);
                    }
        }
        const double *a = NULL;
        if (job->record) { /* accelerations for the records: one more evaluation at tk (or the event) */
            for (int at = 0; at < Bl; at += c.vm->cap) {
                c.vm->times = nover ? tl + at : NULL;
                sim_run_each(c.vm, job->rhs, Bl - at < c.vm->cap ? Bl - at : c.vm->cap, yl + (size_t)at * (size_t)w,
                             w, tk, job->params, accl + (size_t)at * (size_t)n, n, n);
            }
            c.vm->times = NULL;
            a = accl;
        }
        share_row(&sh, &fails, dead, res);
        if (share_stop(&sh, res, k > 0 && fails.count == B))
            break; /* nothing left to integrate */
        t = tk;
        sink_row(sink, tk, nover ? tl : NULL, yl, a);
        if (share_ended(&sh, dead, res, fails.count))
            break; /* every trajectory stopped or failed */
    }
    res->t = B == 1 && fails.count ? fails.first_t : t;
    share_states(&sh, yl, y);
    memcpy(res->y, y, (size_t)B * (size_t)w * sizeof *res->y);
    res->steps = b ? b->steps : 0;
    res->rhs_evals = b ? b->evals : 0;
    fail_result(&fails, res);
    share_records(&sh, res);
    if (share_writes(&sh) && job->events)
        sink_events(sink, y);
    sim_sink_close(sink);
    share_end(&sh, res, res->y);
    mem_free(over);
    mem_free(tl);
    vm_free(gc.vm);
    mem_free(dead);
    mem_free(accl);
    if (yl != y)
        mem_free(yl);
    mem_free(y);
    if (b)
        rk_free(b);
    vm_free(c.vm);
    return res->status;
}

/* ---------- GSL's steppers, trajectory by trajectory ---------- */

/* Events on a trajectory of GSL's own stepper: its steps one by one
 * (gsl_odeiv2_driver_apply's loop, written out so that each step's end
 * can be tested), and a crossing located as the batched lanes locate it
 * (runtime/rkbatch.h), by trial steps from the step's start: a step of
 * the same stepper, whose arithmetic for rkf45, rkck and rk8pd is a
 * lane's to the bit; for the multistep methods, whose step depends on
 * the steps before it, a run of the same method from the step's start
 * under the job's tolerance. */
typedef struct Events {
    const SimJob *job;
    Ctx *c;
    const gsl_odeiv2_system *sys;
    Vm *vm;                   /* the stop program, one state at a time */
    int K;
    double *g;                /* samples x K: the functions at each trajectory's state */
    double *glo, *ghi, *gm;   /* K each: at the bracket's ends, at a trial */
    double *ya, *ym, *yerr, *dydt; /* the step's start, a trial's end, scratch, the derivative at ya */
    gsl_odeiv2_driver *trial; /* its stepper takes the trial steps (multistep: it runs them) */
    int multistep;
    /* `record when`: dirs as rk_events_record's, (K + 1) x K (row 0 the
     * stops, 1 + k condition k alone), or NULL; the end of a step, kept
     * while its recorded crossings are located; where they go */
    int *dirs;
    double *gend, *yr;
    Share *sh;
} Events;

static void events_eval(Events *E, double t, const double *y, double *g)
{
    if (vm_run(E->vm, E->job->stop, 1, y, sim_width(E->job), t, E->job->params, g, E->K) != VM_OK)
        for (int k = 0; k < E->K; k++)
            g[k] = NAN; /* a NaN never crosses */
}

static void events_open(Events *E, const SimJob *job, Ctx *c, const gsl_odeiv2_system *sys,
                        const gsl_odeiv2_step_type *type, int lo, int hi)
{
    const int m = sim_width(job), K = job->stop->nout;
    memset(E, 0, sizeof *E);
    E->job = job;
    E->c = c;
    E->sys = sys;
    E->K = K;
    E->vm = vm_alloc(&job->stop, 1, 1);
    E->g = mem_xalloc(((size_t)job->samples * (size_t)K + 1) * sizeof *E->g);
    E->glo = mem_xalloc(3 * (size_t)K * sizeof *E->glo);
    E->ghi = E->glo + K;
    E->gm = E->ghi + K;
    E->ya = mem_xalloc(4 * (size_t)m * sizeof *E->ya);
    E->ym = E->ya + m;
    E->yerr = E->ym + m;
    E->dydt = E->yerr + m;
    E->multistep = type == gsl_odeiv2_step_msadams || type == gsl_odeiv2_step_msbdf;
    E->trial = mem_fault() ? NULL : gsl_odeiv2_driver_alloc_y_new(sys, type, job->every, job->tol, job->tol);
    if (!E->trial)
        mem_out_of_memory(0);
    for (int s = lo; s < hi; s++)
        events_eval(E, job->t0, job->y0 + (size_t)s * (size_t)m, E->g + (size_t)s * (size_t)K);
    if (sim_records(job)) {
        E->dirs = mem_xalloc((size_t)(K + 1) * (size_t)K * sizeof *E->dirs);
        for (int k = 0; k < K; k++) {
            E->dirs[k] = job->stop_record[k] ? RK_NEVER : job->stop_dir[k];
            for (int j = 0; j < K; j++)
                E->dirs[(size_t)(1 + k) * (size_t)K + (size_t)j] =
                    j == k && job->stop_record[k] ? job->stop_dir[k] : RK_NEVER;
        }
        E->gend = mem_xalloc((size_t)K * sizeof *E->gend);
        E->yr = mem_xalloc((size_t)m * sizeof *E->yr);
    }
}

static void events_close(Events *E)
{
    if (!E->job)
        return;
    gsl_odeiv2_driver_free(E->trial);
    mem_free(E->dirs);
    mem_free(E->gend);
    mem_free(E->yr);
    vm_free(E->vm);
    mem_free(E->g);
    mem_free(E->glo);
    mem_free(E->ya);
}

/* A trial step of size h from (ta, E->ya) into E->ym: GSL's status. */
static int events_trial(Events *E, double ta, double h)
{
    memcpy(E->ym, E->ya, (size_t)sim_width(E->job) * sizeof *E->ym);
    if (E->multistep) {
        double t = ta;
        gsl_odeiv2_driver_reset_hstart(E->trial, h);
        return gsl_odeiv2_driver_apply(E->trial, &t, ta + h, E->ym);
    }
    gsl_odeiv2_step *st = E->trial->s;
    gsl_odeiv2_step_reset(st);
    return gsl_odeiv2_step_apply(st, ta, h, E->ym, E->yerr, st->type->can_use_dydt_in ? E->dydt : NULL, NULL,
                                 E->sys);
}

/* The crossing on the step of size h from (ta, E->ya) to (*t, y), the
 * functions at its start ga and end in E->ghi: *t and y become the
 * crossing's.  Returns the condition that crossed. */
static int events_locate(Events *E, double ta, double h, double *t, double *y, const double *ga, const int *dir)
{
    const int K = E->K;
    memcpy(E->glo, ga, (size_t)K * sizeof *ga);
    RkLocate L;
    rk_locate_begin(&L, ta, h);
    /* the derivative at the start, once (a lane keeps its step's k1) */
    int ok = E->multistep || !E->trial->s->type->can_use_dydt_in || rhs(ta, E->ya, E->dydt, E->c) == GSL_SUCCESS;
    double th;
    while (ok && (th = rk_locate_next(&L, K, E->glo, E->ghi, dir)) != 0) {
        if (events_trial(E, ta, th) != GSL_SUCCESS)
            break; /* the crossing stays at the bracket's end */
        events_eval(E, ta + th, E->ym, E->gm);
        int side = rk_locate_narrow(&L, K, th, E->glo, E->ghi, E->gm, dir);
        if (side < 0)
            break;
        if (side) {
            *t = ta + th;
            memcpy(y, E->ym, (size_t)sim_width(E->job) * sizeof *y);
        }
    }
    int k = rk_crossed(K, E->glo, E->ghi, 1, dir);
    return k < 0 ? 0 : k;
}

/* The recorded conditions that crossed on the step of size h from (ta,
 * E->ya) to (t, y) (the functions at its start ga, at its end E->ghi,
 * which it keeps): each located alone, as a lane's (rk_events_record),
 * and noted for trajectory s; the step's end stays the trajectory's. */
static void events_record(Events *E, int s, double ta, double h, double t, const double *y, const double *ga)
{
    const int K = E->K, m = sim_width(E->job);
    memcpy(E->gend, E->ghi, (size_t)K * sizeof *E->gend);
    for (int k = 0; k < K; k++) {
        const int *only = E->dirs + (size_t)(1 + k) * (size_t)K;
        if (only[k] == RK_NEVER || rk_crossed(1, ga + k, E->gend + k, 1, only + k) < 0)
            continue;
        double tr = t;
        memcpy(E->yr, y, (size_t)m * sizeof *y);
        memcpy(E->ghi, E->gend, (size_t)K * sizeof *E->ghi);
        events_locate(E, ta, h, &tr, E->yr, ga, only);
        share_record(E->sh, s, tr, k, E->yr);
    }
    memcpy(E->ghi, E->gend, (size_t)K * sizeof *E->ghi);
}

/* Trajectory s (driver d) to T as gsl_odeiv2_driver_apply takes it (its
 * bounds on the step, unset, never act), each step's end tested: at a
 * crossing it stops there (*t and y the crossing's, *hit the condition;
 * else -1).  Returns GSL's status. */
static int events_advance(Events *E, gsl_odeiv2_driver *d, int s, double *t, double T, double *y, int *hit)
{
    const int m = sim_width(E->job), K = E->K;
    double *g = E->g + (size_t)s * (size_t)K;
    *hit = -1;
    while (T - *t > 0.0) {
        double ta = *t;
        memcpy(E->ya, y, (size_t)m * sizeof *y);
        int st = gsl_odeiv2_evolve_apply(d->e, d->c, d->s, d->sys, t, T, &d->h, y);
        if (st != GSL_SUCCESS)
            return st;
        events_eval(E, *t, y, E->ghi);
        if (E->dirs)
            events_record(E, s, ta, d->e->last_step, *t, y, g);
        const int *dstop = E->dirs ? E->dirs : E->job->stop_dir;
        if (rk_crossed(K, g, E->ghi, 1, dstop) >= 0) {
            *hit = events_locate(E, ta, d->e->last_step, t, y, g, dstop);
            return GSL_SUCCESS;
        }
        memcpy(g, E->ghi, (size_t)K * sizeof *g);
    }
    return GSL_SUCCESS;
}

int sim_run(const SimJob *job, SimResult *res)
{
    int n = job->n, m = sim_width(job);
    double start = sim_clock();
    res->setup_s = job->started > 0 ? start - job->started : 0;
    memset(res->message, 0, sizeof res->message);
    res->status = 0;
    res->steps = res->rhs_evals = 0;
    res->has_energy = job->energy != NULL;
    res->e0 = res->max_rel_drift = 0;
    res->stopped = res->rows = 0;
    res->events = NULL;
    res->nevents = 0;
    for (int s = 0; job->stop && s < job->samples; s++) {
        res->stop_t[s] = NAN;
        res->stop_k[s] = -1;
    }
    gsl_set_error_handler_off();

    /* an ensemble of rkf45, rkck or rk8pd trajectories as one batch of
     * lanes; a single trajectory through GSL's own driver, which gives it
     * the same values (a lane is GSL's arithmetic to the bit) with less
     * overhead for one */
    const RkTableau *tab = job->samples > 1 ? rk_tableau(job->method) : NULL;
    if (tab) {
        run_batched(job, res, tab);
        res->wall_s = sim_clock() - start;
        return res->status;
    }
    const gsl_odeiv2_step_type *type = NULL;
    int implicit = 0;
    for (size_t i = 0; i < sizeof steppers / sizeof steppers[0]; i++)
        if (strcmp(steppers[i].name, job->method) == 0) {
            type = *steppers[i].type;
            implicit = steppers[i].implicit;
        }
    if (!type || (implicit && !job->jac)) {
        res->status = 3;
        snprintf(res->message, sizeof res->message, "method %s is not available for %s",
                 job->method, job->system);
        return res->status;
    }

    const IrProgram *jac = job->jac ? job->jac : job->rhs;
    int B = job->samples;
    Share sh;
    share_begin(&sh, job);
    const int lo = (int)sh.lo, hi = (int)sh.hi; /* this rank's block */
    /* each trajectory its own GSL system and driver (its own step size);
     * one VM for all, run for one sample at a time */
    Ctx c = {job, vm_alloc(&job->rhs, 1, 1), vm_alloc(&jac, 1, 1), 0, 0, "", NULL, NULL, input_outside()};
    c.jac = mem_xalloc((size_t)(2 * n * n + n + 1) * sizeof *c.jac);
    c.in = mem_xalloc((size_t)(3 * n + job->nsampled + 1) * sizeof *c.in);
    gsl_odeiv2_system sys = {rhs, job->jac ? jacobian : NULL, (size_t)m, &c};
    double h0 = job->every < 1e-3 ? job->every : 1e-3;
    gsl_odeiv2_driver **d = mem_xalloc((size_t)B * sizeof *d);
    memset(d, 0, (size_t)B * sizeof *d);
    for (int s = lo; s < hi; s++) {
        d[s] = mem_fault() ? NULL : gsl_odeiv2_driver_alloc_y_new(&sys, type, h0, job->tol, job->tol);
        if (!d[s])
            mem_out_of_memory(0); /* the one way it fails with valid h0 and tol */
    }
    Fails fails = {job, 0, 0, 0, "", ""};
    SimSink *sink = share_sink(&sh, res);
    unsigned char *dead = mem_xalloc((size_t)B);
    memset(dead, 0, (size_t)B);
    sim_sink_dead(sink, dead + lo);
    share_stop(&sh, res, 0); /* an output rank 0 cannot write: nobody starts */
    /* `stop when`: the trajectories of the block that stopped */
    Events E = {0};
    unsigned char *over = NULL;
    if (job->stop) {
        events_open(&E, job, &c, &sys, type, lo, hi);
        E.sh = &sh;
        over = mem_xalloc((size_t)B);
        memset(over, 0, (size_t)B);
    }
    /* every trajectory's state where this rank's block is integrated in
     * place; the others' arrive on rank 0 at the end */
    double *y = res->y, *ts = mem_xalloc((size_t)B * sizeof *ts);
    double *tl = mem_xalloc(((size_t)(hi - lo) + 1) * sizeof *tl); /* the block's rows' times */
    double *yall = sh.on ? mem_xalloc((size_t)m * (size_t)B * sizeof *yall) : y;
    double *dydt = mem_xalloc((size_t)m * sizeof *dydt);
    double *acc = mem_xalloc(((size_t)n * (size_t)(hi - lo) + 1) * sizeof *acc); /* the block's */
    memcpy(y, job->y0, (size_t)m * (size_t)B * sizeof *y);
    for (int s = 0; s < B; s++)
        ts[s] = job->t0;
    long nrows = sim_rows_out(job);
    double t = job->t0;
    for (long k = 0; res->status == 0 && k < nrows; k++) {
        double tk = sim_time_out(job, k);
        for (int s = lo; s < hi && k > 0; s++) {
            if (dead[s] || (over && over[s]))
                continue;
            double *ys = y + (size_t)s * (size_t)m;
            c.failed = 0; /* what a rejected trial step met is not this step's failure */
            int hit = -1;
            int st = over ? events_advance(&E, d[s], s, &ts[s], tk, ys, &hit)
                          : gsl_odeiv2_driver_apply(d[s], &ts[s], tk, ys);
            if (st != GSL_SUCCESS) {
                char what[400];
                failure_text(job, st, c.failed ? c.why : NULL, input_outside() > c.outside0, ys, what, sizeof what);
                dead[s] = 1;
                share_fail(&sh, s, ts[s], what, ys);
            } else if (hit >= 0) {
                over[s] = 1;
                share_event(&sh, s, ts[s], hit);
            }
        }
        /* accelerations for the record columns: one more RHS evaluation */
        const double *a = NULL;
        if (job->record) {
            double *al = acc - (size_t)lo * n;
            for (int s = lo; s < hi; s++) {
                /* (at its event for a trajectory that stopped) */
                if (dead[s] || rhs(over && over[s] ? ts[s] : tk, y + (size_t)s * (size_t)m, dydt, &c) != GSL_SUCCESS)
                    for (int i = 0; i < n; i++)
                        al[(size_t)s * n + i] = NAN;
                else
                    memcpy(al + (size_t)s * n, dydt + n, (size_t)n * sizeof *al);
            }
            a = acc;
        }
        share_row(&sh, &fails, dead, res);
        if (share_stop(&sh, res, k > 0 && fails.count == B))
            break;
        t = tk;
        sink_row(sink, t, share_times(&sh, t, ts, tl), y + (size_t)lo * (size_t)m, a);
        if (share_ended(&sh, dead, res, fails.count))
            break; /* every trajectory stopped or failed */
    }
    /* where a single trajectory ended: its failure, its event, or the end */
    res->t = B == 1 && fails.count ? fails.first_t : B == 1 && res->stopped ? res->stop_t[0] : t;
    for (int s = lo; s < hi; s++) {
        res->steps += d[s]->e->count;
        gsl_odeiv2_driver_free(d[s]);
    }
    res->rhs_evals = c.evals;
    fail_result(&fails, res);
    share_states(&sh, y + (size_t)lo * (size_t)m, yall);
    share_records(&sh, res);
    if (share_writes(&sh) && job->events)
        sink_events(sink, yall);
    sim_sink_close(sink);
    if (sh.on) {
        memcpy(y, yall, (size_t)m * (size_t)B * sizeof *y);
        mem_free(yall);
    }
    share_end(&sh, res, y);
    events_close(&E);
    mem_free(over);
    mem_free(d);
    mem_free(ts);
    mem_free(tl);
    mem_free(dead);
    mem_free(dydt);
    mem_free(acc);
    vm_free(c.vm);
    vm_free(c.vm_jac);
    mem_free(c.jac);
    mem_free(c.in);
    res->wall_s = sim_clock() - start;
    return res->status;
}

/* ---------- JSON summaries (jansson through the allocation hook) ---------- */

void sim_json_begin(void)
{
    static int done;
    if (!done) { /* the fault injection of tests reaches jansson too */
        json_set_alloc_funcs(mem_alloc, mem_free);
        done = 1;
    }
}

json_t *sim_jnew(json_t *v)
{
    if (!v)
        mem_out_of_memory(0);
    return v;
}

json_t *sim_jreal(double x)
{
    /* JSON has no NaN or infinity: such a value is null, never dropped */
    return sim_jnew(isfinite(x) ? json_real(x) : json_null());
}

void sim_jset(json_t *o, const char *key, json_t *v)
{
    if (json_object_set_new(o, key, sim_jnew(v)) != 0)
        mem_out_of_memory(0);
}

void sim_japp(json_t *a, json_t *v)
{
    if (json_array_append_new(a, sim_jnew(v)) != 0)
        mem_out_of_memory(0);
}

int sim_json_print(FILE *out, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!s)
        mem_out_of_memory(0);
    int rc = fprintf(out, "%s\n", s) < 0 || fflush(out) != 0 ? 4 : 0;
    if (rc)
        fprintf(stderr, "lag: error: cannot write the JSON summary: %s\n", strerror(errno ? errno : EIO));
    mem_free(s);
    json_decref(o);
    return rc;
}

/* An event of the JSON: trajectory s (an ensemble's) at t, condition k;
 * its kind when the job records crossings. */
static json_t *json_event(const SimJob *job, int s, double t, int k)
{
    json_t *e = sim_jnew(json_object());
    if (job->samples > 1)
        sim_jset(e, "traj", json_integer(s));
    sim_jset(e, "t", sim_jreal(t));
    sim_jset(e, "when", json_string(job->stop_text[k]));
    if (sim_records(job))
        sim_jset(e, "kind", json_string(job->stop_record[k] ? "record" : "stop"));
    return e;
}

int sim_json(FILE *out, const SimJob *job, const SimResult *res)
{
    sim_json_begin();
    int n = job->n;
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", json_string("simulate"));
    sim_jset(o, "system", json_string(job->system));
    sim_jset(o, "method", json_string(job->method));
    sim_jset(o, "precision", json_string(job->single ? "single" : "double"));
    sim_jset(o, "status", json_integer(res->status));
    sim_jset(o, "steps", json_integer((json_int_t)res->steps));
    sim_jset(o, "rhs_evals", json_integer((json_int_t)res->rhs_evals));
    json_t *fin = sim_jnew(json_object()), *q = sim_jnew(json_object()), *v = sim_jnew(json_object());
    sim_jset(fin, "t", sim_jreal(res->t));
    int B = job->samples;
    for (int i = 0; i < n; i++) {
        if (B == 1) {
            sim_jset(q, job->columns[i], sim_jreal(res->y[i]));
            sim_jset(v, job->columns[n + i], sim_jreal(res->y[n + i]));
            continue;
        }
        /* an ensemble: one array per coordinate and velocity, by trajectory */
        json_t *qa = sim_jnew(json_array()), *va = sim_jnew(json_array());
        for (int s = 0; s < B; s++) {
            sim_japp(qa, sim_jreal(res->y[(size_t)s * (size_t)sim_width(job) + i]));
            sim_japp(va, sim_jreal(res->y[(size_t)s * (size_t)sim_width(job) + n + i]));
        }
        sim_jset(q, job->columns[i], qa);
        sim_jset(v, job->columns[n + i], va);
    }
    if (B > 1)
        sim_jset(o, "samples", json_integer(B));
    sim_jset(fin, "coords", q);
    sim_jset(fin, "velocities", v);
    sim_jset(o, "final", fin);
    if (job->stop) {
        /* the count always; each event (in trajectory order, each
         * trajectory's in order of time) when they are few enough for a
         * line of JSON to hold them */
        long count = res->stopped + res->nevents, e = 0;
        const size_t rw = SIM_EVENT_HEAD + (size_t)sim_width(job);
        sim_jset(o, "events_count", json_integer((json_int_t)count));
        if (B <= SIM_EVENTS_LISTED && count <= SIM_EVENTS_LISTED_ALL) {
            json_t *ev = sim_jnew(json_array());
            for (int s = 0; s < B; s++) {
                for (; e < res->nevents && res->events[(size_t)e * rw] == s; e++) {
                    const double *r = res->events + (size_t)e * rw;
                    sim_japp(ev, json_event(job, s, r[1], (int)r[2]));
                }
                if (!isnan(res->stop_t[s]))
                    sim_japp(ev, json_event(job, s, res->stop_t[s], res->stop_k[s]));
            }
            sim_jset(o, "events", ev);
        }
    }
    if (res->has_energy) {
        json_t *e = sim_jnew(json_object());
        sim_jset(e, "initial", sim_jreal(res->e0));
        sim_jset(e, "max_rel_drift", res->drift_unknown ? json_null() : sim_jreal(res->max_rel_drift));
        sim_jset(e, "failures", json_integer((json_int_t)res->energy_failures));
        sim_jset(o, "energy", e);
    }
    if (job->record)
        sim_jset(o, "record_failures", json_integer((json_int_t)res->record_failures));
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    sim_jset(o, "setup_s", sim_jreal(res->setup_s));
    return sim_json_print(out, o);
}
