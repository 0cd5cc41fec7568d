/*
 * lang/run.c — the `lag run` driver (see run.h): check the command line's
 * parameter overrides against the program, then hand each job, in file
 * order, to its kind's driver (lang/job_*.c).  What one job leaves for the
 * next (trained weights) lives in the run's RunState, not in the process.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lang/job.h"
#include "runtime/io.h"
#include "runtime/mem.h"

/* The names of the items of the program that can be a --set target. */
static const char **target_names(Front *F, int *n)
{
    int cap = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            cap += it->kind == IT_SYSTEM || it->kind == IT_PROBLEM;
    const char **names = arena_alloc(F->arena, (size_t)(cap + 1) * sizeof *names);
    *n = 0;
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if (it->kind == IT_SYSTEM || it->kind == IT_PROBLEM)
                names[(*n)++] = it->name.name;
    return names;
}

static const char *maybe(Front *F, const char *sugg)
{
    return sugg ? arena_printf(F->arena, " (did you mean '%s'?)", sugg) : "";
}

/* --set SYS.param=value, each checked: SYS a system or problem of the
 * program, param one of its parameters, value a finite number.  Returns 0,
 * or 2 (usage) after a message naming the bad part. */
static int parse_sets(Front *F, const RunOptions *opt, RunState *R)
{
    R->sets = arena_alloc(F->arena, (size_t)(opt->nsets + 1) * sizeof *R->sets);
    for (int k = 0; k < opt->nsets; k++) {
        const char *arg = opt->sets[k];
        const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
        if (!eq || !dot || dot > eq || dot == arg || dot + 1 == eq) {
            fprintf(stderr, "lag: run: --set '%s': expected SYSTEM.param=value\n", arg);
            return 2;
        }
        const char *sysname = arena_printf(F->arena, "%.*s", (int)(dot - arg), arg);
        const char *param = arena_printf(F->arena, "%.*s", (int)(eq - dot - 1), dot + 1);
        const Item *sys = job_find_system(F, sysname);
        if (!sys) {
            int n;
            const char **names = target_names(F, &n);
            fprintf(stderr, "lag: run: --set '%s': no system or problem '%s' in the program%s\n", arg, sysname,
                    maybe(F, diag_suggest(sysname, names, n)));
            return 2;
        }
        int np = 0;
        for (const Stmt *s = sys->stmts; s; s = s->next)
            np += s->kind == ST_PARAM;
        const char **pnames = arena_alloc(F->arena, (size_t)(np + 1) * sizeof *pnames);
        int found = 0;
        np = 0;
        for (const Stmt *s = sys->stmts; s; s = s->next)
            if (s->kind == ST_PARAM) {
                pnames[np++] = s->names[0].name;
                found |= strcmp(s->names[0].name, param) == 0;
            }
        if (!found) {
            fprintf(stderr, "lag: run: --set '%s': '%s' is not a parameter of '%s'%s\n", arg, param, sysname,
                    np ? maybe(F, diag_suggest(param, pnames, np)) : " (it has no parameters)");
            return 2;
        }
        char *end;
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || errno == ERANGE || !isfinite(v)) {
            fprintf(stderr, "lag: run: --set '%s': '%s' is not a finite number\n", arg, eq + 1);
            return 2;
        }
        R->sets[R->nsets++] = (ParamSet){sys, param, v};
    }
    return 0;
}

int run_program(Front *F, const RunOptions *opt)
{
    RunState R = {0};
    int rc = parse_sets(F, opt, &R);
    if (rc != 0)
        return rc;
    if (opt->outdir && io_make_dirs(opt->outdir, 0777) != 0) {
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
                                     : job_not_yet(&J, "this kind of job");
    }
    mech_trained_free(R.trained);
    if (rc == 0 && opt->job && !ran) {
        fprintf(stderr, "lag: run: no job on '%s' in the file (--job names a system or problem)\n",
                opt->job);
        return 2;
    }
    return rc;
}
