/*
 * lang/job_infer.c — the infer driver: a problem's unknowns fitted to
 * observed points (runtime/infer.h).  The problem is built as for solve,
 * each interval term also with its derivatives in the unknowns (the
 * engine's SOLVE_SENS program), and the runtime repeats the solve while it
 * moves the unknowns; moving them is this file's callback: the unknowns'
 * values in the parameter array, and the constraints' values and the
 * fixed ends (expressions of the parameters) with their derivatives.
 */
#define _POSIX_C_SOURCE 200809L
#include "lang/job.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "lang/lower.h"
#include "runtime/adjoint.h"
#include "runtime/infer.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/solve.h"
#include "runtime/train.h"
#include "runtime/vm.h"
#include "runtime/weights.h"

typedef struct Mover {
    Problem *P;
    Sym *S;
    int np;                  /* unknowns */
    const int *slot;         /* each unknown's index in params (and P->m.par) */
    double *params;          /* the engine's parameter array */
    double *xv;              /* variable values for sym_eval */
    JobTerm *terms;
    int nterms;
    SolveJob *sj;
    double *cons_value, *cons_d, *lo, *hi, *lo_d, *hi_d;
    SymId *dcons, *dlo, *dhi; /* the derivatives' expressions: ncons x np, nf x np */
} Mover;

/* An unknown function as infer's curve: its coefficients among theta. */
typedef struct Curve {
    const ProbFunc *f;
    int at;                  /* its first coefficient's index in theta */
    int np;
    double x0, x1;
} Curve;

static double curve_deriv(void *ctx, const double *theta, double x, int order, double *grad)
{
    const Curve *c = ctx;
    double g[64];
    double v = mech_func_deriv(c->f, theta + c->at, c->x0, c->x1, x, order, g);
    for (int t = 0; t < c->np; t++)
        grad[t] = t >= c->at && t < c->at + c->f->count ? g[t - c->at] : 0;
    return v;
}

static double curve_value(void *ctx, const double *theta, double x, double *grad)
{
    return curve_deriv(ctx, theta, x, 0, grad);
}

static double curve_d2(void *ctx, const double *theta, double x, double *grad)
{
    return curve_deriv(ctx, theta, x, 2, grad);
}

/* The problem's nets, fitted with the unknowns: every tensor of S (a
 * problem's tensors are its nets') as one vector w, the adjoint's
 * contraction (job_term_adjoint) whose reverse sweep gives the weights'
 * gradient, and the nets with one input drawn as curves of the domain
 * variable. */
typedef struct Nets {
    Problem *P;
    Sym *S;
    int nw;
    JobTerm *terms;
    int nterms;
    IrProgram *tape;          /* the contraction */
    Vm *vm;
    Adjoint *adj;
    int cap;                  /* intervals per chunk */
    double *in, *out, *ones;  /* a chunk's inputs (cap x width), outputs, and the sweep's seeds */
    int width;                /* 4nf + 1 + 2 ncons */
    double **grad;            /* per tensor of the tape: its gradient */
    size_t *at;               /* ...and its place in w */
    const double *params;
    double h, x0;
    int points;
    IrProgram **curve;        /* per curve: a tape of its value at x */
    Vm **curve_vm;
    Adjoint **curve_adj;      /* ...its reverse sweep */
    double ***curve_grad;     /* ...per tensor of it, the gradient */
    size_t **curve_at;        /* ...and the tensor's place in w */
    int ncurves;
} Nets;

/* Where a tensor's data lies in w: the tensors of S in order. */
static size_t tensor_at(const Sym *S, const double *data, int *found)
{
    size_t at = 0;
    for (int t = 0; t < S->ntensors; t++) {
        if (S->tensors[t].data == data) {
            *found = 1;
            return at;
        }
        at += (size_t)S->tensors[t].rows * (size_t)S->tensors[t].cols;
    }
    *found = 0;
    return 0;
}

static int nets_set(void *ctx, const double *w)
{
    Nets *N = ctx;
    Sym *S = N->S;
    size_t at = 0;
    for (int t = 0; t < S->ntensors; t++) {
        size_t len = (size_t)S->tensors[t].rows * (size_t)S->tensors[t].cols;
        memcpy(S->tensors[t].data, w + at, len * sizeof *w);
        at += len;
    }
    for (int k = 0; k < N->nterms; k++)
        job_term_refresh(&N->terms[k]);
    ir_tensor_refresh(N->tape);
    vm_forget(N->vm);
    for (int c = 0; c < N->ncurves; c++) {
        ir_tensor_refresh(N->curve[c]);
        vm_forget(N->curve_vm[c]);
    }
    return 0;
}

static int nets_grad(void *ctx, const double *y, double s, const double *mu, const double *lam, const double *nu,
                     double *g)
{
    Nets *N = ctx;
    const int nf = N->P->m.n, m = N->P->ncons, q = 2 * nf, B = N->points - 1, wd = N->width;
    const IrProgram *p = N->tape;
    (void)s; /* built into the tape */
    for (int t = 0; t < p->ntensors; t++)
        memset(N->grad[t], 0, (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols * sizeof(double));
    for (int k0 = 0; k0 < B; k0 += N->cap) {
        int nb = B - k0 < N->cap ? B - k0 : N->cap;
        for (int k = 0; k < nb; k++) {
            double *r = N->in + (size_t)k * (size_t)wd;
            memcpy(r, y + (size_t)(k0 + k) * (size_t)nf, (size_t)q * sizeof *r);
            r[q] = N->x0 + (k0 + k + 0.5) * N->h;
            memcpy(r + q + 1, lam + (size_t)(k0 + k) * (size_t)nf, (size_t)q * sizeof *r);
            memcpy(r + 2 * q + 1, mu, (size_t)m * sizeof *r);
            memcpy(r + 2 * q + 1 + m, nu, (size_t)m * sizeof *r);
        }
        if (vm_run(N->vm, p, nb, N->in, wd, 0, N->params, N->out, 1) != VM_OK)
            return -1;
        adj_run(N->adj, N->vm, p, nb, N->ones, N->grad);
    }
    memset(g, 0, (size_t)N->nw * sizeof *g);
    for (int t = 0; t < p->ntensors; t++) {
        size_t len = (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols;
        for (size_t i = 0; i < len; i++)
            g[N->at[t] + i] += N->grad[t][i];
    }
    return 0;
}

/* A net of one input as a curve of the domain variable (no band: its
 * weights have no standard errors). */
typedef struct NetCurve {
    Nets *N;
    int c;
    int np;
} NetCurve;

static double net_curve_value(void *ctx, const double *theta, double x, double *grad)
{
    const NetCurve *nc = ctx;
    (void)theta;
    for (int t = 0; t < nc->np; t++)
        grad[t] = 0;
    double v = NAN;
    if (vm_run(nc->N->curve_vm[nc->c], nc->N->curve[nc->c], 1, &x, 1, 0, nc->N->params, &v, 1) != VM_OK)
        return NAN;
    return v;
}

static double net_curve_wvalue(void *ctx, double x, double *gw)
{
    const NetCurve *nc = ctx;
    Nets *N = nc->N;
    const IrProgram *p = N->curve[nc->c];
    double v = NAN, one = 1;
    for (int t = 0; t < p->ntensors; t++)
        memset(N->curve_grad[nc->c][t], 0, (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols * sizeof(double));
    if (vm_run(N->curve_vm[nc->c], p, 1, &x, 1, 0, N->params, &v, 1) != VM_OK)
        return NAN;
    adj_run(N->curve_adj[nc->c], N->curve_vm[nc->c], p, 1, &one, N->curve_grad[nc->c]);
    for (int t = 0; t < p->ntensors; t++) {
        size_t len = (size_t)p->tensors[t].rows * (size_t)p->tensors[t].cols;
        for (size_t i = 0; i < len; i++)
            gw[N->curve_at[nc->c][t] + i] += N->curve_grad[nc->c][t][i];
    }
    return v;
}

static void nets_close(Nets *N)
{
    ir_free(N->tape);
    vm_free(N->vm);
    adj_free(N->adj);
    mem_free(N->in);
    mem_free(N->out);
    mem_free(N->ones);
    for (int c = 0; c < N->ncurves; c++) {
        ir_free(N->curve[c]);
        vm_free(N->curve_vm[c]);
        adj_free(N->curve_adj[c]);
    }
}

/* A setting infer cannot honour when the problem has nets, or NULL. */
static const Setting *refused_with_nets(const Setting *set, const char **why)
{
    const Setting *s = settings_get(set, "regularize");
    if (s && s->v1 > 0) {
        *why = "smooths unknown functions poly(k) and spline(k), not nets (a net of few hidden units is smooth "
               "already)";
        return s;
    }
    s = settings_get(set, "samples");
    if (s && s->v1 > 0) {
        *why = "refits on noise realisations are not built for problems with nets yet";
        return s;
    }
    s = settings_get(set, "fit_method");
    if (s && strcmp(s->e1->id.name, "lbfgs") != 0) {
        *why = "Levenberg–Marquardt needs a Jacobian column per unknown, and a net's weights are fitted by "
               "'fit_method lbfgs' (the default with nets)";
        return s;
    }
    return NULL;
}

static int move(void *ctx, const double *theta)
{
    Mover *M = ctx;
    Problem *P = M->P;
    const int np = M->np, nf = P->m.n;
    for (int t = 0; t < np; t++) {
        M->params[M->slot[t]] = theta[t];
        M->xv[P->m.par[M->slot[t]]] = theta[t];
    }
    for (int j = 0; j < P->ncons; j++) {
        M->cons_value[j] = sym_eval(M->S, P->cons_value[j], M->xv);
        for (int t = 0; t < np; t++)
            M->cons_d[(size_t)j * np + t] = sym_eval(M->S, M->dcons[(size_t)j * np + t], M->xv);
    }
    for (int i = 0; i < nf; i++) {
        if (P->fixed_lo[i])
            M->lo[i] = sym_eval(M->S, P->fix_lo[i], M->xv);
        if (P->fixed_hi[i])
            M->hi[i] = sym_eval(M->S, P->fix_hi[i], M->xv);
        for (int t = 0; t < np; t++) {
            if (P->fixed_lo[i])
                M->lo_d[(size_t)i * np + t] = sym_eval(M->S, M->dlo[(size_t)i * np + t], M->xv);
            if (P->fixed_hi[i])
                M->hi_d[(size_t)i * np + t] = sym_eval(M->S, M->dhi[(size_t)i * np + t], M->xv);
        }
    }
    for (int k = 0; k < M->nterms; k++)
        job_term_forget(&M->terms[k]);
    return 0;
}

/* The observations of the CSV file: the domain variable's column and each
 * field's that is there (with FIELD_sigma, its own standard deviations).
 * Returns the count, or -1 after a located error. */
static int read_obs(const Job *J, Problem *P, const Setting *obs_s, double x0, double x1, double noise,
                    InferObs **out)
{
    Front *F = J->F;
    const int nf = P->m.n;
    const char *path = diag_beside(&F->diag, F->arena, obs_s->e1->str, obs_s->e1->loc);
    CsvTable csv = {0};
    char err[1024];
    int io_error;
    if (csv_read(path, &csv, &io_error, err, sizeof err) != 0) {
        diag_error(&F->diag, obs_s->e1->loc, "%s", err);
        return io_error ? -4 : -1;
    }
    int xc = csv_column(&csv, P->xname), bad = 0, nfields = 0;
    int *fc = arena_alloc(F->arena, (size_t)nf * sizeof *fc), *sc = arena_alloc(F->arena, (size_t)nf * sizeof *sc);
    for (int i = 0; i < nf; i++) {
        fc[i] = csv_column(&csv, P->m.names[i]);
        sc[i] = csv_column(&csv, arena_printf(F->arena, "%s_sigma", P->m.names[i]));
        nfields += fc[i] >= 0;
        if (sc[i] >= 0 && fc[i] < 0)
            sc[i] = -1;
    }
    if (xc < 0) {
        diag_error(&F->diag, obs_s->e1->loc, "'%s' has no column '%s' (observations need the domain variable "
                   "and at least one field: %s)", obs_s->e1->str, P->xname, P->m.names[0]);
        bad = 1;
    } else if (nfields == 0) {
        diag_error(&F->diag, obs_s->e1->loc, "'%s' has no column for a field of '%s' (its fields: %s%s)",
                   obs_s->e1->str, J->target->name.name, P->m.names[0], nf > 1 ? ", ..." : "");
        bad = 1;
    }
    InferObs *o = mem_xalloc(((size_t)csv.nrows * (size_t)nf + 1) * sizeof *o);
    int n = 0;
    for (long r = 0; r < csv.nrows && !bad; r++) {
        const double *row = csv.data + (size_t)r * (size_t)csv.ncols;
        double x = row[xc];
        if (!(x >= x0 && x <= x1)) {
            diag_error(&F->diag, obs_s->e1->loc, "'%s', data row %ld: %s = %.10g is outside the domain %.10g .. %.10g",
                       obs_s->e1->str, r + 1, P->xname, x, x0, x1);
            bad = 1;
            break;
        }
        for (int i = 0; i < nf; i++) {
            if (fc[i] < 0)
                continue;
            double sigma = sc[i] >= 0 ? row[sc[i]] : noise;
            if (!(sigma > 0)) {
                diag_error(&F->diag, obs_s->e1->loc, "'%s', data row %ld: %s_sigma = %g is not a standard deviation "
                           "(it must be > 0)", obs_s->e1->str, r + 1, P->m.names[i], sigma);
                bad = 1;
                break;
            }
            o[n++] = (InferObs){x, row[fc[i]], sigma, i, (int)r};
        }
    }
    csv_table_free(&csv);
    if (bad) {
        mem_free(o);
        return -1;
    }
    *out = o;
    return n;
}

int job_infer(Job *J)
{
    Front *F = J->F;
    const Item *job = J->item, *prob = J->target;
    const Setting *set = job->settings;
    int points;
    if (job_points(J, JOB_INFER, &points) != 0)
        return 1;
    Sym *S = sym_new(F->arena);
    Problem P;
    if (mech_build_problem(&P, S, &F->diag, prob, J->run->trained) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return P.m.io_errors ? 4 : 1;
    }
    const int nf = P.m.n, nterms = 1 + P.ncons;
    /* the unknowns: the problem's parameters after its own, before h */
    const int np = P.m.np - 1 - P.nparams;
    int *slot = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *slot), *theta_var = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *theta_var);
    const char **names = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *names);
    for (int t = 0; t < np; t++) {
        slot[t] = P.nparams + t;
        theta_var[t] = P.m.par[slot[t]];
        names[t] = S->vars[theta_var[t]].name;
    }
    JobTerm *terms = arena_alloc(S->arena, (size_t)nterms * sizeof *terms);
    SolveTerm *cons = arena_alloc(S->arena, (size_t)(P.ncons + 1) * sizeof *cons);
    for (int k = 0; k < nterms; k++) {
        const char *name = k == 0 ? arena_printf(S->arena, "%s.objective", prob->name.name)
                                  : arena_printf(S->arena, "%s.constraint%d", prob->name.name, k);
        SymId term = k == 0 ? P.objective : P.cons[k - 1];
        job_term_build(&terms[k], &P, term, name);
        job_term_sens(&terms[k], &P, term, name, theta_var, np);
    }
    double *params = job_params(J, S, set, terms[0].prog[SOLVE_HESSIAN], prob, &P.m);
    double *xv = arena_alloc(S->arena, (size_t)(S->nvars + 1) * sizeof *xv);
    for (int j = 0; j < P.m.np; j++)
        xv[P.m.par[j]] = params[j];
    int rc = 0;
    Nets N = {0}; /* the problem's nets, below */
    /* the domain must not move with the unknowns: the nodes are fixed */
    for (int t = 0; t < np; t++)
        if (sym_depends(S, P.lo_e, theta_var[t], -1) || sym_depends(S, P.hi_e, theta_var[t], -1)) {
            fprintf(stderr, "lag: %s: infer %s: the domain depends on the unknown '%s': infer needs it fixed\n",
                    J->where, prob->name.name, names[t]);
            rc = 1;
            goto close;
        }
    P.x0 = sym_eval(S, P.lo_e, xv);
    P.x1 = sym_eval(S, P.hi_e, xv);
    const double h = (P.x1 - P.x0) / (points - 1);
    params[P.m.np - 1] = h;
    xv[P.h] = h;
    for (int k = 0; k < nterms; k++) {
        job_term_native(J, &terms[k]);
        job_term_open(&terms[k], params, points - 1);
    }
    /* the start: declared values, 'param' overrides, then 'guess' */
    double *theta = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *theta);
    for (int t = 0; t < np; t++)
        theta[t] = params[slot[t]];
    const Setting *guess = settings_get(set, "guess"), *exact = settings_get(set, "exact");
    for (const Assign *a = guess ? guess->assigns : NULL; a; a = a->next)
        for (int t = 0; t < np; t++)
            if (strcmp(a->name.name, names[t]) == 0)
                theta[t] = a->v;
    /* bounds: the start must lie strictly inside */
    double *lower = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *lower), *upper = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *upper);
    for (int t = 0; t < np; t++)
        lower[t] = upper[t] = NAN;
    const Setting *bounds = settings_get(set, "bounds");
    for (const Assign *a = bounds ? bounds->assigns : NULL; a; a = a->next)
        for (int t = 0; t < np; t++)
            if (strcmp(a->name.name, names[t]) == 0) {
                lower[t] = a->v;
                upper[t] = a->v_hi;
                if (!(theta[t] > a->v && theta[t] < a->v_hi)) {
                    diag_error(&F->diag, a->loc, "the start %s = %g is not inside its bounds %g .. %g (set it with "
                               "'guess %s = ...')", names[t], theta[t], a->v, a->v_hi, names[t]);
                    diag_flush(&F->diag);
                    rc = 1;
                    goto close;
                }
            }
    /* the truth where it is given: unknown scalars, and unknown functions at the nodes */
    double *truth = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *truth);
    for (int t = 0; t < np; t++)
        truth[t] = NAN;
    InferCurve *curves = arena_alloc(S->arena, (size_t)(P.nfuncs + 1) * sizeof *curves), *curves_funcs = curves;
    for (int k = 0; k < P.nfuncs; k++) {
        Curve *c = arena_alloc(S->arena, sizeof *c);
        *c = (Curve){&P.funcs[k], P.funcs[k].first - P.nparams, np, P.x0, P.x1};
        curves[k] = (InferCurve){P.funcs[k].name, curve_value, curve_d2, c, NULL, 0, NULL};
    }
    for (const Assign *a = exact ? exact->assigns : NULL; a; a = a->next) {
        for (int t = 0; t < np; t++)
            if (strcmp(a->name.name, names[t]) == 0)
                truth[t] = a->v;
        for (int k = 0; k < P.nfuncs; k++) {
            if (strcmp(a->name.name, P.funcs[k].name) != 0)
                continue;
            SymId g = mech_problem_expr(&P, &F->diag, a->value);
            if (!g) {
                diag_flush(&F->diag);
                rc = 1;
                goto close;
            }
            double *vals = arena_alloc(S->arena, (size_t)points * sizeof *vals);
            for (int i = 0; i < points; i++) {
                xv[P.x] = P.x0 + i * h;
                vals[i] = sym_eval(S, g, xv);
            }
            curves[k].exact = vals;
        }
    }

    /* the problem's nets: their weights are fitted too, by L-BFGS through the adjoint */
    int ncurves = P.nfuncs;
    double *w = NULL;
    const Setting *save_s = settings_get(set, "save");
    const int lbfgs = S->ntensors > 0 || strcmp(settings_word(set, JOB_INFER, "fit_method"), "lbfgs") == 0;
    if (S->ntensors > 0) {
        const char *why;
        const Setting *bad = refused_with_nets(set, &why);
        if (bad) {
            diag_error(&F->diag, bad->loc, "'%s': %s", bad->head.name, why);
            diag_flush(&F->diag);
            rc = 1;
            goto close;
        }
        N.P = &P;
        N.S = S;
        N.terms = terms;
        N.nterms = nterms;
        N.params = params;
        N.h = h;
        N.x0 = P.x0;
        N.points = points;
        for (int t = 0; t < S->ntensors; t++)
            N.nw += S->tensors[t].rows * S->tensors[t].cols;
        w = arena_alloc(S->arena, (size_t)N.nw * sizeof *w);
        for (int t = 0, at = 0; t < S->ntensors; t++) {
            size_t len = (size_t)S->tensors[t].rows * (size_t)S->tensors[t].cols;
            memcpy(w + at, S->tensors[t].data, len * sizeof *w);
            at += (int)len;
        }
        N.tape = job_term_adjoint(&P, arena_printf(S->arena, "%s.adjoint", prob->name.name), P.maximize ? -1 : 1);
        N.cap = train_chunk_size(N.tape, points - 1);
        N.width = 4 * nf + 1 + 2 * P.ncons;
        const IrProgram *tp = N.tape;
        N.vm = vm_alloc(&tp, 1, N.cap);
        N.vm->gemm = 1;
        char err[512];
        N.adj = adj_alloc(N.tape, N.cap, err, sizeof err);
        N.in = mem_xalloc((size_t)N.cap * (size_t)N.width * sizeof *N.in);
        N.out = mem_xalloc((size_t)N.cap * sizeof *N.out);
        N.ones = mem_xalloc((size_t)N.cap * sizeof *N.ones);
        for (int i = 0; i < N.cap; i++)
            N.ones[i] = 1;
        N.grad = arena_alloc(S->arena, (size_t)(N.tape->ntensors + 1) * sizeof *N.grad);
        N.at = arena_alloc(S->arena, (size_t)(N.tape->ntensors + 1) * sizeof *N.at);
        int found = N.adj != NULL;
        for (int t = 0; t < N.tape->ntensors && found; t++) {
            N.grad[t] = arena_alloc(S->arena, (size_t)N.tape->tensors[t].rows * (size_t)N.tape->tensors[t].cols *
                                                  sizeof(double));
            N.at[t] = tensor_at(S, N.tape->tensors[t].data, &found);
        }
        if (!found) {
            fprintf(stderr, "lag: %s: infer %s: the nets' gradient cannot be taken: %s\n", J->where,
                    prob->name.name, N.adj ? "a tensor of the adjoint is not a net's" : err);
            rc = 3;
            goto close;
        }
        /* the functions of x the nets make, drawn with their truth */
        const int errors0 = F->diag.errors;
        const int maxc = P.m.nlets + P.m.nnets + 1;
        const char **cnames = arena_alloc(S->arena, (size_t)maxc * sizeof *cnames);
        SymId *cvals = arena_alloc(S->arena, (size_t)maxc * sizeof *cvals);
        int nc = mech_net_curves(&P, cnames, cvals, maxc);
        curves = arena_alloc(S->arena, (size_t)(P.nfuncs + nc + 1) * sizeof *curves);
        memcpy(curves, curves_funcs, (size_t)P.nfuncs * sizeof *curves);
        N.curve = arena_alloc(S->arena, (size_t)(nc + 1) * sizeof *N.curve);
        N.curve_vm = arena_alloc(S->arena, (size_t)(nc + 1) * sizeof *N.curve_vm);
        N.curve_adj = arena_alloc(S->arena, (size_t)(nc + 1) * sizeof *N.curve_adj);
        N.curve_grad = arena_alloc(S->arena, (size_t)(nc + 1) * sizeof *N.curve_grad);
        N.curve_at = arena_alloc(S->arena, (size_t)(nc + 1) * sizeof *N.curve_at);
        for (int k = 0; k < nc; k++) {
            const char *oname = cnames[k];
            IrProgram *cp = lower_inputs_tape(S, arena_printf(S->arena, "%s.curve", cnames[k]), &P.x, 1, P.m.par,
                                              P.m.np, &cvals[k], &oname, 1);
            const IrProgram *cpp = cp;
            int c = N.ncurves;
            N.curve[c] = cp;
            N.curve_vm[c] = vm_alloc(&cpp, 1, 1);
            N.curve_adj[c] = adj_alloc(cp, 1, err, sizeof err);
            N.curve_grad[c] = arena_alloc(S->arena, (size_t)(cp->ntensors + 1) * sizeof **N.curve_grad);
            N.curve_at[c] = arena_alloc(S->arena, (size_t)(cp->ntensors + 1) * sizeof **N.curve_at);
            int ok = N.curve_adj[c] != NULL;
            for (int t = 0; t < cp->ntensors && ok; t++) {
                N.curve_grad[c][t] = arena_alloc(S->arena, (size_t)cp->tensors[t].rows * (size_t)cp->tensors[t].cols *
                                                               sizeof(double));
                N.curve_at[c][t] = tensor_at(S, cp->tensors[t].data, &ok);
            }
            if (!ok)
                diag_error(&F->diag, prob->loc, "'%s' cannot be drawn: %s", cnames[k],
                           N.curve_adj[c] ? "a tensor of it is not a net's" : err);
            NetCurve *ncv = arena_alloc(S->arena, sizeof *ncv);
            *ncv = (NetCurve){&N, N.ncurves, np};
            N.ncurves++;
            curves[ncurves] = (InferCurve){cnames[k], net_curve_value, NULL, ncv, NULL, 0, net_curve_wvalue};
            for (const Assign *a = exact ? exact->assigns : NULL; a; a = a->next)
                if (strcmp(a->name.name, cnames[k]) == 0) {
                    SymId g = mech_problem_expr(&P, &F->diag, a->value);
                    double *vals = arena_alloc(S->arena, (size_t)points * sizeof *vals);
                    for (int i = 0; g && i < points; i++) {
                        xv[P.x] = P.x0 + i * h;
                        vals[i] = sym_eval(S, g, xv);
                    }
                    curves[ncurves].exact = g ? vals : NULL;
                }
            ncurves++;
        }
        for (const Assign *a = exact ? exact->assigns : NULL; a; a = a->next) {
            int drawn = 0, fn = 0;
            for (int k = 0; k < ncurves; k++)
                drawn |= strcmp(a->name.name, curves[k].name) == 0;
            for (int k = 0; k < np; k++)
                drawn |= strcmp(a->name.name, names[k]) == 0;
            for (int k = 0; k < P.nfuncs; k++)
                fn |= strcmp(a->name.name, P.funcs[k].name) == 0;
            if (!drawn && !fn)
                diag_error(&F->diag, a->name.loc, "'exact %s': only the functions of %s that the nets make are "
                           "drawn against a truth (lets that call a net and use no field, or a net of one input "
                           "when there is no such let), and '%s' is not one", a->name.name, P.xname, a->name.name);
        }
        if (F->diag.errors > errors0) {
            diag_flush(&F->diag);
            rc = 1;
            goto close;
        }
    } else if (np == 0) {
        fprintf(stderr, "lag: %s: infer %s: its nets are not used by the objective or a constraint, and it has no "
                "other unknown: nothing to fit\n", J->where, prob->name.name);
        rc = 1;
        goto close;
    } else if (save_s) {
        diag_error(&F->diag, save_s->loc, "'save' writes the fitted weights of a problem's nets, and '%s' has none",
                   prob->name.name);
        diag_flush(&F->diag);
        rc = 1;
        goto close;
    }

    Mover M = {.P = &P, .S = S, .np = np, .slot = slot, .params = params, .xv = xv, .terms = terms,
               .nterms = nterms};
    M.cons_value = arena_alloc(S->arena, (size_t)(P.ncons + 1) * sizeof *M.cons_value);
    M.cons_d = arena_alloc(S->arena, (size_t)(P.ncons * np + 1) * sizeof *M.cons_d);
    M.dcons = arena_alloc(S->arena, (size_t)(P.ncons * np + 1) * sizeof *M.dcons);
    M.lo = arena_alloc(S->arena, (size_t)nf * sizeof *M.lo);
    M.hi = arena_alloc(S->arena, (size_t)nf * sizeof *M.hi);
    M.lo_d = arena_alloc(S->arena, (size_t)(nf * np + 1) * sizeof *M.lo_d);
    M.hi_d = arena_alloc(S->arena, (size_t)(nf * np + 1) * sizeof *M.hi_d);
    M.dlo = arena_alloc(S->arena, (size_t)(nf * np + 1) * sizeof *M.dlo);
    M.dhi = arena_alloc(S->arena, (size_t)(nf * np + 1) * sizeof *M.dhi);
    for (int j = 0; j < P.ncons; j++)
        for (int t = 0; t < np; t++)
            M.dcons[(size_t)j * np + t] = sym_diff(S, P.cons_value[j], theta_var[t]);
    for (int i = 0; i < nf; i++) {
        M.lo[i] = M.hi[i] = NAN;
        for (int t = 0; t < np; t++) {
            M.dlo[(size_t)i * np + t] = P.fixed_lo[i] ? sym_diff(S, P.fix_lo[i], theta_var[t]) : S->zero;
            M.dhi[(size_t)i * np + t] = P.fixed_hi[i] ? sym_diff(S, P.fix_hi[i], theta_var[t]) : S->zero;
            M.lo_d[(size_t)i * np + t] = M.hi_d[(size_t)i * np + t] = 0;
        }
    }
    for (int j = 0; j < P.ncons; j++)
        cons[j] = (SolveTerm){job_term_eval, &terms[1 + j], arena_printf(S->arena, "constraint %d", j + 1)};

    /* the observations */
    const Setting *obs_s = settings_get(set, "observe"), *noise_s = settings_get(set, "noise");
    InferObs *obs = NULL;
    int nobs = read_obs(J, &P, obs_s, P.x0, P.x1, noise_s ? noise_s->v1 : 1, &obs);
    if (nobs < 0) {
        diag_flush(&F->diag);
        rc = nobs == -4 ? 4 : 1;
        goto close;
    }
    int sigma_columns = 0;
    for (int i = 0; i < nobs; i++)
        sigma_columns |= obs[i].sigma != (noise_s ? noise_s->v1 : 1);
    if (nobs <= np) {
        diag_error(&F->diag, obs_s->e1->loc, "'%s' has %d observation%s for %d unknown%s: a fit needs more "
                   "observations than unknowns", obs_s->e1->str, nobs, nobs == 1 ? "" : "s", np, np == 1 ? "" : "s");
        diag_flush(&F->diag);
        rc = 1;
        goto freeobs;
    }

    const Setting *reg_s = settings_get(set, "regularize");
    if (reg_s && reg_s->v1 > 0 && P.nfuncs == 0) {
        diag_error(&F->diag, reg_s->loc, "'regularize' smooths unknown functions, and '%s' has none (declare one, "
                   "as in 'unknown rho = poly(6)')", prob->name.name);
        diag_flush(&F->diag);
        rc = 1;
        goto freeobs;
    }
    const Setting *samples_s = settings_get(set, "samples");
    if (samples_s && samples_s->v1 > 0 && !(noise_s || sigma_columns)) {
        diag_error(&F->diag, samples_s->loc, "refits on noise realisations need the noise level: give 'noise' (or "
                   "FIELD_sigma columns)");
        diag_flush(&F->diag);
        rc = 1;
        goto freeobs;
    }
    if (samples_s && samples_s->v1 > 100000) {
        diag_error(&F->diag, samples_s->loc, "%.3g refits is more than a run should take (at most 1e5)", samples_s->v1);
        diag_flush(&F->diag);
        rc = 1;
        goto freeobs;
    }
    double *y = mem_xalloc((size_t)points * (size_t)nf * sizeof *y);
    for (size_t i = 0; i < (size_t)points * (size_t)nf; i++)
        y[i] = NAN;
    if (job_node_values(&P, &F->diag, guess, xv, P.x0, h, 0, points - 1, y) != 0) {
        rc = 1;
        goto freey;
    }
    char *outpath = job_output(J, settings_get(set, "output"));
    char *plotpath = job_output(J, settings_get(set, "plot"));
    char *nodespath = NULL;
    if (outpath) {
        size_t len = strlen(outpath);
        const char *dot = len > 4 && strcmp(outpath + len - 4, ".csv") == 0 ? outpath + len - 4 : outpath + len;
        nodespath = mem_xalloc(len + 16);
        snprintf(nodespath, len + 16, "%.*s_nodes.csv", (int)(dot - outpath), outpath);
    }
    SolveJob sj = job_problem_solve(&P, prob->name.name, points, terms, cons, M.cons_value, M.lo, M.hi);
    sj.job = "infer";
    sj.tol = settings_num(set, JOB_INFER, "tol");
    sj.max_iter = (int)settings_num(set, JOB_INFER, "iterations");
    sj.nsens = np;
    sj.cons_value_d = M.cons_d;
    sj.lo_d = M.lo_d;
    sj.hi_d = M.hi_d;
    M.sj = &sj;
    InferJob ij = {
        .problem = prob->name.name,
        .where = J->where,
        .solve = &sj,
        .np = np,
        .names = names,
        .theta = theta,
        .lower = lower,
        .upper = upper,
        .set = move,
        .ctx = &M,
        .nobs = nobs,
        .obs = obs,
        .truth = truth,
        .curves = curves,
        .ncurves = ncurves,
        .noise_given = noise_s != NULL || sigma_columns,
        .max_iter = lbfgs && !settings_get(set, "fit_iterations") ? 2000
                                                                   : (int)settings_num(set, JOB_INFER, "fit_iterations"),
        .nw = N.nw,
        .w = w,
        .set_w = nets_set,
        .grad_w = nets_grad,
        .net_ctx = &N,
        .lbfgs = lbfgs,
        .regularize = settings_num(set, JOB_INFER, "regularize"),
        .geodesic = strcmp(settings_word(set, JOB_INFER, "fit_method"), "lmaccel") == 0,
        .samples = (int)settings_num(set, JOB_INFER, "samples"),
        .seed = (unsigned long)settings_num(set, JOB_INFER, "seed"),
        .tol = settings_num(set, JOB_INFER, "fit_tol"),
        .output = outpath,
        .nodes_output = nodespath,
        .plot = plotpath,
        .progress = !J->opt->quiet && (J->opt->progress || isatty(2)),
    };
    char *savepath = job_output(J, save_s);
    {
        char err[1024];
        if (savepath && io_check_writable(savepath, err, sizeof err) != 0) {
            fprintf(stderr, "lag: %s: infer %s: %s\n", J->where, prob->name.name, err);
            mem_free(savepath);
            mem_free(outpath);
            mem_free(nodespath);
            mem_free(plotpath);
            rc = 4;
            goto freey;
        }
    }
    InferResult res = {0};
    res.y = y;
    res.stderr_ = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *res.stderr_);
    res.corr = arena_alloc(S->arena, (size_t)(np * np + 1) * sizeof *res.corr);
    res.refit_stderr = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *res.refit_stderr);
    rc = infer_run(&ij, &res);
    if (J->opt->json && infer_json(stdout, &ij, &res) != 0 && rc == 0)
        rc = 4;
    if (res.status != 0)
        fprintf(stderr, "lag: %s: infer %s: %s\n", J->where, prob->name.name, res.message);
    if (res.status == 0 || res.status == 3) {
        double dof = nobs - res.p_eff; /* the penalty's and the nets' effective parameters counted */
        if (!res.identifiable && !res.unidentified[0])
            ; /* not assessed: the fit stopped before */
        else if (!res.identifiable && res.unidentified[0] != '(')
            fprintf(stderr, "lag: warning: %s: infer %s: the data do not determine %s: the fit does not depend "
                    "on it (Fisher matrix condition %.3g); fix it, or observe something that depends on it\n",
                    J->where, prob->name.name, res.unidentified, res.fisher_cond);
        else if (!res.identifiable)
            fprintf(stderr, "lag: warning: %s: infer %s: the data do not determine these unknowns separately: the "
                    "fit does not change along %s (Fisher matrix condition %.3g); fix one of them, or add a "
                    "constraint or observations that tell them apart\n",
                    J->where, prob->name.name, res.unidentified, res.fisher_cond);
        else if (ij.noise_given && dof > 0 && fabs(res.chi2_dof - 1) > 3 * sqrt(2.0 / dof))
            fprintf(stderr, "lag: warning: %s: infer %s: chi^2 per degree of freedom is %.3g (1 expected, "
                    "within %.2g): the residuals are %s than the noise says; either the noise level is wrong "
                    "(the residuals suggest %.3g) or the model does not fit\n",
                    J->where, prob->name.name, res.chi2_dof, 3 * sqrt(2.0 / dof),
                    res.chi2_dof > 1 ? "larger" : "smaller", res.sigma_est);
    }
    if ((res.status == 0 || res.status == 3) && N.nw > 0) {
        /* the fitted weights (also where the fit stopped unconverged: the
         * summary says so): for the later jobs of the run, and saved */
        WeightsTensor *wt = mem_xalloc((size_t)S->ntensors * sizeof *wt);
        for (int t = 0; t < S->ntensors; t++) {
            const SymTensor *st = &S->tensors[t];
            mech_trained_set(&J->run->trained, prob, st->name, st->rows, st->cols, st->data, 64);
            wt[t] = (WeightsTensor){(char *)st->name, st->rows, st->cols, st->data};
        }
        char err[1024];
        if (savepath && weights_write(savepath, wt, S->ntensors, err, sizeof err) != 0) {
            fprintf(stderr, "lag: %s: infer %s: %s\n", J->where, prob->name.name, err);
            rc = rc ? rc : 4;
        }
        mem_free(wt);
    }
    if (rc == 0) {
        char text[1024] = "";
        size_t len = 0;
        for (int t = 0; t < np && len < 900; t++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s = %.8g ± %.2g", t ? ", " : "", names[t],
                                    theta[t], res.stderr_[t]);
        if (ij.samples > 0) {
            len += (size_t)snprintf(text + len, sizeof text - len, "; the spread of %d refits:", res.refits);
            for (int t = 0; t < np && len < 980; t++)
                len += (size_t)snprintf(text + len, sizeof text - len, "%s %s %.2g", t ? "," : "", names[t],
                                        res.refit_stderr[t]);
        }
        if (ij.regularize > 0)
            len += (size_t)snprintf(text + len, sizeof text - len, "; smoothness penalty %.3g, %.3g effective "
                                    "parameters", res.penalty, res.p_eff);
        if (N.nw > 0)
            len += (size_t)snprintf(text + len, sizeof text - len, "%snets: %d weights", np ? "; " : "", N.nw);
        if (N.nw > 0 && save_s)
            len += (size_t)snprintf(text + len, sizeof text - len, ", saved %s", save_s->e1->str);
        job_summary(J, "%s; %d iterations, %d forward solves, misfit %.4g (chi^2/dof %.3g)%s%s", text,
                    res.iterations, res.forward_solves, res.misfit, res.chi2_dof, outpath ? ", wrote " : "",
                    outpath ? outpath : "");
    }
    mem_free(savepath);
    mem_free(outpath);
    mem_free(nodespath);
    mem_free(plotpath);
freey:
    mem_free(y);
freeobs:
    mem_free(obs);
close:
    nets_close(&N);
    for (int k = 0; k < nterms; k++)
        job_term_close(&terms[k]);
    sym_free(S);
    return rc;
}
