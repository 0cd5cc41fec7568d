/*
 * lang/job_train.c — the train driver: derive the learned system's
 * equations, lower its right-hand side as a tape, gather the data (a CSV
 * file, states drawn from a reference system, or states along its
 * trajectories) and hand a TrainJob to the runtime (runtime/train.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "lang/lower.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/simulate.h"
#include "runtime/vm.h"

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

/* A setting list in a canonical form: names and folded values, without
 * the settings that do not change what is computed (file names, the
 * checkpoint interval).  Comments and layout do not enter. */
static void describe_settings(FILE *out, const Setting *list)
{
    static const char *const skip[] = {"save", "checkpoint", "plot", "output"};
    for (const Setting *s = list; s; s = s->next) {
        int skipped = s->form == SET_CONT;
        for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++)
            skipped |= strcmp(s->head.name, skip[k]) == 0;
        if (skipped)
            continue;
        fprintf(out, "%s[%d]", s->head.name, (int)s->form);
        if (s->form == SET_EXPR && s->e1->kind == EX_STR)
            fprintf(out, " \"%s\"", s->e1->str);
        else if (s->form == SET_EXPR && s->e1->kind == EX_NAME)
            fprintf(out, " %s", s->e1->id.name);
        else if (s->form == SET_WORD)
            fprintf(out, " %s %s", s->word.name, s->e1->kind == EX_NAME ? s->e1->id.name : "");
        if (s->form == SET_EXPR || s->form == SET_RANGE || s->form == SET_AT || s->form == SET_WORD)
            fprintf(out, " %.17g %.17g", s->v1, s->v2);
        for (const Assign *a = s->assigns; a; a = a->next)
            fprintf(out, " %s%.*s=%d:%.17g,%.17g,%.17g", a->name.name, a->name.primes, "''", a->draw, a->v,
                    a->p1, a->p2);
        if (s->form == SET_BLOCK) {
            fprintf(out, " %s %s {", s->word.name, s->target.name);
            describe_settings(out, s->sub);
            fputs("}", out);
        }
        fputs(";", out);
    }
}

/* What the checkpoint's signature hashes beyond the numbers of the
 * TrainJob (runtime/train.c): the job's settings as checked, and the
 * lowered programs of the model and of the data's system, which carry the
 * model's structure and the parameters' names. */
static char *describe(const Setting *settings, const IrProgram *model, const IrProgram *source,
                      const IrProgram *weight)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        mem_out_of_memory(0);
    describe_settings(out, settings);
    fputs("\nmodel\n", out);
    ir_print(out, model);
    if (source) {
        fputs("\nsource\n", out);
        ir_print(out, source);
    }
    if (weight) {
        fputs("\nweight\n", out);
        ir_print(out, weight);
    }
    if (fclose(out) != 0 || !text)
        mem_out_of_memory(0);
    return text;
}

/* `output`: the learning curve as CSV, one row per point of the result's
 * curve (about 100), the validation columns only with a validation set. */
static int write_curve(const Job *J, const char *path, const TrainResult *res)
{
    static const char *const columns[] = {"step", "seconds", "train_loss", "val_loss", "val_rel_rms"};
    int ncols = isnan(res->val_loss) ? 3 : 5;
    char err[1024];
    CsvWriter *w = csv_open(path, columns, ncols, err, sizeof err);
    int ok = w != NULL;
    for (int i = 0; ok && i < res->ncurve; i++)
        ok = csv_row(w, res->curve[i], err, sizeof err) == 0;
    if (w && csv_close(w, ok, err, sizeof err) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "lag: %s: train %s: %s\n", J->where, J->target->name.name, err);
        return 4;
    }
    return 0;
}

TrainJob job_train_job(Job *J, Sym *S, const Mech *m, const IrProgram *model, const char *const *columns)
{
    const Setting *set = J->item->settings, *loss_s = settings_get(set, "loss");
    TrainJob tj = {
        .job = J->target->name.name,
        .model = model,
        .params = job_params(J, S, set, model, J->target, m),
        .n = m->n,
        .columns = columns,
        .l1 = !(loss_s && loss_s->form == SET_WORD && strcmp(loss_s->e1->id.name, "mse") == 0),
        .steps = (int)settings_num(set, JOB_TRAIN, "steps"),
        .batch = (int)settings_num(set, JOB_TRAIN, "batch"),
        .lr = settings_num(set, JOB_TRAIN, "lr"),
        .warmup = settings_num(set, JOB_TRAIN, "warmup"),
        .clip = settings_num(set, JOB_TRAIN, "clip"),
        .weight_decay = settings_num(set, JOB_TRAIN, "weight_decay"),
        .cosine = strcmp(settings_word(set, JOB_TRAIN, "schedule"), "cosine") == 0,
        .single = strcmp(settings_word(set, JOB_TRAIN, "precision"), "single") == 0,
        .seed = (unsigned long)settings_num(set, JOB_TRAIN, "seed"),
    };
    /* every weight of the system's nets, in the order they were made */
    tj.ntensors = S->ntensors;
    tj.tensors = arena_alloc(S->arena, (size_t)(S->ntensors + 1) * sizeof *tj.tensors);
    for (int k = 0; k < S->ntensors; k++)
        tj.tensors[k] = (TrainTensor){S->tensors[k].name, S->tensors[k].rows, S->tensors[k].cols, S->tensors[k].data};
    return tj;
}

int job_data_system(Job *J, const Setting *data_s, const Mech *m, Sym *DS, Mech *dm)
{
    Front *F = J->F;
    const Item *dsys = job_find_system(F, data_s->target.name);
    if (mech_build_trained(dm, DS, &F->diag, dsys, MECH_NETS, J->run->trained) != 0) {
        diag_flush(&F->diag);
        return dm->io_errors ? 4 : 1;
    }
    int same = dm->n == m->n;
    for (int i = 0; i < m->n && same; i++)
        same = strcmp(dm->names[i], m->names[i]) == 0;
    if (!same) {
        diag_error(&F->diag, data_s->target.loc, "the data system '%s' and the model '%s' must have the same "
                   "coordinates, in the same order", dsys->name.name, J->target->name.name);
        diag_flush(&F->diag);
        return 1;
    }
    return 0;
}

/* The rest of a train job once its TrainJob has its model and data (the
 * settings' optimiser fields filled): the output paths, the run, the
 * outputs and the summary, the trained weights kept for later jobs.
 * Returns the exit status. */
int job_train_fit(Job *J, Sym *S, TrainJob *tjp, long dropped)
{
    const Item *sys = J->target;
    const RunOptions *opt = J->opt;
    const Setting *set = J->item->settings;
    TrainJob tj = *tjp;
    int rc = 0;
    char *save = NULL, *ckpt = NULL, *plotpath = NULL, *curve = NULL, *desc = NULL;
    const IrProgram *model = tj.model, *source = tj.source, *weight = tj.weight;
    const IrProgram *penalty = tj.penalty;
    if (opt->max_steps > 0 && tj.steps > opt->max_steps)
        tj.steps = opt->max_steps;
    tj.validate = settings_num(set, JOB_TRAIN, "validate");
    tj.nvalidate_fresh = tj.nfixed == 0 && tj.validate > 0 ? 8192 : 0;
    const Setting *save_s = settings_get(set, "save"), *ck = settings_get(set, "checkpoint");
    tj.save = save = job_output(J, save_s);
    if (ck) {
        tj.checkpoint_every = (int)ck->v1;
        const char *base = save_s ? arena_printf(S->arena, "%s.ckpt", save_s->e1->str)
                                  : arena_printf(S->arena, "%s.ckpt", sys->name.name);
        tj.checkpoint = ckpt = io_join(opt->outdir, base);
    }
    tj.plot = plotpath = job_output(J, settings_get(set, "plot"));
    tj.progress = !opt->quiet && (opt->progress || isatty(2));

    curve = job_output(J, settings_get(set, "output"));
    if (curve) {
        char err[1024];
        if (io_check_writable(curve, err, sizeof err) != 0) {
            fprintf(stderr, "lag: %s: train %s: %s\n", J->where, sys->name.name, err);
            rc = 4;
            goto out;
        }
    }

    tj.describe = desc = describe(set, model, source, weight);
    TrainResult res;
    rc = train_run(&tj, &res);
    res.bad_samples += dropped; /* states of the data left out before training */
    if (rc == 0 && curve)
        rc = write_curve(J, curve, &res);
    if (opt->json && train_json(stdout, &tj, &res) != 0 && rc == 0)
        rc = 4;
    if (rc != 0 && res.status != 0)
        fprintf(stderr, "lag: %s: train %s: %s\n", J->where, sys->name.name, res.message);
    if (rc == 0) {
        for (int k = 0; k < tj.ntensors; k++)
            mech_trained_set(&J->run->trained, sys, tj.tensors[k].name, tj.tensors[k].rows, tj.tensors[k].cols,
                             tj.tensors[k].data, tj.single ? 32 : 64);
        RunState *R = J->run;
        int at = 0;
        while (at < R->nval && R->val_sys[at] != sys)
            at++;
        if (at == R->nval) {
            R->val_sys = mem_xrealloc(R->val_sys, (size_t)(R->nval + 1) * sizeof *R->val_sys);
            R->val_rel_rms = mem_xrealloc(R->val_rel_rms, (size_t)(R->nval + 1) * sizeof *R->val_rel_rms);
            R->val_sys[R->nval++] = sys;
        }
        R->val_rel_rms[at] = res.val_rel_rms;
        char val[160] = ", no validation set";
        if (!isnan(res.val_rel_rms))
            snprintf(val, sizeof val, ", validation error %.3g %% (relative RMS)", 100 * res.val_rel_rms);
        if (penalty)
            snprintf(val + strlen(val), sizeof val - strlen(val), ", penalty %.3g", res.penalty);
        job_summary(J, "%d steps%s, loss %.3g%s%s%s%s", res.steps,
                    res.resumed_from ? " (resumed)" : "", res.train_loss, val, save ? ", saved " : "",
                    save ? save : "", curve ? arena_printf(S->arena, ", learning curve %s", curve) : "");
    }
out:
    mem_free(save);
    mem_free(ckpt);
    mem_free(plotpath);
    mem_free(curve);
    free(desc); /* open_memstream's buffer */
    return rc;
}

int job_train(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item, *sys = J->target;
    const RunOptions *opt = J->opt;
    const Setting *set = job->settings;
    const Setting *loss_s = settings_get(set, "loss"), *data_s = settings_get(set, "data");
    const Setting *dmethod = data_s->form == SET_BLOCK ? settings_get(data_s->sub, "method") : NULL;
    int dimplicit = 0;
    if (dmethod && (strcmp(dmethod->e1->id.name, "variational") == 0 ||
                    (sim_method_known(dmethod->e1->id.name, &dimplicit) && dimplicit)))
        return job_not_yet(J, "data along trajectories with a variational or implicit method (use an "
                               "explicit one, e.g. 'method rk8pd', in 'data from')");
    const Setting *batch_s = settings_get(set, "batch");
    if (batch_s && batch_s->v1 > 1e6) {
        diag_error(&F->diag, batch_s->e1->loc, "a batch of %.3g samples is more than a step can hold (at most 1e6)",
                   batch_s->v1);
        diag_flush(&F->diag);
        return 1;
    }
    if (loss_s && loss_s->form == SET_EXPR && strcmp(loss_s->e1->id.name, "action") == 0)
        return job_train_action(J);
    Sym *S = sym_new(F->arena);
    Mech m;
    if (mech_build_trained(&m, S, &F->diag, sys, MECH_NETS, J->run->trained) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return m.io_errors ? 4 : 1;
    }
    const int n = m.n, n2 = 2 * n;
    int rc = 0;
    long dropped = 0; /* data states without accelerations, left out */
    if (m.explicit_time)
        diag_warning(&F->diag, sys->loc, "'%s' depends on t explicitly; training evaluates it at t = 0",
                     sys->name.name);
    /* parameters the data draw per sample: inputs of the model after the
     * state (ns inputs in all) */
    const Assign **drawn = NULL;
    int ndrawn = 0;
    if (data_s->form == SET_BLOCK && (ndrawn = job_drawn_params(J, &m, data_s->sub, J->target, &drawn, S)) < 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    const int ns = n2 + ndrawn;
    IrProgram *model = lower_rhs_tape(&m), *source = NULL, *penalty = NULL, *weight = NULL;
    Sym *DS = NULL;
    CsvTable csv = {0};
    double *states = NULL, *targets = NULL;
    TrainDraw *draws = arena_alloc(S->arena, (size_t)(ns + 1) * sizeof *draws);
    const char **columns = arena_alloc(S->arena, (size_t)(ns + 1) * sizeof *columns);
    memcpy(columns, job_state_columns(&m), (size_t)n2 * sizeof *columns);
    for (int k = 0; k < ndrawn; k++)
        columns[n2 + k] = drawn[k]->name.name;
    TrainJob tj = job_train_job(J, S, &m, model, columns);

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
        const Item *dsys = job_find_system(F, data_s->target.name);
        DS = sym_new(F->arena);
        Mech dm;
        if ((rc = job_data_system(J, data_s, &m, DS, &dm)) != 0)
            goto done;
        /* the drawn parameters are inputs of the data's system too */
        if (ndrawn) {
            int *idx = arena_alloc(DS->arena, (size_t)ndrawn * sizeof *idx);
            for (int k = 0; k < ndrawn; k++) {
                idx[k] = 0;
                while (idx[k] < dm.np && strcmp(DS->vars[dm.par[idx[k]]].name, drawn[k]->name.name) != 0)
                    idx[k]++;
            }
            dm.sampled = idx;
            dm.nsampled = ndrawn;
            if (!job_defaults_follow(J, &dm, dsys, drawn, idx, ndrawn)) {
                diag_flush(&F->diag);
                rc = 1;
                goto done;
            }
        }
        source = lower_rhs(&dm);
        tj.source = source;
        tj.source_params = job_params(J, DS, data_s->sub, source, dsys, &dm);
        const Setting *dset = data_s->sub;
        const Setting *samples = settings_get(dset, "samples"), *seed = settings_get(dset, "seed"),
                      *time = settings_get(dset, "time"), *every = settings_get(dset, "every");
        unsigned long dseed = seed ? (unsigned long)seed->v1 : tj.seed;
        job_init_draws(settings_get(dset, "init"), &m, draws);
        for (int k = 0; k < ndrawn; k++)
            draws[n2 + k] = job_draw_of(drawn[k]);
        tj.draw = draws;
        if (time) {
            /* states along trajectories: `samples` of them (default 1) from
             * initial states drawn from `init`, every `every`; a drawn
             * parameter is drawn per trajectory, after its initial state,
             * and rides along in every state kept (ns values) */
            double t0 = time->v1, t1 = time->v2;
            double dt = every ? every->v1 : (t1 - t0) / 100;
            double ntraj = samples ? samples->v1 : 1, rows = (t1 - t0) / dt + 1;
            if (ntraj * rows > 1e8) {
                diag_error(&F->diag, time->loc, "%.3g trajectories of %.3g rows is more than a run can hold "
                           "(at most 1e8 states): raise 'every' or lower 'samples'", ntraj, rows);
                diag_flush(&F->diag);
                rc = 1;
                goto done;
            }
            int nt = (int)ntraj;
            double *y0 = mem_xalloc((size_t)nt * (size_t)ns * sizeof *y0), *yend = mem_xalloc((size_t)nt * (size_t)ns * sizeof *yend);
            job_draw_states(draws, ns, dseed, nt, y0);
            Rows got = {NULL, NULL, 0, 0, (size_t)ns};
            SimJob sj = {
                .system = dsys->name.name,
                .rhs = source,
                .n = n,
                .columns = columns,
                .samples = nt,
                .nsampled = ndrawn,
                .sampled_names = columns + n2,
                .y0 = y0,
                .params = tj.source_params,
                .t0 = t0,
                .t1 = t1,
                .every = dt,
                .method = settings_word(dset, SETTINGS_DATA, "method"),
                .tol = settings_num(dset, SETTINGS_DATA, "tol"),
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
                fprintf(stderr, "lag: %s: train %s: generating the data: %s\n", J->where, sys->name.name,
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
                double *a = targets + kept * (size_t)n, *y = states + r * (size_t)ns;
                if (vm_run(vm, source, 1, y, ns, got.t[r], tj.source_params, a, n) != VM_OK)
                    continue;
                int fin = 1;
                for (int i = 0; i < n; i++)
                    fin &= isfinite(a[i]) != 0;
                if (!fin)
                    continue;
                memmove(states + kept * (size_t)ns, y, (size_t)ns * sizeof *y);
                kept++;
            }
            vm_free(vm);
            mem_free(got.t);
            dropped = (long)(got.n - kept);
            if (kept < 2) {
                /* never a silent switch to fresh draws (nfixed = 0) */
                fprintf(stderr, "lag: %s: train %s: %zu of the %zu states along the trajectories of '%s' have "
                        "accelerations (the others have a singular or non-finite mass matrix): too few to train "
                        "on; check the data's init ranges and time span\n",
                        J->where, sys->name.name, kept, got.n, dsys->name.name);
                rc = 3;
                goto done;
            }
            if (dropped)
                fprintf(stderr, "lag: warning: %s: train %s: %ld of the %zu states along the trajectories of "
                        "'%s' have no accelerations (singular or non-finite mass matrix) and are left out\n",
                        J->where, sys->name.name, dropped, got.n, dsys->name.name);
            tj.nfixed = (int)kept;
            tj.states = states;
            tj.targets = targets;
        } else if (samples) {
            /* a fixed set drawn once */
            double nsamp = samples->v1;
            if (nsamp > 1e8) {
                diag_error(&F->diag, samples->loc, "%.3g samples is more than a run can hold (at most 1e8)", nsamp);
                diag_flush(&F->diag);
                rc = 1;
                goto done;
            }
            tj.nfixed = (int)nsamp;
            states = mem_xalloc((size_t)tj.nfixed * (size_t)ns * sizeof *states);
            targets = mem_xalloc((size_t)tj.nfixed * (size_t)n * sizeof *targets);
            gsl_rng *rng = train_rng_new();
            gsl_rng_set(rng, dseed);
            char err[512];
            int drc = train_draw(&tj, rng, tj.nfixed, states, ns, targets, err, sizeof err);
            gsl_rng_free(rng);
            if (drc != 0) {
                fprintf(stderr, "lag: %s: train %s: %s\n", J->where, sys->name.name, err);
                rc = 3;
                goto done;
            }
            tj.states = states;
            tj.targets = targets;
        }
    }
    /* penalty SYMMETRY λ: the symmetry's change of the model's L (a
     * symmetry of the model, or of the data's system, whose coordinates
     * are the model's), with L, as a tape over the model's weights */
    const Setting *pen = settings_get(set, "penalty");
    if (pen) {
        const MechSym *y = NULL;
        const Mech *owner = &m;
        Mech om;
        for (int k = 0; k < m.nsyms && !y; k++)
            if (strcmp(m.syms[k].name, pen->word.name) == 0)
                y = &m.syms[k];
        if (!y && data_s->form == SET_BLOCK &&
            mech_build_trained(&om, S, &F->diag, job_find_system(F, data_s->target.name), MECH_NETS,
                               J->run->trained) == 0) {
            for (int k = 0; k < om.nsyms && !y; k++)
                if (strcmp(om.syms[k].name, pen->word.name) == 0)
                    y = &om.syms[k];
            owner = &om;
        }
        if (!y) { /* the checker found it: only a failure to build the data's system gets here */
            diag_flush(&F->diag);
            rc = 1;
            goto done;
        }
        SymId Q, roots[2] = {mech_sym_change(&m, owner, y, m.L, m.p, &Q), m.L};
        const char *names[2] = {"dL", "L"};
        penalty = lower_exprs_tape(&m, arena_printf(S->arena, "%s.penalty_%s", sys->name.name, y->name), roots,
                                   names, 2);
        tj.penalty = penalty;
        tj.penalty_weight = pen->v1;
    }
    /* weight EXPR: each sample's loss weight, from the model's inputs */
    const Setting *wset = settings_get(set, "weight");
    if (wset) {
        SymId w = mech_expr(&m, &F->diag, wset->e1);
        const char *wname = "weight";
        weight = w ? lower_exprs(&m, arena_printf(S->arena, "%s.weight", sys->name.name), &w, &wname, 1) : NULL;
        if (weight && weight->ntensors > 0)
            diag_error(&F->diag, wset->e1->loc, "the loss weight uses a net of '%s' (through a let): it would "
                       "change with the weights being trained", sys->name.name);
        if (!weight || weight->ntensors > 0) {
            diag_flush(&F->diag);
            rc = 1;
            goto done;
        }
        tj.weight = weight;
    }
    rc = job_train_fit(J, S, &tj, dropped);
done:
    csv_table_free(&csv);
    mem_free(states);
    mem_free(targets);
    ir_free(model);
    ir_free(source);
    ir_free(penalty);
    ir_free(weight);
    if (DS)
        sym_free(DS);
    sym_free(S);
    return rc;
}

