/*
 * runtime/solve.h — the variational engine: stationary points of a
 * discretised integral, with integral equality constraints, by Newton's
 * method on the optimality (KKT) system.  Shared by `solve` (a problem
 * over a domain x) and `action` (a system's action over t).
 *
 * Discretisation (the midpoint rule of runtime/variational.c): nf fields on
 * `points` nodes x_k = x0 + k h, h = (x1 - x0)/(points - 1); on interval k
 * (nodes k, k+1) each integrand is evaluated at the midpoint with
 * y = (y_k + y_{k+1})/2 and y' = (y_{k+1} - y_k)/h, and the integral is the
 * sum of h times it.  The compiler (lang/) derives each integral's interval
 * term h*f and its exact gradient and Hessian with respect to the term's
 * 2nf node values (y_k then y_{k+1}); the engine evaluates them for all
 * intervals as one batch, assembles the banded Hessian (node-major
 * unknowns: node k's fields are k*nf .. k*nf + nf - 1; half bandwidth
 * 2nf - 1) with one dense border row and column per constraint, and
 * solves each Newton step in O(points) by a banded LDL^T factorisation and
 * a Schur complement for the border.
 */
#ifndef LAG_SOLVE_H
#define LAG_SOLVE_H

#include <stdio.h>

/* How much of a term an evaluation needs: its value; also its gradient;
 * also its Hessian; or (SOLVE_SENS, for sensitivities) the value, the
 * gradient and their derivatives with respect to the job's nsens
 * parameters. */
typedef enum SolveDepth { SOLVE_VALUE = 0, SOLVE_GRADIENT = 1, SOLVE_HESSIAN = 2, SOLVE_SENS = 3 } SolveDepth;

/* An integral's interval terms for B intervals at once (B <= SOLVE_CHUNK).
 * in holds, per interval, its 2nf node values (y_k, then y_{k+1}) and then
 * x_mid: a stride of 2nf + 1.  out receives, per interval, the term, then
 * with depth >= SOLVE_GRADIENT its gradient (2nf), then with
 * SOLVE_HESSIAN its Hessian (2nf x 2nf, row-major): a stride of 1,
 * 1 + 2nf or 1 + 2nf + 4nf^2.  With SOLVE_SENS: the term, its gradient,
 * the term's derivative with respect to each sensitivity parameter
 * (nsens), then the gradient's (2nf rows of nsens): a stride of
 * 1 + 2nf + nsens + 2nf nsens.  Returns 0, or -1 when the term cannot be
 * evaluated (the engine then treats the point as outside the domain). */
typedef int (*SolveTermFn)(void *ctx, int depth, int B, const double *in, double *out);

/* The engine evaluates the intervals this many at a time, assembling each
 * chunk before the next: its memory is O(points) with a small constant,
 * and a term's VM needs lanes for this many intervals only. */
enum { SOLVE_CHUNK = 512 };

typedef struct SolveTerm {
    SolveTermFn eval;
    void *ctx;
    const char *name;   /* for messages: "objective", or the constraint as written */
} SolveTerm;

typedef enum SolveSense {
    SOLVE_MINIMIZE,     /* a minimum wanted: the Hessian is convexified until it is one */
    SOLVE_MAXIMIZE,     /* the sign-flipped minimum */
    SOLVE_STATIONARY    /* any stationary point (the action): plain Newton */
} SolveSense;

typedef struct SolveJob {
    const char *job;              /* "solve" (NULL) or "action": the progress line's first word */
    const char *problem;          /* for messages and the summary */
    int nf;                       /* fields */
    const char *const *fields;    /* nf names */
    const char *xname;            /* the domain variable ("x", or "t" for an action) */
    int points;                   /* nodes, >= 2 */
    double x0, x1;                /* the domain */
    SolveSense sense;
    SolveTerm objective;
    int ncons;                    /* integral equality constraints: integral = value */
    const SolveTerm *cons;
    const double *cons_value;
    /* fixed ends, per field: fix_lo[i] says y_i(x0) is fixed at lo[i] */
    const int *fix_lo, *fix_hi;
    const double *lo, *hi;
    /* the last nmult fields are multipliers of pointwise constraints (an
     * action's, lang/mech.h: mech_build_action): their Hessian rows have
     * no diagonal, so a pivot there is judged against its row */
    int nmult;
    double tol;                   /* on the KKT residual (scaled: see solve.c) */
    int max_iter;
    const char *output;           /* CSV: x, each field and its derivative; or NULL */
    const char *plot;             /* figure of the fields; or NULL */
    const double *exact;          /* points x nf: a closed form to compare with (NaN where there is
                                     none), drawn in the figure with the error; or NULL */
    int progress;                 /* a progress line on stderr */
    /* Sensitivities (infer's adjoint): with nsens > 0, after convergence
     * the engine solves the KKT system once more, with the exact matrix
     * at the solution, for the derivatives of the solution with respect to
     * nsens parameters theta that the terms (SOLVE_SENS), the constraints'
     * values and the fixed ends depend on. */
    int nsens;
    const double *cons_value_d;   /* ncons x nsens: d c_j / d theta (NULL: 0) */
    const double *lo_d, *hi_d;    /* nf x nsens: the fixed ends' d y_i / d theta (NULL: 0) */
    /* The adjoint (infer's gradient for nets, whose weights are too many
     * for one sensitivity solve each): with adjoint_rhs set, after
     * convergence the engine asks adjoint_rhs for g = dPhi/dy, the
     * gradient of a function Phi of the solution (points x nf; the entries
     * of fixed values are ignored), solves the exact KKT system
     *     [H A^T; A 0] [lam; nu] = [g; 0]
     * once (H the Hessian of the Lagrangian s F + sum mu_j (G_j - c_j),
     * s = -1 for a maximum, else 1) and gives lam (points x nf, 0 at the
     * fixed values) and nu (ncons) to adjoint_use: then, for parameters w
     * that only the terms depend on,
     *     dPhi/dw = -d/dw [ sum_nodes lam . grad_y (s F + sum mu_j G_j) + sum nu_j G_j ].
     * With adjoint_nrhs > 1, as many functions Phi_k (k = 0 .. nrhs - 1,
     * the index passed to both), each one solve with the same
     * factorisation.  Either returning nonzero leaves res->adj_ok 0. */
    int (*adjoint_rhs)(void *ctx, int k, const double *y, double *g);
    int (*adjoint_use)(void *ctx, int k, const double *y, double s, const double *mu, const double *lam,
                       const double *nu);
    void *adjoint_ctx;
    int adjoint_nrhs;             /* 0 or 1: one */
} SolveJob;

typedef struct SolveResult {
    int status;                   /* 0 ok, 3 numerical failure (no convergence, infeasible), 4 I/O */
    char message[1024];
    int converged;
    int iterations;
    double objective;             /* the objective's integral at the solution */
    double residual;              /* the final KKT residual */
    double *multipliers;          /* ncons values (caller's buffer) */
    double *y;                    /* points x nf, node-major: the guess in, the solution out (caller's
                                     buffer; a guess of all NaN means: the engine's default) */
    const char *kind;             /* "minimum", "saddle" or "maximum" (of the objective on the
                                     constraints' tangent space) */
    int morse_index;              /* negative eigenvalues of that reduced Hessian */
    double max_error;             /* max |y - exact| over the nodes (NaN without exact) */
    double wall_s;
    /* with job->nsens > 0 and convergence (caller's buffers): */
    double *dy;                   /* points x nf x nsens: d y / d theta (node-major, then theta) */
    double *dobj;                 /* nsens: the total derivative of the objective's integral */
    int sens_ok;                  /* 1 when dy and dobj were computed */
    double sens_s;                /* the seconds the sensitivities took (inside wall_s) */
    int adj_ok;                   /* 1 when the adjoint was solved and used (job->adjoint_rhs) */
    double adj_s;                 /* the seconds it took (inside wall_s) */
} SolveResult;

/* Run the job; returns res->status.  Writes output and plot (also after a
 * failure to converge: the last iterate). */
int solve_run(const SolveJob *job, SolveResult *res);

/* One JSON line (LANGUAGE.md §5) describing the run.  Returns 0, or 4. */
int solve_json(FILE *out, const SolveJob *job, const SolveResult *res);

#endif
