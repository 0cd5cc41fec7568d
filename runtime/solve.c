/*
 * runtime/solve.c — the variational engine (runtime/solve.h): Newton's
 * method on the KKT system of a discretised integral with integral
 * equality constraints, O(points) per iteration.
 *
 * Unknowns.  The node values of the fields that are not fixed, node-major
 * (map[k*nf + i] is the unknown of field i at node k, or -1 when fixed),
 * and one multiplier per constraint.  Internally the engine works with the
 * sign-adjusted objective phi = s F (s = -1 for maximize, else 1) and its
 * multipliers mu; the reported multipliers are lambda = s mu, so that
 * grad F + sum_j lambda_j grad G_j = 0 at the solution whatever the sense.
 *
 * One iteration.  Every term (objective and constraints) is evaluated
 * over the intervals SOLVE_CHUNK at a time, and each chunk is assembled
 * before the next is evaluated (no per-interval output is kept: the
 * memory is O(points) with a small constant): the gradient g of
 * L = phi + sum mu_j (G_j - c_j), its banded Hessian H (GSL's symmetric
 * band format: band[j*(p+1) + d] = H(j+d, j), p = 2nf - 1) and the dense
 * constraint gradients A (ncons rows).  A trial point of the line search
 * is evaluated only as deep as its merit needs (the values for
 * minimize/maximize), and in full once accepted.  The KKT system
 *     [H A^T; A 0] [dx; dmu] = -[g; G - c]
 * is solved by the banded LDL^T of H and the ncons x ncons Schur
 * complement S = A H^-1 A^T: u = H^-1 g, W = H^-1 A^T,
 * S dmu = (G - c) - A u, dx = -u - W dmu.  The inertia follows from the
 * signs of D (Sylvester) and of S: inertia(KKT) = inertia(H) + inertia(-S),
 * and the reduced Hessian (H on the constraints' tangent space) has
 * n_neg(KKT) - ncons negative eigenvalues (Gould 1985).
 *
 * Residual (the stopping test): the KKT residual measured through the
 * inverse of the KKT matrix, i.e. the Newton step itself (Deuflhard's
 * affine-invariant test):
 *     r = max( max_i |dx_i| / max(1, max|y|),  max_j |dmu_j| / max(1, |mu_j|),
 *              max_j |G_j - c_j| / max(1, |c_j|) ),
 * converged when r <= tol with an unmodified Hessian.  It is the distance
 * to the discrete solution in the fields' own units, so it does not depend
 * on the number of points, and its round-off floor stays near eps.  (The
 * gradient itself cannot serve: the nearest representable y to the
 * discrete solution already leaves g_i ~ eps |y| |H_ii|, a discrete
 * Euler-Lagrange residual g_i/h ~ eps N^2 that exceeds 1e-10 from 10^3
 * points on.)  A failure message names that residual and the node of the
 * largest |dx_i|.
 *
 * Globalisation.  minimize/maximize: inertia correction as in IPOPT (H +
 * delta I with delta grown x10 from 1e-8 max|H_ii| until the reduced
 * Hessian of phi's Lagrangian is positive definite; the next iteration
 * starts from delta/10) and an Armijo backtracking line search on the l1
 * merit phi + nu sum |G_j - c_j| with nu > max|mu|; a full step with an
 * uncorrected Hessian is also taken when r <= 1e-4 (the Maratos effect
 * and a merit at round-off level would otherwise stall the last steps).
 * A guess that violates a constraint is first restored to it by the bump
 * of the default guess (below); when no bump meets it, the run stops there
 * (status 3, the constraint, the value asked and the nearest reached).  stationary: plain
 * Newton (a tiny shift only for a singular pivot) with backtracking on the
 * weighted 2-norm of the KKT residual, so saddles are found too; when it
 * fails (a line search that fails, steps that grow a thousandfold past the
 * smallest: a singular Hessian ahead) the run restarts from the guess as a
 * minimisation, since a local minimum is stationary too.  A trial point
 * where a term cannot be evaluated halves the step.  At most max_iter
 * iterations (per phase) of at most 60 halvings each.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/solve.h"

#include <float.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_permutation.h>
#include <gsl/gsl_vector.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "runtime/io.h"
#include "runtime/mem.h"
#include "runtime/plot.h"
#include "runtime/simulate.h"

#define MAX_HALVINGS 60
#define MAX_CORRECTIONS 40
#define FULL_STEP 1e-4 /* the residual below which a full step with an unmodified Hessian is taken */

typedef struct Eng {
    const SolveJob *job;
    int N, nf, m, n, p, bw; /* nodes, fields, constraints, free unknowns, half bandwidth, p + 1 */
    int nterms;             /* 1 + m */
    size_t ostride;         /* 1 + 2nf + 4nf^2 */
    double h, s;            /* spacing, sign of the objective */
    int *map;               /* N*nf: free index or -1 */
    char *mult;             /* n: the unknown is a pointwise multiplier (job->nmult), or NULL */
    double *y;              /* N*nf: the current iterate (fixed values included) */
    double *yt;             /* N*nf: a trial point */
    double *cin, *cout;     /* a chunk's inputs (SOLVE_CHUNK x (2nf+1)) and a term's outputs */
    double *val, *valt;     /* per term: its integral, at y and at yt */
    double *g, *Hraw, *band, *A, *u, *W, *dx;
    double sigma;           /* largest interval contribution to g */
    /* the border (m > 0) */
    gsl_matrix *S, *Sc;
    gsl_permutation *perm;
    gsl_vector *Seval;
    gsl_eigen_symm_workspace *ew;
    double *mu, *dmu, *mut;
    int bad_term, bad_interval; /* where the last evaluation failed */
} Eng;

static void *gsl_checked(void *p)
{
    if (!p)
        mem_out_of_memory(0);
    return p;
}

/* ---------- evaluation ---------- */

/* Evaluate the terms (all, or only term `only` >= 0: 0 the objective,
 * 1 + j constraint j) at the node values y, SOLVE_CHUNK intervals at a
 * time, their integrals into vals.  With depth >= SOLVE_GRADIENT also the
 * gradient g of phi + sum mu_j (G_j - c_j), sigma (its largest interval
 * contribution) and the constraints' gradients A; with SOLVE_HESSIAN also
 * the band Hessian Hraw.  0, or -1 when a term cannot be evaluated there
 * (bad_term and bad_interval say where). */
static int evaluate(Eng *e, const double *y, int depth, const double *mu, double *vals, int only)
{
    int nf = e->nf, q = 2 * nf, B = e->N - 1, w = q + 1, bw = e->bw;
    size_t os = depth == SOLVE_VALUE ? 1 : depth == SOLVE_GRADIENT ? (size_t)(1 + q) : e->ostride;
    if (depth >= SOLVE_GRADIENT) {
        memset(e->g, 0, (size_t)e->n * sizeof *e->g);
        memset(e->A, 0, (size_t)e->m * (size_t)e->n * sizeof *e->A);
    }
    if (depth == SOLVE_HESSIAN)
        memset(e->Hraw, 0, (size_t)e->n * (size_t)bw * sizeof *e->Hraw);
    for (int t = 0; t < e->nterms; t++)
        vals[t] = 0;
    double sigma = 0;
    for (int k0 = 0; k0 < B; k0 += SOLVE_CHUNK) {
        int nb = B - k0 < SOLVE_CHUNK ? B - k0 : SOLVE_CHUNK;
        for (int k = 0; k < nb; k++) {
            double *r = e->cin + (size_t)k * (size_t)w;
            memcpy(r, y + (size_t)(k0 + k) * (size_t)nf, (size_t)q * sizeof *r);
            r[q] = e->job->x0 + (k0 + k + 0.5) * e->h;
        }
        for (int t = 0; t < e->nterms; t++) {
            if (only >= 0 && t != only)
                continue;
            const SolveTerm *T = t == 0 ? &e->job->objective : &e->job->cons[t - 1];
            const double *o = e->cout;
            if (T->eval(T->ctx, depth, nb, e->cin, e->cout) != 0) {
                e->bad_term = t;
                e->bad_interval = -1;
                return -1;
            }
            size_t len = (size_t)nb * os;
            for (size_t i = 0; i < len; i++)
                if (!isfinite(o[i])) {
                    e->bad_term = t;
                    e->bad_interval = k0 + (int)(i / os);
                    return -1;
                }
            double sum = vals[t];
            for (int k = 0; k < nb; k++)
                sum += o[(size_t)k * os];
            vals[t] = sum;
            if (depth == SOLVE_VALUE)
                continue;
            double c = t == 0 ? e->s : mu[t - 1];
            double *At = t > 0 ? e->A + (size_t)(t - 1) * (size_t)e->n : NULL;
            for (int k = 0; k < nb; k++) {
                const double *ok = o + (size_t)k * os, *gr = ok + 1, *He = ok + 1 + q;
                const int *mp = e->map + (size_t)(k0 + k) * (size_t)nf;
                for (int a = 0; a < q; a++) {
                    int i = mp[a];
                    if (i < 0)
                        continue;
                    double v = c * gr[a];
                    e->g[i] += v;
                    if (fabs(v) > sigma)
                        sigma = fabs(v);
                    if (At)
                        At[i] += gr[a];
                    if (depth != SOLVE_HESSIAN)
                        continue;
                    for (int b = 0; b < q; b++) {
                        int j = mp[b];
                        if (j < 0 || j > i)
                            continue;
                        e->Hraw[(size_t)j * (size_t)bw + (size_t)(i - j)] += c * He[a * q + b];
                    }
                }
            }
        }
    }
    if (depth >= SOLVE_GRADIENT)
        e->sigma = sigma;
    return 0;
}

/* The gradient's residual g_i / (h max(1, sigma)) (the discrete
 * Euler-Lagrange residual), for messages; the worst free unknown into
 * *worst (-1 when a constraint is the worst). */
static double el_residual(const Eng *e, const double *vals, int *worst)
{
    double sc = e->h * fmax(1, e->sigma), r = 0;
    int wi = -1;
    for (int i = 0; i < e->n; i++) {
        double v = fabs(e->g[i]) / sc;
        if (!(v <= r)) { /* a NaN is the worst */
            r = v;
            wi = i;
        }
    }
    for (int j = 0; j < e->m; j++) {
        double c = e->job->cons_value[j];
        double v = fabs(vals[1 + j] - c) / fmax(1, fabs(c));
        if (!(v <= r)) {
            r = v;
            wi = -1;
        }
    }
    if (worst)
        *worst = wi;
    return r;
}

/* The KKT residual in the Newton metric (the stopping test): the Newton
 * step dx relative to max(1, max|y|), the multipliers' step relative to
 * max(1, |mu|), and the constraints' violation relative to max(1, |c|).
 * The worst free unknown into *worst (-1 when a constraint is the worst).
 * Pointwise multipliers (job->nmult) are left out: each follows from its
 * node's second differences, to rounding over h^2 only, and is converged
 * when the fields are. */
static double step_residual(const Eng *e, const double *vals, int *worst)
{
    double ymax = 1;
    size_t tot = (size_t)e->N * (size_t)e->nf;
    for (size_t i = 0; i < tot && !isnan(ymax); i++)
        if (!e->mult || (int)(i % (size_t)e->nf) < e->nf - e->job->nmult)
            ymax = isnan(e->y[i]) ? NAN : fmax(ymax, fabs(e->y[i])); /* a NaN makes every v NaN: the worst */
    double r = 0;
    int wi = -1;
    for (int i = 0; i < e->n; i++) {
        if (e->mult && e->mult[i] && isfinite(e->dx[i]))
            continue;
        double v = fabs(e->dx[i]) / ymax;
        if (!(v <= r)) {
            r = v;
            wi = i;
        }
    }
    for (int j = 0; j < e->m; j++) {
        double c = e->job->cons_value[j];
        double a = fabs(vals[1 + j] - c) / fmax(1, fabs(c)), b = fabs(e->dmu[j]) / fmax(1, fabs(e->mu[j] + e->dmu[j]));
        double v = isnan(a) || isnan(b) ? NAN : fmax(a, b); /* fmax would drop a NaN */
        if (!(v <= r)) {
            r = v;
            wi = -1;
        }
    }
    if (worst)
        *worst = wi;
    return r;
}

/* Weighted squared 2-norm of the KKT residual (the stationary merit),
 * the gradient scaled by sc. */
static double kkt_norm2(const Eng *e, const double *vals, double sc)
{
    double r = 0;
    for (int i = 0; i < e->n; i++)
        r += (e->g[i] / sc) * (e->g[i] / sc);
    for (int j = 0; j < e->m; j++) {
        double c = e->job->cons_value[j];
        double v = (vals[1 + j] - c) / fmax(1, fabs(c));
        r += v * v;
    }
    return r;
}

/* ---------- the linear algebra ---------- */

static int band_solve(Eng *e, const double *b, double *x)
{
    gsl_matrix_view L = gsl_matrix_view_array(e->band, (size_t)e->n, (size_t)e->bw);
    gsl_vector_const_view bv = gsl_vector_const_view_array(b, (size_t)e->n);
    gsl_vector_view xv = gsl_vector_view_array(x, (size_t)e->n);
    return gsl_linalg_ldlt_band_solve(&L.matrix, &bv.vector, &xv.vector) == GSL_SUCCESS ? 0 : -1;
}

/* Factor (scale*H + delta I) and form W and S.  Returns the number of
 * negative eigenvalues of the reduced Hessian (>= 0), or -1 when the
 * factorisation has a (near) zero pivot or the KKT matrix is singular. */
static int factor(Eng *e, double scale, double delta)
{
    int n = e->n, bw = e->bw;
    size_t len = (size_t)n * (size_t)bw;
    double dmax = 0;
    for (int i = 0; i < n; i++)
        dmax = fmax(dmax, fabs(e->Hraw[(size_t)i * (size_t)bw]));
    for (size_t i = 0; i < len; i++)
        e->band[i] = scale * e->Hraw[i];
    for (int i = 0; i < n; i++)
        e->band[(size_t)i * (size_t)bw] += delta;
    for (int i = 0; i < n; i++) /* entries past the matrix's end */
        for (int d = 1; d < bw; d++)
            if (i + d >= n)
                e->band[(size_t)i * (size_t)bw + (size_t)d] = 0;
    gsl_matrix_view L = gsl_matrix_view_array(e->band, (size_t)n, (size_t)bw);
    if (gsl_linalg_ldlt_band_decomp(&L.matrix) != GSL_SUCCESS)
        return -1;
    double tiny = 1e-13 * fmax(dmax + fabs(delta), DBL_MIN);
    int neg = 0;
    for (int i = 0; i < n; i++) {
        double d = e->band[(size_t)i * (size_t)bw], ti = tiny;
        if (e->mult && e->mult[i]) {
            /* a multiplier's row has no diagonal: its pivot is a Schur
             * complement G J^-1 G^T, zero against its row's largest entry
             * squared over the largest diagonal */
            double r = 0;
            for (int k = 1; k < bw; k++) {
                if (i + k < n)
                    r = fmax(r, fabs(e->Hraw[(size_t)i * (size_t)bw + (size_t)k]));
                if (i - k >= 0)
                    r = fmax(r, fabs(e->Hraw[(size_t)(i - k) * (size_t)bw + (size_t)k]));
            }
            ti = 1e-13 * fmax(r * r / fmax(dmax + fabs(delta), DBL_MIN), DBL_MIN);
        }
        if (!isfinite(d) || fabs(d) <= ti)
            return -1;
        neg += d < 0;
    }
    int m = e->m;
    if (m == 0)
        return neg;
    for (int j = 0; j < m; j++)
        if (band_solve(e, e->A + (size_t)j * (size_t)n, e->W + (size_t)j * (size_t)n) != 0)
            return -1;
    double smax = 0;
    for (int a = 0; a < m; a++)
        for (int b = 0; b <= a; b++) {
            const double *ra = e->A + (size_t)a * (size_t)n, *wb = e->W + (size_t)b * (size_t)n;
            double v = 0;
            for (int i = 0; i < n; i++)
                v += ra[i] * wb[i];
            gsl_matrix_set(e->S, (size_t)a, (size_t)b, v);
            gsl_matrix_set(e->S, (size_t)b, (size_t)a, v);
            smax = fmax(smax, fabs(v));
        }
    if (!isfinite(smax) || smax == 0)
        return -1;
    gsl_matrix_memcpy(e->Sc, e->S);
    if (gsl_eigen_symm(e->Sc, e->Seval, e->ew) != GSL_SUCCESS)
        return -1;
    int pos = 0;
    for (int j = 0; j < m; j++) {
        double v = gsl_vector_get(e->Seval, (size_t)j);
        if (fabs(v) <= 1e-13 * smax)
            return -1; /* the constraints' gradients are dependent there */
        pos += v > 0;
    }
    gsl_matrix_memcpy(e->Sc, e->S);
    int sg;
    if (gsl_linalg_LU_decomp(e->Sc, e->perm, &sg) != GSL_SUCCESS)
        return -1;
    return neg + pos - m;
}

/* Solve [H A^T; A 0] [dx; dmu] = -[rg; rc] with the factored system
 * (factor): u = H^-1 rg, S dmu = rc - A u, dx = -u - W dmu. */
static int kkt_solve(Eng *e, const double *rg, const double *rc, double *dx, double *dmu)
{
    int n = e->n, m = e->m;
    if (band_solve(e, rg, e->u) != 0)
        return -1;
    if (m > 0) {
        gsl_vector_view dm = gsl_vector_view_array(dmu, (size_t)m);
        double rhs[64], *rp = m <= 64 ? rhs : mem_xalloc((size_t)m * sizeof *rp);
        for (int j = 0; j < m; j++) {
            const double *a = e->A + (size_t)j * (size_t)n;
            double v = rc[j];
            for (int i = 0; i < n; i++)
                v -= a[i] * e->u[i];
            rp[j] = v;
        }
        gsl_vector_view rv = gsl_vector_view_array(rp, (size_t)m);
        int rcode = gsl_linalg_LU_solve(e->Sc, e->perm, &rv.vector, &dm.vector);
        if (rp != rhs)
            mem_free(rp);
        if (rcode != GSL_SUCCESS)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        double v = -e->u[i];
        for (int j = 0; j < m; j++)
            v -= e->W[(size_t)j * (size_t)n + (size_t)i] * dmu[j];
        dx[i] = v;
    }
    for (int i = 0; i < n; i++)
        if (!isfinite(dx[i]))
            return -1;
    for (int j = 0; j < m; j++)
        if (!isfinite(dmu[j]))
            return -1;
    return 0;
}

/* The Newton step of the factored system: dx and dmu. */
static int step(Eng *e, const double *vals)
{
    int m = e->m;
    double rc[64], *rp = m <= 64 ? rc : mem_xalloc((size_t)m * sizeof *rp);
    for (int j = 0; j < m; j++)
        rp[j] = vals[1 + j] - e->job->cons_value[j];
    int r = kkt_solve(e, e->g, rp, e->dx, e->dmu);
    if (rp != rc)
        mem_free(rp);
    return r;
}

/* The derivatives of the solution at e->y (converged, multipliers e->mu)
 * with respect to the job's nsens parameters theta: differentiating
 * grad_y Lag(y, mu, theta) = 0 and G(y, theta) = c(theta),
 *     [H A^T; A 0] [dy; dmu] = -[d grad_y Lag / d theta; dG/d theta - dc/d theta],
 * one solve per parameter with the exact (uncorrected) KKT matrix; a fixed
 * end's dy is given (lo_d, hi_d) and enters through the Hessian's
 * coupling of the free values to it.  Also the objective's total
 * derivative dF/dtheta = dF/dtheta (partial) + grad F . dy.  Returns 0, or
 * -1 when a term cannot be evaluated or the KKT matrix is singular. */
static int sensitivities(Eng *e, SolveResult *res)
{
    const SolveJob *job = e->job;
    const int nf = e->nf, q = 2 * nf, N = e->N, n = e->n, m = e->m, ns = job->nsens, B = N - 1;
    const size_t tot = (size_t)N * (size_t)nf, os = 1 + (size_t)q + (size_t)ns + (size_t)q * (size_t)ns;
    const size_t hs = e->ostride;
    double *R = mem_xalloc(((size_t)n * ns + 1) * sizeof *R), *Rc = mem_xalloc(((size_t)m * ns + 1) * sizeof *Rc);
    double *gF = mem_xalloc(tot * sizeof *gF), *dyall = res->dy;
    double *out = mem_xalloc((size_t)SOLVE_CHUNK * os * sizeof *out), *hout = mem_xalloc(hs * sizeof *hout);
    double *dx = mem_xalloc(((size_t)n + 1) * sizeof *dx), *dmu = mem_xalloc(((size_t)m + 1) * sizeof *dmu);
    double *rg = mem_xalloc(((size_t)n + 1) * sizeof *rg), *rc = mem_xalloc(((size_t)m + 1) * sizeof *rc);
    int rcode = -1;
    memset(R, 0, ((size_t)n * ns + 1) * sizeof *R);
    memset(Rc, 0, ((size_t)m * ns + 1) * sizeof *Rc);
    memset(gF, 0, tot * sizeof *gF);
    for (int t = 0; t < ns; t++)
        res->dobj[t] = 0;
    /* the fixed ends' derivatives */
    for (size_t i = 0; i < tot * (size_t)ns; i++)
        dyall[i] = 0;
    for (int f = 0; f < nf; f++)
        for (int t = 0; t < ns; t++) {
            if (e->map[f] < 0 && job->lo_d)
                dyall[(size_t)f * ns + t] = job->lo_d[(size_t)f * ns + t];
            if (e->map[(size_t)(N - 1) * nf + f] < 0 && job->hi_d)
                dyall[((size_t)(N - 1) * nf + f) * ns + t] = job->hi_d[(size_t)f * ns + t];
        }
    for (int k0 = 0; k0 < B; k0 += SOLVE_CHUNK) {
        int nb = B - k0 < SOLVE_CHUNK ? B - k0 : SOLVE_CHUNK;
        for (int k = 0; k < nb; k++) {
            double *r = e->cin + (size_t)k * (size_t)(q + 1);
            memcpy(r, e->y + (size_t)(k0 + k) * (size_t)nf, (size_t)q * sizeof *r);
            r[q] = job->x0 + (k0 + k + 0.5) * e->h;
        }
        for (int t = 0; t < e->nterms; t++) {
            const SolveTerm *T = t == 0 ? &job->objective : &job->cons[t - 1];
            if (T->eval(T->ctx, SOLVE_SENS, nb, e->cin, out) != 0)
                goto fail;
            double c = t == 0 ? e->s : e->mu[t - 1];
            for (int k = 0; k < nb; k++) {
                const double *ok = out + (size_t)k * os, *gr = ok + 1, *dv = gr + q, *dg = dv + ns;
                const int *mp = e->map + (size_t)(k0 + k) * (size_t)nf;
                for (size_t i = 0; i < os; i++)
                    if (!isfinite(ok[i]))
                        goto fail;
                for (int th = 0; th < ns; th++) {
                    if (t == 0)
                        res->dobj[th] += dv[th];
                    else
                        Rc[(size_t)(t - 1) * ns + th] += dv[th];
                }
                for (int a = 0; a < q; a++) {
                    size_t node = (size_t)(k0 + k) * (size_t)nf + (size_t)a;
                    if (t == 0)
                        gF[node] += gr[a];
                    if (mp[a] < 0) {
                        /* a fixed value: its derivative moves the constraints */
                        for (int th = 0; th < ns && t > 0; th++)
                            Rc[(size_t)(t - 1) * ns + th] += gr[a] * dyall[node * ns + th];
                        continue;
                    }
                    for (int th = 0; th < ns; th++)
                        R[(size_t)mp[a] * ns + th] += c * dg[(size_t)a * ns + th];
                }
            }
        }
    }
    /* the free values' coupling to fixed ends that move: the Hessian of the
     * first and the last interval */
    for (int side = 0; side < 2; side++) {
        int k = side == 0 ? 0 : B - 1;
        if (side == 1 && B - 1 == 0)
            break;
        const int *mp = e->map + (size_t)k * (size_t)nf;
        int moves = 0;
        for (int b = 0; b < q; b++)
            for (int th = 0; th < ns && mp[b] < 0; th++)
                moves |= dyall[((size_t)k * nf + (size_t)b) * ns + th] != 0;
        if (!moves)
            continue;
        double *r = e->cin;
        memcpy(r, e->y + (size_t)k * (size_t)nf, (size_t)q * sizeof *r);
        r[q] = job->x0 + (k + 0.5) * e->h;
        for (int t = 0; t < e->nterms; t++) {
            const SolveTerm *T = t == 0 ? &job->objective : &job->cons[t - 1];
            if (T->eval(T->ctx, SOLVE_HESSIAN, 1, r, hout) != 0)
                goto fail;
            double c = t == 0 ? e->s : e->mu[t - 1];
            const double *He = hout + 1 + q;
            for (int a = 0; a < q; a++) {
                if (mp[a] < 0)
                    continue;
                for (int b = 0; b < q; b++)
                    for (int th = 0; th < ns && mp[b] < 0; th++)
                        R[(size_t)mp[a] * ns + th] += c * He[a * q + b] * dyall[((size_t)k * nf + (size_t)b) * ns + th];
            }
        }
    }
    for (int j = 0; j < m && job->cons_value_d; j++)
        for (int th = 0; th < ns; th++)
            Rc[(size_t)j * ns + th] -= job->cons_value_d[(size_t)j * ns + th];
    /* the exact KKT matrix at the solution, and one solve per parameter */
    if (n > 0 && factor(e, 1, 0) < 0)
        goto fail;
    for (int th = 0; th < ns; th++) {
        for (int i = 0; i < n; i++)
            rg[i] = R[(size_t)i * ns + th];
        for (int j = 0; j < m; j++)
            rc[j] = Rc[(size_t)j * ns + th];
        if (n > 0 && kkt_solve(e, rg, rc, dx, dmu) != 0)
            goto fail;
        for (size_t i = 0; i < tot; i++)
            if (e->map[i] >= 0)
                dyall[i * ns + th] = dx[e->map[i]];
        double d = res->dobj[th];
        for (size_t i = 0; i < tot; i++)
            d += gF[i] * dyall[i * ns + th];
        res->dobj[th] = d;
    }
    rcode = 0;
fail:
    mem_free(R);
    mem_free(Rc);
    mem_free(gF);
    mem_free(out);
    mem_free(hout);
    mem_free(dx);
    mem_free(dmu);
    mem_free(rg);
    mem_free(rc);
    return rcode;
}

/* The adjoint of a function Phi of the solution (SolveJob.adjoint_rhs):
 * one solve of the exact KKT matrix for [lam; nu] = K^-1 [g; 0] (K is
 * symmetric, so this is also the row of K^-1 that turns every parameter's
 * right-hand side into dPhi/dtheta).  factored: the sensitivities left the
 * exact matrix factored.  Returns 0, or -1. */
static int adjoint(Eng *e, int factored)
{
    const SolveJob *job = e->job;
    const int n = e->n, m = e->m;
    const size_t tot = (size_t)e->N * (size_t)e->nf;
    double *g = mem_xalloc(tot * sizeof *g), *lam = mem_xalloc(tot * sizeof *lam);
    double *rg = mem_xalloc(((size_t)n + 1) * sizeof *rg), *dx = mem_xalloc(((size_t)n + 1) * sizeof *dx);
    double *rc = mem_xalloc(((size_t)m + 1) * sizeof *rc), *nu = mem_xalloc(((size_t)m + 1) * sizeof *nu);
    int rcode = -1;
    if (n > 0 && !factored && factor(e, 1, 0) < 0)
        goto out;
    for (int k = 0; k < (job->adjoint_nrhs > 1 ? job->adjoint_nrhs : 1); k++) {
        for (size_t i = 0; i < tot; i++)
            g[i] = 0;
        if (job->adjoint_rhs(job->adjoint_ctx, k, e->y, g) != 0)
            goto out;
        for (size_t i = 0; i < tot; i++)
            if (e->map[i] >= 0)
                rg[e->map[i]] = -g[i]; /* kkt_solve solves K [dx; dmu] = -[rg; rc] */
        for (int j = 0; j < m; j++)
            rc[j] = nu[j] = 0;
        if (n > 0 && kkt_solve(e, rg, rc, dx, nu) != 0)
            goto out;
        for (size_t i = 0; i < tot; i++)
            lam[i] = e->map[i] >= 0 ? dx[e->map[i]] : 0;
        if (job->adjoint_use(job->adjoint_ctx, k, e->y, e->s, e->mu, lam, nu) != 0)
            goto out;
    }
    rcode = 0;
out:
    mem_free(g);
    mem_free(lam);
    mem_free(rg);
    mem_free(dx);
    mem_free(rc);
    mem_free(nu);
    return rcode;
}

/* ---------- setup ---------- */

static void eng_init(Eng *e, const SolveJob *job)
{
    memset(e, 0, sizeof *e);
    e->job = job;
    e->N = job->points;
    e->nf = job->nf;
    e->m = job->ncons;
    e->nterms = 1 + job->ncons;
    e->h = (job->x1 - job->x0) / (job->points - 1);
    e->s = job->sense == SOLVE_MAXIMIZE ? -1 : 1;
    int nf = e->nf, N = e->N, m = e->m;
    size_t tot = (size_t)N * (size_t)nf;
    e->ostride = 1 + 2 * (size_t)nf + 4 * (size_t)nf * (size_t)nf;
    e->map = mem_xalloc(tot * sizeof *e->map);
    int n = 0;
    for (int k = 0; k < N; k++)
        for (int i = 0; i < nf; i++) {
            int fixed = (k == 0 && job->fix_lo && job->fix_lo[i]) ||
                        (k == N - 1 && job->fix_hi && job->fix_hi[i]);
            e->map[(size_t)k * (size_t)nf + (size_t)i] = fixed ? -1 : n++;
        }
    e->n = n;
    e->mult = NULL;
    if (job->nmult > 0) {
        e->mult = mem_xalloc((size_t)(n + 1));
        for (size_t i = 0; i < tot; i++)
            if (e->map[i] >= 0)
                e->mult[e->map[i]] = (int)(i % (size_t)nf) >= nf - job->nmult;
    }
    e->p = 2 * nf - 1;
    if (e->p > n - 1)
        e->p = n > 0 ? n - 1 : 0;
    e->bw = e->p + 1;
    e->y = mem_xalloc(tot * sizeof *e->y);
    e->yt = mem_xalloc(tot * sizeof *e->yt);
    e->cin = mem_xalloc((size_t)SOLVE_CHUNK * (size_t)(2 * nf + 1) * sizeof *e->cin);
    e->cout = mem_xalloc((size_t)SOLVE_CHUNK * e->ostride * sizeof *e->cout);
    e->val = mem_xalloc((size_t)e->nterms * sizeof *e->val);
    e->valt = mem_xalloc((size_t)e->nterms * sizeof *e->valt);
    size_t nn = n > 0 ? (size_t)n : 1;
    e->g = mem_xalloc(nn * sizeof *e->g);
    e->Hraw = mem_xalloc(nn * (size_t)e->bw * sizeof *e->Hraw);
    e->band = mem_xalloc(nn * (size_t)e->bw * sizeof *e->band);
    e->A = mem_xalloc((m > 0 ? (size_t)m : 1) * nn * sizeof *e->A);
    e->W = mem_xalloc((m > 0 ? (size_t)m : 1) * nn * sizeof *e->W);
    e->u = mem_xalloc((nn > (size_t)N ? nn : (size_t)N) * sizeof *e->u); /* also the bump's shape */
    e->dx = mem_xalloc(nn * sizeof *e->dx);
    size_t mm = m > 0 ? (size_t)m : 1;
    e->mu = mem_xalloc(mm * sizeof *e->mu);
    e->mut = mem_xalloc(mm * sizeof *e->mut);
    e->dmu = mem_xalloc(mm * sizeof *e->dmu);
    if (m > 0) {
        e->S = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)m, (size_t)m));
        e->Sc = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)m, (size_t)m));
        e->perm = gsl_checked(mem_fault() ? NULL : gsl_permutation_alloc((size_t)m));
        e->Seval = gsl_checked(mem_fault() ? NULL : gsl_vector_alloc((size_t)m));
        e->ew = gsl_checked(mem_fault() ? NULL : gsl_eigen_symm_alloc((size_t)m));
    }
}

static void eng_free(Eng *e)
{
    mem_free(e->map);
    mem_free(e->mult);
    mem_free(e->y);
    mem_free(e->yt);
    mem_free(e->cin);
    mem_free(e->cout);
    mem_free(e->val);
    mem_free(e->valt);
    mem_free(e->g);
    mem_free(e->Hraw);
    mem_free(e->band);
    mem_free(e->A);
    mem_free(e->W);
    mem_free(e->u);
    mem_free(e->dx);
    mem_free(e->mu);
    mem_free(e->mut);
    mem_free(e->dmu);
    if (e->S) {
        gsl_matrix_free(e->S);
        gsl_matrix_free(e->Sc);
        gsl_permutation_free(e->perm);
        gsl_vector_free(e->Seval);
        gsl_eigen_symm_free(e->ew);
    }
}

static double node_x(const Eng *e, int k)
{
    return k == e->N - 1 ? e->job->x1 : e->job->x0 + k * e->h;
}

/* The node of a free unknown. */
static int node_of(const Eng *e, int i)
{
    for (int k = 0; k < e->N; k++) /* only on failure paths: linear is fine */
        for (int f = 0; f < e->nf; f++)
            if (e->map[(size_t)k * (size_t)e->nf + (size_t)f] == i)
                return k;
    return 0;
}

static const char *term_name(const Eng *e, int t)
{
    const SolveTerm *T = t == 0 ? &e->job->objective : &e->job->cons[t - 1];
    return T->name ? T->name : (t == 0 ? "objective" : "constraint");
}

/* ---------- the default guess ---------- */

/* The integral of constraint j with the bump c sin((j+1) pi t) added to
 * base in field 0; NaN where it cannot be evaluated.  Leaves the point in yt. */
static double bumped(Eng *e, const double *base, int j, double c, double *phi)
{
    int nf = e->nf, N = e->N;
    for (int k = 0; k < N; k++) /* e->yt holds base in the other fields */
        e->yt[(size_t)k * (size_t)nf] = base[(size_t)k * (size_t)nf] + c * e->u[k];
    if (evaluate(e, e->yt, SOLVE_VALUE, NULL, e->valt, 1 + j) != 0)
        return NAN;
    if (phi) {
        if (evaluate(e, e->yt, SOLVE_VALUE, NULL, e->valt, 0) != 0)
            return NAN;
        *phi = e->s * e->valt[0];
    }
    return e->valt[1 + j];
}

/* The bump of constraint j (zero at the ends, at most 1 in size): sin(pi t)
 * for the first, t^j (1 - t) for the others, t = (x - x0)/(x1 - x0).  The
 * later ones are neither symmetric nor of zero mean, so that together they
 * can move integrals a sine series would leave alone (sin(2 pi t) changes
 * no area and, on a symmetric curve, no length to first order). */
static void bump_shape(const Eng *e, int j, double *shape)
{
    int N = e->N;
    double peak = j == 0 ? 1 : pow((double)j / (j + 1), j) / (j + 1);
    for (int k = 0; k < N; k++) {
        double t = (double)k / (N - 1);
        shape[k] = k == 0 || k == N - 1 ? 0 : j == 0 ? sin(M_PI * t) : pow(t, j) * (1 - t) / peak;
    }
}

/* Meet all the constraints at once: Newton on the amplitudes c_j of the m
 * bumps added to field 0, the Jacobian dG_i/dc_j from the constraints'
 * exact gradients, with halving steps.  Leaves e->y at the best point
 * found; 0 when every constraint is met to 1e-12 (relative), else -1. */
static int restore_joint(Eng *e)
{
    const SolveJob *job = e->job;
    int m = e->m, N = e->N, nf = e->nf, n = e->n;
    size_t tot = (size_t)N * (size_t)nf;
    double *shapes = mem_xalloc((size_t)m * (size_t)N * sizeof *shapes), *base = mem_xalloc(tot * sizeof *base);
    double *c = mem_xalloc((size_t)m * sizeof *c), *ct = mem_xalloc((size_t)m * sizeof *ct),
           *zero = mem_xalloc((size_t)m * sizeof *zero), *r = mem_xalloc((size_t)m * sizeof *r);
    for (int j = 0; j < m; j++) {
        bump_shape(e, j, shapes + (size_t)j * (size_t)N);
        c[j] = zero[j] = 0;
    }
    memcpy(base, e->y, tot * sizeof *base);
    gsl_matrix *J = gsl_checked(mem_fault() ? NULL : gsl_matrix_alloc((size_t)m, (size_t)m));
    gsl_vector *d = gsl_checked(mem_fault() ? NULL : gsl_vector_alloc((size_t)m));
    gsl_vector_view rv = gsl_vector_view_array(r, (size_t)m);
    /* the violation at amplitudes a (y set, A assembled); NaN where a term cannot be evaluated */
    double rn = INFINITY;
    int rc = -1;
    for (int it = 0; it < 40; it++) {
        if (it == 0) {
            if (evaluate(e, e->y, SOLVE_GRADIENT, zero, e->val, -1) != 0)
                break;
            rn = 0;
            for (int i = 0; i < m; i++)
                rn = fmax(rn, fabs(e->val[1 + i] - job->cons_value[i]) / fmax(1, fabs(job->cons_value[i])));
        }
        if (rn <= 1e-12) {
            rc = 0;
            break;
        }
        for (int i = 0; i < m; i++) {
            r[i] = -(e->val[1 + i] - job->cons_value[i]);
            for (int j = 0; j < m; j++) {
                double v = 0;
                for (int k = 0; k < N; k++) {
                    int u = e->map[(size_t)k * (size_t)nf];
                    if (u >= 0)
                        v += e->A[(size_t)i * (size_t)n + (size_t)u] * shapes[(size_t)j * (size_t)N + (size_t)k];
                }
                gsl_matrix_set(J, (size_t)i, (size_t)j, v);
            }
        }
        gsl_permutation *perm = e->perm;
        int sg;
        if (gsl_linalg_LU_decomp(J, perm, &sg) != GSL_SUCCESS || gsl_linalg_LU_solve(J, perm, &rv.vector, d) != GSL_SUCCESS)
            break;
        int better = 0;
        for (double alpha = 1; alpha > 1e-3 && !better; alpha *= 0.5) {
            for (int j = 0; j < m; j++)
                ct[j] = c[j] + alpha * gsl_vector_get(d, (size_t)j);
            memcpy(e->y, base, tot * sizeof *e->y);
            for (int j = 0; j < m; j++)
                for (int k = 0; k < N; k++)
                    e->y[(size_t)k * (size_t)nf] += ct[j] * shapes[(size_t)j * (size_t)N + (size_t)k];
            if (evaluate(e, e->y, SOLVE_GRADIENT, zero, e->val, -1) != 0)
                continue;
            double rt = 0;
            for (int i = 0; i < m; i++)
                rt = fmax(rt, fabs(e->val[1 + i] - job->cons_value[i]) / fmax(1, fabs(job->cons_value[i])));
            if (rt < rn) {
                better = 1;
                rn = rt;
                memcpy(c, ct, (size_t)m * sizeof *c);
            }
        }
        if (!better)
            break;
    }
    /* the best amplitudes found */
    memcpy(e->y, base, tot * sizeof *e->y);
    for (int j = 0; j < m; j++)
        for (int k = 0; k < N; k++)
            e->y[(size_t)k * (size_t)nf] += c[j] * shapes[(size_t)j * (size_t)N + (size_t)k];
    gsl_matrix_free(J);
    gsl_vector_free(d);
    mem_free(shapes);
    mem_free(base);
    mem_free(c);
    mem_free(ct);
    mem_free(zero);
    mem_free(r);
    return rc;
}

/* Make e->y satisfy each constraint it violates: one by one, the bump of
 * constraint j (bump_shape) added to field 0 with its amplitude c found by
 * a scan of c = +-scale 4^k (up to 4^20, down to 4^-10) and regula falsi
 * (where both signs work, minimize and maximize take the better
 * objective, stationary the smaller bump); then, with several
 * constraints, all of them at once (restore_joint), since one bump can
 * undo another's work or not reach its constraint at all.  A constraint
 * met to within slack (relative to max(1, |value|)) is left to Newton.
 * 0, or -1 (with the message in res) when the only constraint cannot be
 * met (with several, what cannot be met at once is left to Newton, whose
 * merit function weighs the violations). */
static int restore(Eng *e, SolveResult *res, double slack)
{
    const SolveJob *job = e->job;
    int nf = e->nf, N = e->N;
    size_t tot = (size_t)N * (size_t)nf;
    double *base = mem_xalloc(tot * sizeof *base); /* freed before Newton needs its memory */
    int rc = 0;
    for (int j = 0; j < e->m && rc == 0; j++) {
        double want = job->cons_value[j];
        memcpy(base, e->y, tot * sizeof *base);
        memcpy(e->yt, e->y, tot * sizeof *e->yt);
        double *shape = e->u; /* the bump, while no Newton step needs u */
        bump_shape(e, j, shape);
        double g0 = bumped(e, base, j, 0, NULL);
        if (!isfinite(g0)) {
            snprintf(res->message, sizeof res->message, "the %s cannot be evaluated at the guess",
                     e->bad_term == 0 ? "objective" : term_name(e, e->bad_term));
            rc = -1;
            break;
        }
        double tolc = 1e-12 * fmax(1, fabs(want));
        if (fabs(g0 - want) <= fmax(tolc, slack * fmax(1, fabs(want))))
            continue;
        double scale = fmax(1, fabs(job->x1 - job->x0));
        for (int i = 0; i < nf; i++) {
            if (job->fix_lo && job->fix_lo[i])
                scale = fmax(scale, fabs(job->lo[i]));
            if (job->fix_hi && job->fix_hi[i])
                scale = fmax(scale, fabs(job->hi[i]));
        }
        double best_c = NAN, best_phi = INFINITY;
        double nearest = isfinite(g0) ? g0 : NAN;
        double f0 = g0 - want;
        for (int side = -1; side <= 1; side += 2) {
            /* a bracket [ca, cb] of a sign change, from c = scale up or down by x4 */
            double ca = NAN, fa = NAN, cb = NAN, fb = NAN;
            double c1 = side * scale, f1 = bumped(e, base, j, c1, NULL) - want;
            if (isfinite(f1) && fabs(f1 + want - want) < INFINITY &&
                (!isfinite(nearest) || fabs(f1) < fabs(nearest - want)))
                nearest = f1 + want;
            if (isfinite(f1) && isfinite(f0) && f1 * f0 <= 0) {
                /* down towards 0 until the sign is f0's again */
                cb = c1;
                fb = f1;
                ca = 0;
                fa = f0;
                for (int k = 1; k <= 10; k++) {
                    double c = c1 / ldexp(1, 2 * k), f = bumped(e, base, j, c, NULL) - want;
                    if (!isfinite(f))
                        continue;
                    if (f * f0 > 0) {
                        ca = c;
                        fa = f;
                        break;
                    }
                    cb = c;
                    fb = f;
                }
            } else {
                /* up until the sign changes */
                double cp = isfinite(f1) ? c1 : NAN, fp = f1;
                for (int k = 1; k <= 20; k++) {
                    double c = c1 * ldexp(1, 2 * k), gb = bumped(e, base, j, c, NULL), f = gb - want;
                    if (isfinite(gb) && (!isfinite(nearest) || fabs(f) < fabs(nearest - want)))
                        nearest = gb;
                    if (!isfinite(f))
                        continue;
                    if (isfinite(fp) && f * fp <= 0) {
                        ca = cp;
                        fa = fp;
                        cb = c;
                        fb = f;
                        break;
                    }
                    cp = c;
                    fp = f;
                }
            }
            if (isfinite(ca)) {
                    /* Illinois regula falsi on [ca, cb] */
                    double lo = ca, flo = fa, hi = cb, fhi = fb, c = fabs(fa) < fabs(fb) ? ca : cb;
                    int last = 0;
                    for (int it = 0; it < 200 && fabs(hi - lo) > 1e-15 * fmax(fabs(lo), fabs(hi)) &&
                                     fmin(fabs(flo), fabs(fhi)) > tolc; it++) {
                        c = (flo == fhi) ? 0.5 * (lo + hi) : hi - fhi * (hi - lo) / (fhi - flo);
                        if (!(c > fmin(lo, hi) && c < fmax(lo, hi)))
                            c = 0.5 * (lo + hi);
                        double fc = bumped(e, base, j, c, NULL) - want;
                        if (!isfinite(fc)) {
                            c = NAN;
                            break;
                        }
                        if (fabs(fc) <= tolc) {
                            break;
                        }
                        if (fc * fhi < 0) {
                            lo = hi;
                            flo = fhi;
                            hi = c;
                            fhi = fc;
                            last = 0;
                        } else {
                            hi = c;
                            fhi = fc;
                            if (last)
                                flo *= 0.5;
                            last = 1;
                        }
                    }
                    if (isfinite(c)) {
                        double phi = INFINITY;
                        double gc = bumped(e, base, j, c, NULL);
                        if (isfinite(gc) && fabs(gc - want) <= 1e-8 * fmax(1, fabs(want))) {
                            /* minimize: the lower of the two sides; stationary: the smaller bump;
                             * an objective that cannot be evaluated there ranks last */
                            if (job->sense != SOLVE_STATIONARY && isnan(bumped(e, base, j, c, &phi)))
                                phi = INFINITY;
                            double key = job->sense == SOLVE_STATIONARY ? fabs(c) : phi;
                            if (key < best_phi || !isfinite(best_c)) {
                                best_phi = key;
                                best_c = c;
                            }
                        }
                    }
            }
        }
        if (!isfinite(best_c)) {
            if (e->m > 1)
                continue; /* the joint restoration below may meet it */
            snprintf(res->message, sizeof res->message,
                     "the constraint '%s' cannot be met: it asks %.10g, and the nearest value "
                     "reachable from the guess is %.10g",
                     term_name(e, 1 + j), want, nearest);
            rc = -1;
            break;
        }
        for (int k = 0; k < N; k++)
            e->y[(size_t)k * (size_t)nf] += best_c * shape[k];
    }
    mem_free(base);
    if (rc == 0 && e->m > 1) {
        double worst = 0;
        if (evaluate(e, e->y, SOLVE_VALUE, NULL, e->val, -1) == 0)
            for (int j = 0; j < e->m; j++)
                worst = fmax(worst, fabs(e->val[1 + j] - job->cons_value[j]) / fmax(1, fabs(job->cons_value[j])));
        if (!(worst <= fmax(1e-12, slack)))
            restore_joint(e);
    }
    return rc;
}

/* Fill e->y with the default guess: linear between fixed ends (a free end
 * takes the other end's value, or 0), then restored to the constraints.
 * 0, or -1 with the message in res. */
static int default_guess(Eng *e, SolveResult *res)
{
    const SolveJob *job = e->job;
    int nf = e->nf, N = e->N;
    for (int i = 0; i < nf; i++) {
        int fl = job->fix_lo && job->fix_lo[i], fh = job->fix_hi && job->fix_hi[i];
        double a = fl ? job->lo[i] : fh ? job->hi[i] : 0;
        double b = fh ? job->hi[i] : a;
        for (int k = 0; k < N; k++) {
            double t = (double)k / (N - 1);
            e->y[(size_t)k * (size_t)nf + (size_t)i] = a + (b - a) * t;
        }
    }
    return restore(e, res, 0);
}

/* ---------- output ---------- */

static void write_outputs(Eng *e, SolveResult *res)
{
    const SolveJob *job = e->job;
    int nf = e->nf, N = e->N;
    char err[512];
    if (job->output) {
        int nc = 1 + 2 * nf;
        const char **cols = mem_xalloc((size_t)nc * sizeof *cols);
        char **primes = mem_xalloc((size_t)nf * sizeof *primes);
        cols[0] = job->xname;
        for (int i = 0; i < nf; i++) {
            size_t l = strlen(job->fields[i]) + 2;
            primes[i] = mem_xalloc(l);
            snprintf(primes[i], l, "%s'", job->fields[i]);
            cols[1 + i] = job->fields[i];
            cols[1 + nf + i] = primes[i];
        }
        CsvWriter *w = csv_open(job->output, cols, nc, err, sizeof err);
        int bad = w == NULL;
        double *row = mem_xalloc((size_t)nc * sizeof *row);
        for (int k = 0; k < N && !bad; k++) {
            row[0] = node_x(e, k);
            int a = k > 0 ? k - 1 : 0, b = k < N - 1 ? k + 1 : N - 1;
            for (int i = 0; i < nf; i++) {
                row[1 + i] = res->y[(size_t)k * (size_t)nf + (size_t)i];
                row[1 + nf + i] = (res->y[(size_t)b * (size_t)nf + (size_t)i] -
                                   res->y[(size_t)a * (size_t)nf + (size_t)i]) /
                                  ((b - a) * e->h);
            }
            if (csv_row(w, row, err, sizeof err) != 0)
                bad = 1;
        }
        if (w && csv_close(w, !bad, err, sizeof err) != 0)
            bad = 1;
        if (bad && res->status != 4) {
            if (res->status == 0 || res->status == 3) {
                /* an I/O failure is reported; a numerical one keeps its message */
                if (res->status == 0)
                    snprintf(res->message, sizeof res->message, "%s", err);
                else
                    fprintf(stderr, "lag: error: %s\n", err);
                res->status = res->status == 0 ? 4 : res->status;
            }
        }
        mem_free(row);
        for (int i = 0; i < nf; i++)
            mem_free(primes[i]);
        mem_free(primes);
        mem_free(cols);
    }
    if (job->plot) {
        double *x = mem_xalloc((size_t)N * sizeof *x);
        for (int k = 0; k < N; k++)
            x[k] = node_x(e, k);
        int per = nf <= 6 ? 1 : 4, np = (nf + per - 1) / per;
        /* with a closed form: each field's panel shows it too, and a last
         * panel the error y - exact of (up to four) fields */
        int nex = 0;
        for (int i = 0; job->exact && i < nf; i++)
            nex += !isnan(job->exact[i]);
        double *errs = nex ? mem_xalloc((size_t)N * (size_t)nf * sizeof *errs) : NULL;
        if (nex && per == 1)
            np++;
        PlotPanel *panels = mem_xalloc((size_t)np * sizeof *panels);
        memset(panels, 0, (size_t)np * sizeof *panels);
        for (int i = 0; i < nf; i++) {
            PlotPanel *pn = &panels[i / per];
            pn->ylabel = per == 1 ? job->fields[i] : "";
            PlotSeries *sr = &pn->series[pn->nseries++];
            sr->label = job->fields[i];
            sr->y = res->y + i;
            sr->stride = nf;
            if (errs && per == 1 && !isnan(job->exact[i])) {
                PlotSeries *ex = &pn->series[pn->nseries++];
                ex->label = "closed form";
                ex->y = job->exact + i;
                ex->stride = nf;
                for (int k = 0; k < N; k++)
                    errs[(size_t)k * nf + i] = res->y[(size_t)k * nf + i] - job->exact[(size_t)k * nf + i];
                PlotPanel *ep = &panels[np - 1];
                ep->ylabel = "error";
                if (ep->nseries < 4) {
                    PlotSeries *es = &ep->series[ep->nseries++];
                    es->label = job->fields[i];
                    es->y = errs + i;
                    es->stride = nf;
                }
            }
        }
        char title[256];
        if (res->converged)
            snprintf(title, sizeof title, "%s: %s (Morse index %d), %s %.8g", job->problem, res->kind,
                     res->morse_index, job->objective.name ? job->objective.name : "objective", res->objective);
        else
            snprintf(title, sizeof title, "%s: not converged (last iterate)", job->problem);
        if (plot_panels(job->plot, title, job->xname, x, 1, N, panels, np, err, sizeof err) != 0) {
            if (res->status == 0) {
                res->status = 4;
                snprintf(res->message, sizeof res->message, "%s", err);
            } else {
                fprintf(stderr, "lag: error: %s\n", err);
            }
        }
        mem_free(panels);
        mem_free(errs);
        mem_free(x);
    }
}

/* ---------- the driver ---------- */

/* Status 3: a term cannot be evaluated at the guess (the last evaluation
 * says which, and where); the guess is the result. */
static void unevaluable(Eng *e, SolveResult *res)
{
    res->status = 3;
    if (e->bad_interval >= 0)
        snprintf(res->message, sizeof res->message,
                 "the %s cannot be evaluated at the guess (on the interval at %s = %.10g)", term_name(e, e->bad_term),
                 e->job->xname, e->job->x0 + (e->bad_interval + 0.5) * e->h);
    else
        snprintf(res->message, sizeof res->message, "the %s cannot be evaluated at the guess",
                 term_name(e, e->bad_term));
    memcpy(res->y, e->y, (size_t)e->N * (size_t)e->nf * sizeof *res->y);
}

static void set_inertia(Eng *e, SolveResult *res)
{
    /* the reduced Hessian of F's Lagrangian: s times the assembled one */
    int red = e->n - e->m;
    int neg = e->n > 0 ? factor(e, e->s, 0) : 0;
    if (neg < 0) { /* singular: a tiny shift decides the sign of the zero eigenvalue */
        double dmax = 0;
        for (int i = 0; i < e->n; i++)
            dmax = fmax(dmax, fabs(e->Hraw[(size_t)i * (size_t)e->bw]));
        neg = factor(e, e->s, 1e-10 * fmax(dmax, 1));
    }
    if (neg < 0) {
        res->kind = "saddle";
        res->morse_index = -1;
        return;
    }
    res->morse_index = neg;
    res->kind = neg == 0 ? "minimum" : neg == red ? "maximum" : "saddle";
}

int solve_run(const SolveJob *job, SolveResult *res)
{
    double start = sim_clock();
    gsl_set_error_handler_off();
    res->status = 0;
    res->message[0] = 0;
    res->converged = 0;
    res->iterations = 0;
    res->objective = NAN;
    res->residual = NAN;
    res->kind = "saddle";
    res->morse_index = -1;
    res->max_error = NAN;
    res->sens_ok = 0;
    res->sens_s = 0;
    res->adj_ok = 0;
    res->adj_s = 0;
    Eng E, *e = &E;
    eng_init(e, job);
    int nf = e->nf, N = e->N, m = e->m, n = e->n;
    size_t tot = (size_t)N * (size_t)nf;
    for (int j = 0; j < m; j++)
        res->multipliers[j] = NAN;

    /* the guess: the caller's, or the default when all free values are NaN */
    int all_nan = 1;
    for (size_t i = 0; i < tot; i++)
        if (e->map[i] >= 0 && !isnan(res->y[i]))
            all_nan = 0;
    int started = 0;
    if (all_nan) {
        if (default_guess(e, res) != 0) {
            res->status = 3;
            memcpy(res->y, e->y, tot * sizeof *res->y);
            goto done;
        }
    } else {
        memcpy(e->y, res->y, tot * sizeof *e->y);
        for (size_t i = 0; i < tot; i++)
            if (e->map[i] < 0 || !isfinite(e->y[i])) {
                int k = (int)(i / (size_t)nf), f = (int)(i % (size_t)nf);
                if (e->map[i] < 0) {
                    e->y[i] = k == 0 ? job->lo[f] : job->hi[f];
                } else {
                    res->status = 3;
                    snprintf(res->message, sizeof res->message,
                             "the guess of %s is not a finite number at %s = %.10g", job->fields[f], job->xname, node_x(e, k));
                    memcpy(res->y, e->y, tot * sizeof *res->y);
                    goto done;
                }
            }
        /* a guess that violates a constraint is restored like the default;
         * when no bump meets it, that is the infeasibility error too (a
         * guess within 1% of a constraint is left to Newton) */
        if (restore(e, res, 1e-2) != 0) {
            res->status = 3;
            memcpy(res->y, e->y, tot * sizeof *res->y);
            goto done;
        }
    }
    for (int j = 0; j < m; j++)
        e->mu[j] = 0;
    if (evaluate(e, e->y, SOLVE_GRADIENT, e->mu, e->val, -1) != 0) {
        unevaluable(e, res);
        goto done;
    }
    started = 1;
    /* multipliers: least squares, min |grad phi + A^T mu| */
    if (m > 0 && n > 0) {
        for (int a = 0; a < m; a++) {
            double rhs = 0;
            for (int i = 0; i < n; i++)
                rhs -= e->A[(size_t)a * (size_t)n + (size_t)i] * e->g[i];
            gsl_vector_set(e->Seval, (size_t)a, rhs);
            for (int b = 0; b < m; b++) {
                double v = 0;
                for (int i = 0; i < n; i++)
                    v += e->A[(size_t)a * (size_t)n + (size_t)i] * e->A[(size_t)b * (size_t)n + (size_t)i];
                gsl_matrix_set(e->Sc, (size_t)a, (size_t)b, v);
            }
        }
        int sg;
        gsl_vector_view mv = gsl_vector_view_array(e->mu, (size_t)m);
        if (gsl_linalg_LU_decomp(e->Sc, e->perm, &sg) != GSL_SUCCESS ||
            gsl_linalg_LU_solve(e->Sc, e->perm, e->Seval, &mv.vector) != GSL_SUCCESS)
            for (int j = 0; j < m; j++)
                e->mu[j] = 0;
        for (int j = 0; j < m; j++)
            if (!isfinite(e->mu[j]))
                e->mu[j] = 0;
    }
    if (evaluate(e, e->y, SOLVE_HESSIAN, e->mu, e->val, -1) != 0) {
        unevaluable(e, res);
        goto done;
    }

    /* A stationary problem that plain Newton does not solve is tried again
     * from the same start as a minimisation: a local minimum is stationary
     * too (on the least-action branch, when there is one; the double
     * pendulum's boundary-value problem from the straight line needs it). */
    double *y_start = job->sense == SOLVE_STATIONARY ? mem_xalloc(tot * sizeof *y_start) : NULL;
    double *mu_start = mem_xalloc((size_t)(m + 1) * sizeof *mu_start);
    if (y_start)
        memcpy(y_start, e->y, tot * sizeof *y_start);
    memcpy(mu_start, e->mu, (size_t)m * sizeof *mu_start);
    int retried = 0;
again:;
    const int it0 = res->iterations;
    double delta_last = 0, nu = 0, rmin = INFINITY;
    int worst = -1, opt = job->sense != SOLVE_STATIONARY || retried;
    for (;;) {
        res->objective = e->val[0];
        if (n == 0) {
            res->residual = 0;
            for (int j = 0; j < m; j++)
                res->residual = fmax(res->residual, fabs(e->val[1 + j] - job->cons_value[j]) /
                                                        fmax(1, fabs(job->cons_value[j])));
            res->converged = res->residual <= job->tol;
            break;
        }
        /* factor, with the inertia correction for minimize/maximize */
        double dmax = 0;
        for (int i = 0; i < n; i++)
            dmax = fmax(dmax, fabs(e->Hraw[(size_t)i * (size_t)e->bw]));
        dmax = fmax(dmax, DBL_MIN);
        double delta = 0;
        int ok = 0;
        for (int c = 0; c < MAX_CORRECTIONS; c++) {
            int neg = factor(e, 1, delta);
            if (neg == 0 || (!opt && neg > 0)) {
                ok = 1;
                break;
            }
            if (delta == 0)
                delta = (opt && delta_last > 0) ? fmax(delta_last / 10, 1e-12 * dmax)
                                                : (opt ? 1e-8 : 1e-10) * dmax;
            else
                delta *= 10;
        }
        if (!ok || step(e, e->val) != 0) {
            res->status = 3;
            res->residual = el_residual(e, e->val, &worst);
            int k = worst >= 0 ? node_of(e, worst) : 0;
            snprintf(res->message, sizeof res->message,
                     "the Newton system is singular at iteration %d (scaled gradient %.3e, worst at "
                     "%s = %.10g)",
                     res->iterations, res->residual, job->xname, node_x(e, k));
            break;
        }
        double r = step_residual(e, e->val, &worst);
        res->residual = r;
        if (job->progress)
            fprintf(stderr, "\r%s %s: iteration %d  residual %.3e  %s %.12g  ", job->job ? job->job : "solve",
                    job->problem, res->iterations, r, job->objective.name ? job->objective.name : "objective",
                    e->val[0]);
        if (r <= job->tol && delta == 0) {
            res->converged = 1;
            break;
        }
        if (!opt) {
            /* plain Newton whose steps grow a thousandfold past the smallest
             * it took is heading for a singular Hessian, not a solution: the
             * restart as a minimisation (below) is tried at once */
            if (!(r <= 1e3 * rmin)) {
                res->status = 3;
                snprintf(res->message, sizeof res->message,
                         "Newton's steps grow at iteration %d (KKT residual %.3e, after %.3e)", res->iterations, r,
                         rmin);
                break;
            }
            rmin = fmin(rmin, r);
        }
        if (res->iterations - it0 >= job->max_iter) {
            int wi = 0;
            for (int i = 1; i < n; i++)
                if (fabs(e->dx[i]) > fabs(e->dx[wi]))
                    wi = i;
            char where[256] = "";
            if (worst < 0 && m > 0) {
                int wj = 0;
                for (int j = 1; j < m; j++)
                    if (fabs(e->val[1 + j] - job->cons_value[j]) > fabs(e->val[1 + wj] - job->cons_value[wj]))
                        wj = j;
                snprintf(where, sizeof where, "worst in the constraint '%s' (%.10g instead of %.10g); ",
                         term_name(e, 1 + wj), e->val[1 + wj], job->cons_value[wj]);
            }
            snprintf(res->message, sizeof res->message,
                     "no convergence after %d iterations: at iteration %d the KKT residual is %.3e "
                     "(tol %.3g), %sthe worst node at %s = %.10g",
                     res->iterations, res->iterations, r, job->tol, where, job->xname,
                     node_x(e, node_of(e, wi)));
            res->status = 3;
            break;
        }
        if (opt)
            delta_last = delta;
        /* line search */
        double *dx = e->dx;
        double alpha = 1, merit0 = 0, dd = 0, sc = e->h * fmax(1, e->sigma), n2_0 = 0;
        if (opt) {
            double gdx = 0, r1 = 0, mumax = 0, rdmu = 0;
            for (int i = 0; i < n; i++)
                gdx += e->g[i] * dx[i];
            double curv = -gdx; /* dx^T (H + delta I) dx = -g.dx + r.dmu */
            for (int j = 0; j < m; j++) {
                double rj = e->val[1 + j] - job->cons_value[j];
                r1 += fabs(rj);
                gdx += e->mu[j] * rj; /* grad phi . dx = g . dx + mu . r, as A dx = -r */
                rdmu += rj * e->dmu[j];
                mumax = fmax(mumax, fabs(e->mu[j] + e->dmu[j]));
            }
            curv += rdmu;
            /* nu large enough that the step descends on the merit (Nocedal & Wright 18.36) */
            double nu_req = r1 > 0 ? (gdx + 0.5 * fmax(0, curv)) / (0.7 * r1) : 0;
            nu = fmax(nu, fmax(1.5 * mumax + 1e-8, nu_req));
            merit0 = e->s * e->val[0];
            for (int j = 0; j < m; j++)
                merit0 += nu * fabs(e->val[1 + j] - job->cons_value[j]);
            dd = gdx - nu * r1;
            if (dd > 0)
                dd = 0;
        } else {
            n2_0 = kkt_norm2(e, e->val, sc);
        }
        int accepted = 0;
        for (int hv = 0; hv <= MAX_HALVINGS; hv++, alpha *= 0.5) {
            memcpy(e->yt, e->y, tot * sizeof *e->yt);
            for (size_t i = 0; i < tot; i++)
                if (e->map[i] >= 0)
                    e->yt[i] += alpha * dx[e->map[i]];
            for (int j = 0; j < m; j++)
                e->mut[j] = e->mu[j] + alpha * e->dmu[j];
            /* the merit needs the values (minimize) or the gradient (stationary);
             * an accepted point is then evaluated in full, which may still fail */
            if (evaluate(e, e->yt, opt ? SOLVE_VALUE : SOLVE_GRADIENT, e->mut, e->valt, -1) != 0)
                continue;
            if (opt) {
                double mt = e->s * e->valt[0];
                for (int j = 0; j < m; j++)
                    mt += nu * fabs(e->valt[1 + j] - job->cons_value[j]);
                /* a full Newton step this close to a minimum is taken even when the merit
                 * does not show it (the Maratos effect, and a merit at round-off level) */
                if ((mt <= merit0 + 1e-4 * alpha * dd || (hv == 0 && delta == 0 && r <= FULL_STEP)) &&
                    evaluate(e, e->yt, SOLVE_HESSIAN, e->mut, e->valt, -1) == 0) {
                    accepted = 1;
                    break;
                }
            } else if (kkt_norm2(e, e->valt, sc) <= (1 - 2e-4 * alpha) * n2_0 &&
                       evaluate(e, e->yt, SOLVE_HESSIAN, e->mut, e->valt, -1) == 0) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) {
            evaluate(e, e->y, SOLVE_HESSIAN, e->mu, e->val, -1); /* the current point's again: it was fine */
            res->status = 3;
            int k = worst >= 0 ? node_of(e, worst) : -1;
            snprintf(res->message, sizeof res->message,
                     "the line search failed at iteration %d (KKT residual %.3e%s%s%s%.10g)", res->iterations, r,
                     k >= 0 ? ", worst at " : "", k >= 0 ? job->xname : "", k >= 0 ? " = " : "", k >= 0 ? node_x(e, k) : 0.0);
            break;
        }
        /* the trial point, evaluated in full, is the new iterate */
        double *ty = e->y;
        e->y = e->yt;
        e->yt = ty;
        double *tv = e->val;
        e->val = e->valt;
        e->valt = tv;
        memcpy(e->mu, e->mut, (size_t)m * sizeof *e->mu);
        res->iterations++;
    }
    if (res->status == 3 && job->sense == SOLVE_STATIONARY && !retried) {
        retried = 1;
        memcpy(e->y, y_start, tot * sizeof *e->y);
        memcpy(e->mu, mu_start, (size_t)m * sizeof *e->mu);
        if (evaluate(e, e->y, SOLVE_HESSIAN, e->mu, e->val, -1) == 0) {
            res->status = 0;
            res->message[0] = 0;
            goto again;
        }
    }
    mem_free(y_start);
    mem_free(mu_start);
    if (job->progress)
        fputc('\n', stderr);
    memcpy(res->y, e->y, tot * sizeof *res->y);
    for (int j = 0; j < m; j++)
        res->multipliers[j] = e->s * e->mu[j];
    res->objective = e->val[0];
    res->sens_ok = 0;
    res->sens_s = 0;
    if (res->status == 0 && res->converged && job->nsens > 0 && res->dy && res->dobj) {
        double t0 = sim_clock();
        res->sens_ok = sensitivities(e, res) == 0;
        res->sens_s = sim_clock() - t0;
    }
    res->adj_ok = 0;
    res->adj_s = 0;
    if (res->status == 0 && res->converged && job->adjoint_rhs && (job->nsens == 0 || res->sens_ok)) {
        double t0 = sim_clock();
        res->adj_ok = adjoint(e, job->nsens > 0) == 0;
        res->adj_s = sim_clock() - t0;
    }
    if (n > 0)
        set_inertia(e, res);
    else {
        res->morse_index = 0;
        res->kind = "minimum";
    }
done:
    (void)started;
    if (job->exact) {
        /* a non-finite value where there is a closed form is an infinite error */
        double w = 0;
        for (size_t i = 0; i < tot; i++)
            if (!isnan(job->exact[i])) {
                double d = fabs(res->y[i] - job->exact[i]);
                w = isfinite(d) && isfinite(w) ? fmax(w, d) : INFINITY;
            }
        res->max_error = w;
    }
    write_outputs(e, res);
    eng_free(e);
    res->wall_s = sim_clock() - start;
    return res->status;
}

int solve_json(FILE *out, const SolveJob *job, const SolveResult *res)
{
    sim_json_begin();
    json_t *o = sim_jnew(json_object());
    sim_jset(o, "job", json_string("solve"));
    sim_jset(o, "problem", json_string(job->problem));
    sim_jset(o, "status", json_integer(res->status));
    sim_jset(o, "converged", json_boolean(res->converged));
    sim_jset(o, "iterations", json_integer(res->iterations));
    sim_jset(o, "objective", sim_jreal(res->objective));
    sim_jset(o, "residual", sim_jreal(res->residual));
    json_t *mu = sim_jnew(json_object());
    for (int j = 0; j < job->ncons; j++) {
        const char *name = job->cons[j].name ? job->cons[j].name : "constraint";
        sim_jset(mu, name, sim_jreal(res->multipliers[j]));
    }
    sim_jset(o, "multipliers", mu);
    sim_jset(o, "kind", json_string(res->kind ? res->kind : "saddle"));
    sim_jset(o, "morse_index", json_integer(res->morse_index));
    sim_jset(o, "points", json_integer(job->points));
    if (job->exact)
        sim_jset(o, "max_error", sim_jreal(res->max_error));
    sim_jset(o, "wall_s", sim_jreal(res->wall_s));
    return sim_json_print(out, o);
}
