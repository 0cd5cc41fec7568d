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

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lang/lower.h"
#include "lang/mech.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/simulate.h"
#include "runtime/variational.h"

/* The value of a constant expression (checked: it has one). */
static double value(const Expr *e)
{
    return mech_const_value(e);
}

static const Setting *setting(const Item *job, const char *name)
{
    for (const Setting *s = job->settings; s; s = s->next)
        if (s->form != SET_CONT && strcmp(s->head.name, name) == 0)
            return s;
    return NULL;
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
    IrProgram *rhs = lower_rhs(&m);
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
    double *params = arena_alloc(S->arena, (size_t)(m.np + 1) * sizeof *params);
    for (int j = 0; j < m.np; j++)
        params[j] = rhs->param_values[j];
    for (const Setting *s = job->settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                for (int j = 0; j < m.np; j++)
                    if (strcmp(a->name.name, rhs->param_names[j]) == 0)
                        params[j] = value(a->value);
    for (int k = 0; k < opt->nsets; k++) {
        /* --set SYS.param=value */
        const char *dot = strchr(opt->sets[k], '.'), *eq = strchr(opt->sets[k], '=');
        if (!dot || !eq || dot > eq || strncmp(opt->sets[k], sys->name.name, (size_t)(dot - opt->sets[k])) != 0 ||
            strlen(sys->name.name) != (size_t)(dot - opt->sets[k]))
            continue;
        for (int j = 0; j < m.np; j++)
            if (strlen(rhs->param_names[j]) == (size_t)(eq - dot - 1) &&
                strncmp(dot + 1, rhs->param_names[j], (size_t)(eq - dot - 1)) == 0)
                params[j] = strtod(eq + 1, NULL);
    }
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
