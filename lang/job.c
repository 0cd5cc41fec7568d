/*
 * lang/job.c — what the job drivers share (see job.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "lang/check.h"
#include "lang/hamilton.h"
#include "lang/lower.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/native.h"
#include "runtime/solve.h"
#include "runtime/vm.h"

const Item *job_find_system(Front *F, const char *name)
{
    for (int f = 0; f < F->prog.nfiles; f++)
        for (const Item *it = F->prog.files[f]; it; it = it->next)
            if ((it->kind == IT_SYSTEM || it->kind == IT_PROBLEM) && strcmp(it->name.name, name) == 0)
                return it;
    return NULL;
}

const char *job_where(Front *F, const Item *it)
{
    const Source *s = &F->diag.src[it->loc.file];
    return arena_printf(F->arena, "%s:%d", s->name, it->loc.first_line);
}

int job_not_yet(const Job *J, const char *what)
{
    fprintf(stderr, "lag: %s: %s %s: %s is not implemented yet\n", J->where, ast_job_name(J->item->job),
            J->item->targets[0].name, what);
    return 2;
}

double *job_params(const Job *J, Sym *S, const Setting *settings, const IrProgram *p, const Item *sys,
                   const Mech *m)
{
    double *params = arena_alloc(S->arena, (size_t)(p->nparams + 1) * sizeof *params);
    int *given = arena_alloc(S->arena, (size_t)(p->nparams + 1) * sizeof *given);
    for (int j = 0; j < p->nparams; j++) {
        params[j] = p->param_values[j];
        given[j] = 0;
    }
    for (int k = 0; k < J->run->nfitted; k++)
        if (J->run->fitted[k].sys == sys)
            for (int j = 0; j < p->nparams; j++)
                if (strcmp(J->run->fitted[k].param, p->param_names[j]) == 0) {
                    params[j] = J->run->fitted[k].value;
                    given[j] = 1;
                }
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                for (int j = 0; j < p->nparams; j++)
                    if (strcmp(a->name.name, p->param_names[j]) == 0) {
                        params[j] = a->v;
                        given[j] = 1;
                    }
    for (int k = 0; k < J->run->nsets; k++)
        if (J->run->sets[k].sys == sys)
            for (int j = 0; j < p->nparams; j++)
                if (strcmp(J->run->sets[k].param, p->param_names[j]) == 0) {
                    params[j] = J->run->sets[k].value;
                    given[j] = 1;
                }
    /* a default that is an expression of earlier parameters follows them
     * (param A = 1, kstar = f(A): a job's A changes kstar), unless it is
     * given itself */
    if (m && m->par_default) {
        double *x = arena_alloc(S->arena, (size_t)(S->nvars + 1) * sizeof *x);
        for (int k = 0; k < m->np; k++) {
            int j = 0;
            while (j < p->nparams && strcmp(p->param_names[j], S->vars[m->par[k]].name) != 0)
                j++;
            double v = j < p->nparams ? params[j] : S->vars[m->par[k]].value;
            if (j < p->nparams && !given[j] && m->par_default[k])
                v = params[j] = sym_eval(S, m->par_default[k], x);
            x[m->par[k]] = v;
        }
    }
    return params;
}

int job_defaults_follow(const Job *J, const Mech *m, const Item *sys, const Assign **list, const int *idx,
                        int count)
{
    for (int j = 0; j < m->np && m->par_default; j++)
        for (int q = 0; q < count && m->par_default[j]; q++)
            if (idx[q] != j && sym_depends(m->S, m->par_default[j], m->par[idx[q]], -1)) {
                diag_error(&J->F->diag, list[q]->name.loc, "'%s' is drawn per sample, but the default of '%s' "
                           "in '%s' is computed from it; give '%s' its own value, or draw it too",
                           list[q]->name.name, m->S->vars[m->par[j]].name, sys->name.name,
                           m->S->vars[m->par[j]].name);
                return 0;
            }
    return 1;
}

int job_drawn_params(const Job *J, Mech *m, const Setting *settings, const Item *model, const Assign ***out, Sym *S)
{
    int count = 0;
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next)
                count += a->draw != ASSIGN_VALUE;
    if (count == 0)
        return 0;
    const Assign **list = arena_alloc(S->arena, (size_t)count * sizeof *list);
    int *idx = arena_alloc(S->arena, (size_t)count * sizeof *idx), k = 0, bad = 0;
    for (const Setting *s = settings; s; s = s->next)
        if (s->form == SET_ASSIGNS && strcmp(s->head.name, "param") == 0)
            for (const Assign *a = s->assigns; a; a = a->next) {
                if (a->draw == ASSIGN_VALUE)
                    continue;
                int j = 0;
                while (j < m->np && strcmp(S->vars[m->par[j]].name, a->name.name) != 0)
                    j++;
                if (j == m->np) {
                    diag_error(&J->F->diag, a->name.loc, "'%s' is drawn per sample, so it is an input of the "
                               "model: declare 'param %s' in '%s' (and use it, e.g. as an input of its net)",
                               a->name.name, a->name.name, model->name.name);
                    bad = 1;
                }
                list[k] = a;
                idx[k++] = j;
            }
    if (bad || !job_defaults_follow(J, m, model, list, idx, count))
        return -1;
    m->sampled = idx;
    m->nsampled = count;
    *out = list;
    return count;
}

void job_init_draws(const Setting *init, const Mech *m, TrainDraw *d)
{
    for (int i = 0; i < 2 * m->n; i++)
        d[i] = (TrainDraw){DRAW_CONST, 0, 0, NULL, NULL};
    for (const Assign *a = init ? init->assigns : NULL; a; a = a->next) {
        for (int i = 0; i < m->n; i++)
            if (strcmp(a->name.name, m->names[i]) == 0)
                d[a->name.primes ? m->n + i : i] = job_draw_of(a);
        int i = ham_momentum_index(m, a->name.name); /* a momentum, in its velocity's place (simulate) */
        if (i >= 0)
            d[m->n + i] = job_draw_of(a);
    }
}

/* The generator's draws for check_draw_eval, as train_draw_state makes them. */
static double draw_from(void *rng, int normal, double a, double b)
{
    return normal ? a + gsl_ran_gaussian(rng, b) : a + (b - a) * gsl_rng_uniform(rng);
}

static double draw_expr(const void *e, void *rng)
{
    return check_draw_eval(e, draw_from, rng);
}

TrainDraw job_draw_of(const Assign *a)
{
    switch (a->draw) {
    case ASSIGN_UNIFORM: return (TrainDraw){DRAW_UNIFORM, a->p1, a->p2, NULL, NULL};
    case ASSIGN_NORMAL: return (TrainDraw){DRAW_NORMAL, a->p1, a->p2, NULL, NULL};
    case ASSIGN_DRAWS: return (TrainDraw){DRAW_EXPR, 0, 0, draw_expr, a->value};
    default: return (TrainDraw){DRAW_CONST, a->v, 0, NULL, NULL};
    }
}

void job_draw_states(const TrainDraw *d, int m, unsigned long seed, int count, double *y)
{
    gsl_rng *rng = train_rng_new();
    gsl_rng_set(rng, seed);
    for (int s = 0; s < count; s++)
        train_draw_state(d, m, rng, y + (size_t)s * (size_t)m);
    gsl_rng_free(rng);
}

char *job_output(const Job *J, const Setting *s)
{
    return s ? io_join(J->opt->outdir, s->e1->str) : NULL;
}

void job_summary(const Job *J, const char *fmt, ...)
{
    if (J->opt->quiet)
        return;
    fprintf(stderr, "lag: %s %s: ", ast_job_name(J->item->job), J->item->targets[0].name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

IrProgram *job_constraints_program(Mech *m)
{
    Sym *S = m->S;
    const int n = m->n, w = 2 + n, nk = m->ncons * w;
    SymId *roots = arena_alloc(S->arena, (size_t)nk * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)nk * sizeof *names);
    for (int k = 0; k < m->ncons; k++) {
        const MechCons *c = &m->cons[k];
        roots[k * w] = c->g ? c->g : S->zero;
        roots[k * w + 1] = c->C;
        names[k * w] = arena_printf(S->arena, "g_%s", c->name);
        names[k * w + 1] = arena_printf(S->arena, "C_%s", c->name);
        for (int i = 0; i < n; i++) {
            roots[k * w + 2 + i] = c->A[i];
            names[k * w + 2 + i] = arena_printf(S->arena, "A_%s_%s", c->name, m->names[i]);
        }
    }
    return lower_exprs(m, arena_printf(S->arena, "%s.constraints", m->sys->name.name), roots, names, nk);
}

/* The least change dx (n) with A dx = r for the rows of A (each n long,
 * stride 2 + n in out) selected by use: dx = A^T (A A^T)^-1 r.  0, or -1
 * when A A^T is singular (dependent constraints). */
static int least_change(const double *out, const int *use, int k, int n, const double *r, double *dx,
                        double *G, double *y)
{
    const int w = 2 + n;
    int nk = 0, nf;
    int idx[k > 0 ? k : 1];
    for (int a = 0; a < k; a++)
        if (use[a])
            idx[nk++] = a;
    for (int a = 0; a < nk; a++) {
        y[a] = r[idx[a]];
        for (int b = 0; b < nk; b++) {
            double sum = 0;
            for (int i = 0; i < n; i++)
                sum += out[idx[a] * w + 2 + i] * out[idx[b] * w + 2 + i];
            G[a * nk + b] = sum;
        }
    }
    if (nk && vm_lu_solve(G, y, nk, &nf) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int a = 0; a < nk; a++)
            sum += out[idx[a] * w + 2 + i] * y[a];
        dx[i] = sum;
    }
    return 0;
}

const char *job_onto_constraints(Vm *vm, const Mech *m, const IrProgram *cons, double *y, int w, double t,
                                 const double *params, int positions, int velocities)
{
    const int n = m->n, k = m->ncons, cw = 2 + n;
    double *out = mem_xalloc((size_t)(k * cw) * sizeof *out), *r = mem_xalloc((size_t)k * sizeof *r);
    double *dx = mem_xalloc((size_t)n * sizeof *dx), *G = mem_xalloc((size_t)(k * k) * sizeof *G);
    double *tmp = mem_xalloc((size_t)k * sizeof *tmp);
    int *pos = mem_xalloc((size_t)k * sizeof *pos), *all = mem_xalloc((size_t)k * sizeof *all);
    double *q = y, *v = y + n;
    const char *why = NULL;
    for (int a = 0; a < k; a++) {
        pos[a] = m->cons[a].g != 0;
        all[a] = 1;
    }
    /* the coordinates: Gauss-Newton steps of least change onto g = 0 */
    int done = !positions;
    for (int it = 0; it < 60 && !done && !why; it++) {
        if (vm_run(vm, cons, 1, q, w, t, params, out, 0) != VM_OK) {
            why = "the constraints are not finite there";
            break;
        }
        for (int a = 0; a < k; a++)
            r[a] = pos[a] ? out[a * cw] : 0;
        if (least_change(out, pos, k, n, r, dx, G, tmp) != 0) {
            why = "the constraints are not independent there (A A^T is singular)";
            break;
        }
        /* a state already on them (to rounding) is kept as it is */
        double step = 0, size = 0;
        for (int i = 0; i < n; i++) {
            step = fmax(step, fabs(dx[i]));
            size = fmax(size, fabs(q[i]));
        }
        done = step <= 4 * DBL_EPSILON * (1 + size);
        if (!isfinite(step))
            why = "the constraints are not finite there";
        for (int i = 0; i < n && !done; i++)
            q[i] -= dx[i];
    }
    if (!done && !why)
        why = "Gauss-Newton did not converge in 60 steps";
    /* the velocities: C is linear in them, so one least change (and a
     * second for rounding) */
    for (int it = 0; it < 2 && velocities && !why; it++) {
        if (vm_run(vm, cons, 1, q, w, t, params, out, 0) != VM_OK) {
            why = "the constraints are not finite there";
            break;
        }
        for (int a = 0; a < k; a++)
            r[a] = out[a * cw + 1];
        if (least_change(out, all, k, n, r, dx, G, tmp) != 0) {
            why = "the constraints are not independent there (A A^T is singular)";
            break;
        }
        double step = 0, size = 0;
        for (int i = 0; i < n; i++) {
            step = fmax(step, fabs(dx[i]));
            size = fmax(size, fabs(v[i]));
        }
        if (!isfinite(step))
            why = "the constraints are not finite there";
        if (step <= 4 * DBL_EPSILON * (1 + size))
            break;
        for (int i = 0; i < n; i++)
            v[i] -= dx[i];
    }
    mem_free(out);
    mem_free(r);
    mem_free(dx);
    mem_free(G);
    mem_free(tmp);
    mem_free(pos);
    mem_free(all);
    return why;
}

int job_constrain_starts(Job *J, Mech *m, const IrProgram *cons, double *y, int samples, int w, double t,
                         const double *params)
{
    const int n = m->n;
    Vm *vm = vm_alloc(&cons, 1, 1);
    double *orig = mem_xalloc((size_t)(2 * n) * sizeof *orig);
    int rc = 0, moved = 0, worst_i = 0, worst_s = 0;
    double worst = 0;
    for (int s = 0; s < samples && !rc; s++) {
        double *q = y + (size_t)s * (size_t)w;
        memcpy(orig, q, (size_t)(2 * n) * sizeof *orig);
        const char *why = job_onto_constraints(vm, m, cons, q, w, t, params, 1, 1);
        if (why) {
            fprintf(stderr, "lag: %s: simulate %s: %s%s cannot be put on the constraints: %s\n", J->where,
                    m->sys->name.name, samples > 1 ? "a trajectory's start" : "the start",
                    samples > 1 ? "" : " (init)", why);
            if (samples > 1)
                fprintf(stderr, "lag: %s: (trajectory %d)\n", J->where, s);
            rc = 1;
            break;
        }
        int this = 0;
        for (int i = 0; i < 2 * n; i++) {
            double d = fabs(q[i] - orig[i]) / (1 + fabs(orig[i]));
            this |= d > 1e-9;
            if (d > worst) {
                worst = d;
                worst_i = i;
                worst_s = s;
            }
        }
        moved += this;
    }
    if (!rc && moved) {
        double *q = y + (size_t)worst_s * (size_t)w;
        const char *nm = worst_i < n ? m->names[worst_i] : m->S->vars[m->v[worst_i - n]].name;
        if (samples > 1)
            fprintf(stderr, "lag: %s: simulate %s: note: %d of %d starts were moved onto the constraints (the "
                    "largest change: %s of trajectory %d, now %.10g)\n", J->where, m->sys->name.name, moved,
                    samples, nm, worst_s, q[worst_i]);
        else
            fprintf(stderr, "lag: %s: simulate %s: note: init was moved onto the constraints (the largest "
                    "change: %s is now %.10g)\n", J->where, m->sys->name.name, nm, q[worst_i]);
    }
    vm_free(vm);
    mem_free(orig);
    return rc;
}

IrProgram *job_del_program(Mech *m)
{
    Sym *S = m->S;
    const int n = m->n;
    /* at (q, q', t): L_q, p, L_qq, L_qq', M, and the generalized force
     * Q - dD/dq' with its derivatives (Lagrange-d'Alembert) */
    int nd = 3 * n + 5 * n * n, k = 0;
    SymId *roots = arena_alloc(S->arena, (size_t)nd * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)nd * sizeof *names);
    SymId *Q = arena_alloc(S->arena, (size_t)n * sizeof *Q);
    for (int i = 0; i < n; i++)
        Q[i] = sym_sub(S, m->Q[i], sym_diff(S, m->D, m->v[i]));
    for (int i = 0; i < n; i++) {
        names[k] = arena_printf(S->arena, "L_%s", m->names[i]);
        roots[k++] = sym_diff(S, m->L, m->q[i]);
    }
    for (int i = 0; i < n; i++) {
        names[k] = arena_printf(S->arena, "p_%s", m->names[i]);
        roots[k++] = m->p[i];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            names[k] = arena_printf(S->arena, "Lqq_%d_%d", i + 1, j + 1);
            roots[k++] = sym_diff(S, roots[i], m->q[j]);
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            names[k] = arena_printf(S->arena, "Lqv_%d_%d", i + 1, j + 1);
            roots[k++] = sym_diff(S, roots[i], m->v[j]);
        }
    for (int i = 0; i < n * n; i++) {
        names[k] = arena_printf(S->arena, "M_%d_%d", i / n + 1, i % n + 1);
        roots[k++] = m->M[i];
    }
    for (int i = 0; i < n; i++) {
        names[k] = arena_printf(S->arena, "Q_%s", m->names[i]);
        roots[k++] = Q[i];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            names[k] = arena_printf(S->arena, "Qq_%d_%d", i + 1, j + 1);
            roots[k++] = sym_diff(S, Q[i], m->q[j]);
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            names[k] = arena_printf(S->arena, "Qv_%d_%d", i + 1, j + 1);
            roots[k++] = sym_diff(S, Q[i], m->v[j]);
        }
    return lower_exprs(m, arena_printf(S->arena, "%s.del", m->sys->name.name), roots, names, nd);
}

/* ---------- interval terms of the variational engine ---------- */

/* Intervals per VM run: the registers of a run are a few per interval, so
 * the VM's memory stays small at a million points. */
enum { CHUNK = 4096 };

const char **job_state_columns(const Mech *m)
{
    Sym *S = m->S;
    const char **columns = arena_alloc(S->arena, (size_t)(2 * m->n + 1) * sizeof *columns);
    for (int i = 0; i < m->n; i++) {
        columns[i] = m->names[i];
        columns[m->n + i] = S->vars[m->v[i]].name;
    }
    return columns;
}

IrProgram *job_jacobian(Mech *m, const char *sysname, int *uses_accel)
{
    Sym *S = m->S;
    int n = m->n;
    *uses_accel = 0;
    if (m->accel != MECH_ACCEL_SYMBOLIC) {
        /* no closed form: da/dx = M^-1 (df/dx - (dM/dx) a), exact */
        *uses_accel = 1;
        return lower_jacobian_solve(m);
    }
    /* d(accel_i)/d(q, q') and d(accel_i)/dt */
    int nj = n * 2 * n + n;
    SymId *roots = arena_alloc(S->arena, (size_t)nj * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)nj * sizeof *names);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 2 * n; j++) {
            roots[i * 2 * n + j] = sym_diff(S, m->acc[i], j < n ? m->q[j] : m->v[j - n]);
            names[i * 2 * n + j] = arena_printf(S->arena, "d%d_%d", i, j);
        }
        roots[2 * n * n + i] = sym_diff(S, m->acc[i], m->t);
        names[2 * n * n + i] = arena_printf(S->arena, "dt%d", i);
    }
    return lower_exprs(m, arena_printf(S->arena, "%s.jacobian", sysname), roots, names, nj);
}

int job_term_eval(void *ctx, int depth, int B, const double *in, double *out)
{
    JobTerm *t = ctx;
    const IrProgram *p = t->prog[depth];
    const int nin = p->nstate, nout = p->nout;
    for (int b = 0; b < B; b += SOLVE_CHUNK) {
        int nb = B - b < SOLVE_CHUNK ? B - b : SOLVE_CHUNK;
        if (vm_run(t->vm, p, nb, in + (size_t)b * (size_t)nin, nin, 0, t->params, out + (size_t)b * (size_t)nout,
                   nout) != VM_OK)
            return -1;
    }
    return 0;
}

/* A term program's inputs: the left node's fields, the right node's, the
 * midpoint (2nf + 1 variables). */
static int *term_inputs(Problem *P)
{
    const int nf = P->nf;
    int *vars = arena_alloc(P->m.S->arena, (size_t)(2 * nf + 1) * sizeof *vars);
    for (int i = 0; i < nf; i++) {
        vars[i] = P->u[i];
        vars[nf + i] = P->w[i];
    }
    vars[2 * nf] = P->x;
    return vars;
}

void job_term_build(JobTerm *t, Problem *P, SymId term, const char *name)
{
    Sym *S = P->m.S;
    const int nf = P->nf, n2 = 2 * nf;
    int *vars = term_inputs(P);
    int nout = 1 + n2 + n2 * n2;
    /* no products of sums expanded: the slope (w - u)/h stays a difference
     * divided by h (w/h - u/h loses every digit the difference has, and the
     * Hessian's 1/h^2 terms lose more: at 10^5 points the inertia test then
     * saw negative eigenvalues of a minimum) */
    S->no_expand++;
    SymId *roots = arena_alloc(S->arena, (size_t)nout * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)nout * sizeof *names);
    roots[0] = term;
    names[0] = "term";
    sym_grad(S, term, vars, n2, roots + 1);
    for (int i = 0; i < n2; i++) {
        names[1 + i] = arena_printf(S->arena, "d_%s", S->vars[vars[i]].name);
        for (int j = i; j < n2; j++) {
            SymId hij = sym_diff(S, roots[1 + i], vars[j]);
            roots[1 + n2 + i * n2 + j] = roots[1 + n2 + j * n2 + i] = hij;
        }
    }
    S->no_expand--;
    for (int i = 0; i < n2; i++)
        for (int j = 0; j < n2; j++)
            names[1 + n2 + i * n2 + j] =
                arena_printf(S->arena, "dd_%s_%s", S->vars[vars[i]].name, S->vars[vars[j]].name);
    /* the output's first 1, 1 + 2nf and all of them, by SolveDepth */
    const int counts[3] = {1, 1 + n2, nout};
    for (int d = 0; d < 3; d++)
        t->prog[d] = lower_inputs(S, arena_printf(S->arena, "%s%s", name, d == 0 ? ".value" : d == 1 ? ".gradient" : ""),
                                  vars, n2 + 1, P->m.par, P->m.np, roots, names, counts[d]);
    t->prog[SOLVE_SENS] = NULL;
    t->vm = NULL;
    t->params = NULL;
}

void job_term_sens(JobTerm *t, Problem *P, SymId term, const char *name, const int *theta, int ns)
{
    Sym *S = P->m.S;
    const int nf = P->nf, n2 = 2 * nf;
    int *vars = term_inputs(P);
    int nout = 1 + n2 + ns + n2 * ns;
    S->no_expand++; /* as in job_term_build */
    SymId *roots = arena_alloc(S->arena, (size_t)nout * sizeof *roots);
    const char **names = arena_alloc(S->arena, (size_t)nout * sizeof *names);
    roots[0] = term;
    names[0] = "term";
    sym_grad(S, term, vars, n2, roots + 1);
    for (int i = 0; i < n2; i++)
        names[1 + i] = arena_printf(S->arena, "d_%s", S->vars[vars[i]].name);
    for (int k = 0; k < ns; k++) {
        roots[1 + n2 + k] = sym_diff(S, term, theta[k]);
        names[1 + n2 + k] = arena_printf(S->arena, "d_%s", S->vars[theta[k]].name);
        for (int i = 0; i < n2; i++) {
            roots[1 + n2 + ns + i * ns + k] = sym_diff(S, roots[1 + i], theta[k]);
            names[1 + n2 + ns + i * ns + k] =
                arena_printf(S->arena, "dd_%s_%s", S->vars[vars[i]].name, S->vars[theta[k]].name);
        }
    }
    S->no_expand--;
    t->prog[SOLVE_SENS] = lower_inputs(S, arena_printf(S->arena, "%s.sens", name), vars, n2 + 1, P->m.par, P->m.np,
                                       roots, names, nout);
}

IrProgram *job_term_adjoint(Problem *P, const char *name, double s)
{
    Sym *S = P->m.S;
    const int nf = P->nf, n2 = 2 * nf, m = P->ncons;
    int *vars = term_inputs(P);
    int nin = n2 + 1 + n2 + 2 * m;
    int *in = arena_alloc(S->arena, (size_t)nin * sizeof *in);
    SymId *lam = arena_alloc(S->arena, (size_t)n2 * sizeof *lam);
    memcpy(in, vars, (size_t)(n2 + 1) * sizeof *in);
    for (int a = 0; a < n2; a++) {
        const char *v = S->vars[vars[a]].name;
        in[n2 + 1 + a] = sym_add_var(S, arena_printf(S->arena, "(lam %s)", v), v, SV_OTHER, a, 0, 0);
        lam[a] = sym_var(S, in[n2 + 1 + a]);
    }
    S->no_expand++; /* as in job_term_build */
    SymId lag = sym_mul2(S, sym_num(S, s), P->objective), nuG = S->zero;
    for (int j = 0; j < m; j++) {
        in[2 * n2 + 1 + j] = sym_add_var(S, arena_printf(S->arena, "(mu %d)", j), "mu", SV_OTHER, j, 0, 0);
        in[2 * n2 + 1 + m + j] = sym_add_var(S, arena_printf(S->arena, "(nu %d)", j), "nu", SV_OTHER, j, 0, 0);
        lag = sym_add2(S, lag, sym_mul2(S, sym_var(S, in[2 * n2 + 1 + j]), P->cons[j]));
        nuG = sym_add2(S, nuG, sym_mul2(S, sym_var(S, in[2 * n2 + 1 + m + j]), P->cons[j]));
    }
    SymId root = sym_add2(S, sym_jvp(S, lag, vars, lam, n2), nuG);
    S->no_expand--;
    const char *names[1] = {"contraction"};
    return lower_inputs_tape(S, name, in, nin, P->m.par, P->m.np, &root, names, 1);
}

void job_term_refresh(JobTerm *t)
{
    for (int d = 0; d < 4; d++)
        if (t->prog[d])
            ir_tensor_refresh(t->prog[d]);
    vm_forget(t->vm);
}

void job_term_open(JobTerm *t, const double *params, int intervals)
{
    const IrProgram *progs[4] = {t->prog[0], t->prog[1], t->prog[2], t->prog[3]};
    t->vm = vm_alloc(progs, t->prog[3] ? 4 : 3, intervals < SOLVE_CHUNK ? intervals : SOLVE_CHUNK);
    t->params = params;
}

void job_term_forget(JobTerm *t)
{
    vm_forget(t->vm);
}

void job_term_close(JobTerm *t)
{
    vm_free(t->vm);
    t->vm = NULL;
    for (int d = 0; d < 4; d++) {
        ir_free(t->prog[d]);
        t->prog[d] = NULL;
    }
}

SolveJob job_problem_solve(const Problem *P, const char *name, int points, JobTerm *terms, const SolveTerm *cons,
                           const double *cons_value, const double *lo, const double *hi)
{
    return (SolveJob){
        .problem = name,
        .nf = P->nf,
        .fields = P->fnames,
        .xname = P->xname,
        .points = points,
        .x0 = P->x0,
        .x1 = P->x1,
        .sense = P->stationary ? SOLVE_STATIONARY : P->maximize ? SOLVE_MAXIMIZE : SOLVE_MINIMIZE,
        .objective = {job_term_eval, &terms[0], "objective"},
        .ncons = P->ncons,
        .cons = cons,
        .cons_value = cons_value,
        .fix_lo = P->fixed_lo,
        .fix_hi = P->fixed_hi,
        .lo = lo,
        .hi = hi,
    };
}

int job_points(const Job *J, int kind, int *points)
{
    const Setting *set = J->item->settings;
    *points = (int)settings_num(set, kind, "points");
    if (*points <= 100000000)
        return 0;
    diag_error(&J->F->diag, settings_get(set, "points")->e1->loc, "%d points is more than a run can hold (at most 1e8)",
               *points);
    diag_flush(&J->F->diag);
    return 1;
}

int job_node_values(Problem *P, Diag *d, const Setting *s, double *xv, double x0, double h, int first, int last,
                    double *y)
{
    Sym *S = P->m.S;
    const int nf = P->nf;
    for (const Assign *a = s ? s->assigns : NULL; a; a = a->next) {
        int field = -1;
        for (int i = 0; i < P->m.n; i++)
            if (strcmp(P->m.names[i], a->name.name) == 0)
                field = i;
        if (field < 0)
            continue; /* an unknown's starting value (infer) */
        SymId g = mech_problem_expr(P, d, a->value);
        if (!g) {
            diag_flush(d);
            return 1;
        }
        /* lowered and run by the VM over the nodes, a chunk at a time (a
         * million nodes by sym_eval took half a second) */
        const char *name = "node_value";
        IrProgram *prog = lower_inputs(S, "guess", &P->x, 1, P->m.par, P->m.np, &g, &name, 1);
        const IrProgram *progs[1] = {prog};
        Vm *vm = vm_alloc(progs, 1, CHUNK);
        double *params = mem_xalloc((size_t)(P->m.np + 1) * sizeof *params);
        for (int j = 0; j < P->m.np; j++)
            params[j] = xv[P->m.par[j]];
        double *xs = mem_xalloc((size_t)CHUNK * sizeof *xs), *vals = mem_xalloc((size_t)CHUNK * sizeof *vals);
        for (int k0 = first; k0 <= last; k0 += CHUNK) {
            int nb = last - k0 + 1 < CHUNK ? last - k0 + 1 : CHUNK;
            for (int b = 0; b < nb; b++)
                xs[b] = x0 + (k0 + b) * h;
            if (vm_run(vm, prog, nb, xs, 1, 0, params, vals, 1) != VM_OK)
                for (int b = 0; b < nb; b++)
                    vals[b] = NAN;
            for (int b = 0; b < nb; b++)
                y[(size_t)(k0 + b) * (size_t)nf + (size_t)field] = vals[b];
        }
        mem_free(xs);
        mem_free(vals);
        mem_free(params);
        vm_free(vm);
        ir_free(prog);
    }
    return 0;
}

void job_term_native(const Job *J, JobTerm *t)
{
    char err[512];
    for (int d = 0; d < 4 && J->opt->native; d++)
        if (t->prog[d] && native_attach(t->prog[d], err, sizeof err) != 0) {
            fprintf(stderr, "lag: warning: --native: %s; interpreting instead\n", err);
            break;
        }
}
