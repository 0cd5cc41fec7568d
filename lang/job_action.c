/*
 * lang/job_action.c — the action driver: a boundary-value problem from
 * `from t0: q = ...` to `to t1: q = ...` solved as the stationary discrete
 * action S = sum h L((q_k + q_{k+1})/2, (q_{k+1} - q_k)/h, t_mid) with both
 * ends fixed (lang/mech.h: mech_build_action), by the variational engine
 * (runtime/solve.h).  The stationary discrete path satisfies the discrete
 * Euler-Lagrange equations that `method variational` steps, so the job
 * also shoots: from the path's first node with the discrete momentum
 * p_0 = -D1 L_d(q_0, q_1), the variational integrator must land on q(t1);
 * the distance is reported as shooting_mismatch.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lang/lower.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/simulate.h"
#include "runtime/solve.h"
#include "runtime/variational.h"
#include "runtime/vm.h"

/* The velocity v with p(q, v, t) = p, by Newton with the mass matrix, from
 * the start v (the del program's outputs: L_q, p, L_qq, L_qv, M, ...).
 * Returns 0, or -1 when it does not converge. */
static int velocity_of(const IrProgram *del, const double *params, int n, const double *q, const double *p,
                       double t, double *v)
{
    Vm *vm = vm_alloc(&del, 1, 1);
    double *y = mem_xalloc((size_t)(2 * n) * sizeof *y), *out = mem_xalloc((size_t)del->nout * sizeof *out);
    double *A = mem_xalloc((size_t)(n * n) * sizeof *A), *r = mem_xalloc((size_t)n * sizeof *r);
    int rc = -1;
    for (int it = 0; it < 50; it++) {
        memcpy(y, q, (size_t)n * sizeof *q);
        memcpy(y + n, v, (size_t)n * sizeof *v);
        if (vm_run(vm, del, 1, y, 2 * n, t, params, out, 0) != VM_OK)
            break;
        double big = 0, scale = 0;
        for (int i = 0; i < n; i++) {
            r[i] = p[i] - out[n + i];
            big = isfinite(r[i]) && isfinite(big) ? fmax(big, fabs(r[i])) : INFINITY; /* fmax drops a NaN */
            scale = fmax(scale, fabs(p[i]));
        }
        if (!isfinite(big))
            break;
        if (big <= 1e-14 * (1 + scale)) {
            rc = 0;
            break;
        }
        memcpy(A, out + 2 * n + 2 * n * n, (size_t)(n * n) * sizeof *A);
        int not_finite;
        if (vm_lu_solve(A, r, n, &not_finite) != 0)
            break;
        for (int i = 0; i < n; i++)
            v[i] += r[i];
    }
    vm_free(vm);
    mem_free(y);
    mem_free(out);
    mem_free(A);
    mem_free(r);
    return rc;
}

/* The CSV of the path: t, coordinates, velocities (central differences
 * inside, one-sided at the ends), E and the momenta. */
static int write_path(const char *path, Problem *P, const double *params, const double *y, int points,
                      double t0, double h, char *err, size_t errlen)
{
    Mech *m = &P->m;
    Sym *S = m->S;
    const int n = m->n, nf = P->nf, nl = nf - n, ncols = 1 + 2 * n + (m->given_accel ? 0 : 1 + n) + nl;
    const char **cols = arena_alloc(S->arena, (size_t)ncols * sizeof *cols);
    int c = 0;
    cols[c++] = "t";
    for (int i = 0; i < n; i++)
        cols[c++] = m->names[i];
    for (int i = 0; i < n; i++)
        cols[c++] = S->vars[m->v[i]].name;
    cols[c++] = "E";
    for (int i = 0; i < n; i++)
        cols[c++] = arena_printf(S->arena, "p_%s", m->names[i]);
    for (int i = 0; i < nl; i++)
        cols[c++] = P->fnames[n + i];
    SymId *roots = arena_alloc(S->arena, (size_t)(n + 1) * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)(n + 1) * sizeof *names);
    roots[0] = m->E;
    names[0] = "E";
    for (int i = 0; i < n; i++) {
        roots[1 + i] = m->p[i];
        names[1 + i] = cols[2 + 2 * n + i];
    }
    IrProgram *ep = lower_exprs(m, arena_printf(S->arena, "%s.energy_momenta", m->sys->name.name), roots, names,
                                n + 1);
    const IrProgram *progs[1] = {ep};
    Vm *vm = vm_alloc(progs, 1, 1);
    CsvWriter *w = csv_open(path, cols, ncols, err, errlen);
    double *row = mem_xalloc((size_t)ncols * sizeof *row), *st = mem_xalloc((size_t)(2 * n) * sizeof *st);
    int ok = w != NULL;
    for (int k = 0; ok && k < points; k++) {
        double t = t0 + k * h;
        row[0] = t;
        for (int i = 0; i < n; i++) {
            int a = k > 0 ? k - 1 : 0, b = k < points - 1 ? k + 1 : points - 1;
            st[i] = row[1 + i] = y[(size_t)k * nf + i];
            st[n + i] = row[1 + n + i] = (y[(size_t)b * nf + i] - y[(size_t)a * nf + i]) / ((b - a) * h);
        }
        if (vm_run(vm, ep, 1, st, 2 * n, t, params, row + 1 + 2 * n, 0) != VM_OK)
            for (int i = 0; i <= n; i++)
                row[1 + 2 * n + i] = NAN;
        /* the multipliers of M q'' = f + A^T lambda (lang/mech.h:
         * mech_build_action); 0 at the fixed ends */
        for (int i = 0; i < nl; i++)
            row[2 + 3 * n + i] = y[(size_t)k * nf + n + i];
        ok = csv_row(w, row, err, errlen) == 0;
    }
    if (w && csv_close(w, ok, err, errlen) != 0)
        ok = 0;
    mem_free(row);
    mem_free(st);
    vm_free(vm);
    ir_free(ep);
    return ok ? 0 : 4;
}

/* One JSON line (LANGUAGE.md §5): job, system, converged, action, kind,
 * morse_index, and the start's velocities and the shooting check. */
static int action_json(const char *system, const SolveJob *sj, const SolveResult *res, const Mech *m,
                       const double *v0, double mismatch)
{
    sim_json_begin();
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", sim_jnew(json_string("action")));
    sim_jset(o, "system", sim_jnew(json_string(system)));
    sim_jset(o, "converged", sim_jnew(json_boolean(res->converged)));
    sim_jset(o, "action", sim_jreal(res->objective));
    sim_jset(o, "kind", sim_jnew(json_string(res->kind ? res->kind : "unknown")));
    sim_jset(o, "morse_index", sim_jnew(json_integer(res->morse_index)));
    sim_jset(o, "iterations", sim_jnew(json_integer(res->iterations)));
    sim_jset(o, "residual", sim_jreal(res->residual));
    sim_jset(o, "points", sim_jnew(json_integer(sj->points)));
    json_t *v = sim_jnew(json_object());
    for (int i = 0; i < m->n; i++)
        sim_jset(v, m->S->vars[m->v[i]].name, sim_jreal(v0[i]));
    sim_jset(o, "initial_velocities", v);
    sim_jset(o, "shooting_mismatch", sim_jreal(mismatch));
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    return sim_json_print(stdout, o);
}

/* v made tangent to the constraints at (q, t) by its least change
 * (lang/job.h: job_onto_constraints).  0, or -1. */
static int tangent(const Mech *m, const IrProgram *cons, const double *params, const double *q, double t, double *v)
{
    const int n = m->n;
    Vm *vm = vm_alloc(&cons, 1, 1);
    double *st = mem_xalloc((size_t)(2 * n) * sizeof *st);
    memcpy(st, q, (size_t)n * sizeof *st);
    memcpy(st + n, v, (size_t)n * sizeof *st);
    int rc = job_onto_constraints(vm, m, cons, st, 2 * n, t, params, 0, 1) ? -1 : 0;
    memcpy(v, st + n, (size_t)n * sizeof *v);
    vm_free(vm);
    mem_free(st);
    return rc;
}

/* The starting path's inner nodes moved onto the constraints (Newton from
 * a path off them wanders: a saddle of the action is then rarely found),
 * each by the least change; a node that cannot be is left as it is. */
static void onto_constraints(const Mech *m, const IrProgram *cons, const double *params, int nf, double *y,
                             int points, double t0, double h)
{
    const int n = m->n;
    Vm *vm = vm_alloc(&cons, 1, 1);
    double *st = mem_xalloc((size_t)(2 * n) * sizeof *st);
    for (int j = 1; j < points - 1; j++) {
        double *q = y + (size_t)j * (size_t)nf;
        memcpy(st, q, (size_t)n * sizeof *st);
        memset(st + n, 0, (size_t)n * sizeof *st);
        if (!job_onto_constraints(vm, m, cons, st, 2 * n, t0 + j * h, params, 1, 0))
            memcpy(q, st, (size_t)n * sizeof *q);
    }
    vm_free(vm);
    mem_free(st);
}

/* The fixed ends must be on the constraints (the path can only join
 * points that are): g at (lo, t0) and (hi, t1) against rounding of the
 * coordinates' scale.  0, or 1 after a message. */
static int ends_on_constraints(Job *J, Mech *m, const IrProgram *cons, const double *params, const double *lo,
                               const double *hi, double t0, double t1)
{
    const int n = m->n, cw = 2 + n;
    Vm *vm = vm_alloc(&cons, 1, 1);
    double *st = mem_xalloc((size_t)(2 * n) * sizeof *st), *out = mem_xalloc((size_t)(m->ncons * cw) * sizeof *out);
    int rc = 0;
    for (int e = 0; e < 2 && !rc; e++) {
        const double *q = e ? hi : lo;
        double scale = 1;
        for (int i = 0; i < n; i++) {
            st[i] = q[i];
            st[n + i] = 0;
            scale = fmax(scale, fabs(q[i]));
        }
        int ok = vm_run(vm, cons, 1, st, 2 * n, e ? t1 : t0, params, out, 0) == VM_OK;
        for (int c = 0; c < m->ncons && !rc; c++) {
            /* |g| against the rounding of g's own first-order change */
            double grad = 0;
            for (int i = 0; i < n; i++)
                grad += fabs(out[c * cw + 2 + i]);
            if (!ok || !(fabs(out[c * cw]) <= 1e-10 * scale * fmax(grad, 1))) {
                fprintf(stderr, "lag: %s: action %s: the %s end ('%s') is not on the constraint '%s': g = %.6g "
                        "there, not 0\n", J->where, m->sys->name.name, e ? "final" : "initial", e ? "to" : "from",
                        m->cons[c].name, out[c * cw]);
                rc = 1;
            }
        }
    }
    vm_free(vm);
    mem_free(st);
    mem_free(out);
    return rc;
}

int job_action(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item, *sys = J->target;
    const Setting *set = job->settings;
    const Setting *from = settings_get(set, "from"), *to = settings_get(set, "to");
    int points;
    if (job_points(J, JOB_ACTION, &points) != 0)
        return 1;
    const double t0 = from->v1, t1 = to->v1, h = (t1 - t0) / (points - 1);
    Sym *S = sym_new(F->arena);
    Problem P;
    if (mech_build_action(&P, S, &F->diag, sys, t0, t1, J->run->trained) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
    }
    Mech *m = &P.m;
    const int n = m->n, nf = P.nf, k = m->ncons;
    JobTerm term;
    job_term_build(&term, &P, P.objective, arena_printf(S->arena, "%s.action", sys->name.name));
    double *params = job_params(J, S, set, term.prog[SOLVE_HESSIAN], sys, m);
    params[m->np - 1] = h;
    job_term_native(J, &term);
    job_term_open(&term, params, points - 1);

    /* the ends, and the path to start from: the straight line, or the guess */
    double *lo = arena_alloc(S->arena, (size_t)nf * sizeof *lo), *hi = arena_alloc(S->arena, (size_t)nf * sizeof *hi);
    int *fixed = arena_alloc(S->arena, (size_t)nf * sizeof *fixed);
    for (int i = 0; i < nf; i++) {
        fixed[i] = 1;
        lo[i] = hi[i] = 0; /* a multiplier at the fixed ends: nothing acts there */
        for (const Assign *a = from->assigns; a && i < n; a = a->next)
            if (strcmp(a->name.name, m->names[i]) == 0)
                lo[i] = a->v;
        for (const Assign *a = to->assigns; a && i < n; a = a->next)
            if (strcmp(a->name.name, m->names[i]) == 0)
                hi[i] = a->v;
    }
    double *y = mem_xalloc((size_t)points * (size_t)nf * sizeof *y);
    for (int j = 0; j < points; j++)
        for (int i = 0; i < nf; i++)
            y[(size_t)j * nf + i] = lo[i] + (hi[i] - lo[i]) * j / (points - 1);
    int rc = 0;
    IrProgram *cons = k ? job_constraints_program(m) : NULL;
    if (k && ends_on_constraints(J, m, cons, params, lo, hi, t0, t1) != 0) {
        rc = 1;
        goto done;
    }
    const Setting *guess = settings_get(set, "guess");
    double *xv = arena_alloc(S->arena, (size_t)(S->nvars + 1) * sizeof *xv);
    for (int j = 0; j < m->np; j++)
        xv[m->par[j]] = params[j];
    if (job_node_values(&P, &F->diag, guess, xv, t0, h, 1, points - 2, y) != 0) {
        rc = 1;
        goto done;
    }

    if (k)
        onto_constraints(m, cons, params, nf, y, points, t0, h);
    char *outpath = job_output(J, settings_get(set, "output"));
    char *plotpath = job_output(J, settings_get(set, "plot"));
    SolveJob sj = {
        .job = "action",
        .problem = sys->name.name,
        .nf = nf,
        .fields = P.fnames,
        .nmult = k,
        .xname = "t",
        .points = points,
        .x0 = t0,
        .x1 = t1,
        .sense = SOLVE_STATIONARY,
        .objective = {job_term_eval, &term, "action"},
        .fix_lo = fixed,
        .fix_hi = fixed,
        .lo = lo,
        .hi = hi,
        .tol = settings_num(set, JOB_ACTION, "tol"),
        .max_iter = (int)settings_num(set, JOB_ACTION, "iterations"),
        .plot = plotpath,
        .progress = !J->opt->quiet && (J->opt->progress || isatty(2)),
    };
    SolveResult res = {0};
    double mult[1];
    res.y = y;
    res.multipliers = mult;
    rc = solve_run(&sj, &res);
    if (k && res.morse_index >= 0) {
        /* the engine's index is the augmented Hessian's: each multiplier
         * adds one negative and one positive eigenvalue (Haynsworth), so
         * the index on the constraints is what is left */
        int extra = k * (points - 2), reduced = (n - k) * (points - 2);
        res.morse_index -= extra;
        res.kind = res.morse_index == 0 ? "minimum" : res.morse_index == reduced ? "maximum" : "saddle";
    }
    if (res.status != 0)
        fprintf(stderr, "lag: %s: action %s: %s\n", J->where, sys->name.name, res.message);

    /* the path's start: q_0 and the velocity of p_0 = -D1 L_d(q_0, q_1) */
    double *v0 = arena_alloc(S->arena, (size_t)n * sizeof *v0);
    double mismatch = NAN;
    if (res.status == 0 || res.status == 3) {
        const int n2 = 2 * nf, stride = 1 + n2 + n2 * n2;
        double *in = arena_alloc(S->arena, (size_t)(n2 + 1) * sizeof *in);
        double *out = arena_alloc(S->arena, (size_t)stride * sizeof *out);
        double *p0 = arena_alloc(S->arena, (size_t)n * sizeof *p0);
        for (int i = 0; i < nf; i++) {
            in[i] = y[i];
            in[nf + i] = y[nf + i];
        }
        for (int i = 0; i < n; i++)
            v0[i] = (y[nf + i] - y[i]) / h;
        in[n2] = t0 + 0.5 * h;
        IrProgram *del = job_del_program(m);
        int got = job_term_eval(&term, SOLVE_HESSIAN, 1, in, out) == 0;
        for (int i = 0; i < n; i++)
            p0[i] = -out[1 + i];
        got = got && velocity_of(del, params, n, y, p0, t0, v0) == 0;
        if (got && res.status == 0) {
            /* shooting with the variational integrator, step h */
            double *y0 = arena_alloc(S->arena, (size_t)n2 * sizeof *y0), *yend = arena_alloc(S->arena, (size_t)n2 * sizeof *yend);
            memcpy(y0, y, (size_t)n * sizeof *y0);
            memcpy(y0 + n, v0, (size_t)n * sizeof *y0);
            const char **columns = job_state_columns(m);
            IrProgram *rhs = lower_rhs(m);
            SimJob shoot = {.system = sys->name.name, .rhs = rhs, .n = n, .columns = columns, .samples = 1,
                            .y0 = y0, .params = params, .t0 = t0, .t1 = t1, .every = h, .method = "variational",
                            .tol = 1e-12, .cons = cons, .ncons = k};
            SimResult sres;
            sres.y = yend;
            if (var_run(&shoot, del, &sres) == 0) {
                mismatch = 0;
                for (int i = 0; i < n; i++)
                    mismatch = isfinite(yend[i]) && isfinite(mismatch) ? fmax(mismatch, fabs(yend[i] - hi[i])) : NAN;
            }
            ir_free(rhs);
        }
        /* the velocity reported: tangent to the constraints (the discrete
         * momentum's differs from it by O(h) along their normals) */
        if (got && k && tangent(m, cons, params, y, t0, v0) != 0)
            v0[0] = NAN;
        ir_free(del);
    }
    if (outpath) {
        char err[1024];
        int wrc = write_path(outpath, &P, params, y, points, t0, h, err, sizeof err);
        if (wrc != 0) {
            fprintf(stderr, "lag: %s: action %s: %s\n", J->where, sys->name.name, err);
            if (rc == 0)
                rc = wrc;
        }
    }
    if (J->opt->json && action_json(sys->name.name, &sj, &res, m, v0, mismatch) != 0 && rc == 0)
        rc = 4;
    if (rc == 0) {
        char vel[256] = "";
        for (int i = 0; i < n && strlen(vel) < 200; i++)
            snprintf(vel + strlen(vel), sizeof vel - strlen(vel), "%s%s' = %.10g", i ? ", " : "", m->names[i], v0[i]);
        job_summary(J, "%s%s%sS = %.12g, a %s (Morse index %d), %d iterations; starts with %s; shooting mismatch %.2g",
                    outpath ? "wrote " : "", outpath ? outpath : "", outpath ? ": " : "", res.objective, res.kind,
                    res.morse_index, res.iterations, vel, mismatch);
    }
    mem_free(outpath);
    mem_free(plotpath);
done:
    mem_free(y);
    ir_free(cons);
    job_term_close(&term);
    sym_free(S);
    return rc;
}
