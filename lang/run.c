/*
 * lang/run.c — the `lag run` driver (see run.h): check the command line's
 * parameter overrides against the program (lang/override.h), then hand each job, in file
 * order, to its kind's driver (lang/job_*.c).  What one job leaves for the
 * next (trained weights) lives in the run's RunState, not in the process.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/run.h"

#include <errno.h>
#include <string.h>

#include "lang/job.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/par.h"

/* Whether settings (a job's, or a data block's) or --set give parameter
 * name of sys a value. */
static int given(const RunState *R, const Setting *settings, const Item *sys, const char *name)
{
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                if (strcmp(a->name.name, name) == 0)
                    return 1;
    for (int k = 0; k < R->nsets; k++)
        if (R->sets[k].sys == sys && strcmp(R->sets[k].param, name) == 0)
            return 1;
    return 0;
}

/* The symbolic parameters (param m, k: no value) of sys that neither the
 * settings nor --set give a value: one located error naming them all.
 * Returns the number missing. */
static int missing_values(Front *F, const RunState *R, const Item *job, const Setting *settings, const Item *sys,
                          Loc where, const char *block)
{
    char names[512] = "", example[256] = "";
    size_t ln = 0, le = 0;
    int missing = 0;
    for (const Stmt *s = sys ? sys->stmts : NULL; s; s = s->next) {
        if (s->kind != ST_PARAM || s->value || given(R, settings, sys, s->names[0].name))
            continue;
        if (ln < sizeof names - 64)
            ln += (size_t)snprintf(names + ln, sizeof names - ln, "%s%s", missing ? ", " : "", s->names[0].name);
        if (le < sizeof example - 64)
            le += (size_t)snprintf(example + le, sizeof example - le, "%s%s = ...", missing ? ", " : "",
                                   s->names[0].name);
        missing++;
    }
    if (missing)
        diag_error(&F->diag, where, "%s %s: '%s' has %s without %s (%s): give %s in %s, 'param %s', or on "
                   "the command line, --set %s.%s=...", ast_job_name(job->job), job->targets[0].name,
                   sys->name.name, missing == 1 ? "a parameter" : "parameters", missing == 1 ? "a value" : "values",
                   names, missing == 1 ? "it" : "them", block, example, sys->name.name,
                   strchr(names, ',') ? arena_strndup(F->arena, names, (size_t)(strchr(names, ',') - names)) : names);
    return missing;
}

/* Every symbolic parameter of every system the selected jobs run has a
 * value: found before any job runs.  0, or 1 after the errors. */
static int check_values(Front *F, const RunState *R, const RunOptions *opt)
{
    int missing = 0;
    for (const Item *it = F->prog.items; it; it = it->next) {
        if (it->kind != IT_JOB)
            continue;
        int selected = !opt->job;
        for (int i = 0; i < it->ntargets && !selected; i++)
            selected = strcmp(it->targets[i].name, opt->job) == 0;
        if (!selected)
            continue;
        for (int i = 0; i < it->ntargets; i++)
            missing += missing_values(F, R, it, it->settings, job_find_system(F, it->targets[i].name),
                                      it->targets[i].loc, "the job");
        const Setting *data = settings_get(it->settings, "data");
        if (data && data->form == SET_BLOCK)
            missing += missing_values(F, R, it, data->sub, job_find_system(F, data->target.name), data->target.loc,
                                      "the data block");
    }
    diag_flush(&F->diag);
    return missing ? 1 : 0;
}

int run_program(Front *F, const RunOptions *opt)
{
    RunState R = {0};
    R.sets = arena_alloc(F->arena, (size_t)(opt->nsets + 1) * sizeof *R.sets);
    R.nsets = opt->nsets;
    int rc = override_resolve(F, "run", opt->sets, opt->nsets, R.sets);
    if (rc != 0)
        return rc;
    if (check_values(F, &R, opt) != 0)
        return 1;
    if (opt->outdir && par_root() && io_make_dirs(opt->outdir, 0777) != 0) {
        fprintf(stderr, "lag: error: cannot create the output directory '%s': %s\n", opt->outdir,
                strerror(errno));
        return 4;
    }
    int ran = 0;
    for (const Item *it = F->prog.items; it && rc == 0; it = it->next) {
        if (it->kind != IT_JOB)
            continue;
        int selected = !opt->job;
        for (int i = 0; i < it->ntargets && !selected; i++)
            selected = strcmp(it->targets[i].name, opt->job) == 0;
        if (!selected)
            continue;
        ran++;
        Job J = {F, opt, &R, it, job_find_system(F, it->targets[0].name), job_where(F, it)};
        rc = it->job == JOB_SIMULATE ? job_simulate(&J)
           : it->job == JOB_TRAIN    ? job_train(&J)
           : it->job == JOB_SOLVE    ? job_solve(&J)
           : it->job == JOB_ACTION   ? job_action(&J)
           : it->job == JOB_COMPARE  ? job_compare(&J)
           : it->job == JOB_INFER    ? job_infer(&J)
                                     : job_not_yet(&J, "this kind of job");
        /* under MPI every rank goes on as rank 0 does (only it writes, so
         * only it meets an output it cannot write), and only once rank
         * 0's files are in place: a later job may read them */
        par_bcast(&rc, sizeof rc);
    }
    mech_trained_free(R.trained);
    mem_free(R.val_sys);
    mem_free(R.val_rel_rms);
    if (rc == 0 && opt->job && !ran) {
        fprintf(stderr, "lag: run: no job on '%s' in the file (--job names a system or problem)\n",
                opt->job);
        return 2;
    }
    return rc;
}
