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

int run_program(Front *F, const RunOptions *opt)
{
    RunState R = {0};
    R.sets = arena_alloc(F->arena, (size_t)(opt->nsets + 1) * sizeof *R.sets);
    R.nsets = opt->nsets;
    int rc = override_resolve(F, "run", opt->sets, opt->nsets, R.sets);
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
           : it->job == JOB_SOLVE    ? job_solve(&J)
           : it->job == JOB_ACTION   ? job_action(&J)
           : it->job == JOB_COMPARE  ? job_compare(&J)
           : it->job == JOB_INFER    ? job_infer(&J)
                                     : job_not_yet(&J, "this kind of job");
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
