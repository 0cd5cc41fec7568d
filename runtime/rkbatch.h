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
 *
 * Events (rk_events): a lane stops where one of a few functions of its
 * state crosses 0.  Each step's end is tested against its start; the
 * crossing on a step is located by re-stepping from the step's start (a
 * step of any size from there is a point of the solution as good as the
 * step's end) with the Illinois variant of regula falsi that SUNDIALS'
 * root finding uses (rk_locate_*), which a single run through GSL's own
 * stepper (runtime/simulate.c) shares, so a lane stops where its single
 * run stops, to the bit.
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
    RK_UNDERFLOW,    /* the step size fell below what the time resolves (GSL_FAILURE) */
    RK_EVENT         /* not a failure: stopped where an event function crossed 0 (rk_events) */
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
    /* events (rk_events): lanes stop where one of K functions crosses 0 */
    int K;                   /* 0: no events */
    const int *dir;          /* K: which way each crossing counts (RK_RISING, ...) */
    RkRhs g;                 /* the functions of nb states, as f computes accelerations */
    void *gctx;
    double *gy, *gn;         /* K x B by slot: at each lane's state, at the end of its step tried */
    double *event_t;         /* B by trajectory: when it stopped (status RK_EVENT) */
    int *event_k;            /* B by trajectory: which function crossed */
    long stopped;            /* lanes stopped at an event */
    struct RkPark *park;     /* lanes that crossed on their last step, located together */
    /* recorded functions (rk_events_record): their crossings are located
     * and listed, and the lane goes on */
    int *dirs;               /* (K + 1) x K, or NULL: row 0 the stopping functions' dir (RK_NEVER
                                for the recorded), row 1 + k function k's alone */
    double *rec;             /* nrec rows of 3 + w: the lane, the time, the function, the state there */
    long nrec, caprec;
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
/* The states by trajectory (B x w; a failed one where it stopped, one
 * stopped at an event at the event). */
void rk_states(const RkBatch *b, double *y);

/* ---------- events ---------- */

/* Which way a crossing of 0 counts (RK_NEVER: none, a function left out). */
enum { RK_EITHER = 0, RK_RISING = 1, RK_FALLING = -1, RK_NEVER = 2 };

/* Stop each lane where one of K functions of its state crosses 0, dir[k]
 * the way function k must go (g computes them for nb states as f computes
 * accelerations: K outputs); evaluated now at every lane's state.  A lane
 * that crosses on a step stops there: status RK_EVENT, event_t and
 * event_k, its state at the crossing (rk_states). */
void rk_events(RkBatch *b, int K, const int *dir, RkRhs g, void *ctx);

/* After rk_events: the functions with record[k] set are recorded, not
 * stopped at.  On a step where one crosses, the lane goes on from the
 * step's end as if nothing crossed; the crossing is located by the same
 * trial steps as a stop's, that function alone (as a single run locates
 * it), and listed in b->rec (the caller empties it: nrec = 0), not in
 * the order of time. */
void rk_events_record(RkBatch *b, const unsigned char *record);

/* The first function that went across 0 from g0 to g1 (values stride
 * apart): upwards (RK_RISING) is g0 < 0 <= g1, downwards g0 > 0 >= g1;
 * a NaN never crosses.  -1 when none did. */
int rk_crossed(int K, const double *g0, const double *g1, size_t stride, const int *dir);

/* Locating the first crossing on a step of size h from time t that
 * crossed: the bracket [lo, hi] of step sizes from the step's start (no
 * crossing by lo, one by hi: hi is h at first), narrowed by trial steps
 * of the sizes rk_locate_next proposes until it is within 100 rounding
 * units of the time, the Illinois rule of SUNDIALS' CVODE (cvRootfind):
 * the secant through the ends, the end that stayed put weighted down
 * when the same end moved twice. */
typedef struct RkLocate {
    double h;       /* the step */
    double lo, hi;  /* the bracket, as step sizes from the step's start */
    double tol;     /* the width at which hi is the crossing */
    double alpha;   /* the weight of the value at lo */
    int side, sideprev; /* which end the bracket kept: 1 hi moved, 2 lo moved, 0 none yet */
    int iters;
} RkLocate;

void rk_locate_begin(RkLocate *L, double t, double h);
/* The next step size to try, strictly inside the bracket; 0 when hi is
 * the crossing (the bracket is narrow enough, or holds none any more: a
 * function that is not finite).  glo, ghi: the K functions at lo and
 * hi. */
double rk_locate_next(RkLocate *L, int K, const double *glo, const double *ghi, const int *dir);
/* The functions gm at the trial step size theta: the bracket becomes
 * [lo, theta] (returns 1: the caller keeps the state at theta as the
 * crossing's) or [theta, hi] (0); glo or ghi takes gm.  -1: a function
 * crossing in the bracket is NaN at theta, which says nothing: the
 * crossing is hi. */
int rk_locate_narrow(RkLocate *L, int K, double theta, double *glo, double *ghi, const double *gm, const int *dir);

#endif
