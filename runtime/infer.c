/*
 * runtime/infer.c — the infer job (runtime/infer.h): weighted least
 * squares over the solutions of a variational problem.
 *
 * Residuals.  Observation i of field f at x_i, with standard deviation
 * sigma_i, against the discrete solution read as the engine's
 * discretisation reads it (piecewise linear between the nodes):
 *     r_i(theta) = ((1 - s) y_f,k + s y_f,k+1 - d_i) / sigma_i,
 * x_i = x_k + s h.  Its Jacobian is the same interpolation of the
 * engine's sensitivities dy/dtheta, which come from one extra solve of the
 * exact KKT matrix per unknown at each solution (runtime/solve.c,
 * sensitivities).  Without a noise level, sigma_i = 1 and the covariance
 * is scaled by the residuals' chi^2 per degree of freedom.
 *
 * The optimiser.  GSL's multifit_nlinear trust region: Levenberg–Marquardt
 * (More's scaling), or with geodesic acceleration (Transtrum and Sethna;
 * its second directional derivative is GSL's finite difference of the
 * residuals, one more forward solve per iteration, which changes only the
 * step's curvature correction, never the gradient).  Measured on the
 * buried-mass chain, plain LM needed fewer solves (18 against 33, both
 * with GSL's own stopping tests) and reaches the noise-free optimum to
 * round-off, where the accelerated one stalls at a misfit of 1e-13 (its
 * finite-difference curvature rejects the last steps), so it is the
 * default.  The fit also stops on the Gauss–Newton decrement (fit, below:
 * 8 solves instead of 18), and each solve starts from the tangent
 * predictor y + dy/dtheta (theta - theta_last) (22 Newton iterations to 16).  Bounds map the unknowns through a sine
 * (to_theta).  A trial point
 * where the forward solve fails returns residuals far larger than any the
 * fit has seen, so the trust region shrinks instead of the fit stopping.
 *
 * Nets.  Their weights w are fitted with theta by L-BFGS (fit_lbfgs),
 * the gradient of chi^2 / 2 in w from the engine's adjoint: one more solve
 * of the exact KKT matrix for [lam; nu] and the reverse sweep of the
 * compiler's contraction (InferJob.grad_w); at the estimate one adjoint
 * solve per observation gives the Jacobian in w, and net_uncertainty
 * works in the space of the observations (J J^T), where an
 * over-parameterised net's covariance is a pseudo-inverse's.
 *
 * Uncertainty.  The Fisher matrix F = J^T J at the estimate, scaled to
 * unit diagonal (C = D F D, D = diag(F)^-1/2), is inverted through its
 * eigenvalues: the covariance is D C^-1 D (times chi^2/dof without a
 * noise level), the standard errors its diagonal's square roots.
 * Identifiability: F scaled by the unknowns' sizes (Dr = diag|theta|, the
 * Fisher matrix of relative changes) has an eigenvalue below 1e-10 of the
 * largest in a direction the data cannot determine (a singular value of
 * the relative Jacobian 1e-5 of the largest), or a relative standard
 * error above 1e4 along it (one unknown): the warning names it, Dr v in
 * the unknowns' own units.  (The unit-diagonal scaling cannot tell: it
 * makes a column of rounding noise, an unknown the solution does not
 * depend on, look as well determined as any.)
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/infer.h"

#include <float.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "runtime/figure.h"
#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/par.h"
#include "runtime/simulate.h"

#define UNIDENTIFIED 1e-10 /* a scaled Fisher eigenvalue below this times the largest */

typedef struct Fit {
    const InferJob *job;
    InferResult *res;
    SolveResult sr;
    int nf, N, np, nobs;
    int nres;                 /* nobs, then the smoothness penalty's rows (regularize) */
    double h, x0;
    double *ylast;            /* the last converged solution: the next solve's start */
    double *dy, *dobj, *mult;
    double *r, *J;            /* at theta_at: residuals (nres), Jacobian (nres x np) */
    double *theta_at;
    double *u_at, *tbuf;      /* the optimiser's point of r and J (bounds: runtime/infer.c, to_theta), scratch */
    double *u_final;          /* where the last fit ended */
    double *theta_last;       /* the unknowns of ylast, dy (the last solve that converged) */
    int predict;              /* dy is that solve's: the next starts from the tangent predictor */
    double *value;            /* the observed values fitted (the refits' draws replace them) */
    const double *start;      /* the start (sizes of unknowns whose estimate is 0) */
    int have;                 /* r and J are for theta_at */
    double worst;             /* the largest |r| seen: a failed solve returns more */
    int failures;
    char failure[512];        /* the last forward solve's message */
    int nw;                   /* net weights (job->nw) */
    double *gw;               /* nw: the misfit's gradient in them at theta_at, w_at */
    double *w_at;             /* nw: the weights of r, J and gw */
    /* with nets, the uncertainty in the space of the observations: the
     * Jacobian in the weights (nobs x nw, at the estimate), the
     * eigenvectors U (nobs x nobs, column k) and eigenvalues ev of
     * J J^T over all unknowns and weights, those above ev_min counted,
     * the covariance's scale */
    double *Jw, *U, *ev, ev_min, scale;
} Fit;

static void *gsl_checked(void *p)
{
    if (!p)
        mem_out_of_memory(0);
    return p;
}

/* Where x falls: the interval k and the fraction s along it. */
static void locate(const Fit *F, double x, int *k, double *s)
{
    double u = (x - F->x0) / F->h;
    int kk = (int)floor(u);
    if (kk < 0)
        kk = 0;
    if (kk > F->N - 2)
        kk = F->N - 2;
    *k = kk;
    *s = u - kk;
}

/* The observations' normalised residuals of the solution y into F->r. */
static void residuals(Fit *F, const double *y)
{
    const int nf = F->nf;
    for (int i = 0; i < F->nobs; i++) {
        const InferObs *o = &F->job->obs[i];
        int k;
        double s;
        locate(F, o->x, &k, &s);
        size_t a = (size_t)k * nf + (size_t)o->field, b = a + (size_t)nf;
        F->r[i] = ((1 - s) * y[a] + s * y[b] - F->value[i]) / o->sigma;
    }
}

/* The adjoint's right-hand side (SolveJob.adjoint_rhs): the gradient of
 * Phi = chi^2 / 2 in the node values, sum_i r_i dr_i/dy. */
static int adjoint_rhs(void *ctx, int k, const double *y, double *g)
{
    Fit *F = ctx;
    const int nf = F->nf;
    if (k == 0)
        residuals(F, y);
    for (int i = k == 0 ? 0 : k - 1; i < (k == 0 ? F->nobs : k); i++) {
        const InferObs *o = &F->job->obs[i];
        int kk;
        double s;
        locate(F, o->x, &kk, &s);
        size_t a = (size_t)kk * nf + (size_t)o->field, b = a + (size_t)nf;
        double c = k == 0 ? F->r[i] : 1; /* k > 0: residual k - 1 alone, its row of the Jacobian */
        g[a] += c * (1 - s) / o->sigma;
        g[b] += c * s / o->sigma;
    }
    return 0;
}

/* ...and its use: dPhi/dw is minus the contraction's gradient (k > 0:
 * the Jacobian's row k - 1 in the weights, into F->Jw). */
static int adjoint_use(void *ctx, int k, const double *y, double s, const double *mu, const double *lam,
                       const double *nu)
{
    Fit *F = ctx;
    double *g = k == 0 ? F->gw : F->Jw + (size_t)(k - 1) * (size_t)F->nw;
    if (F->job->grad_w(F->job->net_ctx, y, s, mu, lam, nu, g) != 0)
        return -1;
    for (int j = 0; j < F->nw; j++) {
        g[j] = -g[j];
        if (!isfinite(g[j]))
            return -1;
    }
    return 0;
}

/* The forward solve at theta, its residuals and their Jacobian into F->r,
 * F->J (with nets: the weights' gradient into F->gw).  Returns 0, or -1
 * when the solve fails (message in F->failure). */
static int forward(Fit *F, const double *theta)
{
    const InferJob *job = F->job;
    const size_t tot = (size_t)F->N * (size_t)F->nf;
    job->set(job->ctx, theta);
    memcpy(F->sr.y, F->ylast, tot * sizeof *F->sr.y);
    /* the tangent predictor: the last solution moved along its
     * sensitivities, y + dy/dtheta (theta - theta_last), so Newton starts
     * second-order close */
    if (F->predict)
        for (size_t i = 0; i < tot; i++)
            for (int t = 0; t < F->np; t++)
                F->sr.y[i] += F->dy[i * (size_t)F->np + (size_t)t] * (theta[t] - F->theta_last[t]);
    int rc = solve_run(job->solve, &F->sr);
    F->res->forward_solves++;
    F->res->newton_iterations += F->sr.iterations;
    F->res->solve_s += F->sr.wall_s - F->sr.sens_s - F->sr.adj_s;
    F->res->sens_s += F->sr.sens_s;
    F->res->adj_s += F->sr.adj_s;
    int sens_bad = F->np > 0 && !F->sr.sens_ok, adj_bad = F->nw > 0 && !F->sr.adj_ok;
    if (rc != 0 || !F->sr.converged || sens_bad || adj_bad) {
        snprintf(F->failure, sizeof F->failure, "%.480s", rc != 0 ? F->sr.message
                                                    : !F->sr.converged ? "the forward solve did not converge"
                                                    : sens_bad ? "the sensitivities could not be computed "
                                                                 "(singular KKT matrix at the solution)"
                                                               : "the adjoint could not be computed (singular KKT "
                                                                 "matrix, or the nets' gradient is not finite)");
        F->failures++;
        return -1;
    }
    memcpy(F->ylast, F->sr.y, tot * sizeof *F->ylast);
    const int np = F->np, nf = F->nf;
    memcpy(F->theta_last, theta, (size_t)np * sizeof *theta);
    F->predict = np > 0;
    residuals(F, F->sr.y);
    for (int i = 0; i < F->nobs; i++) {
        const InferObs *o = &job->obs[i];
        int k;
        double s;
        locate(F, o->x, &k, &s);
        size_t a = (size_t)k * nf + (size_t)o->field, b = a + (size_t)nf;
        for (int t = 0; t < np; t++)
            F->J[(size_t)i * np + t] = ((1 - s) * F->dy[a * np + t] + s * F->dy[b * np + t]) / o->sigma;
    }
    /* the smoothness penalty lambda sum_f integral f''^2, as residuals
     * sqrt(lambda w) f''(x_j) at the midpoints x_j of M equal parts (w
     * their width) */
    if (F->nres > F->nobs) {
        const int M = INFER_REG_POINTS;
        const double x0 = job->solve->x0, x1 = job->solve->x1, w = (x1 - x0) / M, c = sqrt(job->regularize * w);
        int i = F->nobs;
        for (int k = 0; k < job->ncurves; k++)
            for (int j = 0; j < M; j++, i++) {
                double *g = F->J + (size_t)i * np;
                F->r[i] = c * job->curves[k].d2(job->curves[k].ctx, theta, x0 + (j + 0.5) * w, g);
                for (int t = 0; t < np; t++)
                    g[t] *= c;
            }
    }
    memcpy(F->theta_at, theta, (size_t)np * sizeof *theta);
    F->have = 1;
    return 0;
}

/* Bounds: the optimiser moves u, and an unknown with bounds a .. b is
 * theta = a + (b - a)(1 + sin u)/2 (the transformation of MINUIT), so it
 * never leaves them; one without is theta = u. */
static int bounded(const InferJob *job, int t)
{
    return job->lower && job->upper && isfinite(job->lower[t]) && isfinite(job->upper[t]);
}

static void to_theta(const InferJob *job, const double *u, double *theta)
{
    for (int t = 0; t < job->np; t++)
        theta[t] = bounded(job, t) ? job->lower[t] + (job->upper[t] - job->lower[t]) * (1 + sin(u[t])) / 2 : u[t];
}

static double dtheta_du(const InferJob *job, const double *u, int t)
{
    return bounded(job, t) ? (job->upper[t] - job->lower[t]) * cos(u[t]) / 2 : 1;
}

static void to_u(const InferJob *job, const double *theta, double *u)
{
    for (int t = 0; t < job->np; t++) {
        double s = bounded(job, t) ? 2 * (theta[t] - job->lower[t]) / (job->upper[t] - job->lower[t]) - 1 : 0;
        u[t] = bounded(job, t) ? asin(fmax(-1, fmin(1, s))) : theta[t];
    }
}

/* Whether an unknown with bounds sits on one at the optimiser's point u. */
static int at_bound_t(const InferJob *job, const double *u, int t)
{
    if (!bounded(job, t))
        return 0;
    double s = (1 + sin(u[t])) / 2; /* the place in the range, 0 .. 1 */
    return s < 1e-6 || s > 1 - 1e-6;
}

static int at_bound(const InferJob *job, const double *u)
{
    for (int t = 0; t < job->np; t++)
        if (at_bound_t(job, u, t))
            return 1;
    return 0;
}

/* Whether F->r, F->J are for the optimiser's point x (in u). */
static int at_theta(const Fit *F, const gsl_vector *x)
{
    if (!F->have)
        return 0;
    for (int t = 0; t < F->np; t++)
        if (gsl_vector_get(x, (size_t)t) != F->u_at[t])
            return 0;
    return 1;
}

/* The forward solve at the optimiser's point x. */
static int forward_u(Fit *F, const gsl_vector *x)
{
    to_theta(F->job, x->data, F->tbuf);
    if (forward(F, F->tbuf) != 0)
        return -1;
    memcpy(F->u_at, x->data, (size_t)F->np * sizeof *F->u_at);
    return 0;
}

static int eval_f(const gsl_vector *x, void *ctx, gsl_vector *f)
{
    Fit *F = ctx;
    if (!at_theta(F, x) && forward_u(F, x) != 0) {
        /* a failed trial: residuals far beyond any seen, so the step is refused */
        F->have = 0;
        for (int i = 0; i < F->nres; i++)
            gsl_vector_set(f, (size_t)i, 1e3 * (F->worst + 1));
        return GSL_SUCCESS;
    }
    for (int i = 0; i < F->nres; i++) {
        gsl_vector_set(f, (size_t)i, F->r[i]);
        if (fabs(F->r[i]) > F->worst)
            F->worst = fabs(F->r[i]);
    }
    return GSL_SUCCESS;
}

static int eval_df(const gsl_vector *x, void *ctx, gsl_matrix *J)
{
    Fit *F = ctx;
    if (!at_theta(F, x) && forward_u(F, x) != 0)
        return GSL_EFAILED; /* only at a point whose residuals were computed: not reached */
    for (int t = 0; t < F->np; t++) {
        double d = dtheta_du(F->job, x->data, t);
        for (int i = 0; i < F->nres; i++)
            gsl_matrix_set(J, (size_t)i, (size_t)t, F->J[(size_t)i * F->np + t] * d);
    }
    return GSL_SUCCESS;
}

/* G := J^T J (p x p) of the n x p row-major J (row stride tda), and, when
 * D is not NULL, D_a := 1/sqrt(G_aa) (0 for a zero column): the scaling
 * to a unit diagonal. */
static void gram(const double *J, size_t tda, size_t n, size_t p, double *G, double *D)
{
    for (size_t a = 0; a < p; a++)
        for (size_t b = a; b < p; b++) {
            double v = 0;
            for (size_t i = 0; i < n; i++)
                v += J[i * tda + a] * J[i * tda + b];
            G[a * p + b] = G[b * p + a] = v;
        }
    for (size_t a = 0; D && a < p; a++)
        D[a] = G[a * p + a] > 0 ? 1 / sqrt(G[a * p + a]) : 0;
}

/* The Gauss–Newton decrement f^T J (J^T J)^+ J^T f at the workspace's
 * point: through the eigenvalues of J^T J scaled to a unit diagonal, the
 * directions whose eigenvalue is below 1e-12 of the largest left out (the
 * ones the data do not determine: the rest decides). */
static double decrement(const gsl_multifit_nlinear_workspace *w)
{
    const gsl_matrix *J = gsl_multifit_nlinear_jac(w);
    const gsl_vector *f = gsl_multifit_nlinear_residual(w);
    const size_t n = J->size1, p = J->size2;
    gsl_matrix *A = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc(p, p));
    gsl_matrix *V = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc(p, p));
    gsl_vector *ev = gsl_checked(mem_fault() ? NULL : gsl_vector_alloc(p));
    gsl_eigen_symmv_workspace *ew = gsl_checked(mem_fault() ? NULL : gsl_eigen_symmv_alloc(p));
    double *g = mem_xalloc(p * sizeof *g), *D = mem_xalloc(p * sizeof *D), *G = mem_xalloc(p * p * sizeof *G);
    gram(J->data, J->tda, n, p, G, D);
    for (size_t a = 0; a < p; a++) {
        double v = 0;
        for (size_t i = 0; i < n; i++)
            v += gsl_matrix_get(J, i, a) * gsl_vector_get(f, i);
        g[a] = v * D[a];
        for (size_t b = 0; b < p; b++)
            gsl_matrix_set(A, a, b, G[a * p + b] * D[a] * D[b]);
    }
    mem_free(G);
    double dec = INFINITY;
    if (gsl_eigen_symmv(A, ev, V, ew) == GSL_SUCCESS) {
        double lmax = 0;
        for (size_t k = 0; k < p; k++)
            lmax = fmax(lmax, gsl_vector_get(ev, k));
        dec = 0;
        for (size_t k = 0; k < p; k++) {
            double l = gsl_vector_get(ev, k), c = 0;
            if (!(l > 1e-12 * lmax))
                continue;
            for (size_t a = 0; a < p; a++)
                c += gsl_matrix_get(V, a, k) * g[a];
            dec += c * c / l;
        }
        if (!isfinite(dec))
            dec = INFINITY;
    }
    mem_free(g);
    mem_free(D);
    gsl_eigen_symmv_free(ew);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(A);
    return dec;
}

static void progress(const size_t iter, void *ctx, const gsl_multifit_nlinear_workspace *w)
{
    Fit *F = ctx;
    F->res->iterations = (int)iter;
    if (!F->job->progress)
        return;
    double chi2 = 0;
    gsl_vector *f = gsl_multifit_nlinear_residual(w);
    for (size_t i = 0; i < f->size; i++)
        chi2 += gsl_vector_get(f, i) * gsl_vector_get(f, i);
    fprintf(stderr, "\rinfer %s: iteration %zu  misfit %.6e  forward solves %d  ", F->job->problem, iter, chi2,
            F->res->forward_solves);
}

/* Covariance, standard errors, correlations and identifiability from the
 * Jacobian at the estimate (F->J). */
static void uncertainty(Fit *F, double *cov)
{
    const InferJob *job = F->job;
    InferResult *res = F->res;
    const int np = F->np, nobs = F->nres; /* the penalty's rows too: the posterior's curvature */
    gsl_matrix *C = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)np, (size_t)np));
    gsl_matrix *V = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)np, (size_t)np));
    gsl_vector *ev = gsl_checked(mem_fault() ? NULL : gsl_vector_alloc((size_t)np));
    gsl_eigen_symmv_workspace *ew = gsl_checked(mem_fault() ? NULL : gsl_eigen_symmv_alloc((size_t)np));
    /* the Fisher matrix J^T J once, scaled two ways below */
    double *D = mem_xalloc((size_t)np * sizeof *D), *G = mem_xalloc((size_t)np * (size_t)np * sizeof *G);
    gram(F->J, (size_t)np, (size_t)nobs, (size_t)np, G, D);
    /* identifiability: the Fisher matrix for relative changes of the
     * unknowns (each scaled by its size: the estimate's, or the start's
     * when the estimate is 0), so that an unknown the residuals do not
     * depend on (a column of rounding noise) shows as a tiny eigenvalue */
    double *Dr = mem_xalloc((size_t)np * sizeof *Dr);
    for (int a = 0; a < np; a++)
        Dr[a] = fabs(job->theta[a]) > 0 ? fabs(job->theta[a]) : fabs(F->start[a]) > 0 ? fabs(F->start[a]) : 1;
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            gsl_matrix_set(C, (size_t)a, (size_t)b, G[(size_t)a * np + b] * Dr[a] * Dr[b]);
    gsl_eigen_symmv(C, ev, V, ew);
    gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_ASC);
    double lmin = gsl_vector_get(ev, 0), lmax = gsl_vector_get(ev, (size_t)np - 1);
    res->fisher_cond = lmin > 0 ? lmax / lmin : INFINITY;
    /* ...and any direction along which the relative standard error
     * exceeds 1e4 (for a single unknown the ratio says nothing) */
    double scale_id = job->noise_given ? 1 : res->chi2_dof;
    res->identifiable = lmax > 0 && lmin > UNIDENTIFIED * lmax && !(sqrt(scale_id / lmin) >= 1e4);
    res->unidentified[0] = 0;
    if (!res->identifiable) {
        /* the direction, in the unknowns' own units, largest component 1 */
        double *d = mem_xalloc((size_t)np * sizeof *d), big = 0;
        for (int a = 0; a < np; a++) {
            d[a] = gsl_matrix_get(V, (size_t)a, 0) * Dr[a];
            if (fabs(d[a]) > fabs(big))
                big = d[a];
        }
        /* "s" for one unknown, "(a, b) ∝ (-0.5, 1)" for a combination */
        char names[256] = "", coefs[256] = "";
        size_t ln = 0, lc = 0;
        int count = 0;
        for (int a = 0; a < np; a++) {
            double c = d[a] / big;
            if (fabs(c) < 1e-3 || ln > sizeof names - 64 || lc > sizeof coefs - 32)
                continue;
            ln += (size_t)snprintf(names + ln, sizeof names - ln, "%s%s", count ? ", " : "", job->names[a]);
            lc += (size_t)snprintf(coefs + lc, sizeof coefs - lc, "%s%.3g", count ? ", " : "", c);
            count++;
        }
        if (count == 1)
            snprintf(res->unidentified, sizeof res->unidentified, "%s", names);
        else
            snprintf(res->unidentified, sizeof res->unidentified, "(%s) ∝ (%s)", names, coefs);
        mem_free(d);
    }
    mem_free(Dr);
    /* the covariance from the unit-diagonal scaling (the better conditioned) */
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            gsl_matrix_set(C, (size_t)a, (size_t)b, G[(size_t)a * np + b] * D[a] * D[b]);
    gsl_eigen_symmv(C, ev, V, ew);
    /* covariance D V diag(1/lambda) V^T D; with a penalty the effective
     * number of parameters tr(J_d C J_d^T) (the data's rows) sets the
     * degrees of freedom; scaled without a noise level */
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++) {
            double v = 0;
            for (int k = 0; k < np; k++) {
                double l = gsl_vector_get(ev, (size_t)k);
                v += gsl_matrix_get(V, (size_t)a, (size_t)k) * gsl_matrix_get(V, (size_t)b, (size_t)k) /
                     (l > 0 ? l : 0);
            }
            cov[(size_t)a * np + b] = v * D[a] * D[b];
        }
    res->p_eff = np + F->nw;
    if (F->nres > F->nobs) {
        double tr = 0;
        for (int i = 0; i < F->nobs; i++) {
            const double *Ji = F->J + (size_t)i * np;
            for (int a = 0; a < np; a++)
                for (int b = 0; b < np; b++)
                    tr += Ji[a] * cov[(size_t)a * np + b] * Ji[b];
        }
        res->p_eff = tr;
        res->chi2_dof = F->nobs > tr ? res->misfit / (F->nobs - tr) : NAN;
    }
    double scale = job->noise_given ? 1 : res->chi2_dof;
    for (int a = 0; a < np * np; a++)
        cov[a] *= scale;
    for (int a = 0; a < np; a++)
        res->stderr_[a] = D[a] > 0 ? sqrt(cov[(size_t)a * np + a]) : INFINITY;
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++) {
            double sa = res->stderr_[a], sb = res->stderr_[b];
            res->corr[(size_t)a * np + b] = a == b ? 1 : cov[(size_t)a * np + b] / (sa * sb);
        }
    mem_free(D);
    mem_free(G);
    gsl_eigen_symmv_free(ew);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(C);
}

/* With nets: the Jacobian over the unknowns and the weights at the
 * estimate has more columns than rows when a net has more weights than
 * there are observations, so the uncertainty is computed in the space of
 * the observations: J J^T = U diag(ev) U^T (nobs x nobs), the directions
 * with ev above 1e-10 of the largest are those the data determine (their
 * count is the effective number of parameters, for chi^2 per degree of
 * freedom), and the covariance of any linear function with gradient g is
 * the pseudo-inverse's, scale sum_k (u_k . J g)^2 / ev_k^2: the
 * linearised uncertainty over the determined directions (an undetermined
 * direction contributes nothing: for an over-parameterised net the band
 * is the part the data resolve).  The unknown scalars' standard errors
 * and correlations come from the same covariance, so they include what
 * the nets' freedom costs them. */
static double net_variance(const Fit *F, const double *gt, const double *gw);

static void net_uncertainty(Fit *F, double *cov)
{
    const InferJob *job = F->job;
    InferResult *res = F->res;
    const int n = F->nobs, np = F->np, nw = F->nw;
    gsl_matrix *K = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)n, (size_t)n));
    gsl_matrix *V = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)n, (size_t)n));
    gsl_vector *ev = gsl_checked(mem_fault() ? NULL : gsl_vector_alloc((size_t)n));
    gsl_eigen_symmv_workspace *ew = gsl_checked(mem_fault() ? NULL : gsl_eigen_symmv_alloc((size_t)n));
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double v = 0;
            for (int t = 0; t < np; t++)
                v += F->J[(size_t)i * np + t] * F->J[(size_t)j * np + t];
            for (int k = 0; k < nw; k++)
                v += F->Jw[(size_t)i * nw + k] * F->Jw[(size_t)j * nw + k];
            gsl_matrix_set(K, (size_t)i, (size_t)j, v);
            gsl_matrix_set(K, (size_t)j, (size_t)i, v);
        }
    gsl_eigen_symmv(K, ev, V, ew);
    double emax = 0;
    for (int k = 0; k < n; k++)
        emax = fmax(emax, gsl_vector_get(ev, (size_t)k));
    F->ev_min = UNIDENTIFIED * emax;
    F->U = mem_xalloc((size_t)n * (size_t)n * sizeof *F->U);
    F->ev = mem_xalloc((size_t)n * sizeof *F->ev);
    int rank = 0;
    for (int k = 0; k < n; k++) {
        F->ev[k] = gsl_vector_get(ev, (size_t)k);
        rank += F->ev[k] > F->ev_min;
        for (int i = 0; i < n; i++)
            F->U[(size_t)i * n + k] = gsl_matrix_get(V, (size_t)i, (size_t)k);
    }
    res->p_eff = rank;
    res->chi2_dof = n > rank ? res->misfit / (n - rank) : NAN;
    F->scale = job->noise_given ? 1 : res->chi2_dof;
    double *ga = mem_xalloc(((size_t)np + 1) * sizeof *ga), *gb = mem_xalloc(((size_t)np + 1) * sizeof *gb);
    for (int a = 0; a < np; a++)
        for (int b = 0; b <= a; b++) {
            /* cov_ab = (var(a + b) - var(a - b)) / 4 */
            for (int t = 0; t < np; t++)
                ga[t] = gb[t] = 0;
            ga[a] += 1;
            ga[b] += 1;
            gb[a] += 1;
            gb[b] -= 1;
            double c = (net_variance(F, ga, NULL) - net_variance(F, gb, NULL)) / 4;
            cov[(size_t)a * np + b] = cov[(size_t)b * np + a] = c;
        }
    for (int a = 0; a < np; a++)
        res->stderr_[a] = sqrt(fmax(cov[(size_t)a * np + a], 0));
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            res->corr[(size_t)a * np + b] = a == b ? 1 : cov[(size_t)a * np + b] / (res->stderr_[a] * res->stderr_[b]);
    mem_free(ga);
    mem_free(gb);
    gsl_eigen_symmv_free(ew);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(K);
}

static int fit(Fit *F, double *u0, double *theta, int *iterations, int quiet);

/* Where a solve at the estimate starts: its solution with its
 * sensitivities (the tangent predictor), and the largest residual seen. */
typedef struct Estimate {
    double *ylast, *dy, *theta_last;
    int predict;
    double worst;
} Estimate;

/* The solve state of the fit into e (save) or back from it. */
static void estimate_copy(Fit *F, Estimate *e, int save)
{
    const size_t tot = (size_t)F->N * (size_t)F->nf;
    struct {
        double *fit, *kept;
        size_t n;
    } parts[3] = {{F->ylast, e->ylast, tot}, {F->dy, e->dy, tot * (size_t)F->np},
                  {F->theta_last, e->theta_last, (size_t)F->np}};
    for (int i = 0; i < 3; i++)
        memcpy(save ? parts[i].kept : parts[i].fit, save ? parts[i].fit : parts[i].kept,
               parts[i].n * sizeof(double));
    if (save) {
        e->predict = F->predict;
        e->worst = F->worst;
    } else {
        F->predict = e->predict;
        F->worst = e->worst;
    }
}

/* Refit on job->samples noise realisations drawn from the fitted model:
 * each observation is the fit's value there plus sigma_i N(0, 1) (a
 * generator seeded by the job's seed, realisation k from its draws
 * k nobs ..), each refit starts from the estimate and its solution, so
 * that the refits are independent of one another and the ranks of an
 * MPI run share them in contiguous blocks; their estimates travel to
 * every rank and are summed in refit order.  The refits' spread
 * (standard deviation) of each unknown into res->refit_stderr, their
 * count into res->refits.  The estimate's own solution and residuals are
 * restored after. */
static void refits(Fit *F, const double *cov)
{
    const InferJob *job = F->job;
    InferResult *res = F->res;
    const int np = F->np, nobs = F->nobs, N = job->samples, per = np + 1;
    const size_t tot = (size_t)F->N * (size_t)F->nf;
    (void)cov;
    double *fitted = mem_xalloc((size_t)nobs * sizeof *fitted), *est = mem_xalloc((size_t)np * sizeof *est);
    double *u = mem_xalloc((size_t)np * sizeof *u);
    double *sum = mem_xalloc((size_t)np * sizeof *sum), *sum2 = mem_xalloc((size_t)np * sizeof *sum2);
    for (int i = 0; i < nobs; i++)
        fitted[i] = F->value[i] + F->r[i] * job->obs[i].sigma;
    memcpy(est, job->theta, (size_t)np * sizeof *est);
    Estimate at = {
        .ylast = mem_xalloc(tot * sizeof(double)),
        .dy = mem_xalloc((tot * (size_t)np + 1) * sizeof(double)),
        .theta_last = mem_xalloc(((size_t)np + 1) * sizeof(double)),
    };
    estimate_copy(F, &at, 1);
    long lo, hi;
    par_block(N, &lo, &hi);
    /* per refit: whether it converged, then its estimate */
    double *got = mem_xalloc(((size_t)N * (size_t)per + 1) * sizeof *got);
    gsl_rng *rng = gsl_checked(mem_fault() ? NULL : gsl_rng_alloc(gsl_rng_mt19937));
    gsl_rng_set(rng, job->seed);
    for (long j = 0; j < lo * nobs; j++) /* the earlier blocks' realisations */
        gsl_ran_gaussian(rng, job->obs[j % nobs].sigma);
    const int solves0 = res->forward_solves, newton0 = res->newton_iterations;
    double secs0[3] = {res->solve_s, res->sens_s, res->adj_s};
    double t0 = sim_clock(), last = 0;
    for (long k = lo; k < hi; k++) {
        double *g = got + (size_t)k * (size_t)per;
        g[0] = 0;
        for (int i = 0; i < nobs; i++)
            F->value[i] = fitted[i] + gsl_ran_gaussian(rng, job->obs[i].sigma);
        estimate_copy(F, &at, 0);
        to_u(job, est, u);
        F->have = 0;
        int iters;
        if (forward(F, est) == 0) {
            memcpy(F->u_at, u, (size_t)np * sizeof *u);
            g[0] = fit(F, u, g + 1, &iters, 1) == GSL_SUCCESS;
        }
        double now = sim_clock();
        if (job->progress && (now - last > 0.25 || k + 1 == hi)) {
            last = now;
            fprintf(stderr, "\rinfer %s: refit %ld/%ld  %.1f s  ", job->problem, k + 1 - lo, hi - lo, now - t0);
        }
    }
    if (job->progress && N > 0)
        fputc('\n', stderr);
    par_allgather(got + (size_t)lo * (size_t)per, N, per, got);
    res->forward_solves = solves0 + (int)par_sum_long(res->forward_solves - solves0);
    res->newton_iterations = newton0 + (int)par_sum_long(res->newton_iterations - newton0);
    double secs[3] = {res->solve_s - secs0[0], res->sens_s - secs0[1], res->adj_s - secs0[2]};
    par_sum_doubles(secs, 3); /* the seconds of every rank's refits */
    res->solve_s = secs0[0] + secs[0];
    res->sens_s = secs0[1] + secs[1];
    res->adj_s = secs0[2] + secs[2];
    int good = 0;
    for (int t = 0; t < np; t++)
        sum[t] = sum2[t] = 0;
    for (int k = 0; k < N; k++) {
        const double *g = got + (size_t)k * (size_t)per;
        if (!g[0])
            continue;
        good++;
        for (int t = 0; t < np; t++) {
            double d = g[1 + t] - est[t];
            sum[t] += d;
            sum2[t] += d * d;
        }
    }
    res->refits = good;
    for (int t = 0; t < np; t++)
        res->refit_stderr[t] = good > 1 ? sqrt((sum2[t] - sum[t] * sum[t] / good) / (good - 1)) : NAN;
    /* back to the estimate */
    for (int i = 0; i < nobs; i++)
        F->value[i] = job->obs[i].value;
    memcpy(job->theta, est, (size_t)np * sizeof *est);
    estimate_copy(F, &at, 0);
    F->have = 0;
    forward(F, est);
    gsl_rng_free(rng);
    mem_free(at.ylast);
    mem_free(at.dy);
    mem_free(at.theta_last);
    mem_free(got);
    mem_free(fitted);
    mem_free(est);
    mem_free(u);
    mem_free(sum);
    mem_free(sum2);
}

/* ---------- outputs ---------- */

/* The rows of the observations (one per CSV line): x, then per field
 * observed: the value, the fit, the normalised residual. */
static int write_obs(const Fit *F, char *err, size_t errlen)
{
    const InferJob *job = F->job;
    const SolveJob *sj = job->solve;
    const int nf = F->nf;
    int *seen = mem_xalloc((size_t)nf * sizeof *seen), ns = 0;
    for (int f = 0; f < nf; f++)
        seen[f] = 0;
    for (int i = 0; i < F->nobs; i++)
        seen[job->obs[i].field] = 1;
    const char **cols = mem_xalloc((size_t)(1 + 4 * nf) * sizeof *cols);
    char **names = mem_xalloc((size_t)(4 * nf + 1) * sizeof *names);
    int nc = 0, nn = 0;
    cols[nc++] = sj->xname;
    int *colof = mem_xalloc((size_t)nf * sizeof *colof);
    for (int f = 0; f < nf; f++) {
        colof[f] = -1;
        if (!seen[f])
            continue;
        ns++;
        colof[f] = nc;
        static const char *const suffix[4] = {"", "_sigma", "_fit", "_residual"};
        for (int k = 0; k < 4; k++) {
            size_t len = strlen(sj->fields[f]) + 10;
            names[nn] = mem_xalloc(len);
            snprintf(names[nn], len, "%s%s", sj->fields[f], suffix[k]);
            cols[nc++] = names[nn++];
        }
    }
    CsvWriter *w = csv_open(job->output, cols, nc, err, errlen);
    int ok = w != NULL;
    double *row = mem_xalloc((size_t)nc * sizeof *row);
    for (int i = 0; ok && i < F->nobs;) {
        for (int c = 0; c < nc; c++)
            row[c] = NAN;
        int line = job->obs[i].line;
        row[0] = job->obs[i].x;
        for (; i < F->nobs && job->obs[i].line == line; i++) {
            const InferObs *o = &job->obs[i];
            int c = colof[o->field];
            row[c] = o->value;
            row[c + 1] = o->sigma;
            row[c + 2] = o->value + F->r[i] * o->sigma;
            row[c + 3] = F->r[i];
        }
        ok = csv_row(w, row, err, errlen) == 0;
    }
    if (w && csv_close(w, ok, err, errlen) != 0)
        ok = 0;
    for (int k = 0; k < nn; k++)
        mem_free(names[k]);
    mem_free(names);
    mem_free(cols);
    mem_free(row);
    mem_free(colof);
    mem_free(seen);
    (void)ns;
    return ok ? 0 : -1;
}

/* The variance of a linear function of the unknowns and the weights,
 * with gradient gt (np) and gw (nw), from the uncertainty in the space of
 * the observations (F->U, F->ev): for z = J_theta gt + J_w gw,
 * scale sum_k (u_k . z)^2 / ev_k^2 over the determined directions. */
static double net_variance(const Fit *F, const double *gt, const double *gw)
{
    const int n = F->nobs, np = F->np, nw = F->nw;
    double *z = mem_xalloc((size_t)n * sizeof *z), v = 0;
    for (int i = 0; i < n; i++) {
        double a = 0;
        for (int t = 0; t < np && gt; t++)
            a += F->J[(size_t)i * np + t] * gt[t];
        for (int k = 0; k < nw && gw; k++)
            a += F->Jw[(size_t)i * nw + k] * gw[k];
        z[i] = a;
    }
    for (int k = 0; k < n; k++) {
        if (!(F->ev[k] > F->ev_min))
            continue;
        double a = 0;
        for (int i = 0; i < n; i++)
            a += F->U[(size_t)i * n + k] * z[i];
        v += a * a / (F->ev[k] * F->ev[k]);
    }
    mem_free(z);
    return F->scale * v;
}

/* A curve's value and standard error at x (through the covariance). */
static void curve_at(const Fit *F, const InferCurve *c, const double *cov, double x, double *v, double *se)
{
    const int np = F->np;
    if (F->nw > 0 && F->U) {
        /* a net's function depends on the weights, an unknown function on theta */
        double *gw = mem_xalloc((size_t)F->nw * sizeof *gw), *gt = mem_xalloc(((size_t)np + 1) * sizeof *gt);
        for (int k = 0; k < F->nw; k++)
            gw[k] = 0;
        for (int t = 0; t < np; t++)
            gt[t] = 0;
        *v = c->wvalue ? c->wvalue(c->ctx, x, gw) : c->value(c->ctx, F->job->theta, x, gt);
        *se = sqrt(fmax(net_variance(F, gt, gw), 0));
        mem_free(gw);
        mem_free(gt);
        return;
    }
    double g[64], *gp = np <= 64 ? g : mem_xalloc((size_t)np * sizeof *gp);
    *v = c->value(c->ctx, F->job->theta, x, gp);
    double s = 0;
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            s += gp[a] * cov[(size_t)a * np + b] * gp[b];
    *se = sqrt(fmax(s, 0));
    if (gp != g)
        mem_free(gp);
}

/* The nodes: x, each field, each curve and its standard error. */
static int write_nodes(const Fit *F, const double *cov, char *err, size_t errlen)
{
    const InferJob *job = F->job;
    const SolveJob *sj = job->solve;
    const int nf = F->nf;
    int nc = 1 + nf;
    for (int c = 0; c < job->ncurves; c++)
        nc += job->curves[c].no_band ? 1 : 2;
    const char **cols = mem_xalloc((size_t)nc * sizeof *cols);
    char **se = mem_xalloc((size_t)(job->ncurves + 1) * sizeof *se);
    cols[0] = sj->xname;
    for (int f = 0; f < nf; f++)
        cols[1 + f] = sj->fields[f];
    for (int c = 0, at = 1 + nf; c < job->ncurves; c++) {
        size_t len = strlen(job->curves[c].name) + 8;
        se[c] = mem_xalloc(len);
        snprintf(se[c], len, "%s_stderr", job->curves[c].name);
        cols[at++] = job->curves[c].name;
        if (!job->curves[c].no_band)
            cols[at++] = se[c];
    }
    CsvWriter *w = csv_open(job->nodes_output, cols, nc, err, errlen);
    int ok = w != NULL;
    double *row = mem_xalloc((size_t)nc * sizeof *row);
    for (int k = 0; ok && k < F->N; k++) {
        double x = sj->x0 + k * F->h;
        row[0] = x;
        for (int f = 0; f < nf; f++)
            row[1 + f] = F->res->y[(size_t)k * nf + (size_t)f];
        for (int c = 0, at = 1 + nf; c < job->ncurves; c++) {
            double se_c;
            curve_at(F, &job->curves[c], cov, x, &row[at], &se_c);
            at++;
            if (!job->curves[c].no_band)
                row[at++] = se_c;
        }
        ok = csv_row(w, row, err, errlen) == 0;
    }
    if (w && csv_close(w, ok, err, errlen) != 0)
        ok = 0;
    for (int c = 0; c < job->ncurves; c++)
        mem_free(se[c]);
    mem_free(se);
    mem_free(cols);
    mem_free(row);
    return ok ? 0 : -1;
}

/* The figure: per observed field, the points with error bars and the
 * fitted curve; the normalised residuals; per unknown function, the
 * estimate with its +-1 sigma band (and the truth when given). */
static int draw(const Fit *F, const double *cov, char *err, size_t errlen)
{
    const InferJob *job = F->job;
    const SolveJob *sj = job->solve;
    const int nf = F->nf, N = F->N, nobs = F->nobs;
    int npanels = 0;
    FigPanel *pn = mem_xalloc((size_t)(nf + 2 + job->ncurves) * sizeof *pn);
    memset(pn, 0, (size_t)(nf + 2 + job->ncurves) * sizeof *pn);
    double *xn = mem_xalloc((size_t)N * sizeof *xn);
    for (int k = 0; k < N; k++)
        xn[k] = sj->x0 + k * F->h;
    double *ox = mem_xalloc((size_t)(nobs + 1) * sizeof *ox), *ov = mem_xalloc((size_t)(nobs + 1) * sizeof *ov),
           *os = mem_xalloc((size_t)(nobs + 1) * sizeof *os), *orr = mem_xalloc((size_t)(nobs + 1) * sizeof *orr);
    double *cv = mem_xalloc((size_t)N * (job->ncurves + 1) * sizeof *cv), *clo = mem_xalloc((size_t)N * (job->ncurves + 1) * sizeof *clo),
           *chi = mem_xalloc((size_t)N * (job->ncurves + 1) * sizeof *chi);
    char **titles = mem_xalloc((size_t)(nf + job->ncurves + 1) * sizeof *titles);
    int ntitles = 0;
    /* observations by field, in order */
    int at = 0;
    for (int f = 0; f < nf; f++) {
        int first = at;
        for (int i = 0; i < nobs; i++)
            if (job->obs[i].field == f) {
                ox[at] = job->obs[i].x;
                ov[at] = job->obs[i].value;
                os[at] = job->obs[i].sigma;
                orr[at] = F->r[i];
                at++;
            }
        if (at == first)
            continue;
        FigPanel *p = &pn[npanels++];
        size_t len = strlen(sj->fields[f]) + 32;
        titles[ntitles] = mem_xalloc(len);
        snprintf(titles[ntitles], len, "%s: observed and fitted", sj->fields[f]);
        p->kind = FIG_LINES;
        p->title = titles[ntitles++];
        p->xlabel = sj->xname;
        p->ylabel = sj->fields[f];
        p->lines[p->nlines++] = (FigLine){.label = "fit", .x = xn, .y = F->res->y + f, .n = N, .ystride = nf,
                                          .colour = 1};
        p->lines[p->nlines++] = (FigLine){.label = job->noise_given ? "observed ± σ" : "observed",
                                          .x = ox + first, .y = ov + first, .n = at - first, .colour = 2,
                                          .marker = 1, .err = job->noise_given ? os + first : NULL};
    }
    FigPanel *rp = &pn[npanels++];
    rp->kind = FIG_SCATTER;
    rp->title = "residuals";
    rp->xlabel = sj->xname;
    rp->ylabel = job->noise_given ? "(fit − observed) / σ" : "fit − observed";
    at = 0;
    for (int f = 0; f < nf; f++) {
        int first = at;
        for (int i = 0; i < nobs; i++)
            if (job->obs[i].field == f)
                at++;
        if (at > first && rp->nlines < 6)
            rp->lines[rp->nlines++] = (FigLine){.label = nf > 1 ? sj->fields[f] : NULL, .x = ox + first,
                                                .y = orr + first, .n = at - first, .colour = 2};
    }
    for (int c = 0; c < job->ncurves; c++) {
        const InferCurve *cu = &job->curves[c];
        double *v = cv + (size_t)c * N, *lo = clo + (size_t)c * N, *hi = chi + (size_t)c * N;
        for (int k = 0; k < N; k++) {
            double se;
            curve_at(F, cu, cov, xn[k], &v[k], &se);
            lo[k] = v[k] - se;
            hi[k] = v[k] + se;
        }
        FigPanel *p = &pn[npanels++];
        size_t len = strlen(cu->name) + 32;
        titles[ntitles] = mem_xalloc(len);
        snprintf(titles[ntitles], len, "%s: recovered", cu->name);
        p->kind = FIG_LINES;
        p->title = titles[ntitles++];
        p->xlabel = sj->xname;
        p->ylabel = cu->name;
        if (cu->no_band)
            p->lines[p->nlines++] = (FigLine){.label = "estimate", .x = xn, .y = v, .n = N, .colour = 3};
        else
            p->lines[p->nlines++] = (FigLine){.label = "estimate ± 1σ", .x = xn, .y = v, .n = N, .colour = 3,
                                              .lo = lo, .hi = hi};
        if (cu->exact)
            p->lines[p->nlines++] = (FigLine){.label = "truth", .x = xn, .y = cu->exact, .n = N, .colour = 4};
    }
    /* the unknowns with a known truth: (estimate - truth) / standard error, +-1 */
    const int np = F->np;
    double *px = mem_xalloc((size_t)(np + 2) * sizeof *px), *py = mem_xalloc((size_t)(np + 2) * sizeof *py),
           *pe = mem_xalloc((size_t)(np + 2) * sizeof *pe), zx[2] = {0.5, np + 0.5}, zy[2] = {0, 0};
    char pulls[512] = "";
    int npull = 0;
    size_t plen = 0;
    for (int t = 0; job->truth && t < np; t++)
        if (isfinite(job->truth[t])) {
            px[npull] = t + 1;
            py[npull] = (job->theta[t] - job->truth[t]) / F->res->stderr_[t];
            pe[npull] = 1;
            npull++;
            if (plen < sizeof pulls - 64)
                plen += (size_t)snprintf(pulls + plen, sizeof pulls - plen, "%s%d %s", npull > 1 ? ", " : "", t + 1,
                                         job->names[t]);
        }
    if (npull > 0) {
        FigPanel *p = &pn[npanels++];
        p->kind = FIG_LINES;
        p->title = "unknowns against the truth";
        p->xlabel = pulls;
        p->ylabel = "(estimate − truth) / σ";
        p->lines[p->nlines++] = (FigLine){.label = NULL, .x = zx, .y = zy, .n = 2, .colour = 6};
        p->lines[p->nlines++] = (FigLine){.label = NULL, .x = px, .y = py, .n = npull, .colour = 3, .marker = 1,
                                          .err = pe};
    }
    char title[256];
    snprintf(title, sizeof title, "infer %s", job->problem);
    int rc = figure_draw(job->plot, title, pn, npanels, npanels == 3 ? 3 : npanels > 2 ? 2 : npanels, err, errlen);
    for (int i = 0; i < ntitles; i++)
        mem_free(titles[i]);
    mem_free(titles);
    mem_free(px);
    mem_free(py);
    mem_free(pe);
    mem_free(pn);
    mem_free(xn);
    mem_free(ox);
    mem_free(ov);
    mem_free(os);
    mem_free(orr);
    mem_free(cv);
    mem_free(clo);
    mem_free(chi);
    return rc;
}

/* ---------- the driver ---------- */

/* One fit from u0 (the optimiser's variables: runtime/infer.c, to_theta)
 * to the estimate theta; F->r, F->J are at the start's solution.
 * Returns GSL_SUCCESS or the reason it stopped; quiet: no progress line
 * and no warnings (the refits). */
static int fit(Fit *F, double *u0, double *theta, int *iterations, int quiet)
{
    const InferJob *job = F->job;
    const SolveJob *sj = job->solve;
    const int np = F->np, nobs = F->nobs;
    const size_t tot = (size_t)F->N * (size_t)F->nf;
    gsl_multifit_nlinear_fdf fdf = {eval_f, eval_df, NULL, (size_t)F->nres, (size_t)np, F, 0, 0, 0};
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    params.trs = job->geodesic ? gsl_multifit_nlinear_trs_lmaccel : gsl_multifit_nlinear_trs_lm;
    /* More's scaling (invariant to the unknowns' units) divides by the
     * Jacobian's column norms: an unknown the residuals do not depend on
     * at the start (a zero column) would make the step singular, so then
     * the plain Levenberg scaling is used */
    double cmax = 0, cmin = INFINITY;
    for (int t = 0; t < np; t++) {
        double c = 0;
        for (int i = 0; i < nobs; i++)
            c += F->J[(size_t)i * np + t] * F->J[(size_t)i * np + t];
        cmax = fmax(cmax, sqrt(c));
        cmin = fmin(cmin, sqrt(c));
    }
    if (!(cmin > 1e-9 * cmax))
        params.scale = gsl_multifit_nlinear_scale_levenberg;
    gsl_multifit_nlinear_workspace *w =
        gsl_checked(mem_fault() ? NULL
                                : gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, (size_t)F->nres, (size_t)np));
    gsl_vector_view x0 = gsl_vector_view_array(u0, (size_t)np);
    int info = 0, status = gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
    /* GSL's iterations with its tests on the step and the gradient, and
     * one more: the Gauss–Newton decrement (the misfit a full Gauss–Newton
     * step would remove, the squared distance to the optimum in standard
     * errors when sigma is known) below 1e-12 of the misfit, or below the
     * noise of the misfit's evaluation (the solves' tolerance; the floor of
     * a misfit of zero: noise-free data).  Without it
     * the last iteration spends a dozen solves on steps at the round-off
     * floor before the step test stops it. */
    /* the misfit's round-off floor: the solves are accurate to tol in the
     * fields (relative to max(1, |y|)), so each normalised residual to
     * about tol max(1, |y|) / sigma */
    double ymax = 1, smin = INFINITY;
    for (size_t i = 0; i < tot; i++)
        if (isfinite(F->ylast[i]))
            ymax = fmax(ymax, fabs(F->ylast[i]));
    for (int i = 0; i < nobs; i++)
        smin = fmin(smin, job->obs[i].sigma);
    const double eps_r = sj->tol * ymax / smin, floor2 = nobs * eps_r * eps_r;
    for (int it = 0; status == GSL_SUCCESS; it++) {
        if (it == job->max_iter) {
            status = GSL_EMAXITER;
            break;
        }
        int st = gsl_multifit_nlinear_iterate(w);
        if (!quiet)
            progress((size_t)it + 1, F, w);
        double dec = decrement(w), chi2 = 0;
        gsl_vector *fw = gsl_multifit_nlinear_residual(w);
        for (size_t i = 0; i < fw->size; i++)
            chi2 += gsl_vector_get(fw, i) * gsl_vector_get(fw, i);
        /* the noise of the misfit's own evaluation, 2 sqrt(chi2) eps_r: a
         * step that gains less cannot be told from the last (GSL then
         * rejects steps until it gives up), so the fit stops at a hundredth
         * of it, a distance to the optimum far below a standard error */
        double noise = 2 * sqrt(chi2) * eps_r + floor2;
        if (dec <= 1e-12 * chi2 + 0.01 * noise) {
            info = 3;
            break;
        }
        if (st == GSL_ENOPROG) {
            /* no step lowers the misfit: converged when the optimum is near,
             * or held at a bound (the warning below says which) */
            if (dec > 1e-6 * fmax(chi2, 1) + noise && !at_bound(job, gsl_multifit_nlinear_position(w)->data))
                status = GSL_ENOPROG;
            break;
        }
        if (st != GSL_SUCCESS) {
            status = st;
            break;
        }
        if (gsl_multifit_nlinear_test(job->tol, job->tol, 0, &info, w) == GSL_SUCCESS)
            break;
    }
    if (job->progress && !quiet)
        fputc('\n', stderr);
    *iterations = (int)gsl_multifit_nlinear_niter(w);
    (void)info;
    gsl_vector *xe = gsl_multifit_nlinear_position(w);
    to_theta(job, xe->data, theta);
    memcpy(F->u_final, xe->data, (size_t)np * sizeof *F->u_final);
    for (int t = 0; t < np && !quiet; t++)
        if (at_bound_t(job, xe->data, t))
            fprintf(stderr, "lag: warning: %s: infer %s: %s = %.10g is at its bound %.10g: the data would move it "
                    "further, and its standard error is that of an unknown without bounds\n", job->where, job->problem,
                    job->names[t], theta[t], sin(xe->data[t]) > 0 ? job->upper[t] : job->lower[t]);
    gsl_multifit_nlinear_free(w);
    return status;
}


/* ---------- L-BFGS (nets) ---------- */

/* The misfit chi^2 / 2 (with the penalty's rows) and its gradient in the
 * optimiser's variables x = (u, w) (u: the unknowns through their bounds'
 * map, w: the nets' weights), from a forward solve there.  0, or -1. */
static int eval_x(Fit *F, const double *x, double *f, double *g)
{
    const InferJob *job = F->job;
    const int np = F->np, nw = F->nw;
    to_theta(job, x, F->tbuf);
    if (nw > 0 && job->set_w(job->net_ctx, x + np) != 0)
        return -1;
    if (forward(F, F->tbuf) != 0) {
        F->have = 0;
        return -1;
    }
    memcpy(F->u_at, x, (size_t)np * sizeof *x);
    memcpy(F->w_at, x + np, (size_t)nw * sizeof *x);
    double ff = 0;
    for (int i = 0; i < F->nres; i++)
        ff += F->r[i] * F->r[i];
    *f = ff / 2;
    for (int t = 0; t < np; t++) {
        double v = 0;
        for (int i = 0; i < F->nres; i++)
            v += F->r[i] * F->J[(size_t)i * np + t];
        g[t] = v * dtheta_du(job, x, t);
    }
    memcpy(g + np, F->gw, (size_t)nw * sizeof *g);
    for (int k = 0; k < np + nw; k++)
        if (!isfinite(g[k]))
            return -1;
    return isfinite(*f) ? 0 : -1;
}

#define LBFGS_PAIRS 10  /* the curvature pairs kept */
#define LBFGS_WINDOW 10 /* iterations over which chi^2 must fall by LBFGS_GAIN */
#define LBFGS_GAIN 1e-3 /* ...in units of chi^2 (or 1e-6 of it, when larger) */

/* Minimise the misfit over x (np + nw values) by L-BFGS (Nocedal and
 * Wright, Numerical Optimization, 2nd ed., algorithm 7.4: the two-loop
 * recursion with H0 = s'y / y'y) and a backtracking line search on the
 * Armijo condition (quadratic interpolation, a failed forward solve
 * halving the step); a pair with s'y <= 0 is skipped, so the inverse
 * Hessian stays positive definite.  It stops when LBFGS_WINDOW iterations
 * lowered chi^2 by less than LBFGS_GAIN (a thousandth of the change one
 * standard error of a single observation makes), or when no step lowers
 * it.  x out: the estimate, whose forward solve is the last evaluation. */
static int fit_lbfgs(Fit *F, double *x, int *iterations, int quiet)
{
    const InferJob *job = F->job;
    const int n = F->np + F->nw, M = LBFGS_PAIRS;
    double *S = mem_xalloc((size_t)M * n * sizeof *S), *Y = mem_xalloc((size_t)M * n * sizeof *Y);
    double rho[LBFGS_PAIRS], alpha[LBFGS_PAIRS], hist[LBFGS_WINDOW + 1];
    double *g = mem_xalloc((size_t)n * sizeof *g), *gt = mem_xalloc((size_t)n * sizeof *gt);
    double *d = mem_xalloc((size_t)n * sizeof *d), *xt = mem_xalloc((size_t)n * sizeof *xt);
    /* every trial starts from the accepted point's solution and tangent
     * predictor (a refused long step's solution can be far from the next
     * trial's) */
    const size_t tot = (size_t)F->N * (size_t)F->nf, dtot = tot * (size_t)F->np;
    double *yacc = mem_xalloc(tot * sizeof *yacc), *dyacc = mem_xalloc((dtot + 1) * sizeof *dyacc);
    double *tacc = mem_xalloc(((size_t)F->np + 1) * sizeof *tacc);
#define SAVE_START()                                                        \
    do {                                                                    \
        memcpy(yacc, F->ylast, tot * sizeof *yacc);                         \
        memcpy(dyacc, F->dy, dtot * sizeof *dyacc);                         \
        memcpy(tacc, F->theta_last, (size_t)F->np * sizeof *tacc);          \
    } while (0)
#define RESTORE_START()                                                     \
    do {                                                                    \
        memcpy(F->ylast, yacc, tot * sizeof *yacc);                         \
        memcpy(F->dy, dyacc, dtot * sizeof *dyacc);                         \
        memcpy(F->theta_last, tacc, (size_t)F->np * sizeof *tacc);          \
    } while (0)
    int npairs = 0, newest = -1, status = GSL_EMAXITER, it;
    double f, ft;
    if (eval_x(F, x, &f, g) != 0) {
        status = GSL_EFAILED;
        it = 0;
        goto out;
    }
    SAVE_START();
    hist[0] = f;
    for (it = 0; it < job->max_iter; it++) {
        /* d = -H g by the two-loop recursion */
        for (int k = 0; k < n; k++)
            d[k] = g[k];
        for (int c = 0; c < npairs; c++) {
            int j = (newest - c + M) % M;
            double v = 0;
            for (int k = 0; k < n; k++)
                v += S[(size_t)j * n + k] * d[k];
            alpha[j] = rho[j] * v;
            for (int k = 0; k < n; k++)
                d[k] -= alpha[j] * Y[(size_t)j * n + k];
        }
        double gamma, gmax = 0, xmax = 1;
        for (int k = 0; k < n; k++) {
            gmax = fmax(gmax, fabs(g[k]));
            xmax = fmax(xmax, fabs(x[k]));
        }
        if (gmax == 0) {
            status = GSL_SUCCESS;
            break;
        }
        if (npairs > 0) {
            double sy = 0, yy = 0;
            for (int k = 0; k < n; k++) {
                sy += S[(size_t)newest * n + k] * Y[(size_t)newest * n + k];
                yy += Y[(size_t)newest * n + k] * Y[(size_t)newest * n + k];
            }
            gamma = sy / yy;
        } else
            gamma = 1e-2 * xmax / gmax; /* the first step moves the largest component by 1 % */
        for (int k = 0; k < n; k++)
            d[k] *= gamma;
        for (int c = npairs - 1; c >= 0; c--) {
            int j = (newest - c + M) % M;
            double v = 0;
            for (int k = 0; k < n; k++)
                v += Y[(size_t)j * n + k] * d[k];
            double beta = rho[j] * v;
            for (int k = 0; k < n; k++)
                d[k] += S[(size_t)j * n + k] * (alpha[j] - beta);
        }
        double gd = 0;
        for (int k = 0; k < n; k++) {
            d[k] = -d[k];
            gd += g[k] * d[k];
        }
        if (!(gd < 0)) { /* not a descent direction: start the memory again */
            npairs = 0;
            gd = 0;
            for (int k = 0; k < n; k++) {
                d[k] = -1e-2 * xmax / gmax * g[k];
                gd += g[k] * d[k];
            }
        }
        /* the line search */
        double a = 1;
        int accepted = 0;
        for (int ls = 0; ls < 40 && !accepted; ls++) {
            for (int k = 0; k < n; k++)
                xt[k] = x[k] + a * d[k];
            RESTORE_START();
            if (eval_x(F, xt, &ft, gt) == 0) {
                if (ft <= f + 1e-4 * a * gd) {
                    accepted = 1;
                    break;
                }
                double q = -gd * a * a / (2 * (ft - f - gd * a)); /* the quadratic's minimum */
                a = isfinite(q) ? fmin(0.5 * a, fmax(0.1 * a, q)) : 0.5 * a;
            } else
                a *= 0.5;
        }
        if (!accepted) {
            status = GSL_ENOPROG;
            break;
        }
        double sy = 0, ss = 0, yy = 0;
        int j = (newest + 1) % M;
        for (int k = 0; k < n; k++) {
            double sk = xt[k] - x[k], yk = gt[k] - g[k];
            S[(size_t)j * n + k] = sk;
            Y[(size_t)j * n + k] = yk;
            sy += sk * yk;
            ss += sk * sk;
            yy += yk * yk;
        }
        if (sy > 1e-12 * sqrt(ss * yy)) {
            rho[j] = 1 / sy;
            newest = j;
            npairs += npairs < M;
        }
        memcpy(x, xt, (size_t)n * sizeof *x);
        memcpy(g, gt, (size_t)n * sizeof *g);
        SAVE_START();
        f = ft;
        F->res->iterations = it + 1;
        if (job->progress && !quiet)
            fprintf(stderr, "\rinfer %s: iteration %d  misfit %.6e  forward solves %d  ", job->problem, it + 1, 2 * f,
                    F->res->forward_solves);
        /* chi^2 over the last LBFGS_WINDOW iterations */
        if (it + 1 <= LBFGS_WINDOW)
            hist[it + 1] = f;
        else {
            memmove(hist, hist + 1, LBFGS_WINDOW * sizeof *hist);
            hist[LBFGS_WINDOW] = f;
            if (2 * (hist[0] - f) < fmax(LBFGS_GAIN, 1e-6 * 2 * f)) {
                status = GSL_SUCCESS;
                it++;
                break;
            }
        }
    }
    if (job->progress && !quiet)
        fputc('\n', stderr);
    {
        double gm = 0;
        for (int k = 0; k < n; k++)
            gm = fmax(gm, fabs(g[k]));
        F->res->grad_norm = gm;
    }
    /* the estimate's solution is the last evaluation unless a trial was refused */
    if (status != GSL_EFAILED &&
        (!F->have || memcmp(F->u_at, x, (size_t)F->np * sizeof *x) != 0 ||
         memcmp(F->w_at, x + F->np, (size_t)F->nw * sizeof *x) != 0)) {
        RESTORE_START();
        if (eval_x(F, x, &f, g) != 0)
            status = GSL_EFAILED;
    }
out:
    *iterations = it;
    memcpy(F->u_final, x, (size_t)F->np * sizeof *x);
    mem_free(S);
    mem_free(Y);
    mem_free(g);
    mem_free(gt);
    mem_free(d);
    mem_free(xt);
    mem_free(yacc);
    mem_free(dyacc);
    mem_free(tacc);
#undef SAVE_START
#undef RESTORE_START
    return status;
}

int infer_run(const InferJob *job, InferResult *res)
{
    double start = sim_clock();
    gsl_set_error_handler_off();
    res->status = 0;
    res->message[0] = 0;
    res->converged = 0;
    res->iterations = res->forward_solves = res->newton_iterations = 0;
    res->solve_s = res->sens_s = res->adj_s = 0;
    res->grad_norm = NAN;
    res->misfit = res->chi2_dof = res->rms = res->sigma_est = NAN;
    res->penalty = 0;
    res->p_eff = job->np;
    res->identifiable = 0;
    res->unidentified[0] = 0;
    res->fisher_cond = NAN;
    SolveJob *sj = job->solve;
    Fit F;
    memset(&F, 0, sizeof F);
    F.job = job;
    F.res = res;
    F.nw = job->nw;
    sj->adjoint_rhs = job->nw > 0 ? adjoint_rhs : NULL;
    sj->adjoint_use = adjoint_use;
    sj->adjoint_ctx = &F;
    F.nf = sj->nf;
    F.N = sj->points;
    F.np = job->np;
    F.nobs = job->nobs;
    F.nres = job->nobs + (job->regularize > 0 ? INFER_REG_POINTS * job->ncurves : 0);
    F.x0 = sj->x0;
    F.h = (sj->x1 - sj->x0) / (sj->points - 1);
    const size_t tot = (size_t)F.N * (size_t)F.nf;
    const int np = F.np, nobs = F.nobs;
    F.ylast = mem_xalloc(tot * sizeof *F.ylast);
    memcpy(F.ylast, res->y, tot * sizeof *F.ylast); /* the caller's start (NaN: the engine's default) */
    F.sr.y = res->y;
    F.sr.multipliers = F.mult = mem_xalloc(((size_t)sj->ncons + 1) * sizeof *F.mult);
    F.sr.dy = F.dy = mem_xalloc((tot * (size_t)np + 1) * sizeof *F.dy);
    F.sr.dobj = F.dobj = mem_xalloc(((size_t)np + 1) * sizeof *F.dobj);
    F.r = mem_xalloc((size_t)F.nres * sizeof *F.r);
    F.J = mem_xalloc(((size_t)F.nres * (size_t)np + 1) * sizeof *F.J);
    F.theta_at = mem_xalloc(((size_t)np + 1) * sizeof *F.theta_at);
    F.u_at = mem_xalloc(((size_t)np + 1) * sizeof *F.u_at);
    F.u_final = mem_xalloc(((size_t)np + 1) * sizeof *F.u_final);
    F.theta_last = mem_xalloc(((size_t)np + 1) * sizeof *F.theta_last);
    F.tbuf = mem_xalloc(((size_t)np + 1) * sizeof *F.tbuf);
    F.gw = mem_xalloc(((size_t)F.nw + 1) * sizeof *F.gw);
    F.w_at = mem_xalloc(((size_t)F.nw + 1) * sizeof *F.w_at);
    /* the optimiser's variables: the unknowns through their bounds' map, then the weights */
    double *u0 = mem_xalloc(((size_t)np + (size_t)F.nw + 1) * sizeof *u0);
    to_u(job, job->theta, u0);
    if (F.nw > 0)
        memcpy(u0 + np, job->w, (size_t)F.nw * sizeof *u0);
    F.value = mem_xalloc((size_t)nobs * sizeof *F.value);
    for (int i = 0; i < nobs; i++)
        F.value[i] = job->obs[i].value;
    double *start_theta = mem_xalloc(((size_t)np + 1) * sizeof *start_theta);
    memcpy(start_theta, job->theta, (size_t)np * sizeof *start_theta);
    F.start = start_theta;
    double *cov = mem_xalloc(((size_t)np * (size_t)np + 1) * sizeof *cov);
    char err[1024];

    /* outputs must be writable: found out before the fit */
    const char *outs[3] = {job->output, job->nodes_output, job->plot};
    for (int i = 0; i < 3 && res->status == 0; i++)
        if (outs[i] && io_check_writable(outs[i], res->message, sizeof res->message) != 0)
            res->status = 4;
    /* only rank 0 checks, as it alone writes: its finding is every rank's,
     * so that none goes on to the refits' exchanges alone (runtime/par.h) */
    par_bcast(&res->status, sizeof res->status);
    par_bcast(res->message, sizeof res->message);
    if (res->status != 0)
        goto out;
    /* the start must solve */
    if ((F.nw > 0 && job->set_w(job->net_ctx, job->w) != 0) || forward(&F, job->theta) != 0) {
        snprintf(res->message, sizeof res->message, "the forward problem cannot be solved at the start: %s",
                 F.failure);
        res->status = 3;
        goto out;
    }
    for (int i = 0; i < nobs; i++)
        F.worst = fmax(F.worst, fabs(F.r[i]));
    memcpy(F.u_at, u0, (size_t)np * sizeof *F.u_at);

    double fit_start = sim_clock();
    int status;
    if (job->lbfgs) {
        /* the estimate's solution is the last evaluation, unless it failed */
        status = fit_lbfgs(&F, u0, &res->iterations, 0);
        to_theta(job, u0, job->theta);
        if (F.nw > 0)
            memcpy(job->w, u0 + np, (size_t)F.nw * sizeof *u0);
        if (status == GSL_EFAILED) {
            snprintf(res->message, sizeof res->message, "the forward problem cannot be solved at the estimate: %s",
                     F.failure);
            res->status = 3;
            goto out;
        }
    } else
        status = fit(&F, u0, job->theta, &res->iterations, 0);
    res->converged = status == GSL_SUCCESS;
    /* the estimate's own solution, residuals and Jacobian: those of the
     * last evaluation when it was the estimate (not a refused trial) */
    int at_estimate = F.have;
    for (int t = 0; t < np && at_estimate; t++)
        at_estimate = F.u_at[t] == F.u_final[t];
    if (!at_estimate && forward(&F, job->theta) != 0) {
        snprintf(res->message, sizeof res->message, "the forward problem cannot be solved at the estimate: %s",
                 F.failure);
        res->status = 3;
        goto out;
    }
    res->fit_s = sim_clock() - fit_start;
    double chi2 = 0, raw = 0;
    for (int i = 0; i < nobs; i++) {
        chi2 += F.r[i] * F.r[i];
        raw += F.r[i] * job->obs[i].sigma * F.r[i] * job->obs[i].sigma;
    }
    res->misfit = chi2;
    /* a net's weights count as parameters: with as many as the observations, no degrees of freedom are left */
    res->chi2_dof = nobs > np + F.nw ? chi2 / (nobs - np - F.nw) : NAN;
    res->p_eff = np + F.nw;
    res->penalty = 0;
    for (int i = nobs; i < F.nres; i++)
        res->penalty += F.r[i] * F.r[i];
    res->rms = sqrt(raw / nobs);
    res->sigma_est = sqrt(res->chi2_dof) * (job->noise_given ? job->obs[0].sigma : 1);
    if (np > 0)
        uncertainty(&F, cov); /* the identifiability of the unknowns, given the nets */
    else
        res->identifiable = 1; /* nothing to determine but the nets: not assessed */
    if (F.nw > 0) {
        /* the Jacobian in the weights: one more adjoint solve per observation at the estimate */
        F.Jw = mem_xalloc((size_t)nobs * (size_t)F.nw * sizeof *F.Jw);
        sj->adjoint_nrhs = 1 + nobs;
        int bad = job->set_w(job->net_ctx, job->w) != 0 || forward(&F, job->theta) != 0;
        sj->adjoint_nrhs = 1;
        if (bad) {
            snprintf(res->message, sizeof res->message, "the Jacobian in the nets' weights cannot be computed at "
                     "the estimate: %s", F.failure);
            res->status = 3;
            goto out;
        }
        net_uncertainty(&F, cov);
        res->sigma_est = sqrt(res->chi2_dof) * (job->noise_given ? job->obs[0].sigma : 1);
    }
    if (job->samples > 0 && res->status == 0)
        refits(&F, cov);
    if (!res->converged) {
        if (status == GSL_ENOPROG)
            snprintf(res->message, sizeof res->message, "the fit stopped after %d iterations: no step lowers "
                     "the misfit, and the optimum is not near (see the warnings; check the start and the "
                     "observations)", res->iterations);
        else
            snprintf(res->message, sizeof res->message, "no convergence after %d iterations (%s)", res->iterations,
                     status == GSL_EMAXITER ? "the most iterations: raise fit_iterations" : gsl_strerror(status));
        res->status = 3;
    }
    if (job->output && write_obs(&F, err, sizeof err) != 0) {
        snprintf(res->message, sizeof res->message, "%s", err);
        res->status = 4;
    }
    if (job->nodes_output && res->status != 4 && write_nodes(&F, cov, err, sizeof err) != 0) {
        snprintf(res->message, sizeof res->message, "%s", err);
        res->status = 4;
    }
    if (job->plot && res->status != 4 && draw(&F, cov, err, sizeof err) != 0) {
        snprintf(res->message, sizeof res->message, "%s", err);
        res->status = 4;
    }
out:
    res->wall_s = sim_clock() - start;
    mem_free(F.ylast);
    mem_free(F.mult);
    mem_free(F.dy);
    mem_free(F.dobj);
    mem_free(F.r);
    mem_free(F.J);
    mem_free(F.theta_at);
    mem_free(F.u_at);
    mem_free(F.u_final);
    mem_free(F.theta_last);
    mem_free(F.tbuf);
    mem_free(F.gw);
    mem_free(F.w_at);
    mem_free(F.Jw);
    mem_free(F.U);
    mem_free(F.ev);
    mem_free(F.value);
    mem_free(u0);
    mem_free(start_theta);
    mem_free(cov);
    return res->status;
}

int infer_json(FILE *out, const InferJob *job, const InferResult *res)
{
    sim_json_begin();
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", json_string("infer"));
    sim_jset(o, "problem", json_string(job->problem));
    sim_jset(o, "status", json_integer(res->status));
    sim_jset(o, "converged", json_boolean(res->converged));
    sim_jset(o, "iterations", json_integer(res->iterations));
    sim_jset(o, "forward_solves", json_integer(res->forward_solves));
    sim_jset(o, "newton_iterations", json_integer(res->newton_iterations));
    sim_jset(o, "fit_method", json_string(job->lbfgs ? "lbfgs" : job->geodesic ? "lmaccel" : "lm"));
    if (job->nw > 0)
        sim_jset(o, "net_weights", json_integer(job->nw));
    if (job->lbfgs)
        sim_jset(o, "gradient_max", sim_jreal(res->grad_norm));
    json_t *u = sim_jnew(json_object());
    for (int t = 0; t < job->np; t++) {
        json_t *e = sim_jnew(json_object());
        sim_jset(e, "value", sim_jreal(job->theta[t]));
        sim_jset(e, "stderr", sim_jreal(res->stderr_[t]));
        sim_jset(u, job->names[t], e);
    }
    sim_jset(o, "unknowns", u);
    json_t *c = sim_jnew(json_array());
    for (int a = 0; a < job->np; a++) {
        json_t *row = sim_jnew(json_array());
        for (int b = 0; b < job->np; b++)
            sim_japp(row, sim_jreal(res->corr[(size_t)a * job->np + b]));
        sim_japp(c, row);
    }
    sim_jset(o, "correlation", c);
    sim_jset(o, "misfit", sim_jreal(res->misfit));
    if (job->regularize > 0) {
        sim_jset(o, "regularize", sim_jreal(job->regularize));
        sim_jset(o, "penalty", sim_jreal(res->penalty));
    }
    sim_jset(o, "effective_parameters", sim_jreal(res->p_eff));
    sim_jset(o, "chi2_dof", sim_jreal(res->chi2_dof));
    sim_jset(o, "residual_rms", sim_jreal(res->rms));
    sim_jset(o, "observations", json_integer(job->nobs));
    if (job->samples > 0) {
        json_t *rf = sim_jnew(json_object());
        sim_jset(rf, "samples", json_integer(job->samples));
        sim_jset(rf, "converged", json_integer(res->refits));
        json_t *sd = sim_jnew(json_object());
        for (int t = 0; t < job->np; t++)
            sim_jset(sd, job->names[t], sim_jreal(res->refit_stderr[t]));
        sim_jset(rf, "stderr", sd);
        sim_jset(o, "refits", rf);
    }
    sim_jset(o, "identifiable", json_boolean(res->identifiable));
    if (!res->identifiable)
        sim_jset(o, "unidentified", json_string(res->unidentified));
    sim_jset(o, "fisher_condition", sim_jreal(res->fisher_cond));
    sim_jset(o, "fit_s", sim_jreal(res->fit_s));
    /* the cost of one gradient (the sensitivities of one solve) against
     * one Newton iteration of the forward problem */
    sim_jset(o, "solve_s", sim_jreal(res->solve_s));
    sim_jset(o, "sensitivity_s", sim_jreal(res->sens_s));
    if (job->nw > 0)
        sim_jset(o, "adjoint_s", sim_jreal(res->adj_s));
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    return sim_json_print(out, o);
}
