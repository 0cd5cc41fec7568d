/*
 * lang/job_simulate.c — the simulate driver: derive the system's equations
 * (lang/mech), lower what the method needs (lang/lower), draw the initial
 * states and hand a SimJob to the runtime (runtime/simulate.h,
 * runtime/variational.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <string.h>

#include "lang/hamilton.h"
#include "lang/lower.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/rkbatch.h"
#include "runtime/simulate.h"
#include "runtime/variational.h"

/* The line the job ends with: what it wrote, its rows, the energy drift
 * (and with `stop when`, where the run stopped, or how many trajectories
 * did). */
static void summarize(const Job *J, const SimJob *sj, const SimResult *res)
{
    long rows = sj->stop ? res->rows : sim_rows_out(sj);
    char drift[160] = "";
    if (res->has_energy && res->drift_unknown)
        snprintf(drift, sizeof drift, ", energy drift unknown (E is not finite at the start)");
    else if (res->has_energy)
        snprintf(drift, sizeof drift, ", energy drift %.2g%s", res->max_rel_drift,
                 fabs(res->e0) < 1e-8 ? " (absolute)" : "");
    if (res->energy_failures || res->record_failures)
        snprintf(drift + strlen(drift), sizeof drift - strlen(drift), ", %ld energy and %ld record rows not finite",
                 res->energy_failures, res->record_failures);
    char traj[48] = "", stop[200] = "";
    if (sj->samples > 1)
        snprintf(traj, sizeof traj, sj->stop ? " of %d trajectories" : " x %d trajectories", sj->samples);
    int nst = sim_stops(sj);
    if (nst && sj->samples > 1)
        snprintf(stop, sizeof stop, ", %ld of %d stopped", res->stopped, sj->samples);
    else if (nst && res->stopped)
        snprintf(stop, sizeof stop, " (stop when %.150s crosses 0)", sj->stop_text[res->stop_k[0]]);
    else if (nst)
        snprintf(stop, sizeof stop, " (no stop)");
    if (sj->stop && nst < sj->stop->nout) /* `record when` */
        snprintf(stop + strlen(stop), sizeof stop - strlen(stop), ", %ld crossings recorded", res->nevents);
    if (sj->events)
        snprintf(stop + strlen(stop), sizeof stop - strlen(stop), ", events in %.100s", sj->events);
    char wrote[64] = "";
    if (!sj->output && !sj->plot)
        snprintf(wrote, sizeof wrote, " (no output file)");
    job_summary(J, "%s%s%s%s%s%ld rows%s%s, %s to t = %g%s%s", sj->output ? "wrote " : "",
                sj->output ? sj->output : "", sj->output && sj->plot ? " and " : sj->plot ? "wrote " : "",
                sj->plot ? sj->plot : "", sj->output || sj->plot ? ": " : "", rows, traj, drift, sj->method,
                res->t, stop, wrote);
}

/* The source text of a range, white space (and comments) in it one space:
 * a `stop when` condition as written, for the JSON. */
const char *job_source_text(Front *F, Arena *a, Loc loc)
{
    const Source *src = &F->diag.src[loc.file];
    size_t from = src->len, to = src->len;
    int line = 1, col = 1;
    for (size_t i = 0; i < src->len; i++) {
        unsigned char b = (unsigned char)src->text[i];
        if ((b & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation byte: columns count characters */
        if (line == loc.first_line && col == loc.first_column)
            from = i;
        if (line == loc.last_line && col == loc.last_column + 1) {
            to = i;
            break;
        }
        if (b == '\n') {
            if (line == loc.last_line) {
                to = i;
                break;
            }
            line++;
            col = 1;
        } else
            col++;
    }
    size_t len = to > from ? to - from : 0, k = 0;
    char *out = arena_alloc(a, len + 1);
    for (size_t i = from; i < from + len; i++) {
        char c = src->text[i];
        if (c == '#')
            while (i + 1 < from + len && src->text[i + 1] != '\n')
                i++;
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (k > 0 && out[k - 1] != ' ')
                out[k++] = ' ';
        } else
            out[k++] = c;
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = 0;
    return out;
}

int job_simulate(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item, *sys = J->target;
    const RunOptions *opt = J->opt;
    const Setting *set = job->settings;
    double nsamples = settings_num(set, JOB_SIMULATE, "samples");
    /* a grid of starts (init q = grid(a, b, n)) is as many trajectories as
     * it has points (the checker saw that 'samples', if given, agrees) */
    const Setting *init_s = settings_get(set, "init");
    int ngrid = 0;
    for (const Assign *a = init_s ? init_s->assigns : NULL; a; a = a->next)
        if (a->draw == ASSIGN_GRID)
            nsamples = ngrid++ ? nsamples * a->v_count : a->v_count;
    /* sizes a run could never finish or hold: refused before anything starts */
    const Setting *time = settings_get(set, "time"), *every_s = settings_get(set, "every");
    double t0 = time->v1, t1 = time->v2, span = t1 - t0;
    double every = every_s ? every_s->v1 : span / 1000;
    double rows = every_s ? span / every + 1 : 1001;
    if (nsamples > 1e7 || rows > 1e9 || rows * nsamples > 1e10) {
        diag_error(&F->diag, job->loc,
                   "%.3g trajectories of %.3g output rows is more than a run can hold (at most "
                   "1e7 trajectories, 1e9 rows, 1e10 in all): raise 'every' or %s",
                   nsamples, rows, ngrid ? "make the grid of starts coarser" : "lower 'samples'");
        diag_flush(&F->diag);
        return 1;
    }
    int samples = (int)nsamples;
    const char *method = settings_word(set, JOB_SIMULATE, "method");
    int implicit = 0;
    sim_method_known(method, &implicit);
    int variational = strcmp(method, "variational") == 0;

    Sym *S = sym_new(F->arena);
    Mech m;
    if (mech_build_trained(&m, S, &F->diag, sys, MECH_NETS, J->run->trained) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return m.io_errors ? 4 : 1;
    }
    int n = m.n, rc = 0;
    /* parameters drawn per trajectory (param W = uniform(1, 3)): inputs of
     * every program after (q, q'), drawn after each trajectory's state */
    const Assign **drawn = NULL;
    int ns = job_drawn_params(J, &m, set, sys, &drawn, S);
    if (ns < 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    for (int k = 0; k < ns; k++)
        for (int j = 0; j < J->run->nsets; j++)
            if (J->run->sets[j].sys == sys && strcmp(J->run->sets[j].param, drawn[k]->name.name) == 0) {
                fprintf(stderr, "lag: %s: simulate %s: --set %s.%s gives a value to a parameter this job draws "
                        "per trajectory ('param %s = %s(...)'); give one or the other\n", J->where, sys->name.name,
                        sys->name.name, drawn[k]->name.name, drawn[k]->name.name,
                        drawn[k]->draw == ASSIGN_UNIFORM ? "uniform" : drawn[k]->draw == ASSIGN_NORMAL ? "normal" : "...");
                sym_free(S);
                return 1;
            }
    /* a learned system's right-hand side as a tape: the same values, and
     * each layer's sigmoid computed once for all derivative orders */
    m.baumgarte = settings_num(set, JOB_SIMULATE, "stabilize");
    IrProgram *rhs = m.learned ? lower_rhs_tape(&m) : lower_rhs(&m);
    IrProgram *energy = NULL, *jac = NULL, *del = NULL, *record = NULL, *stop = NULL, *cons = NULL;
    /* record columns, from every 'record' setting, in order; then each
     * constraint's drift and multiplier */
    int nrec = 0, nuser;
    for (const Setting *s = job->settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "record") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                nrec++;
    nuser = nrec;
    if (m.H) /* given by H: the momenta p_q are columns too */
        nrec += m.n;
    nrec += 2 * m.ncons;
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
        for (int i = 0; m.H && i < m.n; i++) {
            const char *name = arena_printf(S->arena, "p_%s", m.names[i]);
            int dup = 0;
            for (int j = 0; j < nuser; j++)
                dup |= strcmp(names[j], name) == 0;
            if (!dup) { /* unless a record of that name gives it */
                names[k] = name;
                roots[k++] = m.p[i];
            }
        }
        const SymId *lambda = mech_multipliers(&m);
        for (int c = 0; c < 2 * m.ncons; c++) {
            const MechCons *mc = &m.cons[c / 2];
            const char *name = arena_printf(S->arena, c % 2 ? "lambda_%s" : "drift_%s", mc->name);
            int dup = 0;
            for (int j = 0; j < nuser; j++)
                dup |= strcmp(names[j], name) == 0;
            if (!dup) { /* unless a record of that name gives it */
                names[k] = name;
                roots[k++] = c % 2 ? lambda[c / 2] : mc->g ? mc->g : mc->C;
            }
        }
        nrec = k;
        if (rc) {
            diag_flush(&F->diag);
            goto done;
        }
        record = lower_exprs(&m, arena_printf(S->arena, "%s.record", sys->name.name), roots, names, nrec);
    }
    /* the event conditions, from every 'stop when' and 'record when', in
     * the order written: one program */
    int nstop = 0;
    for (const Setting *s = set; s; s = s->next)
        nstop += s->form == SET_WHEN;
    int *stop_dir = arena_alloc(S->arena, (size_t)(nstop + 1) * sizeof *stop_dir);
    const char **stop_text = arena_alloc(S->arena, (size_t)(nstop + 1) * sizeof *stop_text);
    unsigned char *stop_record = arena_alloc(S->arena, (size_t)nstop + 1);
    if (nstop) {
        SymId *roots = arena_alloc(S->arena, (size_t)nstop * sizeof *roots);
        const char **names = arena_alloc(S->arena, (size_t)nstop * sizeof *names);
        int k = 0;
        for (const Setting *s = set; s; s = s->next)
            if (s->form == SET_WHEN) {
                stop_record[k] = strcmp(s->head.name, "record") == 0;
                names[k] = arena_printf(S->arena, "%s%d", s->head.name, k + 1);
                stop_dir[k] = !s->dir.name ? RK_EITHER : strcmp(s->dir.name, "rising") == 0 ? RK_RISING : RK_FALLING;
                stop_text[k] = job_source_text(F, S->arena, s->e1->loc);
                roots[k] = mech_expr(&m, &F->diag, s->e1);
                if (!roots[k++])
                    rc = 1;
            }
        if (rc) {
            diag_flush(&F->diag);
            goto done;
        }
        stop = lower_exprs(&m, arena_printf(S->arena, "%s.stop", sys->name.name), roots, names, nstop);
    }
    if (!m.given_accel) {
        const char *ename = "E";
        energy = lower_exprs(&m, arena_printf(S->arena, "%s.energy", sys->name.name), &m.E, &ename, 1);
    }
    if (variational)
        del = job_del_program(&m);
    int jac_uses_accel = 0;
    if (implicit)
        jac = job_jacobian(&m, sys->name.name, &jac_uses_accel);

    /* precision: as set, else single when a net's weights were trained so */
    const Setting *prec_s = settings_get(set, "precision");
    const int single = prec_s ? strcmp(prec_s->e1->id.name, "single") == 0 : m.single_weights;
    IrProgram *progs[6] = {rhs, energy, jac, del, record, stop};
    for (int i = 0; i < 6 && single; i++)
        if (progs[i] && progs[i]->ntensors > 0)
            ir_set_single(progs[i]);

    if (opt->native) {
        /* compile what the job runs; where that fails, the VM interprets */
        for (int i = 0; i < 6; i++) {
            char err[512];
            if (progs[i] && native_attach(progs[i], err, sizeof err) != 0) {
                fprintf(stderr, "lag: warning: --native: %s; interpreting instead\n", err);
                break;
            }
        }
    }

    /* Settings (checked: constants with values). */
    const int w = 2 * n + ns;
    double *y0 = arena_alloc(S->arena, (size_t)samples * (size_t)w * sizeof *y0);
    const char **columns = job_state_columns(&m);
    const char **sampled_names = arena_alloc(S->arena, (size_t)(ns + 1) * sizeof *sampled_names);
    /* initial states: constants, or draws from uniform(a, b) / normal(m, s)
     * for each trajectory, reproducible from the seed; then the drawn
     * parameters */
    TrainDraw *draws = arena_alloc(S->arena, (size_t)w * sizeof *draws);
    job_init_draws(settings_get(set, "init"), &m, draws);
    for (int k = 0; k < ns; k++) {
        draws[2 * n + k] = job_draw_of(drawn[k]);
        sampled_names[k] = drawn[k]->name.name;
    }
    job_draw_states(draws, w, (unsigned long)settings_num(set, JOB_SIMULATE, "seed"), samples, y0);
    /* the grid of starts: trajectory s is point (i_1, ..., i_g) of the
     * axes in the order written, the first axis slowest; axis values
     * a + (b - a) i/(n - 1), b itself last */
    SimGrid *grid = arena_alloc(S->arena, (size_t)(ngrid + 1) * sizeof *grid);
    int gk = 0;
    for (const Assign *a = init_s ? init_s->assigns : NULL; a; a = a->next)
        for (int i = 0; i < n && a->draw == ASSIGN_GRID; i++) {
            int p = ham_momentum_index(&m, a->name.name) == i; /* a momentum: in its velocity's place */
            if (p || strcmp(a->name.name, m.names[i]) == 0)
                grid[gk++] = (SimGrid){a->name.primes || p ? n + i : i, a->v, a->v_hi, (int)a->v_count};
        }
    for (int s = 0; s < samples && ngrid; s++) {
        long rest = s;
        for (int g = ngrid - 1; g >= 0; g--) {
            int i = (int)(rest % grid[g].n);
            rest /= grid[g].n;
            y0[(size_t)s * (size_t)w + (size_t)grid[g].comp] =
                i == grid[g].n - 1 ? grid[g].hi : grid[g].lo + (grid[g].hi - grid[g].lo) * i / (grid[g].n - 1);
        }
    }
    double *params = job_params(J, S, set, rhs, sys, &m);
    int in_momenta = 0; /* given by H, started in momenta: q' = dH/dp */
    for (const Assign *a = init_s ? init_s->assigns : NULL; a; a = a->next)
        in_momenta |= ham_momentum_index(&m, a->name.name) >= 0;
    if (in_momenta)
        ham_start_velocities(&m, y0, samples, w, t0, (const char *const *)rhs->param_names, params, rhs->nparams,
                             (const char *const *)sampled_names, ns);
    if (m.ncons) {
        cons = job_constraints_program(&m);
        if (job_constrain_starts(J, &m, cons, y0, samples, w, t0, params) != 0) {
            rc = 1;
            goto done;
        }
    }
    char *outpath = job_output(J, settings_get(set, "output"));
    char *plotpath = job_output(J, settings_get(set, "plot"));
    char *eventspath = job_output(J, settings_get(set, "events"));
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
        .nsampled = ns,
        .sampled_names = sampled_names,
        .y0 = y0,
        .params = params,
        .t0 = t0,
        .t1 = t1,
        .every = every,
        .method = method,
        .single = single && rhs->ntensors > 0,
        .tol = settings_num(set, JOB_SIMULATE, "tol"),
        .output = outpath,
        .plot = plotpath,
        .record = record,
        .started = opt->started,
        .split = !variational, /* an ensemble's trajectories over the ranks (the variational
                                  integrator's run on every rank alike) */
        .stop = stop,
        .stop_dir = stop_dir,
        .stop_text = stop_text,
        .stop_record = stop_record,
        .events = eventspath,
        .grid = grid,
        .ngrid = ngrid,
        .cons = variational ? cons : NULL,
        .ncons = m.ncons,
    };
    SimResult res;
    res.y = arena_alloc(S->arena, (size_t)samples * (size_t)w * sizeof *res.y);
    res.stop_t = arena_alloc(S->arena, (size_t)samples * sizeof *res.stop_t);
    res.stop_k = arena_alloc(S->arena, (size_t)samples * sizeof *res.stop_k);
    res.events = NULL; /* (the runtime's, freed here) */
    res.nevents = 0;
    rc = variational ? var_run(&sj, del, &res) : sim_run(&sj, &res);
    if (opt->json && sim_json(stdout, &sj, &res) != 0 && rc == 0)
        rc = 4;
    if (rc != 0)
        fprintf(stderr, "lag: %s: simulate %s: %s\n", J->where, sys->name.name, res.message);
    else
        summarize(J, &sj, &res);
    mem_free(outpath);
    mem_free(plotpath);
    mem_free(eventspath);
    mem_free(res.events);
done:
    ir_free(rhs);
    ir_free(energy);
    ir_free(jac);
    ir_free(del);
    ir_free(record);
    ir_free(stop);
    ir_free(cons);
    sym_free(S);
    return rc;
}

