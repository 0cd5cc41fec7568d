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
#include "runtime/infer.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/solve.h"
#include "runtime/vm.h"

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
    for (int i = 0; i < nf; i++)
        for (int t = 0; t < np; t++) {
            if (P->fixed_lo[i]) {
                M->lo[i] = sym_eval(M->S, P->fix_lo[i], M->xv);
                M->lo_d[(size_t)i * np + t] = sym_eval(M->S, M->dlo[(size_t)i * np + t], M->xv);
            }
            if (P->fixed_hi[i]) {
                M->hi[i] = sym_eval(M->S, P->fix_hi[i], M->xv);
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
    if (mech_build_problem(&P, S, &F->diag, prob) != 0) {
        diag_flush(&F->diag);
        sym_free(S);
        return 1;
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
    /* the domain must not move with the unknowns: the nodes are fixed */
    for (int t = 0; t < np; t++)
        if (sym_depends(S, P.lo_e, theta_var[t], -1) || sym_depends(S, P.hi_e, theta_var[t], -1)) {
            fprintf(stderr, "lag: %s: infer %s: the domain depends on the unknown '%s': infer needs it fixed\n",
                    J->where, prob->name.name, names[t]);
            for (int k = 0; k < nterms; k++)
                job_term_close(&terms[k]);
            sym_free(S);
            return 1;
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
                    for (int q = 0; q < nterms; q++)
                        job_term_close(&terms[q]);
                    sym_free(S);
                    return 1;
                }
            }
    /* the truth where it is given: unknown scalars, and unknown functions at the nodes */
    double *truth = arena_alloc(S->arena, (size_t)(np + 1) * sizeof *truth);
    for (int t = 0; t < np; t++)
        truth[t] = NAN;
    InferCurve *curves = arena_alloc(S->arena, (size_t)(P.nfuncs + 1) * sizeof *curves);
    for (int k = 0; k < P.nfuncs; k++) {
        Curve *c = arena_alloc(S->arena, sizeof *c);
        *c = (Curve){&P.funcs[k], P.funcs[k].first - P.nparams, np, P.x0, P.x1};
        curves[k] = (InferCurve){P.funcs[k].name, curve_value, curve_d2, c, NULL};
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
                for (int q = 0; q < nterms; q++)
                    job_term_close(&terms[q]);
                sym_free(S);
                return 1;
            }
            double *vals = arena_alloc(S->arena, (size_t)points * sizeof *vals);
            for (int i = 0; i < points; i++) {
                xv[P.x] = P.x0 + i * h;
                vals[i] = sym_eval(S, g, xv);
            }
            curves[k].exact = vals;
        }
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
    SolveJob sj = {
        .job = "infer",
        .problem = prob->name.name,
        .nf = nf,
        .fields = P.m.names,
        .xname = P.xname,
        .points = points,
        .x0 = P.x0,
        .x1 = P.x1,
        .sense = P.stationary ? SOLVE_STATIONARY : P.maximize ? SOLVE_MAXIMIZE : SOLVE_MINIMIZE,
        .objective = {job_term_eval, &terms[0], "objective"},
        .ncons = P.ncons,
        .cons = cons,
        .cons_value = M.cons_value,
        .fix_lo = P.fixed_lo,
        .fix_hi = P.fixed_hi,
        .lo = M.lo,
        .hi = M.hi,
        .tol = settings_num(set, JOB_INFER, "tol"),
        .max_iter = (int)settings_num(set, JOB_INFER, "iterations"),
        .nsens = np,
        .cons_value_d = M.cons_d,
        .lo_d = M.lo_d,
        .hi_d = M.hi_d,
    };
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
        .ncurves = P.nfuncs,
        .noise_given = noise_s != NULL || sigma_columns,
        .max_iter = (int)settings_num(set, JOB_INFER, "fit_iterations"),
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
        int dof = nobs - np;
        if (!res.identifiable && res.unidentified[0] != '(')
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
        job_summary(J, "%s; %d iterations, %d forward solves, misfit %.4g (chi^2/dof %.3g)%s%s", text,
                    res.iterations, res.forward_solves, res.misfit, res.chi2_dof, outpath ? ", wrote " : "",
                    outpath ? outpath : "");
    }
    mem_free(outpath);
    mem_free(nodespath);
    mem_free(plotpath);
freey:
    mem_free(y);
freeobs:
    mem_free(obs);
close:
    for (int k = 0; k < nterms; k++)
        job_term_close(&terms[k]);
    sym_free(S);
    return rc;
}
