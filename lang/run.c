/*
 * lang/run.c — the `lag run` driver (see run.h).
 *
 * For each job: find its system, derive its equations once (lang/mech),
 * lower them (lang/lower), read the job's settings (constants, checked
 * already), and hand a plain description to the runtime.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lang/lower.h"
#include "lang/mech.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/simulate.h"
#include "runtime/train.h"
#include "runtime/vm.h"
#include "runtime/variational.h"

/* The value of a constant expression (checked: it has one). */
static double value(const Expr *e)
{
    return mech_const_value(e);
}

/* The setting called name in a list of settings (a job's, or a data
 * block's), or NULL. */
static const Setting *find_setting(const Setting *list, const char *name)
{
    for (const Setting *s = list; s; s = s->next)
        if (s->form != SET_CONT && strcmp(s->head.name, name) == 0)
            return s;
    return NULL;
}

static const Setting *setting(const Item *job, const char *name)
{
    return find_setting(job->settings, name);
}

static const Item *find_system(Front *F, const char *name)
{
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if ((it->kind == IT_SYSTEM || it->kind == IT_PROBLEM) && strcmp(it->name.name, name) == 0)
                return it;
    return NULL;
}

/* "file:line" of an item, for runtime messages. */
static const char *where(Front *F, const Item *it)
{
    const Source *s = &F->diag.src[it->loc.file];
    return arena_printf(F->arena, "%s:%d", s->name, it->loc.first_line);
}

static int not_yet(Front *F, const Item *job, const char *what)
{
    fprintf(stderr, "lag: %s: %s %s: %s is not implemented yet\n", where(F, job),
            ast_job_name(job->job), job->targets[0].name, what);
    return 2;
}

/* A job's parameter values for program p of system sys: the defaults,
 * then the settings' `param p = v`, then --set SYS.p=value. */
static double *job_params(Sym *S, const Setting *settings, const IrProgram *p, const char *sys,
                          const RunOptions *opt)
{
    double *params = arena_alloc(S->arena, (size_t)(p->nparams + 1) * sizeof *params);
    for (int j = 0; j < p->nparams; j++)
        params[j] = p->param_values[j];
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                for (int j = 0; j < p->nparams; j++)
                    if (strcmp(a->name.name, p->param_names[j]) == 0)
                        params[j] = value(a->value);
    const size_t sl = strlen(sys);
    for (int k = 0; k < opt->nsets; k++) {
        /* --set SYS.param=value */
        const char *dot = strchr(opt->sets[k], '.'), *eq = strchr(opt->sets[k], '=');
        if (!dot || !eq || dot > eq || (size_t)(dot - opt->sets[k]) != sl || strncmp(opt->sets[k], sys, sl) != 0)
            continue;
        for (int j = 0; j < p->nparams; j++)
            if (strlen(p->param_names[j]) == (size_t)(eq - dot - 1) &&
                strncmp(dot + 1, p->param_names[j], (size_t)(eq - dot - 1)) == 0)
                params[j] = strtod(eq + 1, NULL);
    }
    return params;
}

static int run_simulate(Front *F, const Item *job, const RunOptions *opt)
{
    const Item *sys = find_system(F, job->targets[0].name);
    const Setting *samples_s = setting(job, "samples");
    double nsamples = samples_s ? value(samples_s->e1) : 1;
    /* sizes a run could never finish or hold: refused before anything starts */
    const Setting *time_s = setting(job, "time"), *every_s = setting(job, "every");
    double span = value(time_s->e2) - value(time_s->e1);
    double rows = every_s ? span / value(every_s->e1) + 1 : 1001;
    if (nsamples > 1e7 || rows > 1e9 || rows * nsamples > 1e10) {
        diag_error(&F->diag, job->loc,
                   "%.3g trajectories of %.3g output rows is more than a run can hold (at most "
                   "1e7 trajectories, 1e9 rows, 1e10 in all): raise 'every' or lower 'samples'",
                   nsamples, rows);
        diag_flush(&F->diag);
        return 1;
    }
    int samples = (int)nsamples;
    const Setting *method_s = setting(job, "method");
    const char *method = method_s ? method_s->e1->id.name : "rk8pd";
    int variational = strcmp(method, "variational") == 0;

    Sym *S = sym_new(F->arena);
    Mech m;
    if (mech_build(&m, S, &F->diag, sys, MECH_NETS) != 0) {
        sym_free(S);
        return m.io_errors ? 4 : 1;
    }
    int n = m.n, rc = 0;
    /* a learned system's right-hand side as a tape: the same values, and
     * each layer's sigmoid computed once for all derivative orders */
    IrProgram *rhs = m.learned ? lower_rhs_tape(&m) : lower_rhs(&m);
    IrProgram *energy = NULL, *jac = NULL, *del = NULL, *record = NULL;
    /* record columns, from every 'record' setting, in order */
    int nrec = 0;
    for (const Setting *s = job->settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "record") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                nrec++;
    if (nrec) {
        SymId *roots = arena_alloc(S->arena, (size_t)nrec * sizeof *roots);
        const char **names = arena_alloc(S->arena, (size_t)nrec * sizeof *names);
        int k = 0;
        for (const Setting *s = job->settings; s; s = s->next)
            if (s->form == SET_ASSIGNS && strcmp(s->head.name, "record") == 0)
                for (const Assign *a = s->assigns; a; a = a->next) {
                    names[k] = a->name.name;
                    roots[k] = mech_expr(&m, &F->diag, a->value);
                    if (!roots[k++])
                        rc = 1;
                }
        if (rc) {
            diag_flush(&F->diag);
            goto done;
        }
        record = lower_exprs(&m, arena_printf(S->arena, "%s.record", sys->name.name), roots, names, nrec);
    }
    if (!m.given_accel) {
        const char *ename = "E";
        energy = lower_exprs(&m, arena_printf(S->arena, "%s.energy", sys->name.name), &m.E, &ename, 1);
    }
    if (variational) {
        /* at (q, q', t): L_q, p, L_qq, L_qq', M, and the generalized force
         * Q - dD/dq' with its derivatives (Lagrange-d'Alembert) */
        int nd = 3 * n + 5 * n * n, k = 0;
        SymId *roots = arena_alloc(S->arena, (size_t)nd * sizeof *roots);
        const char **names = arena_alloc(S->arena, (size_t)nd * sizeof *names);
        SymId *Q = arena_alloc(S->arena, (size_t)n * sizeof *Q);
        for (int i = 0; i < n; i++)
            Q[i] = sym_sub(S, m.Q[i], sym_diff(S, m.D, m.v[i]));
        for (int i = 0; i < n; i++) {
            names[k] = arena_printf(S->arena, "L_%s", m.names[i]);
            roots[k++] = sym_diff(S, m.L, m.q[i]);
        }
        for (int i = 0; i < n; i++) {
            names[k] = arena_printf(S->arena, "p_%s", m.names[i]);
            roots[k++] = m.p[i];
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                names[k] = arena_printf(S->arena, "Lqq_%d_%d", i + 1, j + 1);
                roots[k++] = sym_diff(S, roots[i], m.q[j]);
            }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                names[k] = arena_printf(S->arena, "Lqv_%d_%d", i + 1, j + 1);
                roots[k++] = sym_diff(S, roots[i], m.v[j]);
            }
        for (int i = 0; i < n * n; i++) {
            names[k] = arena_printf(S->arena, "M_%d_%d", i / n + 1, i % n + 1);
            roots[k++] = m.M[i];
        }
        for (int i = 0; i < n; i++) {
            names[k] = arena_printf(S->arena, "Q_%s", m.names[i]);
            roots[k++] = Q[i];
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                names[k] = arena_printf(S->arena, "Qq_%d_%d", i + 1, j + 1);
                roots[k++] = sym_diff(S, Q[i], m.q[j]);
            }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                names[k] = arena_printf(S->arena, "Qv_%d_%d", i + 1, j + 1);
                roots[k++] = sym_diff(S, Q[i], m.v[j]);
            }
        del = lower_exprs(&m, arena_printf(S->arena, "%s.del", sys->name.name), roots, names, nd);
    }
    int implicit = 0;
    sim_method_known(method, &implicit);
    int jac_uses_accel = 0;
    if (implicit && m.accel != MECH_ACCEL_SYMBOLIC) {
        /* no closed form: da/dx = M^-1 (df/dx - (dM/dx) a), exact */
        jac = lower_jacobian_solve(&m);
        jac_uses_accel = 1;
    } else if (implicit) {
        /* d(accel_i)/d(q, q') and d(accel_i)/dt, exact */
        int nj = n * 2 * n + n;
        SymId *roots = arena_alloc(S->arena, (size_t)nj * sizeof *roots);
        const char **names = arena_alloc(S->arena, (size_t)nj * sizeof *names);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 2 * n; j++) {
                roots[i * 2 * n + j] = sym_diff(S, m.acc[i], j < n ? m.q[j] : m.v[j - n]);
                names[i * 2 * n + j] = arena_printf(S->arena, "d%d_%d", i, j);
            }
            roots[2 * n * n + i] = sym_diff(S, m.acc[i], m.t);
            names[2 * n * n + i] = arena_printf(S->arena, "dt%d", i);
        }
        jac = lower_exprs(&m, arena_printf(S->arena, "%s.jacobian", sys->name.name), roots, names, nj);
    }

    if (opt->native) {
        /* compile what the job runs; where that fails, the VM interprets */
        IrProgram *progs[5] = {rhs, energy, jac, del, record};
        for (int i = 0; i < 5; i++) {
            char err[512];
            if (progs[i] && native_attach(progs[i], err, sizeof err) != 0) {
                fprintf(stderr, "lag: warning: --native: %s; interpreting instead\n", err);
                break;
            }
        }
    }

    /* Settings (checked: constants with values). */
    double *y0 = arena_alloc(S->arena, (size_t)samples * (size_t)(2 * n) * sizeof *y0);
    const char **columns = arena_alloc(S->arena, (size_t)(2 * n) * sizeof *columns);
    for (int i = 0; i < n; i++) {
        columns[i] = m.names[i];
        columns[n + i] = S->vars[m.v[i]].name;
    }
    /* initial states: constants, or draws from uniform(a, b) / normal(m, s)
     * for each trajectory, reproducible from the seed (default 0) */
    const Setting *seed_s = setting(job, "seed");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed_s ? (unsigned long)value(seed_s->e1) : 0);
    const Setting *init = setting(job, "init");
    for (int smp = 0; smp < samples; smp++)
        for (const Assign *a = init ? init->assigns : NULL; a; a = a->next) {
            double x;
            if (a->value->ref == REF_RANDOM) {
                double p1 = value(a->value->args), p2 = value(a->value->args->next);
                x = a->value->id.name[0] == 'u' ? p1 + (p2 - p1) * gsl_rng_uniform(rng)
                                                : p1 + gsl_ran_gaussian(rng, p2);
            } else {
                x = value(a->value);
            }
            for (int i = 0; i < n; i++)
                if (strcmp(a->name.name, m.names[i]) == 0)
                    y0[(size_t)smp * 2 * n + (size_t)(a->name.primes ? n + i : i)] = x;
        }
    gsl_rng_free(rng);
    double *params = job_params(S, job->settings, rhs, sys->name.name, opt);
    const Setting *time = setting(job, "time"), *every = setting(job, "every");
    const Setting *tol = setting(job, "tol"), *output = setting(job, "output");
    const Setting *plot = setting(job, "plot");
    double t0 = value(time->e1), t1 = value(time->e2);
    char *outpath = output ? io_join(opt->outdir, output->e1->str) : NULL;
    char *plotpath = plot ? io_join(opt->outdir, plot->e1->str) : NULL;
    SimJob sj = {
        .system = sys->name.name,
        .rhs = rhs,
        .jac = jac,
        .jac_uses_accel = jac_uses_accel,
        .energy_conserved = m.energy_conserved,
        .energy = energy,
        .n = n,
        .columns = columns,
        .samples = samples,
        .y0 = y0,
        .params = params,
        .t0 = t0,
        .t1 = t1,
        .every = every ? value(every->e1) : (t1 - t0) / 1000,
        .method = method,
        .tol = tol ? value(tol->e1) : 1e-8,
        .output = outpath,
        .plot = plotpath,
        .record = record,
        .started = opt->started,
    };
    SimResult res;
    res.y = arena_alloc(S->arena, (size_t)samples * (size_t)(2 * n) * sizeof *res.y);
    rc = variational ? var_run(&sj, del, &res) : sim_run(&sj, &res);
    if (opt->json)
        sim_json(stdout, &sj, &res);
    if (rc != 0)
        fprintf(stderr, "lag: %s: simulate %s: %s\n", where(F, job), sys->name.name, res.message);
    mem_free(outpath);
    mem_free(plotpath);
done:
    ir_free(rhs);
    ir_free(energy);
    ir_free(jac);
    ir_free(del);
    ir_free(record);
    sym_free(S);
    return rc;
}

/* The distribution of each state component from an `init` setting:
 * constants, uniform(a, b), normal(m, s); components not named are 0. */
static void init_draws(const Setting *init, const Mech *m, TrainDraw *d)
{
    for (int i = 0; i < 2 * m->n; i++)
        d[i] = (TrainDraw){DRAW_CONST, 0, 0};
    for (const Assign *a = init ? init->assigns : NULL; a; a = a->next)
        for (int i = 0; i < m->n; i++) {
            if (strcmp(a->name.name, m->names[i]) != 0)
                continue;
            TrainDraw *x = &d[a->name.primes ? m->n + i : i];
            if (a->value->ref == REF_RANDOM) {
                x->kind = a->value->id.name[0] == 'u' ? DRAW_UNIFORM : DRAW_NORMAL;
                x->p1 = value(a->value->args);
                x->p2 = value(a->value->args->next);
            } else {
                x->kind = DRAW_CONST;
                x->p1 = value(a->value);
            }
        }
}

/* States along trajectories, as a simulate job's rows arrive. */
typedef struct Rows {
    double *y, *t; /* states (n x width) and their times */
    size_t n, cap, width;
} Rows;

static void collect_rows(void *ctx, double t, const double *y, int samples)
{
    Rows *r = ctx;
    size_t need = r->n + (size_t)samples;
    if (need > r->cap) {
        r->cap = need > 2 * r->cap ? need : 2 * r->cap;
        r->y = mem_xrealloc(r->y, r->cap * r->width * sizeof *r->y);
        r->t = mem_xrealloc(r->t, r->cap * sizeof *r->t);
    }
    memcpy(r->y + r->n * r->width, y, (size_t)samples * r->width * sizeof *y);
    for (size_t i = r->n; i < need; i++)
        r->t[i] = t;
    r->n = need;
}

/* A setting's number, or a default. */
static double num(const Item *job, const char *name, double dflt)
{
    const Setting *s = setting(job, name);
    return s ? value(s->e1) : dflt;
}

static int run_train(Front *F, const Item *job, const RunOptions *opt)
{
    const Item *sys = find_system(F, job->targets[0].name);
    const Setting *loss_s = setting(job, "loss"), *data_s = setting(job, "data");
    if (loss_s && loss_s->form == SET_EXPR && strcmp(loss_s->e1->id.name, "action") == 0)
        return not_yet(F, job, "'loss action'");
    const Setting *dmethod = data_s->form == SET_BLOCK ? find_setting(data_s->sub, "method") : NULL;
    int dimplicit = 0;
    if (dmethod && (strcmp(dmethod->e1->id.name, "variational") == 0 ||
                    (sim_method_known(dmethod->e1->id.name, &dimplicit) && dimplicit)))
        return not_yet(F, job, "data along trajectories with a variational or implicit method (use an "
                               "explicit one, e.g. 'method rk8pd', in 'data from')");
    const Setting *batch_s = setting(job, "batch");
    if (batch_s && value(batch_s->e1) > 1e6) {
        diag_error(&F->diag, batch_s->e1->loc, "a batch of %.3g samples is more than a step can hold (at most 1e6)",
                   value(batch_s->e1));
        diag_flush(&F->diag);
        return 1;
    }
    Sym *S = sym_new(F->arena);
    Mech m;
    if (mech_build(&m, S, &F->diag, sys, MECH_NETS) != 0) {
        sym_free(S);
        return m.io_errors ? 4 : 1;
    }
    const int n = m.n, n2 = 2 * n;
    int rc = 0;
    if (m.explicit_time)
        diag_warning(&F->diag, sys->loc, "'%s' depends on t explicitly; training evaluates it at t = 0",
                     sys->name.name);
    IrProgram *model = lower_rhs_tape(&m), *source = NULL;
    Sym *DS = NULL;
    CsvTable csv = {0};
    double *states = NULL, *targets = NULL;
    char *save = NULL, *ckpt = NULL, *plotpath = NULL;
    TrainDraw *draws = arena_alloc(S->arena, (size_t)(n2 + 1) * sizeof *draws);
    const char **columns = arena_alloc(S->arena, (size_t)(n2 + 1) * sizeof *columns);
    for (int i = 0; i < n; i++) {
        columns[i] = m.names[i];
        columns[n + i] = S->vars[m.v[i]].name;
    }
    TrainJob tj = {
        .job = sys->name.name,
        .model = model,
        .params = job_params(S, job->settings, model, sys->name.name, opt),
        .n = n,
        .columns = columns,
        .l1 = !(loss_s && loss_s->form == SET_WORD && strcmp(loss_s->e1->id.name, "mse") == 0),
        .steps = (int)num(job, "steps", 1000),
        .batch = (int)num(job, "batch", 256),
        .lr = num(job, "lr", 1e-3),
        .warmup = num(job, "warmup", 0.05),
        .clip = num(job, "clip", 1),
        .weight_decay = num(job, "weight_decay", 0),
        .cosine = !setting(job, "schedule") || strcmp(setting(job, "schedule")->e1->id.name, "cosine") == 0,
        .seed = (unsigned long)num(job, "seed", 0),
    };
    /* every weight of the system's nets, in the order they were made */
    tj.ntensors = S->ntensors;
    tj.tensors = arena_alloc(S->arena, (size_t)(S->ntensors + 1) * sizeof *tj.tensors);
    for (int k = 0; k < S->ntensors; k++)
        tj.tensors[k] = (TrainTensor){S->tensors[k].name, S->tensors[k].rows, S->tensors[k].cols, S->tensors[k].data};

    if (data_s->form == SET_EXPR) {
        /* data "file.csv": columns q, q', q'' by the model's names */
        const char *path = data_s->e1->str;
        char err[1024];
        int io_error;
        if (csv_read(diag_beside(&F->diag, S->arena, path, data_s->e1->loc), &csv, &io_error, err, sizeof err) != 0) {
            diag_error(&F->diag, data_s->e1->loc, "%s", err);
            diag_flush(&F->diag);
            rc = io_error ? 4 : 1;
            goto done;
        }
        int *col = arena_alloc(S->arena, (size_t)(3 * n) * sizeof *col), missing = 0;
        for (int j = 0; j < 3 * n; j++) {
            const char *name = j < n2 ? columns[j] : arena_printf(S->arena, "%s''", m.names[j - n2]);
            col[j] = csv_column(&csv, name);
            if (col[j] < 0) {
                diag_error(&F->diag, data_s->e1->loc, "'%s' has no column '%s' (training data needs a column for "
                           "each coordinate q of %s: q, q', q'')", path, name, sys->name.name);
                missing = 1;
            }
        }
        if (!missing && csv.nrows < 2) {
            diag_error(&F->diag, data_s->e1->loc, "'%s' has %ld data rows: too few to train on", path, csv.nrows);
            missing = 1;
        }
        if (missing) {
            diag_flush(&F->diag);
            rc = 1;
            goto done;
        }
        states = mem_xalloc((size_t)csv.nrows * (size_t)n2 * sizeof *states);
        targets = mem_xalloc((size_t)csv.nrows * (size_t)n * sizeof *targets);
        for (long r = 0; r < csv.nrows; r++)
            for (int j = 0; j < 3 * n; j++) {
                double x = csv.data[(size_t)r * (size_t)csv.ncols + (size_t)col[j]];
                if (j < n2)
                    states[(size_t)r * (size_t)n2 + (size_t)j] = x;
                else
                    targets[(size_t)r * (size_t)n + (size_t)(j - n2)] = x;
            }
        tj.nfixed = (int)csv.nrows;
        tj.states = states;
        tj.targets = targets;
    } else {
        /* data from System { ... }: the reference system's accelerations */
        const Item *dsys = find_system(F, data_s->target.name);
        DS = sym_new(F->arena);
        Mech dm;
        if (mech_build(&dm, DS, &F->diag, dsys, MECH_NETS) != 0) {
            rc = dm.io_errors ? 4 : 1;
            goto done;
        }
        int same = dm.n == n;
        for (int i = 0; i < n && same; i++)
            same = strcmp(dm.names[i], m.names[i]) == 0;
        if (!same) {
            diag_error(&F->diag, data_s->target.loc, "the data system '%s' and the model '%s' must have the same "
                       "coordinates, in the same order", dsys->name.name, sys->name.name);
            diag_flush(&F->diag);
            rc = 1;
            goto done;
        }
        source = lower_rhs(&dm);
        tj.source = source;
        tj.source_params = job_params(DS, data_s->sub, source, dsys->name.name, opt);
        const Setting *init = find_setting(data_s->sub, "init"), *samples = find_setting(data_s->sub, "samples"),
                      *seed = find_setting(data_s->sub, "seed"), *time = find_setting(data_s->sub, "time"),
                      *every = find_setting(data_s->sub, "every"), *method = find_setting(data_s->sub, "method"),
                      *tol = find_setting(data_s->sub, "tol");
        init_draws(init, &m, draws);
        tj.draw = draws;
        if (time) {
            /* states along trajectories: `samples` of them (default 1) from
             * initial states drawn from `init`, every `every` */
            double t0 = value(time->e1), t1 = value(time->e2);
            double dt = every ? value(every->e1) : (t1 - t0) / 100;
            double ntraj = samples ? value(samples->e1) : 1, rows = (t1 - t0) / dt + 1;
            if (ntraj * rows > 1e8) {
                diag_error(&F->diag, time->loc, "%.3g trajectories of %.3g rows is more than a run can hold "
                           "(at most 1e8 states): raise 'every' or lower 'samples'", ntraj, rows);
                diag_flush(&F->diag);
                rc = 1;
                goto done;
            }
            int nt = (int)ntraj;
            double *y0 = mem_xalloc((size_t)nt * (size_t)n2 * sizeof *y0), *yend = mem_xalloc((size_t)nt * (size_t)n2 * sizeof *yend);
            gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
            gsl_rng_set(rng, seed ? (unsigned long)value(seed->e1) : tj.seed);
            for (int s = 0; s < nt; s++)
                train_draw_state(draws, n2, rng, y0 + (size_t)s * n2);
            gsl_rng_free(rng);
            Rows got = {NULL, NULL, 0, 0, (size_t)n2};
            SimJob sj = {
                .system = dsys->name.name,
                .rhs = source,
                .n = n,
                .columns = columns,
                .samples = nt,
                .y0 = y0,
                .params = tj.source_params,
                .t0 = t0,
                .t1 = t1,
                .every = dt,
                .method = method ? method->e1->id.name : "rk8pd",
                .tol = tol ? value(tol->e1) : 1e-8,
                .started = opt->started,
                .on_row = collect_rows,
                .on_row_ctx = &got,
            };
            SimResult sres;
            sres.y = yend;
            int src = sim_run(&sj, &sres);
            mem_free(y0);
            mem_free(yend);
            if (src != 0) {
                fprintf(stderr, "lag: %s: train %s: generating the data: %s\n", where(F, job), sys->name.name,
                        sres.message);
                mem_free(got.y);
                mem_free(got.t);
                rc = src;
                goto done;
            }
            /* the accelerations at every state kept, at its own time
             * (states where M is singular are left out) */
            states = got.y;
            targets = mem_xalloc((got.n + 1) * (size_t)n * sizeof *targets);
            const IrProgram *sp = source;
            Vm *vm = vm_alloc(&sp, 1, 1);
            size_t kept = 0;
            for (size_t r = 0; r < got.n; r++) {
                double *a = targets + kept * (size_t)n, *y = states + r * (size_t)n2;
                if (vm_run(vm, source, 1, y, n2, got.t[r], tj.source_params, a, n) != VM_OK)
                    continue;
                int fin = 1;
                for (int i = 0; i < n; i++)
                    fin &= isfinite(a[i]) != 0;
                if (!fin)
                    continue;
                memmove(states + kept * (size_t)n2, y, (size_t)n2 * sizeof *y);
                kept++;
            }
            vm_free(vm);
            mem_free(got.t);
            tj.nfixed = (int)kept;
            tj.states = states;
            tj.targets = targets;
        } else if (samples) {
            /* a fixed set drawn once */
            double ns = value(samples->e1);
            if (ns > 1e8) {
                diag_error(&F->diag, samples->loc, "%.3g samples is more than a run can hold (at most 1e8)", ns);
                diag_flush(&F->diag);
                rc = 1;
                goto done;
            }
            tj.nfixed = (int)ns;
            states = mem_xalloc((size_t)tj.nfixed * (size_t)n2 * sizeof *states);
            targets = mem_xalloc((size_t)tj.nfixed * (size_t)n * sizeof *targets);
            gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
            gsl_rng_set(rng, seed ? (unsigned long)value(seed->e1) : tj.seed);
            char err[512];
            int drc = train_draw(&tj, rng, tj.nfixed, states, targets, err, sizeof err);
            gsl_rng_free(rng);
            if (drc != 0) {
                fprintf(stderr, "lag: %s: train %s: %s\n", where(F, job), sys->name.name, err);
                rc = 3;
                goto done;
            }
            tj.states = states;
            tj.targets = targets;
        }
    }
    if (opt->max_steps > 0 && tj.steps > opt->max_steps)
        tj.steps = opt->max_steps;
    tj.validate = num(job, "validate", 0.1);
    tj.nvalidate_fresh = tj.nfixed == 0 && tj.validate > 0 ? 8192 : 0;
    const Setting *save_s = setting(job, "save"), *ck = setting(job, "checkpoint"), *plot_s = setting(job, "plot");
    if (save_s)
        tj.save = save = io_join(opt->outdir, save_s->e1->str);
    if (ck) {
        tj.checkpoint_every = (int)value(ck->e1);
        const char *base = save_s ? arena_printf(S->arena, "%s.ckpt", save_s->e1->str)
                                  : arena_printf(S->arena, "%s.ckpt", sys->name.name);
        tj.checkpoint = ckpt = io_join(opt->outdir, base);
    }
    if (plot_s)
        tj.plot = plotpath = io_join(opt->outdir, plot_s->e1->str);
    tj.progress = !opt->quiet && (opt->progress || isatty(2));

    TrainResult res;
    rc = train_run(&tj, &res);
    if (opt->json)
        train_json(stdout, &tj, &res);
    if (rc != 0)
        fprintf(stderr, "lag: %s: train %s: %s\n", where(F, job), sys->name.name, res.message);
    else
        for (int k = 0; k < tj.ntensors; k++)
            mech_trained_set(tj.tensors[k].name, tj.tensors[k].rows, tj.tensors[k].cols, tj.tensors[k].data);
done:
    csv_table_free(&csv);
    mem_free(states);
    mem_free(targets);
    mem_free(save);
    mem_free(ckpt);
    mem_free(plotpath);
    ir_free(model);
    ir_free(source);
    if (DS)
        sym_free(DS);
    sym_free(S);
    return rc;
}

int run_program(Front *F, const RunOptions *opt)
{
    if (opt->outdir && io_make_dirs(opt->outdir, 0777) != 0) {
        fprintf(stderr, "lag: error: cannot create the output directory '%s': %s\n", opt->outdir,
                strerror(errno));
        return 4;
    }
    int ran = 0;
    for (const Item *it = F->prog.items; it; it = it->next) {
        if (it->kind != IT_JOB)
            continue;
        int selected = !opt->job;
        for (int i = 0; i < it->ntargets && !selected; i++)
            selected = strcmp(it->targets[i].name, opt->job) == 0;
        if (!selected)
            continue;
        ran++;
        int rc = it->job == JOB_SIMULATE ? run_simulate(F, it, opt)
               : it->job == JOB_TRAIN    ? run_train(F, it, opt)
                                         : not_yet(F, it, "this kind of job");
        if (rc != 0)
            return rc;
    }
    if (opt->job && !ran) {
        fprintf(stderr, "lag: run: no job on '%s' in the file (--job names a system or problem)\n",
                opt->job);
        return 2;
    }
    return 0;
}
