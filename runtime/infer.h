/*
 * runtime/infer.h — the infer job: fit the unknowns theta of a problem so
 * that its solution matches observed points in weighted least squares.
 *
 * Each evaluation of the residuals is a forward solve of the variational
 * engine (runtime/solve.h) at theta, warm-started from the last solution,
 * and the Jacobian of the residuals comes with it: the engine's
 * sensitivities dy/dtheta at the solution (one more solve of the exact KKT
 * system per unknown, no finite differences around a solve).  The outer
 * optimiser is GSL's multifit_nlinear trust region (Levenberg–Marquardt,
 * optionally with geodesic acceleration).  At the end: the Gauss–Newton covariance,
 * standard errors and correlations, chi^2 per degree of freedom, and the
 * eigen-decomposition of the Fisher matrix J^T J for directions the data
 * cannot determine.  With nets (InferJob.nw), whose weights are too many
 * for a sensitivity solve each, the fit is L-BFGS on chi^2 / 2, its
 * gradient in the weights from one adjoint solve per evaluation
 * (SolveJob.adjoint_rhs), and the uncertainty is computed in the space of
 * the observations from the Jacobian in the weights (one adjoint solve per
 * observation, at the estimate).
 *
 * The compiler fills an InferJob: the solve it repeats, and a callback
 * that moves the problem to new values of theta.  The runtime knows
 * nothing of syntax.
 */
#ifndef LAG_INFER_H
#define LAG_INFER_H

#include <stdio.h>

#include "runtime/solve.h"

/* One observed value: field `field` at x, with its standard deviation. */
typedef struct InferObs {
    double x, value, sigma;
    int field;
    int line;                     /* the CSV line, for messages */
} InferObs;

/* A function of the domain variable recovered with the fit (an unknown
 * function): its value at x is value(ctx, theta, x, grad) with its gradient
 * in theta (np values) into grad. */
typedef struct InferCurve {
    const char *name;
    double (*value)(void *ctx, const double *theta, double x, double *grad);
    double (*d2)(void *ctx, const double *theta, double x, double *grad); /* its second derivative */
    void *ctx;
    const double *exact;          /* SolveJob.points values of the truth at the nodes, or NULL */
    int no_band;                  /* no standard error: drawn without a band, and written without
                                     a FILE_stderr column */
    /* with nets (InferJob.nw > 0): its value at x with its gradient in the
     * weights (nw values) into gw */
    double (*wvalue)(void *ctx, double x, double *gw);
} InferCurve;

typedef struct InferJob {
    const char *problem;
    const char *where;            /* "file:line" of the job, for warnings */
    SolveJob *solve;              /* the forward problem (nsens = np); its parameters move with theta */
    int np;                       /* unknowns */
    const char *const *names;     /* np names (poly coefficients as "rho[2]") */
    double *theta;                /* np: the start in, the estimate out */
    const double *lower, *upper;  /* np bounds (-inf, inf: none) */
    /* Move the problem to theta: the engine's parameters, the constraints'
     * values and the fixed ends, and their derivatives (solve->cons_value_d,
     * lo_d, hi_d).  Returns 0. */
    int (*set)(void *ctx, const double *theta);
    void *ctx;
    int nobs;
    const InferObs *obs;
    int noise_given;              /* sigma known (else estimated from the residuals) */
    const double *truth;          /* np true values where known (NaN elsewhere), or NULL: the
                                     figure draws (estimate - truth) / standard error */
    const InferCurve *curves;
    int ncurves;
    int max_iter;                 /* outer iterations */
    /* lambda of the smoothness penalty lambda sum over the curves of the
     * integral of f''^2 (0: none), as extra residuals at INFER_REG_POINTS
     * points of the domain */
    double regularize;
    int samples;                  /* refits on noise realisations of the fitted model (0: none) */
    unsigned long seed;           /* their generator's seed */
    int geodesic;                 /* Levenberg–Marquardt with geodesic acceleration (else plain) */
    /* Net weights fitted with the unknowns (nw > 0, or none): the fit is
     * then L-BFGS on the misfit, its gradient in the weights from one
     * adjoint solve of the engine per evaluation (runtime/solve.h,
     * SolveJob.adjoint_rhs) and grad_w.  w: the start in, the estimate out;
     * set_w moves the problem's nets to w (returns 0); grad_w puts into g
     * (nw) the gradient in w of the engine's contraction,
     * d/dw [sum lam . grad_y (s F + sum mu_j G_j) + sum nu_j G_j]
     * (returns 0). */
    int nw;
    double *w;
    int (*set_w)(void *ctx, const double *w);
    int (*grad_w)(void *ctx, const double *y, double s, const double *mu, const double *lam, const double *nu,
                  double *g);
    void *net_ctx;                /* the ctx of set_w and grad_w */
    int lbfgs;                    /* the fit is L-BFGS (always with nets; else Levenberg–Marquardt) */
    double tol;                   /* on the relative step and the scaled gradient */
    const char *output;           /* CSV of the observations, the fit and residuals; or NULL */
    const char *nodes_output;     /* CSV of the fitted fields and curves at the nodes; or NULL */
    const char *plot;             /* figure; or NULL */
    int progress;
} InferJob;

typedef struct InferResult {
    int status;                   /* 0 ok, 3 numerical failure, 4 I/O */
    char message[1024];
    int converged, iterations;
    int forward_solves, newton_iterations;
    double *stderr_;              /* np (caller's buffer) */
    double *refit_stderr;         /* np (caller's buffer): the refits' standard deviation */
    int refits;                   /* refits that converged */
    double *corr;                 /* np x np (caller's buffer) */
    double misfit;                /* sum of squared normalised residuals (chi^2), the data's */
    double penalty;               /* the smoothness penalty at the estimate (0 without) */
    double p_eff;                 /* the effective number of parameters, tr of the hat matrix */
    double chi2_dof;              /* misfit / (nobs - np) */
    double rms;                   /* RMS of the raw residuals */
    double sigma_est;             /* sqrt(chi2_dof) times sigma: the noise the residuals show */
    int identifiable;
    char unidentified[512];       /* the direction the fit does not change along: an unknown's
                                     name ("s"), or "(a, b) ∝ (-0.5, 1)" in the unknowns' units */
    double fisher_cond;           /* largest / smallest eigenvalue of the scaled Fisher matrix */
    double *y;                    /* points x nf: the fitted solution (caller's buffer) */
    double wall_s, fit_s;
    double solve_s;               /* seconds in the forward solves' Newton iterations */
    double sens_s;                /* seconds in their sensitivities (one KKT solve per unknown) */
    double adj_s;                 /* seconds in the adjoint solves and the weights' gradients (nets) */
    double grad_norm;             /* L-BFGS: the misfit's gradient's largest component at the end */
} InferResult;

enum { INFER_REG_POINTS = 64 };

/* Run the fit; returns res->status. */
int infer_run(const InferJob *job, InferResult *res);

/* One JSON line (LANGUAGE.md §5). */
int infer_json(FILE *out, const InferJob *job, const InferResult *res);

#endif
