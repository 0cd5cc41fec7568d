/*
 * lang/job_compare.c — the compare driver: each system's equations
 * (lang/mech, with weights trained earlier in the run), its programs
 * (accelerations, energy, L, and what the stepper needs), the starts and
 * the grid's axes, handed to the runtime (runtime/compare.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "lang/lower.h"
#include "runtime/compare.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/rkbatch.h"
#include "runtime/simulate.h"

int job_compare(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item;
    const RunOptions *opt = J->opt;
    const Setting *set = job->settings;
    const int M = job->ntargets;
    const char *method = settings_word(set, JOB_COMPARE, "method");
    int implicit = 0;
    sim_method_known(method, &implicit);
    int variational = strcmp(method, "variational") == 0;
    double nsamples = settings_num(set, JOB_COMPARE, "samples");
    const Setting *time = settings_get(set, "time"), *every_s = settings_get(set, "every");
    double t0 = time->v1, t1 = time->v2, span = t1 - t0;
    double every = every_s ? every_s->v1 : span / 1000;
    double rows = every_s ? span / every + 1 : 1001;
    if (nsamples > 1e6 || rows * nsamples * M > 1e8) {
        diag_error(&F->diag, job->loc,
                   "%d models x %.3g starts x %.3g output rows is more than a comparison can hold (at most "
                   "1e8 states): raise 'every' or lower 'samples'",
                   M, nsamples, rows);
        diag_flush(&F->diag);
        return 1;
    }
    int samples = (int)nsamples;

    Sym *S = sym_new(F->arena);
    Mech *mechs = arena_alloc(S->arena, (size_t)M * sizeof *mechs);
    CmpModel *models = arena_alloc(S->arena, (size_t)M * sizeof *models);
    IrProgram **progs = arena_alloc(S->arena, (size_t)(6 * M) * sizeof *progs);
    memset(progs, 0, (size_t)(6 * M) * sizeof *progs);
    /* `record when EXPR crosses 0`: each model's conditions of its own
     * state, in the order written */
    int nev = 0;
    for (const Setting *s = set; s; s = s->next)
        nev += s->form == SET_WHEN;
    int *ev_dir = arena_alloc(S->arena, (size_t)(nev + 1) * sizeof *ev_dir);
    const char **ev_text = arena_alloc(S->arena, (size_t)(nev + 1) * sizeof *ev_text);
    SymId *ev_roots = arena_alloc(S->arena, (size_t)(nev + 1) * sizeof *ev_roots);
    const char **ev_names = arena_alloc(S->arena, (size_t)(nev + 1) * sizeof *ev_names);
    {
        int j = 0;
        for (const Setting *s = set; s; s = s->next)
            if (s->form == SET_WHEN) {
                ev_dir[j] = !s->dir.name ? RK_EITHER : strcmp(s->dir.name, "rising") == 0 ? RK_RISING : RK_FALLING;
                ev_text[j] = job_source_text(F, S->arena, s->e1->loc);
                ev_names[j] = arena_printf(S->arena, "record%d", j + 1);
                j++;
            }
    }
    IrProgram ***symprogs = arena_alloc(S->arena, (size_t)M * sizeof *symprogs);
    memset(symprogs, 0, (size_t)M * sizeof *symprogs);
    int rc = 0, built = 0;
    for (int k = 0; k < M && rc == 0; k++) {
        const Item *sys = job_find_system(F, job->targets[k].name);
        Mech *m = &mechs[k];
        if (mech_build_trained(m, S, &F->diag, sys, MECH_NETS, J->run->trained) != 0) {
            diag_flush(&F->diag);
            rc = m->io_errors ? 4 : 1;
            break;
        }
        built = k + 1;
        if (variational && m->given_accel) {
            diag_error(&F->diag, job->targets[k].loc,
                       "'%s' is given by accelerations: method variational needs a Lagrangian", sys->name.name);
            diag_flush(&F->diag);
            rc = 1;
            break;
        }
        IrProgram **p = progs + 6 * k;
        int j = 0;
        for (const Setting *s = set; s && rc == 0; s = s->next)
            if (s->form == SET_WHEN && !(ev_roots[j++] = mech_expr(m, &F->diag, s->e1))) {
                diag_flush(&F->diag);
                rc = 1;
            }
        if (rc)
            break;
        if (nev)
            p[5] = lower_exprs(m, arena_printf(S->arena, "%s.events", sys->name.name), ev_roots, ev_names, nev);
        p[0] = m->learned ? lower_rhs_tape(m) : lower_rhs(m);
        if (!m->given_accel) {
            const char *ename = "E", *lname = "L";
            p[1] = lower_exprs(m, arena_printf(S->arena, "%s.energy", sys->name.name), &m->E, &ename, 1);
            p[2] = lower_exprs(m, arena_printf(S->arena, "%s.L", sys->name.name), &m->L, &lname, 1);
        }
        if (variational)
            p[3] = job_del_program(m);
        int uses_accel = 0;
        if (implicit)
            p[4] = job_jacobian(m, sys->name.name, &uses_accel);
        if (opt->native)
            for (int i = 0; i < 6; i++) {
                char err[512];
                if (p[i] && native_attach(p[i], err, sizeof err) != 0) {
                    fprintf(stderr, "lag: warning: --native: %s; interpreting instead\n", err);
                    break;
                }
            }
        /* the reference's symmetries, applied to this model's L */
        const Mech *r0 = &mechs[0];
        IrProgram **sp = NULL;
        if (r0->nsyms && !m->given_accel) {
            sp = arena_alloc(S->arena, (size_t)(2 * r0->nsyms) * sizeof *sp);
            for (int y = 0; y < r0->nsyms; y++) {
                SymId Q, dL = mech_sym_change(m, r0, &r0->syms[y], m->L, m->p, &Q);
                const char *dn = "dL", *qn = "Q";
                sp[y] = lower_exprs(m, arena_printf(S->arena, "%s.dL_%s", sys->name.name, r0->syms[y].name), &dL, &dn, 1);
                sp[r0->nsyms + y] = r0->syms[y].swap ? NULL
                                    : lower_exprs(m, arena_printf(S->arena, "%s.noether_%s", sys->name.name,
                                                                  r0->syms[y].name), &Q, &qn, 1);
            }
            symprogs[k] = sp;
        }
        models[k] = (CmpModel){
            .sym_dl = sp ? (const IrProgram *const *)sp : NULL,
            .sym_q = sp ? (const IrProgram *const *)(sp + r0->nsyms) : NULL,
            .name = sys->name.name,
            .rhs = p[0],
            .jac = p[4],
            .jac_uses_accel = uses_accel,
            .del = p[3],
            .energy = p[1],
            .lagr = p[2],
            /* a `param` setting applies to every system with that parameter */
            .params = job_params(J, S, set, p[0], sys, m),
            .energy_conserved = m->energy_conserved,
            .validation = NAN,
            .events = p[5],
        };
        for (int v = 0; v < J->run->nval; v++)
            if (J->run->val_sys[v] == sys)
                models[k].validation = J->run->val_rel_rms[v];
    }
    if (rc != 0)
        goto done;

    /* the starts, from the reference's coordinate names (every model has the same) */
    const Mech *ref = &mechs[0];
    const int n = ref->n;
    TrainDraw *draws = arena_alloc(S->arena, (size_t)(2 * n) * sizeof *draws);
    job_init_draws(settings_get(set, "init"), ref, draws);
    double *y0 = arena_alloc(S->arena, (size_t)samples * (size_t)(2 * n) * sizeof *y0);
    job_draw_states(draws, 2 * n, (unsigned long)settings_num(set, JOB_COMPARE, "seed"), samples, y0);
    const char **columns = job_state_columns(ref);
    CmpJob cj = {
        .nmodels = M,
        .models = models,
        .n = n,
        .columns = columns,
        .samples = samples,
        .y0 = y0,
        .t0 = t0,
        .t1 = t1,
        .every = every,
        .method = method,
        .tol = settings_num(set, JOB_COMPARE, "tol"),
        .energy_scale = settings_get(set, "energy_scale") ? settings_get(set, "energy_scale")->v1 : NAN,
        .diverge = settings_num(set, JOB_COMPARE, "diverge"),
        .progress = !opt->quiet && (opt->progress || isatty(2)),
        .nevents = nev,
        .event_dir = ev_dir,
        .event_text = ev_text,
    };
    /* the grid's axes: state components; the others come from the starts,
     * averaged over them when they are drawn */
    const Setting *grid = settings_get(set, "grid");
    int *on_grid = arena_alloc(S->arena, (size_t)(2 * n) * sizeof *on_grid);
    memset(on_grid, 0, (size_t)(2 * n) * sizeof *on_grid);
    double cells = 1;
    for (const Assign *a = grid ? grid->assigns : NULL; a && cj.naxes < 2; a = a->next) {
        int comp = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(ref->names[i], a->name.name) == 0)
                comp = a->name.primes ? n + i : i;
        cj.axes[cj.naxes++] = (CmpAxis){comp, a->v, a->v_hi, (int)a->v_count};
        on_grid[comp] = 1;
        cells *= a->v_count;
    }
    for (int i = 0; i < 2 * n; i++)
        if (!on_grid[i] && draws[i].kind != DRAW_CONST)
            cj.random_rest = 1;
    if (cj.naxes && cells * (cj.random_rest ? samples : 1) > 2e7) {
        diag_error(&F->diag, grid->loc,
                   "a grid of %.3g cells x %d starts is more than a comparison can hold (at most 2e7 states)",
                   cells, cj.random_rest ? samples : 1);
        diag_flush(&F->diag);
        rc = 1;
        goto done;
    }
    char *outpath = job_output(J, settings_get(set, "output"));
    char *plotpath = job_output(J, settings_get(set, "plot"));
    cj.output = outpath;
    cj.plot = plotpath;
    const char **sym_names = arena_alloc(S->arena, (size_t)(ref->nsyms + 1) * sizeof *sym_names);
    for (int y = 0; y < ref->nsyms; y++)
        sym_names[y] = ref->syms[y].name;
    cj.nsyms = ref->nsyms;
    cj.sym_names = sym_names;
    CmpResult res;
    res.models = arena_alloc(S->arena, (size_t)M * sizeof *res.models);
    for (int k = 0; k < M; k++) {
        res.models[k].sym_residual = arena_alloc(S->arena, (size_t)(2 * ref->nsyms + 1) * sizeof(double));
        res.models[k].sym_charge_drift = res.models[k].sym_residual + ref->nsyms;
    }
    rc = cmp_run(&cj, &res);
    for (int k = 1; k < M; k++) {
        if (res.models[k].status != 0)
            fprintf(stderr, "lag: %s: compare: %s stopped: %s (its errors count from there as diverged)\n",
                    J->where, models[k].name, res.models[k].message);
        if (res.models[k].grid_failures)
            fprintf(stderr, "lag: %s: compare: %ld grid states have no finite acceleration of %s (left out of "
                    "its maps and figures)\n", J->where, res.models[k].grid_failures, models[k].name);
    }
    if (opt->json) {
        if (cmp_json(stdout, &cj, &res) != 0 && rc == 0)
            rc = 4;
    } else if (rc == 0) {
        cmp_table(stdout, &cj, &res);
    }
    if (res.status != 0)
        fprintf(stderr, "lag: %s: compare %s: %s\n", J->where, models[0].name, res.message);
    else {
        char wrote[512] = "";
        if (outpath || plotpath)
            snprintf(wrote, sizeof wrote, "wrote %s%s%s%s%s: ", outpath ? outpath : "", outpath ? "_*.csv/json" : "",
                     outpath && plotpath ? " and " : "", plotpath ? plotpath : "", "");
        job_summary(J, "%s%d model%s against %s, %d start%s%s%s", wrote, M - 1, M > 2 ? "s" : "", models[0].name, samples,
                    samples > 1 ? "s" : "", res.grid_cells ? ", grid of " : "",
                    res.grid_cells ? arena_printf(S->arena, "%ld cells", res.grid_cells) : "");
    }
    mem_free(outpath);
    mem_free(plotpath);
    for (int k = 0; k < M; k++)
        mem_free(res.models[k].events);
done:
    for (int i = 0; i < 6 * built; i++)
        ir_free(progs[i]);
    for (int k = 0; k < built; k++)
        for (int y = 0; symprogs[k] && y < 2 * mechs[0].nsyms; y++)
            ir_free(symprogs[k][y]);
    sym_free(S);
    return rc;
}
