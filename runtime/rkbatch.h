/*
 * runtime/rkbatch.h — explicit embedded Runge–Kutta over a batch of
 * trajectories, each with its own step size.
 *
 * GSL steps one system at a time; an ensemble stepped as one GSL system
 * shares one step size, set by its most demanding member.  Here every
 * trajectory (a lane) is what gsl_odeiv2_driver_apply would make of it
 * alone: the tableaux of GSL's rkf45, rkck and rk8pd with their sums in
 * GSL's order, the standard step control of gsl_odeiv2_control_y_new
 * (Hairer, Nørsett and Wanner's rule with safety factor 0.9, at most a
 * factor 5 either way), and gsl_odeiv2_evolve_apply's retries and last
 * step onto the output time.  A lane's derivative at the start of a step
 * is evaluated once, as GSL's evolve does; GSL's extra evaluation at the
 * end of a step (dydt_out) is not made: the standard control with
 * a_dydt = 0 never reads it.  So a lane agrees with GSL's own run to the
 * bit where the right-hand side does (tests/unit/rkbatch_test.c).
 *
 * What is evaluated at each stage are the lanes still on their way to the
 * output time, as one batch: lanes that arrive, or fail, drop out.
 */
#ifndef LAG_RKBATCH_H
#define LAG_RKBATCH_H

#include <stddef.h>

typedef struct RkTableau RkTableau;

/* The tableau of a GSL stepper name (rkf45, rkck, rk8pd), or NULL. */
const RkTableau *rk_tableau(const char *method);

/* The accelerations of nb states, stored by component: component i of
 * state p at x[i * ld + p] (q, q', then the constants), at times ts (nb),
 * into acc (acceleration i of state p at acc[i * ald + p]).  A state that
 * cannot be evaluated gets NaN accelerations and why[p] = 1 (a singular
 * mass matrix) or 2 (a matrix that is not finite); why[p] is 0 for every
 * other state.  Returns the number of such states. */
typedef int (*RkRhs)(void *ctx, int nb, const double *x, size_t ld, const double *ts, double *acc, size_t ald,
                     unsigned char *why);

enum {
    RK_OK = 0,
    RK_SINGULAR,     /* the mass matrix is singular */
    RK_NOT_FINITE_M, /* the mass matrix is not finite */
    RK_NOT_FINITE,   /* an acceleration is not finite (which: the coordinate) */
    RK_UNDERFLOW     /* the step size fell below what the time resolves (GSL_FAILURE) */
};

/* The lanes live in slots, by component (component i of slot p at
 * y[i * B + p]), so that every loop of a stage runs over consecutive
 * slots: the slots [0, nlive) hold the lanes that have not failed. */
typedef struct RkBatch {
    const RkTableau *tab;
    int B, n, w;             /* lanes; coordinates; a state's width (2n + constants) */
    double tol;              /* absolute and relative, as gsl_odeiv2_control_y_new */
    int nlive;
    int *lane;               /* B: the trajectory in each slot */
    double *y;               /* w x B: the states by slot */
    double *t, *h, *h0;      /* B by slot: time, step size, the step being tried */
    unsigned char *fin;      /* B by slot: the step tried lands on the output time */
    unsigned char *status;   /* B by trajectory: RK_OK, or why it failed (it stays where it was) */
    int *which;              /* B by trajectory: after RK_NOT_FINITE, the coordinate */
    double *fail_t;          /* B by trajectory: when it failed */
    unsigned long steps;     /* steps tried, all lanes (rejected ones too, as GSL's evolve counts) */
    unsigned long evals;     /* lane evaluations of the right-hand side */
    long failed;             /* lanes that failed */
    RkRhs f;
    void *ctx;
    double *k;               /* stages x w x B */
    double *ev, *ea, *ets;   /* a stage's states (w x B), accelerations (n x B), times (B) */
    double *sum, *rmax;      /* B each */
    unsigned char *why;
} RkBatch;

/* Allocate for B lanes of width w (n coordinates) from y0 (B x w, by
 * trajectory) at t0, first step h0; out of memory takes the out-of-memory
 * exit. */
RkBatch *rk_new(const RkTableau *tab, int B, int n, int w, const double *y0, double t0, double h0, double tol,
                RkRhs f, void *ctx);
void rk_free(RkBatch *b);
/* Advance every lane that has not failed to time T (> each lane's t): as
 * gsl_odeiv2_driver_apply(driver, &t, T, y) for each lane alone.  Lanes
 * that fail on the way stop where they were, with their status set. */
void rk_advance(RkBatch *b, double T);
/* The states by trajectory (B x w; a failed one where it stopped). */
void rk_states(const RkBatch *b, double *y);

#endif
