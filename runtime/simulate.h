/*
 * runtime/simulate.h — the simulate job: integrate M q'' = f with a GSL
 * odeiv2 stepper, write the trajectory as CSV and report a summary.
 *
 * The compiler fills a SimJob (programs from runtime/ir.h, initial state,
 * times, method, output path); the runtime knows nothing of syntax.
 */
#ifndef LAG_SIMULATE_H
#define LAG_SIMULATE_H

#include <stdio.h>

#include "runtime/ir.h"

/* An axis of a grid of starts (init q = grid(lo, hi, n)): component comp
 * of the state takes lo + (hi - lo) i/(n - 1), i = 0 .. n - 1. */
typedef struct SimGrid {
    int comp;
    double lo, hi;
    int n;
} SimGrid;

typedef struct SimJob {
    const char *system;           /* for messages and the summary */
    const IrProgram *rhs;         /* outputs: the n accelerations */
    const IrProgram *jac;         /* outputs: d(accel_i)/d(state_j) row-major (n x 2n), then
                                     d(accel_i)/dt (n): for implicit steppers; or NULL */
    int jac_uses_accel;           /* jac's inputs are (q, q', q'') (3n), not (q, q') */
    int energy_conserved;         /* E should stay constant (no force, dissipation, explicit t) */
    const IrProgram *energy;      /* output: E, or NULL */
    int n;                        /* coordinates */
    const char *const *columns;   /* 2n names: coordinates then velocities */
    int samples;                  /* trajectories integrated together (an ensemble), >= 1 */
    int nsampled;                 /* parameters drawn per trajectory: every program's inputs
                                     after its state (q, q' or q, q', q''), constant in time */
    const char *const *sampled_names; /* their names (nsampled) */
    const double *y0;             /* samples x (2n + nsampled): initial q, q', then the drawn
                                     parameters */
    const double *params;         /* rhs->nparams values */
    double t0, t1, every;
    const char *method;           /* a GSL odeiv2 stepper name */
    int single;                   /* the nets' layer products in float32 (`precision single`) */
    double tol;
    const char *output;           /* CSV path, or NULL */
    const char *plot;             /* figure path (.png/.svg/.pdf), or NULL */
    const IrProgram *record;      /* extra columns: inputs q, q', drawn parameters, q''; or NULL */
    double started;               /* when the process started (sim_clock), for setup_s */
    /* called with every output row's states (samples x (2n + nsampled)), e.g. to
     * collect training data along trajectories; or NULL */
    void (*on_row)(void *ctx, double t, const double *y, int samples);
    void *on_row_ctx;
    /* the trajectories are shared among the ranks of an MPI run
     * (runtime/par.h): each integrates its block, rank 0 writes the rows
     * of all in trajectory order, the same bytes as one process; 0: every
     * rank runs them all (with on_row: each needs every row) */
    int split;
    /* `stop when`: a trajectory ends where one of the stop program's
     * outputs (its inputs those of the energy: q, q', drawn parameters, at
     * t) crosses 0 the way stop_dir says (RK_RISING, RK_FALLING,
     * RK_EITHER of runtime/rkbatch.h), at the first crossing, located on
     * the step; its last row is there.  Not a failure. */
    const IrProgram *stop;        /* or NULL */
    const int *stop_dir;          /* stop->nout */
    const char *const *stop_text; /* stop->nout: each condition as written, for the JSON */
    /* stop->nout: 1 where the condition is `record when` (its crossings are
     * located as a stop's and listed, and the trajectory goes on from the
     * step's end), 0 for `stop when`; or NULL: every one stops */
    const unsigned char *stop_record;
    const char *events;           /* the CSV file of the events, or NULL */
    /* the grid of starts the ensemble is (trajectory s: the first axis
     * slowest), or none; with stop and a plot over one or two axes, the
     * figure is the time each start takes to stop */
    const SimGrid *grid;
    int ngrid;
    /* a constrained system's holonomic constraints for the variational
     * integrator (runtime/variational.c): at (q, q', drawn parameters) and
     * t, for each of ncons: g, C = dg/dt and the row dg/dq (2 + n outputs
     * a constraint); or NULL */
    const IrProgram *cons;
    int ncons;
} SimJob;

typedef struct SimResult {
    int status;                   /* 0 ok, 3 numerical failure, 4 I/O error */
    char message[1024];           /* why, when status != 0 */
    unsigned long steps, rhs_evals;
    double t;                     /* where the run ended */
    double *y;                    /* samples x (2n + nsampled): the final states (caller's buffer) */
    int has_energy;
    double e0, max_rel_drift;     /* drift relative to |E0|, or absolute when |E0| < 1e-8 */
    long energy_failures;         /* rows (x trajectories) whose E could not be evaluated or is
                                     not finite: written as NaN, left out of the drift */
    int drift_unknown;            /* E0 was not finite: the drift cannot be measured */
    long record_failures;         /* rows whose record values are not all finite */
    /* with job->stop: the caller's buffers of samples values */
    double *stop_t;               /* when each trajectory stopped (NaN: it did not) */
    int *stop_k;                  /* which condition stopped it (-1: none) */
    long stopped;                 /* trajectories stopped */
    /* the crossings of `record when` conditions (after the run, on every
     * process): nevents rows of SIM_EVENT_HEAD + width values (the
     * trajectory, the time, the condition, then the state there), by
     * trajectory then time; none after a trajectory's stop.  Allocated by
     * the run (mem_alloc: the caller frees), NULL when there are none. */
    double *events;
    long nevents;
    long rows;                    /* rows written (times x trajectories) */
    double wall_s;                /* integration and output */
    double setup_s;               /* from the process start to the first step */
} SimResult;

/* Where the rows of a run go: the CSV file, the energy drift, the rows
 * kept for a figure.  Shared by the steppers (sim_run, var_run). */
typedef struct SimSink SimSink;
SimSink *sim_sink_open(const SimJob *job, SimResult *res);
/* The width of a trajectory's state in y0, res->y and the rows: 2n + nsampled. */
int sim_width(const SimJob *job);
/* The output rows of one trajectory, and the time of row k: t0 + k every,
 * and t1 last when the span is not a whole number of intervals. */
long sim_rows_out(const SimJob *job);
double sim_time_out(const SimJob *job, long k);
/* The output rows at time t: states y (samples x sim_width) and accelerations a
 * (samples x n, or NULL when the stepper has none at hand). */
void sim_sink_row(SimSink *k, double t, const double *y, const double *a);
/* The trajectories that failed (B flags, read at every row; NULL: none):
 * they get no more rows, and their values count nowhere. */
void sim_sink_dead(SimSink *k, const unsigned char *dead);
/* Close the CSV (kept when the run failed numerically) and draw the figure. */
void sim_sink_close(SimSink *k);

/* Run p for B samples (B at most the VM's capacity); when the batch
 * fails, sample by sample, the outputs of a sample that fails NaN.
 * Returns the number of samples that failed. */
struct Vm;
long sim_run_each(struct Vm *vm, const IrProgram *p, int B, const double *in, int stride, double t,
                  const double *params, double *out, int ostride, int nout);

/* A monotonic clock in seconds. */
double sim_clock(void);

/* Whether a method name is a known stepper; *implicit tells if it needs a
 * Jacobian. */
int sim_method_known(const char *method, int *implicit);

/* Run the job.  res->y must point to samples x sim_width doubles.  Returns res->status. */
int sim_run(const SimJob *job, SimResult *res);

/* The JSON lists the events of ensembles of at most this many
 * trajectories one by one (events_count always), when they are at most
 * SIM_EVENTS_LISTED_ALL events. */
enum { SIM_EVENTS_LISTED = 1000, SIM_EVENTS_LISTED_ALL = 10000 };

/* A recorded event's values before its state (SimResult.events). */
enum { SIM_EVENT_HEAD = 3 };

/* The `stop when` conditions of the job (those that end a trajectory). */
int sim_stops(const SimJob *job);

/* One JSON line (LANGUAGE.md §5) describing the run.  Returns 0, or 4
 * (with a message on stderr) when it cannot be written; out of memory
 * takes the out-of-memory exit. */
int sim_json(FILE *out, const SimJob *job, const SimResult *res);

/* Shared by the JSON summaries (simulate, train): jansson allocates
 * through runtime/mem.h (sim_json_begin, once), every value is checked
 * (out of memory: the out-of-memory exit), a non-finite number is null. */
struct json_t;
void sim_json_begin(void);
struct json_t *sim_jnew(struct json_t *v);
struct json_t *sim_jreal(double x);
void sim_jset(struct json_t *o, const char *key, struct json_t *v);
void sim_japp(struct json_t *a, struct json_t *v);
/* Print o as one compact line and free it: 0, or 4 when it cannot be written. */
int sim_json_print(FILE *out, struct json_t *o);

#endif
